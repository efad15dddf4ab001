// Cgroup limits (PROTOCOL.md: the shim "creates the cgroup(s) and applies
// linux.resources"): memory with OOM detection, pids, CPU, cpuset; created before
// the process runs, visible inside through the cgroup mount, removed at the end.

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cgroupDirectories, startShimOk, stopShim, streamText, waitForShimExit, withBundle, type ProbeReport } from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();
const mebibyte = 1024 * 1024;

function controllerFile(directories: string[], file: string): string | undefined {
  for (const directory of directories) {
    try {
      return readFileSync(path.join(directory, file), "utf8").trim();
    } catch {
      // not this hierarchy
    }
  }
  return undefined;
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim resources"), () => {
  it("kills a memory hog at the limit: exit 137 and oomKilled", async () => {
    const hog = "x=a; while true; do x=$x$x; done";
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", hog],
        spec: (spec) => (spec.linux.resources.memory = { limit: 32 * mebibyte, swap: 32 * mebibyte }),
      },
      async (bundle) => {
        await startShimOk(bundle);
        const status = await waitForShimExit(bundle, 30_000);
        expect(status.exitCode).toBe(137);
        expect(status.oomKilled).toBe(true);
      },
    );
  });

  it("shows the limits inside through the cgroup mount, and applies them on the host", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", `${probeInContainer}; sleep 1000`],
        shim: (shim) => (shim.stop = { signal: 9, timeoutSeconds: 1 }),
        spec: (spec) => {
          spec.linux.resources.memory = { limit: 64 * mebibyte, reservation: 32 * mebibyte };
          spec.linux.resources.cpu = { shares: 512, quota: 50000, period: 100000, cpus: "0" };
          spec.linux.resources.pids = { limit: 77 };
        },
      },
      async (bundle) => {
        await startShimOk(bundle);
        const directories = cgroupDirectories(bundle);
        expect(directories.length).toBeGreaterThan(0);
        const pureV2 = directories.length === 1 && directories[0]?.startsWith("/sys/fs/cgroup/berth/");
        if (pureV2) {
          expect(controllerFile(directories, "memory.max")).toBe(String(64 * mebibyte));
          expect(controllerFile(directories, "cpu.max")).toBe("50000 100000");
          expect(controllerFile(directories, "pids.max")).toBe("77");
        } else {
          expect(controllerFile(directories, "memory.limit_in_bytes")).toBe(String(64 * mebibyte));
          expect(controllerFile(directories, "memory.soft_limit_in_bytes")).toBe(String(32 * mebibyte));
          expect(controllerFile(directories, "cpu.shares")).toBe("512");
          expect(controllerFile(directories, "cpu.cfs_quota_us")).toBe("50000");
          expect(controllerFile(directories, "cpuset.cpus")).toBe("0");
          expect(controllerFile(directories, "pids.max")).toBe("77");
        }
        const probeLine = await (async () => {
          for (let i = 0; i < 250; i++) {
            const text = streamText(bundle, "stdout");
            if (text.includes("\n")) return text;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return streamText(bundle, "stdout");
        })();
        const probe = JSON.parse(probeLine) as ProbeReport;
        if (pureV2) {
          expect(probe.cgroup["memoryMax"]).toBe(String(64 * mebibyte));
        } else {
          expect(probe.cgroup["memoryLimit"]).toBe(String(64 * mebibyte));
          expect(probe.cgroup["cpuQuota"]).toBe("50000");
          expect(probe.cgroup["cpuShares"]).toBe("512");
          expect(probe.cgroup["pidsMax"]).toBe("77");
        }
        await stopShim(bundle);
      },
    );
  });

  it("stops a fork bomb at the pids limit", async () => {
    const bomb = "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; echo all-forked";
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", bomb], spec: (spec) => (spec.linux.resources.pids = { limit: 20 }) },
      async (bundle) => {
        await startShimOk(bundle);
        const status = await waitForShimExit(bundle, 20_000);
        expect(streamText(bundle, "stdout")).not.toContain("all-forked");
        expect(streamText(bundle, "stderr")).toMatch(/can't fork|Resource temporarily unavailable/);
        expect(status.exitCode).not.toBe(0);
      },
    );
  });
});
