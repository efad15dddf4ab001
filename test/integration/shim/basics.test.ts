// berth-shim start: the container process, its namespaces, exit codes and start errors
// (PROTOCOL.md "berth-shim start", "status.json"). Every test proves it leaked nothing.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  cleanupBundle,
  createBundle,
  eventually,
  findLeaks,
  noLeaks,
  probeOutput,
  processAlive,
  readStatus,
  startShim,
  startShimOk,
  streamText,
  waitForShimExit,
  withBundle,
} from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim start"), () => {
  it("runs the command as pid 1 of its own pid namespace, with the spec's hostname", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: [probeInContainer], spec: (spec) => (spec.hostname = "probe-host") }, async (bundle) => {
      const started = await startShimOk(bundle);
      expect(started.containerPid).toBeGreaterThan(1);
      const status = await waitForShimExit(bundle);
      expect(status).toMatchObject({ status: "exited", exitCode: 0, oomKilled: false, restartCount: 0, error: null });
      const probe = probeOutput(bundle);
      expect(probe.pid).toBe(1);
      expect(probe.ppid).toBe(0);
      expect(probe.hostname).toBe("probe-host");
      // In the container's cgroup in every hierarchy (cgroup v1 controllers, named, unified).
      const lines = (probe.cgroup["self"] ?? "").split(";");
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(new RegExp(`:/berth/${bundle.id}$`));
    });
  });

  it("hides the host's processes", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "ls /proc | grep -c '^[0-9]'"] }, async (bundle) => {
      await startShimOk(bundle);
      await waitForShimExit(bundle);
      // sh, ls and grep at most: none of the host's hundreds of processes.
      expect(Number(streamText(bundle, "stdout").trim())).toBeLessThanOrEqual(3);
    });
  });

  it("records the exit code and times, and reports the host pid in status.json while running", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "read line < /dev/mqueue/nothing 2>/dev/null; sleep 0.3; exit 3"] }, async (bundle) => {
      const started = await startShimOk(bundle);
      const running = readStatus(bundle);
      expect(running).toMatchObject({ status: "running", pid: started.containerPid, finishedAt: null });
      const status = await waitForShimExit(bundle);
      expect(status.exitCode).toBe(3);
      expect(status.pid).toBe(0);
      expect(Date.parse(status.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(status.startedAt));
      expect(status.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    });
  });

  it("reports 128+n when the process is killed by signal n", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"] }, async (bundle) => {
      const started = await startShimOk(bundle);
      process.kill(started.containerPid, "SIGKILL");
      const status = await waitForShimExit(bundle);
      expect(status.exitCode).toBe(137);
    });
    // Under init, the command can kill itself with a signal it does not handle.
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "kill -USR1 $$"], shim: (shim) => (shim.init = true) }, async (bundle) => {
      await startShimOk(bundle);
      const status = await waitForShimExit(bundle);
      expect(status.exitCode).toBe(128 + 10);
    });
  });

  it("answers error 127 for a missing command, by path or by name, and undoes everything", async () => {
    for (const args of [["/bin/does-not-exist"], ["does-not-exist"]]) {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args }, async (bundle) => {
        const result = await startShim(bundle);
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.code).toBe(127);
        expect(result.message).toContain("does-not-exist");
        expect(result.exitCode).not.toBe(0);
        expect(readStatus(bundle)).toMatchObject({ status: "exited", exitCode: 127 });
        expect(findLeaks(bundle)).toEqual(noLeaks);
      });
    }
  });

  it("answers error 126 for a file that cannot be executed", async () => {
    for (const args of [["/etc/not-executable"], ["/etc"]]) {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args }, async (bundle) => {
        const result = await startShim(bundle);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.code).toBe(126);
      });
    }
  });

  it("answers error 125 naming the operation and object for other setup failures", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/true"],
        spec: (spec) => spec.mounts.push({ destination: "/data", type: "bind", source: "/nonexistent/berth-source", options: ["rbind"] }),
      },
      async (bundle) => {
        const result = await startShim(bundle);
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.code).toBe(125);
        expect(result.message).toContain("/nonexistent/berth-source");
      },
    );
  });

  it("answers error 125 for a broken config.json", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/true"], spec: (spec) => (spec.process.cwd = "relative") }, async (bundle) => {
      const result = await startShim(bundle);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.code).toBe(125);
        expect(result.message).toContain("process.cwd");
      }
    });
  });

  it("refuses input that is not strict JSON, naming the file and the place", async () => {
    const cases: { name: string; file: "config.json" | "shim.json"; edit: (text: string) => Buffer | string; expect: RegExp }[] = [
      { name: "a duplicate key", file: "shim.json", edit: (text) => text.replace('"stdin": false', '"stdin": false, "stdin": true'), expect: /shim\.json: duplicate key at line \d+/ },
      { name: "trailing characters", file: "config.json", edit: (text) => `${text} {}`, expect: /config\.json: trailing characters/ },
      { name: "a trailing comma", file: "config.json", edit: (text) => text.replace(/\n}\n$/, ",\n}\n"), expect: /config\.json: expected a string key/ },
      {
        name: "invalid UTF-8",
        file: "config.json",
        edit: (text) => {
          const at = text.indexOf('"berth-test"');
          return Buffer.concat([Buffer.from(text.slice(0, at + 7)), Buffer.from([0xff]), Buffer.from(text.slice(at + 7))]);
        },
        expect: /config\.json: invalid UTF-8 in string/,
      },
      { name: "a lone surrogate escape", file: "config.json", edit: (text) => text.replace('"berth-test"', '"\\ud800"'), expect: /unpaired surrogate/ },
      { name: "a NUL escape", file: "config.json", edit: (text) => text.replace('"berth-test"', '"a\\u0000b"'), expect: /NUL character/ },
      { name: "a wrong type", file: "config.json", edit: (text) => text.replace('"terminal": false', '"terminal": "no"'), expect: /process\.terminal: expected a boolean, found a string/ },
      { name: "an unknown capability", file: "config.json", edit: (text) => text.replace('"CAP_KILL"', '"CAP_TELEPORT"'), expect: /unknown capability CAP_TELEPORT/ },
      { name: "a relative netns.release", file: "shim.json", edit: (text) => text.replace('"stdin": false', '"stdin": false, "netns": { "release": "netns/x" }'), expect: /shim\.json: netns\.release: must be an absolute path/ },
      { name: "a dns that is not an object", file: "shim.json", edit: (text) => text.replace('"stdin": false', '"stdin": false, "dns": "/run/dns.json"'), expect: /shim\.json: dns: expected an object or null, found a string/ },
    ];
    for (const testCase of cases) {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/true"] }, async (bundle) => {
        const file = path.join(bundle.dir, testCase.file);
        writeFileSync(file, testCase.edit(readFileSync(file, "utf8")));
        const result = await startShim(bundle);
        expect(result.ok, testCase.name).toBe(false);
        if (!result.ok) {
          expect(result.code, testCase.name).toBe(125);
          expect(result.message, testCase.name).toMatch(testCase.expect);
        }
      });
    }
  });

  it("takes the container down when the shim is killed with SIGKILL", async () => {
    const bundle = createBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"] });
    try {
      const started = await startShimOk(bundle);
      expect(processAlive(started.containerPid)).toBe(true);
      expect(started.shimPid).toBeDefined();
      process.kill(started.shimPid ?? 0, "SIGKILL");
      await eventually(() => !processAlive(started.containerPid), 5_000, "the container to die with its shim");
      // The shim could not clean up: status.json still says running, the cgroup and mount remain
      // for the engine to remove (here: the test's cleanup).
      expect(readStatus(bundle)?.status).toBe("running");
    } finally {
      await cleanupBundle(bundle);
    }
    expect(findLeaks(bundle)).toEqual(noLeaks);
  });
});
