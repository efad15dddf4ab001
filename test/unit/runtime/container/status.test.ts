// Derived state (from the shim's files, shim liveness, the freezer and what was persisted),
// Docker's status strings, and the guards.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import {
  assertAllowed,
  canExec,
  canKill,
  canPause,
  canRemove,
  canStart,
  canStop,
  canUnpause,
  deriveState,
  statusText,
  type ContainerState,
  type ContainerStatus,
  type Observation,
  type ShimStatusFile,
} from "../../../../src/runtime/container/status.js";
import { humanDuration, humanSize, parseBytes, parseDurationMs } from "../../../../src/runtime/container/units.js";
import { parseSignal, signalName } from "../../../../src/runtime/container/signals.js";

const now = "2026-01-01T12:00:00.000Z";
const running: ShimStatusFile = {
  status: "running",
  pid: 4242,
  exitCode: 0,
  oomKilled: false,
  startedAt: "2026-01-01T11:59:57.123456789Z",
  finishedAt: null,
  restartCount: 0,
  error: null,
};
const exited: ShimStatusFile = { ...running, status: "exited", pid: 0, exitCode: 3, finishedAt: "2026-01-01T11:58:00.5Z" };
const base: Observation = { persisted: undefined, shimAlive: false, status: undefined, health: undefined, frozen: false, observedAt: now };

describe("deriveState", () => {
  const table: [string, Observation, Partial<ContainerState>][] = [
    ["never started", base, { status: "created", running: false, pid: 0, startedAt: "0001-01-01T00:00:00Z", finishedAt: "0001-01-01T00:00:00Z" }],
    ["running", { ...base, shimAlive: true, status: running }, { status: "running", running: true, pid: 4242, startedAt: running.startedAt }],
    ["paused", { ...base, shimAlive: true, status: running, frozen: true }, { status: "paused", running: true, paused: true }],
    [
      "restarting",
      { ...base, shimAlive: true, status: { ...running, status: "restarting", pid: 0, exitCode: 1, finishedAt: "2026-01-01T11:59:59Z", restartCount: 2 } },
      { status: "restarting", running: true, restarting: true, exitCode: 1, restartCount: 2 },
    ],
    ["exited, shim still cleaning up", { ...base, shimAlive: true, status: exited }, { status: "exited", running: false, exitCode: 3, finishedAt: exited.finishedAt ?? "" }],
    ["exited, shim gone", { ...base, status: exited }, { status: "exited", exitCode: 3, pid: 0 }],
    [
      "shim killed -9 while running: exited, 137",
      { ...base, status: running },
      { status: "exited", running: false, exitCode: 137, finishedAt: now, error: "container monitor (berth-shim) exited unexpectedly" },
    ],
    [
      "after a reboot (run root empty), was running: exited, 255",
      { ...base, persisted: { startedAt: "2026-01-01T10:00:00Z", restartCount: 0 } },
      { status: "exited", exitCode: 255, startedAt: "2026-01-01T10:00:00Z" },
    ],
    [
      "after a reboot, had exited: its recorded exit",
      { ...base, persisted: { startedAt: "2026-01-01T10:00:00Z", finishedAt: "2026-01-01T10:05:00Z", exitCode: 2 } },
      { status: "exited", exitCode: 2, finishedAt: "2026-01-01T10:05:00Z" },
    ],
    ["a live shim not reporting yet: running", { ...base, shimAlive: true }, { status: "running", running: true, pid: 0, startedAt: now }],
    ["removal failed half-way: dead", { ...base, persisted: { startedAt: "x", dead: true } }, { status: "dead", dead: true, running: false }],
    [
      "OOM kill recorded",
      { ...base, status: { ...exited, exitCode: 137, oomKilled: true } },
      { status: "exited", exitCode: 137, oomKilled: true },
    ],
  ];
  it.each(table)("%s", (_name, observation, expected) => {
    expect(deriveState(observation)).toMatchObject(expected);
  });

  it("carries the health file through", () => {
    const health = { status: "healthy" as const, failingStreak: 0, log: [] };
    expect(deriveState({ ...base, shimAlive: true, status: running, health }).health).toEqual(health);
  });
});

describe("statusText (moby's State.String)", () => {
  const at = Date.parse(now);
  const state = (observation: Partial<Observation>): ContainerState => deriveState({ ...base, ...observation });
  const table: [string, ContainerState, string][] = [
    ["created", state({}), "Created"],
    ["up seconds", state({ shimAlive: true, status: running }), "Up 2 seconds"],
    ["up, paused", state({ shimAlive: true, status: running, frozen: true }), "Up 2 seconds (Paused)"],
    ["up, healthy", state({ shimAlive: true, status: running, health: { status: "healthy", failingStreak: 0, log: [] } }), "Up 2 seconds (healthy)"],
    ["up, starting", state({ shimAlive: true, status: running, health: { status: "starting", failingStreak: 0, log: [] } }), "Up 2 seconds (health: starting)"],
    ["up, unhealthy", state({ shimAlive: true, status: running, health: { status: "unhealthy", failingStreak: 3, log: [] } }), "Up 2 seconds (unhealthy)"],
    ["exited minutes ago", state({ status: exited }), "Exited (3) About a minute ago"],
    [
      "restarting",
      state({ shimAlive: true, status: { ...running, status: "restarting", exitCode: 1, finishedAt: "2026-01-01T11:59:55Z" } }),
      "Restarting (1) 5 seconds ago",
    ],
    ["dead", state({ persisted: { dead: true } }), "Dead"],
  ];
  it.each(table)("%s", (_name, value, expected) => {
    expect(statusText(value, at)).toBe(expected);
  });
});

