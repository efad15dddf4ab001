// A container's state, derived (never stored as "the truth"): from the shim's files under the
// run root, whether the shim process is alive, the freezer, and what the engine last persisted.
// A reboot empties the run root and kills the shims, so every started container reads as exited.
// Guards say which operation each state allows; the engine checks them before acting.

import { BerthError } from "../../errors.js";
import { humanDuration } from "./units.js";

export const StateErrorCode = "E_RUNTIME_STATE";

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

/** `<run>/containers/<id>/status.json`, written by the shim (PROTOCOL.md). */
export interface ShimStatusFile {
  readonly status: "running" | "restarting" | "exited";
  readonly pid: number;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly restartCount: number;
  readonly error: string | null;
}

export interface HealthLogEntry {
  readonly start: string;
  readonly end: string;
  readonly exitCode: number;
  readonly output: string;
}

/** `<run>/containers/<id>/health.json`. */
export interface HealthFile {
  readonly status: "starting" | "healthy" | "unhealthy";
  readonly failingStreak: number;
  readonly log: readonly HealthLogEntry[];
}

/** `<state>/containers/<id>/state.json`: what the engine last saw, kept across reboots. */
export interface PersistedState {
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly exitCode?: number;
  readonly oomKilled?: boolean;
  readonly error?: string;
  readonly restartCount?: number;
  /** Set when removal failed half-way (Docker's `dead`). */
  readonly dead?: boolean;
  /** Stopped by `stop` (Docker's HasBeenManuallyStopped): unless-stopped keeps it down after a boot. Cleared by a start. */
  readonly manuallyStopped?: boolean;
}

/** Everything read from disk and /proc about one container, before interpretation. */
export interface Observation {
  readonly persisted: PersistedState | undefined;
  /** The shim named by shim.pid is alive (and is this container's shim). */
  readonly shimAlive: boolean;
  readonly status: ShimStatusFile | undefined;
  readonly health: HealthFile | undefined;
  readonly frozen: boolean;
  /** When this observation was made (RFC 3339), for exits nobody recorded. */
  readonly observedAt: string;
}

export const zeroTime = "0001-01-01T00:00:00Z";

/** Docker's inspect `State`. */
export interface ContainerState {
  readonly status: ContainerStatus;
  readonly running: boolean;
  readonly paused: boolean;
  readonly restarting: boolean;
  readonly oomKilled: boolean;
  readonly dead: boolean;
  readonly pid: number;
  readonly exitCode: number;
  readonly error: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly restartCount: number;
  readonly health: HealthFile | undefined;
}

/** Exit code reported when the shim vanished without recording one (its container was SIGKILLed with it). */
export const lostMonitorExitCode = 137;
/** Exit code reported after a reboot for a container that was running (Docker reports 255). */
export const rebootExitCode = 255;

export function deriveState(observation: Observation): ContainerState {
  const { persisted, status, shimAlive, frozen } = observation;
  const base = {
    oomKilled: status?.oomKilled ?? persisted?.oomKilled ?? false,
    restartCount: status?.restartCount ?? persisted?.restartCount ?? 0,
    startedAt: status?.startedAt ?? persisted?.startedAt ?? zeroTime,
    health: observation.health,
  };
  const stopped = (exitCode: number, finishedAt: string, error: string): ContainerState => ({
    ...base,
    status: "exited",
    running: false,
    paused: false,
    restarting: false,
    dead: false,
    pid: 0,
    exitCode,
    error,
    finishedAt,
  });
  if (persisted?.dead) {
    return { ...stopped(persisted.exitCode ?? 0, persisted.finishedAt ?? zeroTime, persisted.error ?? ""), status: "dead", dead: true };
  }
  if (shimAlive) {
    if (status === undefined || status.status === "running") {
      return {
        ...base,
        status: frozen ? "paused" : "running",
        running: true,
        paused: frozen,
        restarting: false,
        dead: false,
        pid: status?.pid ?? 0,
        exitCode: 0,
        error: "",
        finishedAt: status?.finishedAt ?? zeroTime,
        startedAt: status?.startedAt ?? observation.observedAt,
      };
    }
    if (status.status === "restarting") {
      return {
        ...base,
        status: "restarting",
        running: true,
        paused: false,
        restarting: true,
        dead: false,
        pid: 0,
        exitCode: status.exitCode,
        error: status.error ?? "",
        finishedAt: status.finishedAt ?? observation.observedAt,
      };
    }
    return stopped(status.exitCode, status.finishedAt ?? observation.observedAt, status.error ?? "");
  }
  if (status !== undefined) {
    if (status.status === "exited") return stopped(status.exitCode, status.finishedAt ?? observation.observedAt, status.error ?? "");
    return stopped(lostMonitorExitCode, persisted?.finishedAt ?? observation.observedAt, "container monitor (berth-shim) exited unexpectedly");
  }
  if (persisted?.startedAt === undefined) {
    // A failed start leaves its exit code (126, 127…) and error on a still-created container, as in Docker.
    return {
      ...base,
      status: "created",
      running: false,
      paused: false,
      restarting: false,
      dead: false,
      pid: 0,
      exitCode: persisted?.exitCode ?? 0,
      error: persisted?.error ?? "",
      finishedAt: zeroTime,
    };
  }
  if (persisted.finishedAt !== undefined) return stopped(persisted.exitCode ?? 0, persisted.finishedAt, persisted.error ?? "");
  return stopped(rebootExitCode, observation.observedAt, "");
}

