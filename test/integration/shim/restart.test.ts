// Restart policies with Docker's semantics and back-off (PROTOCOL.md "berth-shim start":
// on-failure counts non-zero exits up to maxRetries; always restarts any exit; the delay
// starts at 100 ms and doubles).

import { describe, expect, it } from "vitest";
import { eventually, readLog, readStatus, startShimOk, stopShim, waitForShimExit, withBundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim restart"), () => {
  it("on-failure:2 restarts a failing command twice, then records it exited", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", "echo run; exit 3"],
        shim: (shim) => (shim.restart = { policy: "on-failure", maxRetries: 2 }),
      },
      async (bundle) => {
        await startShimOk(bundle);
        const status = await waitForShimExit(bundle);
        expect(status).toMatchObject({ status: "exited", exitCode: 3, restartCount: 2 });
        const runs = readLog(bundle).filter((entry) => entry.log === "run\n");
        expect(runs).toHaveLength(3);
        // Docker's back-off: 100 ms, then 200 ms.
        const times = runs.map((entry) => Date.parse(entry.time));
        expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(90);
        expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(190);
      },
    );
  });

  it("on-failure does not restart a command that succeeded", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/true"], shim: (shim) => (shim.restart = { policy: "on-failure", maxRetries: 0 }) },
      async (bundle) => {
        await startShimOk(bundle);
        expect(await waitForShimExit(bundle)).toMatchObject({ exitCode: 0, restartCount: 0 });
      },
    );
  });

  for (const policy of ["always", "unless-stopped"] as const) {
    it(`${policy} restarts any exit until the shim is stopped, showing "restarting" in between`, async () => {
      await withBundle(
        fixture.roots(),
        { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "echo run; exit 0"], shim: (shim) => (shim.restart = { policy, maxRetries: 0 }) },
        async (bundle) => {
          const first = await startShimOk(bundle);
          const seen = new Set<string>();
          await eventually(() => {
            const status = readStatus(bundle);
            if (status) seen.add(status.status);
            return (status?.restartCount ?? 0) >= 3;
          }, 10_000, "three restarts");
          expect(seen.has("restarting")).toBe(true);
          const status = await stopShim(bundle);
          expect(status.status).toBe("exited");
          expect(status.restartCount).toBeGreaterThanOrEqual(3);
          expect(readLog(bundle).filter((entry) => entry.log === "run\n").length).toBeGreaterThanOrEqual(3);
          void first;
        },
      );
    });
  }

  it("gives each run a new pid and startedAt, reported while running", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", "sleep 0.3; exit 1"],
        shim: (shim) => {
          shim.restart = { policy: "on-failure", maxRetries: 1 };
        },
      },
      async (bundle) => {
        const started = await startShimOk(bundle);
        const firstStart = readStatus(bundle)?.startedAt;
        const second = await eventually(() => {
          const status = readStatus(bundle);
          return status?.status === "running" && status.restartCount === 1 ? status : undefined;
        }, 5_000, "the second run");
        expect(second.pid).not.toBe(started.containerPid);
        expect(second.startedAt).not.toBe(firstStart);
        expect(second.finishedAt).toBeNull();
        await waitForShimExit(bundle);
      },
    );
  });
});
