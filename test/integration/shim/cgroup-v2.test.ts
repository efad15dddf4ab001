// The pure cgroup v2 layout (/sys/fs/cgroup itself a cgroup2 mount), on a host that may be
// v1 or hybrid: the shim runs in a private mount namespace where a cgroup2 filesystem
// replaces /sys/fs/cgroup. On a hybrid host that hierarchy has no controllers, so this
// proves the layout (creation, CLONE_INTO_CGROUP, the container's cgroup mount, removal)
// and the error for a limit the host cannot apply; the limits themselves are proven by
// resources.test.ts on whatever the host has.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { probeOutput, startShim, startShimOk, waitForShimExit, withBundle, type StartOptions } from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function unifiedControllers(): string[] | undefined {
  for (const file of ["/sys/fs/cgroup/unified/cgroup.controllers", "/sys/fs/cgroup/cgroup.controllers"]) {
    try {
      return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      // not this layout
    }
  }
  return undefined;
}

const controllers = unifiedControllers();
const skip = fixture.skip ?? (controllers === undefined ? "no cgroup2 hierarchy on this host" : undefined);

/** The shim in a private mount namespace whose /sys/fs/cgroup is a cgroup2 mount. */
const inPureV2: StartOptions = {
  launcher: (argv) => [
    "unshare", "--mount", "--propagation", "private", "sh", "-c",
    'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', "sh", ...argv,
  ],
};

describe.skipIf(skip !== undefined)(skip ? `berth-shim on cgroup v2 (skipped: ${skip})` : "berth-shim on cgroup v2", () => {
  it("puts the container in /sys/fs/cgroup/berth/<id>, shows it its own cgroup, removes it", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: [probeInContainer] }, async (bundle) => {
      await startShimOk(bundle, inPureV2);
      await waitForShimExit(bundle);
      const probe = probeOutput(bundle);
      const unified = (probe.cgroup["self"] ?? "").split(";").find((line) => line.startsWith("0::"));
      expect(unified).toBe(`0::/berth/${bundle.id}`);
      const cgroupMount = probe.mounts.find((mount) => mount.target === "/sys/fs/cgroup");
      expect(cgroupMount).toMatchObject({ fstype: "cgroup2" });
      expect(cgroupMount?.options.split(",")).toContain("ro");
      expect(probe.mounts.filter((mount) => mount.target.startsWith("/sys/fs/cgroup/"))).toEqual([]);
    });
  });

  it("applies a pids limit when the controller is there, else fails naming the file", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "cat /sys/fs/cgroup/pids.max"], spec: (spec) => (spec.linux.resources.pids = { limit: 33 }) },
      async (bundle) => {
        const result = await startShim(bundle, inPureV2);
        if (controllers?.includes("pids")) {
          expect(result.ok).toBe(true);
          await waitForShimExit(bundle);
        } else {
          expect(result.ok).toBe(false);
          if (!result.ok) {
            expect(result.code).toBe(125);
            expect(result.message).toContain("pids.max");
          }
        }
      },
    );
  });
});