/** moby's State.String(): `Up 3 seconds (healthy)`, `Exited (0) 2 minutes ago`, `Created`. */
export function statusText(state: ContainerState, nowMs: number): string {
  const since = (time: string): string => humanDuration(Math.max(0, nowMs - Date.parse(time)));
  if (state.status === "removing") return "Removal In Progress";
  if (state.running) {
    if (state.paused) return `Up ${since(state.startedAt)} (Paused)`;
    if (state.restarting) return `Restarting (${state.exitCode}) ${since(state.finishedAt)} ago`;
    if (state.health !== undefined) return `Up ${since(state.startedAt)} (${healthText(state.health.status)})`;
    return `Up ${since(state.startedAt)}`;
  }
  if (state.dead) return "Dead";
  if (state.startedAt === zeroTime) return "Created";
  if (state.finishedAt === zeroTime) return "";
  return `Exited (${state.exitCode}) ${since(state.finishedAt)} ago`;
}

const healthText = (status: HealthFile["status"]): string => (status === "starting" ? "health: starting" : status);

// Guards. Each returns undefined when the operation is allowed, or Docker's reason.

export type ContainerOperation = "start" | "stop" | "kill" | "remove" | "forceRemove" | "pause" | "unpause" | "exec" | "restart" | "attach";

const reasons: Record<ContainerOperation, (status: ContainerStatus, name: string) => string | undefined> = {
  start: (status) =>
    status === "paused"
      ? "cannot start a paused container, try unpause instead"
      : status === "dead" || status === "removing"
        ? `cannot start a container marked for removal`
        : undefined,
  stop: () => undefined,
  kill: (status, name) => (status === "running" || status === "paused" || status === "restarting" ? undefined : `Cannot kill container: ${name}: container is not running`),
  remove: (status, name) =>
    status === "running" || status === "restarting"
      ? `You cannot remove a running container ${name}. Stop the container before attempting removal or force remove`
      : status === "paused"
        ? `You cannot remove a paused container ${name}. Unpause and then stop the container before attempting removal or force remove`
        : undefined,
  forceRemove: () => undefined,
  pause: (status, name) =>
    status === "paused" ? `Container ${name} is already paused` : status !== "running" ? `Container ${name} is not running` : undefined,
  unpause: (status, name) => (status !== "paused" ? `Container ${name} is not paused` : undefined),
  exec: (status, name) =>
    status === "paused"
      ? `Container ${name} is paused, unpause the container before exec`
      : status === "restarting"
        ? `Container ${name} is restarting, wait until the container is running`
        : status !== "running"
          ? `Container ${name} is not running`
          : undefined,
  restart: (status) => (status === "dead" || status === "removing" ? "cannot restart a container marked for removal" : undefined),
  attach: (status, name) => (status === "running" ? undefined : `You cannot attach to a stopped container, start it first (${name})`),
};

export const canStart = (status: ContainerStatus): boolean => reasons.start(status, "") === undefined;
export const canStop = (status: ContainerStatus): boolean => status === "running" || status === "paused" || status === "restarting";
export const canKill = (status: ContainerStatus): boolean => reasons.kill(status, "") === undefined;
export const canRemove = (status: ContainerStatus, force: boolean): boolean => (force ? true : reasons.remove(status, "") === undefined);
export const canPause = (status: ContainerStatus): boolean => reasons.pause(status, "") === undefined;
export const canUnpause = (status: ContainerStatus): boolean => reasons.unpause(status, "") === undefined;
export const canExec = (status: ContainerStatus): boolean => reasons.exec(status, "") === undefined;

/** Throws E_RUNTIME_STATE naming the container when `operation` is not allowed in `status`. */
export function assertAllowed(operation: ContainerOperation, status: ContainerStatus, name: string): void {
  const reason = reasons[operation](status, name);
  if (reason !== undefined) throw new BerthError(StateErrorCode, reason.includes(name) ? reason : `${name}: ${reason}`, { hint: `container is ${status}` });
}
