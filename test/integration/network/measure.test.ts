// Measurements, printed for the report: one container's network plumbing (createSandbox +
// destroySandbox of one bridge endpoint) over 50 cycles, against the targets of at most 4
// process spawns (asserted) and a median of 15 ms (asserted with room for a loaded machine:
// each spawn and each nf_tables/RCU wait stretches when other work runs; the figure is printed). Runs in this process's own netns, the way the engine
// uses src/network: a bridge with no address (so no sysctl of the host changes and no traffic
// flows), the same names every cycle (teardown must free them at once).

import { mkdtempSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import * as network from "../../../src/network/index.js";
import { hex, hostLinks, mountsUnder, networkSkipReason, withWorld } from "./world.js";

const skip = networkSkipReason();

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

const round = (value: number): number => Math.round(value * 100) / 100;

describe.skipIf(skip !== undefined)(`network plumbing measurements${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("sets up and tears down one container's network in ≤ 4 spawns, in about 15 ms", async () => {
    const bridge = `br-${hex(6)}`;
    const dir = mkdtempSync("/tmp/berth-net-test-");
    const sandbox = `${dir}/sandbox`;
    const endpoint: network.EndpointSpec = {
      driver: "bridge",
      ifName: "eth0",
      hostIfName: `vb${hex(5)}`,
      bridge,
      addresses: ["169.254.77.2/30"],
      gateways: ["169.254.77.1"],
      mac: network.macAddressFor("169.254.77.2"),
    };
    const create: number[] = [];
    const destroy: number[] = [];
    const spawns: number[] = [];
    try {
      await network.ensureBridge({ name: bridge, addresses: [], routeLocalnet: false });
      for (let cycle = 0; cycle < 53; cycle++) {
        const before = network.spawnCount();
        const t0 = performance.now();
        await network.createSandbox(sandbox, [endpoint]);
        const t1 = performance.now();
        await network.destroySandbox(sandbox);
        const t2 = performance.now();
        if (cycle < 3) continue; // warm-up
        create.push(t1 - t0);
        destroy.push(t2 - t1);
        spawns.push(network.spawnCount() - before);
      }
    } finally {
      await network.destroySandbox(sandbox).catch(() => undefined);
      await network.removeBridge(bridge);
      rmSync(dir, { recursive: true, force: true });
    }
    const total = create.map((value, index) => value + (destroy[index] ?? 0));
    const report = {
      cycles: total.length,
      medianMs: round(median(total)),
      p90Ms: round(percentile(total, 0.9)),
      medianCreateMs: round(median(create)),
      medianDestroyMs: round(median(destroy)),
      spawnsPerCycle: Math.max(...spawns),
    };
    console.log(`network sandbox create+destroy: ${JSON.stringify(report)}`);
    expect(hostLinks([bridge, endpoint.hostIfName])).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(report.spawnsPerCycle).toBeLessThanOrEqual(4);
    expect(report.medianMs).toBeLessThanOrEqual(30);
  });

  it("applies a network's firewall rules in one spawn per change", async () => {
    await withWorld(async (world) => {
      const net = world.network();
      const rules = (port: number): network.FirewallNetwork => ({
        id: net.id,
        bridge: net.bridge,
        subnets: [net.subnet],
        internal: false,
        masquerade: true,
        ports: [{ hostIp: "0.0.0.0", hostPort: port, containerIp: net.address(2), containerPort: 80, protocol: "tcp" }],
      });
      await world.net.applyNetworkRules(rules(20000));
      const times: number[] = [];
      const spawns: number[] = [];
      for (let change = 1; change <= 20; change++) {
        const before = network.spawnCount();
        const t0 = performance.now();
        await world.net.applyNetworkRules(rules(20000 + change));
        times.push(performance.now() - t0);
        spawns.push(network.spawnCount() - before);
      }
      const report = { changes: times.length, medianMs: round(median(times)), spawnsPerChange: Math.max(...spawns) };
      console.log(`network firewall rewrite: ${JSON.stringify(report)}`);
      expect(report.spawnsPerChange).toBe(1);
      await world.net.removeNetworkRules(net.id);
      await world.net.removeBaseChains();
    });
  });
});
