// The same OCI bundle under berth-shim and under runc (Debian's runc 1.1.5, the
// reference DESIGN.md names): what the probe observes inside must match — pid,
// hostname, mounts, capabilities, cgroup limits, user, groups, cwd, env, rlimits,
// no_new_privs, umask. Differences allowed only where listed below with their reason.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  dockerDefaultCapabilities,
  probeOutput,
  startShimOk,
  waitForShimExit,
  withBundle,
  writeBundleFiles,
  type Bundle,
  type OciSpec,
  type ProbeReport,
} from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();
const runcVersion = spawnSync("runc", ["--version"], { encoding: "utf8" });
const runcSkip = runcVersion.status === 0 ? undefined : "runc is not installed (apt-get install runc)";
const skip = fixture.skip ?? runcSkip;

/**
 * Inherent differences, each with its reason. Keys are probe fields; the function
 * normalises both sides. Empty today: for these bundles the observations are identical.
 */
const allowedDifferences: Record<string, { reason: string; normalise: (probe: ProbeReport) => void }> = {};

function normalise(probe: ProbeReport): ProbeReport {
  const copy = structuredClone(probe);
  for (const difference of Object.values(allowedDifferences)) difference.normalise(copy);
  return copy;
}

function runUnderRunc(bundle: Bundle): ProbeReport {
  const result = spawnSync("runc", ["--root", path.join(fixture.roots().base, "runc-state"), "run", "--bundle", bundle.dir, `runc-${bundle.id.slice(0, 32)}`], {
    encoding: "utf8",
    timeout: 30_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.status !== 0) throw new Error(`runc run failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as ProbeReport;
}

async function underShim(bundle: Bundle): Promise<ProbeReport> {
  await startShimOk(bundle);
  const status = await waitForShimExit(bundle);
  expect(status.exitCode).toBe(0);
  return probeOutput(bundle);
}

const configurations: { name: string; spec: (spec: OciSpec) => void }[] = [
  {
    name: "root with Docker's defaults and a memory limit",
    spec: (spec) => {
      spec.linux.resources.memory = { limit: 96 * 1024 * 1024 };
      spec.linux.resources.pids = { limit: 100 };
    },
  },
  {
    name: "user 1000:1000 with groups, cwd, env, dropped capability, no_new_privileges, read-only root, tmpfs and bind mounts",
    spec: (spec) => {
      spec.process.user = { uid: 1000, gid: 1000, additionalGids: [1000, 4242] };
      spec.process.cwd = "/home/app";
      spec.process.env.push("GREETING=hello world", "EMPTY=");
      spec.process.noNewPrivileges = true;
      const without = dockerDefaultCapabilities.filter((name) => name !== "CAP_NET_RAW");
      for (const set of ["bounding", "effective", "permitted"] as const) spec.process.capabilities[set] = [...without];
      spec.root.readonly = true;
      spec.hostname = "compare-host";
      spec.mounts.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=2m", "mode=1777"] });
      spec.mounts.push({ destination: "/etc/hostname", type: "bind", source: "/etc/hostname", options: ["rbind", "ro"] });
      spec.linux.resources.cpu = { shares: 256, quota: 20000, period: 100000 };
    },
  },
];

describe.skipIf(skip !== undefined)(skip ? `berth-shim against runc (skipped: ${skip})` : "berth-shim against runc", () => {
  for (const configuration of configurations) {
    it(`sees the same as runc: ${configuration.name}`, async () => {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: [probeInContainer], spec: configuration.spec }, async (bundle) => {
        // The engine's bundle with the overlay mounted beforehand (runc does not mount it):
        // mount it here, hand the shim a plain root.path, unmount afterwards.
        const upper = bundle.shimJson.rootfs;
        const mounted = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${upper.lowerdirs.join(":")},upperdir=${upper.upperdir},workdir=${upper.workdir}`, bundle.rootPath]);
        expect(mounted.status).toBe(0);
        try {
          bundle.shimJson.rootfs = { lowerdirs: [] };
          writeBundleFiles(bundle);
          const shim = await underShim(bundle);
          const runc = runUnderRunc(bundle);
          expect(shim.pid).toBe(1);
          expect(shim.mounts[0]).toMatchObject({ target: "/", fstype: "overlay" });
          expect(normalise(shim)).toEqual(normalise(runc));
        } finally {
          spawnSync("umount", [bundle.rootPath]);
        }
      });
    });
  }
});
