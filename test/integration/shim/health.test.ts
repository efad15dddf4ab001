// Healthchecks (PROTOCOL.md health.json): starting → healthy → unhealthy as a test file
// disappears; timeouts; output cap; start_period; the last five results.

import { describe, expect, it } from "vitest";
import { eventually, readHealth, startShimOk, stopShim, withBundle, type HealthcheckJson } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function check(overrides: Partial<HealthcheckJson> & Pick<HealthcheckJson, "test">): HealthcheckJson {
  return { intervalMs: 100, timeoutMs: 2000, retries: 2, startPeriodMs: 0, startIntervalMs: 5000, ...overrides };
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim healthcheck"), () => {
  it("goes starting → healthy → unhealthy when the checked file is removed", async () => {
    const script = "touch /tmp/healthy; sleep 1; rm /tmp/healthy; sleep 1000";
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", script],
        shim: (shim) => {
          shim.init = true;
          shim.healthcheck = check({ test: ["CMD-SHELL", "test -e /tmp/healthy && echo fine"], intervalMs: 150 });
        },
      },
      async (bundle) => {
        await startShimOk(bundle);
        expect(readHealth(bundle)).toMatchObject({ status: "starting", failingStreak: 0, log: [] });
        const healthy = await eventually(() => (readHealth(bundle)?.status === "healthy" ? readHealth(bundle) : undefined), 5_000, "healthy");
        expect(healthy.log.at(-1)).toMatchObject({ exitCode: 0, output: "fine\n" });
        const unhealthy = await eventually(() => (readHealth(bundle)?.status === "unhealthy" ? readHealth(bundle) : undefined), 8_000, "unhealthy");
        expect(unhealthy.failingStreak).toBeGreaterThanOrEqual(2);
        expect(unhealthy.log.at(-1)?.exitCode).toBe(1);
        await eventually(() => (readHealth(bundle)?.log.length === 5 ? true : undefined), 5_000, "five results");
        await new Promise((resolve) => setTimeout(resolve, 400));
        const later = readHealth(bundle);
        expect(later?.log).toHaveLength(5);
        for (const entry of later?.log ?? []) expect(Date.parse(entry.end)).toBeGreaterThanOrEqual(Date.parse(entry.start));
        await stopShim(bundle);
      },
    );
  });

  it("kills a probe at its timeout and records -1 with Docker's message", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sleep", "1000"],
        shim: (shim) => {
          shim.init = true;
          shim.healthcheck = check({ test: ["CMD", "/bin/sleep", "30"], timeoutMs: 300, retries: 1 });
        },
      },
      async (bundle) => {
        await startShimOk(bundle);
        const health = await eventually(() => (readHealth(bundle)?.status === "unhealthy" ? readHealth(bundle) : undefined), 5_000, "unhealthy");
        expect(health.log[0]).toMatchObject({ exitCode: -1, output: "Health check exceeded timeout (300ms)" });
        const took = Date.parse(health.log[0]?.end ?? "") - Date.parse(health.log[0]?.start ?? "");
        expect(took).toBeLessThan(2_000);
        await stopShim(bundle);
      },
    );
  });

  it("keeps the first 4 KiB of a probe's output", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sleep", "1000"],
        shim: (shim) => {
          shim.init = true;
          shim.healthcheck = check({ test: ["CMD-SHELL", "head -c 10000 /dev/zero | tr '\\0' x"] });
        },
      },
      async (bundle) => {
        await startShimOk(bundle);
        const health = await eventually(() => (readHealth(bundle)?.status === "healthy" ? readHealth(bundle) : undefined), 5_000, "healthy");
        expect(health.log[0]?.output).toBe("x".repeat(4096));
        await stopShim(bundle);
      },
    );
  });

  it("does not count failures within start_period, probing at start_interval meanwhile", async () => {
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sleep", "1000"],
        shim: (shim) => {
          shim.init = true;
          shim.healthcheck = check({ test: ["CMD", "/bin/false"], intervalMs: 60_000, startPeriodMs: 1500, startIntervalMs: 100, retries: 1 });
        },
      },
      async (bundle) => {
        await startShimOk(bundle);
        const during = await eventually(() => ((readHealth(bundle)?.log.length ?? 0) >= 3 ? readHealth(bundle) : undefined), 3_000, "three probes");
        expect(during).toMatchObject({ status: "starting", failingStreak: 0 });
        await stopShim(bundle);
      },
    );
  });
});
