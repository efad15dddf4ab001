// The overlay rootfs (PROTOCOL.md shim.json "rootfs"): mounted by the shim unless the
// target is already a mount point, layers top first, writes in upperdir, unmounted when
// the shim stops for good; more layers than one page of mount options can carry.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { eventually, mountsBelow, startShimOk, stopShim, streamText, waitForShimExit, withBundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim rootfs"), () => {
  it("mounts the overlay, keeps the container's writes in upperdir, unmounts at the end", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "echo written > /new-file; rm /etc/hostname; echo ready; sleep 1000"], shim: (shim) => (shim.init = true) },
      async (bundle) => {
        await startShimOk(bundle);
        await eventually(() => streamText(bundle, "stdout").includes("ready"), 5_000, "ready");
        const target = bundle.shimJson.rootfs.target ?? "";
        expect(mountsBelow(target)).toEqual([target]);
        const upper = bundle.shimJson.rootfs.upperdir ?? "";
        expect(readFileSync(path.join(upper, "new-file"), "utf8")).toBe("written\n");
        expect(existsSync(path.join(fixture.rootfs(), "new-file"))).toBe(false);
        // The deletion is an overlay whiteout in upperdir; the lower layer keeps the file.
        expect(existsSync(path.join(fixture.rootfs(), "etc", "hostname"))).toBe(true);
        await stopShim(bundle);
        expect(mountsBelow(target)).toEqual([]);
      },
    );
  });

  it("stacks layers top first, also more than one page of mount options can carry", async () => {
    const layersRoot = path.join(fixture.roots().base, `layers-${Date.now()}`);
    const layers: string[] = [];
    for (let i = 0; i < 60; i++) {
      // ~110-byte paths: 60 of them are well over 4096 bytes of "lowerdir=…".
      const layer = path.join(layersRoot, `${"l".repeat(60)}-${String(i).padStart(3, "0")}`, "diff");
      mkdirSync(path.join(layer, "layers"), { recursive: true });
      writeFileSync(path.join(layer, "layers", `layer-${i}`), `${i}\n`);
      writeFileSync(path.join(layer, "layers", "top"), `${i}\n`);
      layers.push(layer);
    }
    expect(`lowerdir=${layers.join(":")}`.length).toBeGreaterThan(4096);
    // Top first: layer 59 wins "top"; the busybox rootfs is the bottom layer.
    const lowerdirs = [...layers].reverse().concat(fixture.rootfs());
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", "ls /layers | grep -c '^layer-'; cat /layers/top"],
        shim: (shim) => (shim.rootfs = { ...shim.rootfs, lowerdirs }),
      },
      async (bundle) => {
        await startShimOk(bundle);
        await waitForShimExit(bundle);
        expect(streamText(bundle, "stdout")).toBe("60\n59\n");
      },
    );
  });

  it("uses a target the engine already mounted, and still unmounts it at the end", async () => {
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "echo ready; sleep 1000"], shim: (shim) => (shim.init = true) }, async (bundle) => {
      const rootfs = bundle.shimJson.rootfs;
      const target = rootfs.target ?? "";
      const mounted = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${rootfs.lowerdirs.join(":")},upperdir=${rootfs.upperdir},workdir=${rootfs.workdir}`, target]);
      expect(mounted.status).toBe(0);
      await startShimOk(bundle);
      await eventually(() => streamText(bundle, "stdout").includes("ready"), 5_000, "ready");
      expect(mountsBelow(target)).toEqual([target]);
      await stopShim(bundle);
      expect(mountsBelow(target)).toEqual([]);
    });
  });

  it("mounts a volatile overlay (an --rm container's) again after its last run left the marker", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "echo run > /run-file; grep ' / ' /proc/mounts"], shim: (shim) => (shim.rootfs = { ...shim.rootfs, volatile: true }) },
      async (bundle) => {
        await startShimOk(bundle);
        await waitForShimExit(bundle);
        // The container sees its root mounted with overlayfs's "volatile" (no syncs).
        expect(streamText(bundle, "stdout")).toMatch(/^overlay \/ overlay .*\bvolatile\b/m);
        const workdir = bundle.shimJson.rootfs.workdir ?? "";
        expect(existsSync(path.join(workdir, "work", "incompat", "volatile"))).toBe(true);
        // overlayfs refuses a mount while that marker exists; the shim clears it first.
        await startShimOk(bundle);
        await waitForShimExit(bundle);
        expect(streamText(bundle, "stdout").match(/volatile/g)?.length).toBe(2);
        expect(mountsBelow(bundle.shimJson.rootfs.target ?? "")).toEqual([]);
      },
    );
  });
});
