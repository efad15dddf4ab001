// `berth-shim exec` (PROTOCOL.md): joins the container's namespaces and cgroups, runs
// with the container's capabilities and the given (or the container's) user, cwd and
// env, and exits with the command's status; `--tty` relays through a pty.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { capabilityMask, dockerDefaultCapabilities, shimBinary, startShimOk, stopShim, withBundle, type Bundle, type ProbeReport } from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function exec(bundle: Bundle, flags: string[], command: string[], input = "") {
  const result = spawnSync(
    shimBinary,
    ["exec", "--pid", String(bundle.containerPid), "--config", path.join(bundle.dir, "config.json"), ...flags, "--", ...command],
    { input, encoding: "utf8", timeout: 10_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function withRunning(body: (bundle: Bundle) => Promise<void> | void, spec?: Parameters<typeof withBundle>[1]["spec"]): Promise<void> {
  await withBundle(
    fixture.roots(),
    { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.init = true), ...(spec ? { spec } : {}) },
    async (bundle) => {
      await startShimOk(bundle);
      try {
        await body(bundle);
      } finally {
        await stopShim(bundle);
      }
    },
  );
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim exec"), () => {
  it("runs in the container with the given env, user and cwd, and returns the exit code", async () => {
    await withRunning((bundle) => {
      const result = exec(bundle, ["--env", "FOO=bar", "--user", "1000:1000:1000,3000", "--cwd", "/tmp"], ["/bin/sh", "-c", "echo $FOO; id -u; id -G; pwd; hostname; exit 7"]);
      expect(result.status).toBe(7);
      expect(result.stdout).toBe("bar\n1000\n1000 3000\n/tmp\nberth-test\n");
    });
  });

  it("defaults to the container's user, cwd and env, sees its processes, joins its cgroup", async () => {
    await withRunning(
      (bundle) => {
        const result = exec(bundle, [], [probeInContainer]);
        expect(result.status).toBe(0);
        const probe = JSON.parse(result.stdout) as ProbeReport;
        expect(probe).toMatchObject({ uid: 1000, gid: 1000, cwd: "/home/app", hostname: "berth-test" });
        expect(probe.env).toContain("MARK=container");
        expect(probe.ppid).toBe(0);
        expect(probe.pid).toBeGreaterThan(1);
        // Every hierarchy: v1 ones joined through `tasks`, the unified one by CLONE_INTO_CGROUP.
        for (const line of (probe.cgroup["self"] ?? "").split(";")) expect(line).toMatch(new RegExp(`:/berth/${bundle.id}$`));
        // pid 1 is berth's init (init: true), showing no host path; the command is its child.
        const ps = exec(bundle, ["--user", "0:0"], ["/bin/ps", "-o", "pid,args"]);
        expect(ps.stdout).toMatch(/^\s*1\s+berth-init\s*$/m);
        expect(ps.stdout).toMatch(/^\s*2\s+\/bin\/sleep 1000\s*$/m);
        expect(ps.stdout).not.toContain(bundle.dir);
        const caps = exec(bundle, ["--user", "0:0"], [probeInContainer]);
        expect((JSON.parse(caps.stdout) as ProbeReport).capabilities.CapEff).toBe(capabilityMask(dockerDefaultCapabilities));
      },
      (spec) => {
        spec.process.user = { uid: 1000, gid: 1000 };
        spec.process.cwd = "/home/app";
        spec.process.env.push("MARK=container");
      },
    );
  });

  it("passes stdin through", async () => {
    await withRunning((bundle) => {
      const result = exec(bundle, [], ["/bin/cat"], "through stdin\n");
      expect(result).toMatchObject({ status: 0, stdout: "through stdin\n" });
    });
  });

  it("exits 127 for a missing command and 126 for one that cannot run", async () => {
    await withRunning((bundle) => {
      const missing = exec(bundle, [], ["nope-not-here"]);
      expect(missing.status).toBe(127);
      expect(missing.stderr).toContain("nope-not-here");
      expect(exec(bundle, [], ["/etc/not-executable"]).status).toBe(126);
      expect(exec(bundle, ["--cwd", "/does/not/exist"], ["/bin/true"]).status).toBe(126);
    });
  });

  it("relays through a pty with --tty", async () => {
    await withRunning((bundle) => {
      const result = exec(bundle, ["--tty"], ["/bin/sh", "-c", "tty; echo hi; exit 4"]);
      expect(result.status).toBe(4);
      expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r\nhi\r\n$/);
    });
  });

  it("refuses a pid that is not the container's (125)", async () => {
    await withRunning((bundle) => {
      const result = spawnSync(shimBinary, ["exec", "--pid", String(process.pid), "--config", path.join(bundle.dir, "config.json"), "--", "/bin/true"], { encoding: "utf8" });
      expect(result.status).toBe(125);
      expect(result.stderr).toContain("not in the container's cgroup");
    });
  });
});
