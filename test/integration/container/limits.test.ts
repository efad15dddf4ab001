// Resource limits and security options as the process inside sees them, on the real kernel:
// memory (an OOM kill reports 137 and OOMKilled), pids (a fork bomb is contained), cpus, ulimits,
// cap_drop NET_RAW, privileged, no-new-privileges, and the network namespace modes.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeReport } from "../../support/bundle.js";
import { disposeWithoutLeaks, loadTestImage, makeFixture, runToExit, skipReason, type Fixture } from "./harness.js";

const skip = skipReason();
const image = "limits:1";

describe.skipIf(skip !== undefined)(`limits and security${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const created: string[] = [];
  beforeAll(async () => {
    fixture = makeFixture("limits");
    await loadTestImage(fixture, { name: image });
  }, 120_000);
  afterAll(() => disposeWithoutLeaks(fixture, created));

  const run = async (spec: Parameters<Fixture["engine"]["containers"]["create"]>[0]): ReturnType<typeof runToExit> => {
    const result = await runToExit(fixture.engine, spec);
    created.push(result.id);
    return result;
  };
  const probe = async (spec: Omit<Parameters<Fixture["engine"]["containers"]["create"]>[0], "image" | "cmd">): Promise<ProbeReport> => {
    const result = await run({ image, cmd: ["/usr/local/bin/probe"], ...spec });
    expect(result.exitCode, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as ProbeReport;
  };

  it("kills a memory hog with 137 and reports OOMKilled", async () => {
    const result = await run({ image, resources: { memory: 32 << 20 }, cmd: ["/bin/sh", "-c", "x=a; while true; do x=$x$x; done"] });
    expect(result.exitCode).toBe(137);
    const state = (await fixture.engine.containers.inspect(result.id)).State;
    expect(state).toMatchObject({ Status: "exited", ExitCode: 137, OOMKilled: true });
  }, 60_000);

  it("stops a fork bomb at the pids limit", async () => {
    // busybox ash gives up at the first fork the kernel refuses.
    const result = await run({ image, resources: { pidsLimit: 12 }, cmd: ["/bin/sh", "-c", "for i in $(seq 1 40); do sleep 5 & done; echo all forked"] });
    expect(result.stdout).not.toContain("all forked");
    expect(result.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  }, 60_000);

  it("applies the cgroup limits and ulimits the process can see", async () => {
    const report = await probe({ resources: { memory: 48 << 20, nanoCpus: 500_000_000, pidsLimit: 64 }, ulimits: [{ name: "nofile", soft: 512, hard: 1024 }] });
    expect(report.cgroup["memoryLimit"]).toBe(String(48 << 20));
    expect(report.cgroup["cpuQuota"]).toBe("50000");
    expect(report.cgroup["pidsMax"]).toBe("64");
    expect(report.rlimits["NOFILE"] ?? report.rlimits["nofile"]).toEqual([512, 1024]);
  });

  it("takes NET_RAW away with cap_drop, and grants everything when privileged", async () => {
    expect((await probe({})).rawSocket).toBe("ok");
    expect((await probe({ capDrop: ["NET_RAW"] })).rawSocket).not.toBe("ok");
    const privileged = await probe({ privileged: true });
    // Everything berth itself may grant: its own bounding set, as Docker does.
    const own = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    expect(privileged.capabilities.CapEff).toBe(own);
    expect(privileged.mounts.some((mount) => mount.target === "/proc/keys")).toBe(false);
    const masked = await probe({});
    expect(masked.mounts.some((mount) => mount.target === "/proc/keys")).toBe(true);
    expect((await probe({ securityOpt: ["no-new-privileges"] })).noNewPrivs).toBe(1);
  });

  it("gives --network none only a loopback, and --network host the host's interfaces", async () => {
    const none = await run({ image, networkMode: "none", cmd: ["/bin/sh", "-c", "ls /sys/class/net | tr '\\n' ' '; cat /sys/class/net/lo/operstate"] });
    expect(none.stdout).toMatch(/^lo (unknown|up)\n$/);
    const host = await run({ image, networkMode: "host", cmd: ["hostname"] });
    const { hostname } = await import("node:os");
    expect(host.stdout.trim()).toBe(hostname());
  });
});
