// Stopping: SIGTERM to the shim sends stop.signal, waits stop.timeoutSeconds (or the
// stop-timeout file), then SIGKILL; never restarts; `init: true` makes stop work for a
// command that has no handler (PROTOCOL.md "Signals to the shim").

import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { eventually, readStatus, startShimOk, stopShim, streamText, withBundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim stop"), () => {
  it("kills a process that ignores the stop signal once the timeout has passed (137)", async () => {
    const script = "trap '' TERM; echo ready; while true; do sleep 1; done";
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script], shim: (shim) => (shim.stop = { signal: 15, timeoutSeconds: 1 }) },
      async (bundle) => {
        await startShimOk(bundle);
        await eventually(() => streamText(bundle, "stdout").includes("ready"), 5_000, "ready");
        const began = Date.now();
        const status = await stopShim(bundle);
        const took = Date.now() - began;
        expect(status.exitCode).toBe(137);
        expect(took).toBeGreaterThanOrEqual(900);
        expect(took).toBeLessThan(5_000);
      },
    );
  });

  it("with init: true, stops `sleep` promptly through the forwarded signal (143)", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.init = true) },
      async (bundle) => {
        await startShimOk(bundle);
        const began = Date.now();
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(143);
        expect(Date.now() - began).toBeLessThan(2_000);
      },
    );
  });

  it("without init, `sleep` as pid 1 ignores SIGTERM and is killed at the timeout", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.stop = { signal: 15, timeoutSeconds: 1 }) },
      async (bundle) => {
        await startShimOk(bundle);
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(137);
      },
    );
  });

  it("sends the configured stop signal", async () => {
    const script = "trap 'echo got-usr1; exit 42' USR1; echo ready; while true; do sleep 0.1; done";
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script], shim: (shim) => (shim.stop = { signal: 10, timeoutSeconds: 10 }) },
      async (bundle) => {
        await startShimOk(bundle);
        await eventually(() => streamText(bundle, "stdout").includes("ready"), 5_000, "ready");
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(42);
        expect(streamText(bundle, "stdout")).toContain("got-usr1");
      },
    );
  });

  it("takes the timeout from the stop-timeout file when present", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.stop = { signal: 15, timeoutSeconds: 60 }) },
      async (bundle) => {
        await startShimOk(bundle);
        writeFileSync(path.join(bundle.runDir, "stop-timeout"), "0\n");
        const began = Date.now();
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(137);
        expect(Date.now() - began).toBeLessThan(3_000);
      },
    );
  });

  it("never restarts after a stop, and a stop during the back-off cancels the restart", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", "sleep 0.2; exit 1"],
        shim: (shim) => (shim.restart = { policy: "always", maxRetries: 0 }),
      },
      async (bundle) => {
        await startShimOk(bundle);
        await eventually(() => readStatus(bundle)?.status === "restarting", 5_000, "a restart back-off");
        const status = await stopShim(bundle);
        expect(status.status).toBe("exited");
        const count = status.restartCount;
        expect(readStatus(bundle)?.restartCount).toBe(count);
      },
    );
  });
});
