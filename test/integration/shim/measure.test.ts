// Measurements, printed for the README and the report, with the targets as
// assertions: the supervisor's memory per container (PSS and RSS from smaps_rollup,
// target under 300 KB PSS and 1.5 MB RSS) and the wall time of `true` through the shim.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { cleanupBundle, createBundle, findLeaks, noLeaks, processAlive, startShimOk, stopShim, withBundle, type Bundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function smapsRollup(pid: number): { rssKb: number; pssKb: number; pssAnonKb: number; pssFileKb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssKb: field("Rss"), pssKb: field("Pss"), pssAnonKb: field("Pss_Anon"), pssFileKb: field("Pss_File") };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim measurements"), () => {
  it("keeps the supervisor under 300 KB PSS and 1.5 MB RSS per container", async () => {
    const bundles: Bundle[] = [];
    try {
      const idle = (): Bundle =>
        createBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.init = true) });
      // One container alone: nothing else shares the shim's own pages.
      const first = idle();
      bundles.push(first);
      await startShimOk(first);
      await sleep(300);
      const alone = smapsRollup(first.shimPid ?? 0);
      // Nine more, one of them writing a log line every 10 ms.
      for (let i = 0; i < 8; i++) {
        const bundle = idle();
        bundles.push(bundle);
        await startShimOk(bundle);
      }
      const chatty = createBundle(fixture.roots(), {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", "while true; do echo a log line; sleep 0.01; done"],
        shim: (shim) => (shim.init = true),
      });
      bundles.push(chatty);
      await startShimOk(chatty);
      await sleep(1000);
      const all = bundles.map((bundle) => smapsRollup(bundle.shimPid ?? 0));
      const busy = smapsRollup(chatty.shimPid ?? 0);
      const report = {
        alone,
        tenContainers: { medianPssKb: median(all.map((entry) => entry.pssKb)), medianRssKb: median(all.map((entry) => entry.rssKb)) },
        loggingContainer: busy,
      };
      console.log(`berth-shim memory per container: ${JSON.stringify(report)}`);
      expect(alone.pssKb).toBeLessThan(300);
      expect(alone.rssKb).toBeLessThan(1536);
      expect(report.tenContainers.medianPssKb).toBeLessThan(300);
      expect(busy.pssKb).toBeLessThan(300);
      expect(busy.rssKb).toBeLessThan(1536);
    } finally {
      for (const bundle of bundles) {
        if (processAlive(bundle.shimPid)) await stopShim(bundle).catch(() => undefined);
      }
    }
    // Stopped shims clean up after themselves.
    for (const bundle of bundles) expect(findLeaks(bundle)).toEqual(noLeaks);
  });

  it("runs `true` from start to exit in a few milliseconds", async () => {
    const readyMs: number[] = [];
    const exitMs: number[] = [];
    for (let run = 0; run < 30; run++) {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/true"] }, async (bundle) => {
        const pidFile = path.join(bundle.runDir, "shim.pid");
        const began = performance.now();
        const started = await startShimOk(bundle);
        readyMs.push(performance.now() - began);
        while (existsSync(pidFile) || processAlive(started.shimPid)) await new Promise((resolve) => setImmediate(resolve));
        exitMs.push(performance.now() - began);
      });
    }
    // The same bundle under runc, for scale (plain rootfs: runc does not mount the overlay).
    const runcMs: number[] = [];
    if (spawnSync("runc", ["--version"]).status === 0) {
      for (let run = 0; run < 10; run++) {
        const bundle = createBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/true"], overlay: false });
        try {
          const began = performance.now();
          const result = spawnSync("runc", ["--root", path.join(fixture.roots().base, "runc-state"), "run", "--bundle", bundle.dir, bundle.id.slice(0, 32)], { stdio: "ignore" });
          if (result.status === 0) runcMs.push(performance.now() - began);
        } finally {
          await cleanupBundle(bundle);
        }
      }
    }
    const summary = {
      startToReadyMs: { median: median(readyMs), p90: percentile(readyMs, 0.9) },
      startToExitMs: { median: median(exitMs), p90: percentile(exitMs, 0.9) },
      runcRunMs: runcMs.length ? { median: median(runcMs), p90: percentile(runcMs, 0.9) } : null,
    };
    console.log(`berth-shim timing of \`true\` (overlay rootfs, fresh cgroups, 30 runs): ${JSON.stringify(summary)}`);
    expect(summary.startToExitMs.median).toBeLessThan(100);
  });
});