describe("humanDuration (go-units)", () => {
  const table: [number, string][] = [
    [0, "Less than a second"],
    [999, "Less than a second"],
    [1000, "1 second"],
    [59_000, "59 seconds"],
    [60_000, "About a minute"],
    [119_000, "About a minute"],
    [120_000, "2 minutes"],
    [59 * 60_000, "59 minutes"],
    [60 * 60_000, "About an hour"],
    [90 * 60_000, "2 hours"],
    [47 * 3_600_000, "47 hours"],
    [48 * 3_600_000, "2 days"],
    [14 * 86_400_000, "2 weeks"],
    [60 * 86_400_000, "2 months"],
    [800 * 86_400_000, "2 years"],
  ];
  it.each(table)("%d ms → %s", (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe("sizes, durations and signals", () => {
  it("parses sizes as docker's RAMInBytes", () => {
    expect(parseBytes("512")).toBe(512);
    expect(parseBytes("64k")).toBe(65536);
    expect(parseBytes("64m")).toBe(67108864);
    expect(parseBytes("1g")).toBe(1073741824);
    expect(parseBytes("1.5G")).toBe(1610612736);
    expect(parseBytes("10MB")).toBe(10485760);
    expect(() => parseBytes("ten")).toThrow("invalid size");
  });

  it("prints sizes as go-units HumanSize", () => {
    expect(humanSize(0)).toBe("0B");
    expect(humanSize(999)).toBe("999B");
    expect(humanSize(2048)).toBe("2.048kB");
    expect(humanSize(1_500_000)).toBe("1.5MB");
  });

  it("parses Go durations", () => {
    expect(parseDurationMs("0")).toBe(0);
    expect(parseDurationMs("30s")).toBe(30_000);
    expect(parseDurationMs("1m30s")).toBe(90_000);
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("1.5h")).toBe(5_400_000);
    expect(() => parseDurationMs("10")).toThrow("invalid duration");
    expect(() => parseDurationMs("5x")).toThrow("invalid duration");
  });

  it("parses signals by name, number and real-time offset", () => {
    expect(parseSignal("SIGTERM")).toBe(15);
    expect(parseSignal("term")).toBe(15);
    expect(parseSignal("KILL")).toBe(9);
    expect(parseSignal("9")).toBe(9);
    expect(parseSignal("SIGRTMIN+3")).toBe(37);
    expect(signalName(15)).toBe("SIGTERM");
    expect(() => parseSignal("SIGNOPE")).toThrow("Invalid signal: SIGNOPE");
    expect(() => parseSignal("99")).toThrow(BerthError);
  });
});

describe("guards", () => {
  const statuses: ContainerStatus[] = ["created", "running", "paused", "restarting", "exited", "dead"];
  const table: [string, (status: ContainerStatus) => boolean, ContainerStatus[]][] = [
    ["canStart", canStart, ["created", "running", "restarting", "exited"]],
    ["canStop", canStop, ["running", "paused", "restarting"]],
    ["canKill", canKill, ["running", "paused", "restarting"]],
    ["canRemove", (status) => canRemove(status, false), ["created", "exited", "dead"]],
    ["canRemove with force", (status) => canRemove(status, true), statuses],
    ["canPause", canPause, ["running"]],
    ["canUnpause", canUnpause, ["paused"]],
    ["canExec", canExec, ["running"]],
  ];
  it.each(table)("%s allows exactly its states", (_name, guard, allowed) => {
    expect(statuses.filter(guard)).toEqual(allowed);
  });

  it("fails with E_RUNTIME_STATE naming the container", () => {
    const attempt = (): void => assertAllowed("remove", "running", "web");
    expect(attempt).toThrow(BerthError);
    try {
      attempt();
    } catch (error) {
      expect((error as BerthError).code).toBe("E_RUNTIME_STATE");
      expect((error as BerthError).message).toContain("web");
    }
    expect(() => assertAllowed("pause", "exited", "db")).toThrow("Container db is not running");
    expect(() => assertAllowed("unpause", "running", "db")).toThrow("Container db is not paused");
    expect(() => assertAllowed("start", "paused", "db")).toThrow("db: cannot start a paused container, try unpause instead");
  });
});
