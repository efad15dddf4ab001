// Talking to berth-shim (native/PROTOCOL.md): find the binary, start a container (ready pipe on
// fd 3, detached, unref'd), recognise a live shim by its pid, find shims by their command line
// (recovery after a CLI was killed mid-start), signal, and wait for processes to go.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { BerthError } from "../../errors.js";

export const ShimErrorCode = {
  missing: "E_SHIM_MISSING",
  start: "E_CONTAINER_START",
  protocol: "E_SHIM_PROTOCOL",
} as const;

/** A failed start carries Docker's exit code: 127 not found, 126 cannot execute, 125 anything else. */
export class ContainerStartError extends BerthError {
  readonly exitStatus: number;

  constructor(message: string, exitStatus: number, options: { hint?: string; cause?: unknown } = {}) {
    super(ShimErrorCode.start, message, options);
    this.name = "ContainerStartError";
    this.exitStatus = exitStatus;
  }
}

let cachedShimPath: string | undefined;

/** `$BERTH_SHIM`, else native/build/berth-shim of the berth checkout this module runs from. */
export function shimBinary(environment: NodeJS.ProcessEnv = process.env): string {
  const override = environment["BERTH_SHIM"];
  if (override !== undefined && override !== "") return override;
  if (cachedShimPath !== undefined) return cachedShimPath;
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 6; level++) {
    const candidate = path.join(directory, "native", "build", "berth-shim");
    if (existsSync(candidate)) return (cachedShimPath = candidate);
    directory = path.dirname(directory);
  }
  throw new BerthError(ShimErrorCode.missing, "berth-shim is not built (native/build/berth-shim)", { hint: "run `npm run build` in the berth checkout" });
}

export interface StartedShim {
  /** The container's init process, as seen from the host. */
  readonly containerPid: number;
  /** The process berth spawned (the shim, or its parent if it daemonised). */
  readonly spawnedPid: number;
}

/**
 * `berth-shim start <bundle>` with the ready pipe on fd 3. Resolves on `ok <pid>`, rejects with
 * the shim's exit code and message on `error <code> <message>`. The shim outlives this process.
 */
export function startShim(shimPath: string, bundle: string): Promise<StartedShim> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      // Detached (its own session and process group: a Ctrl-C meant for the CLI never reaches it).
      // The shim forks its monitor, which calls setsid() again from a non-leader, as it should.
      child = spawn(shimPath, ["start", bundle], { detached: true, stdio: ["ignore", "ignore", "ignore", "pipe"] });
    } catch (error) {
      reject(new BerthError(ShimErrorCode.start, `spawn ${shimPath}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    let buffered = "";
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      ready.destroy();
      child.unref();
      outcome();
    };
    child.on("error", (error) => finish(() => reject(new BerthError(ShimErrorCode.start, `spawn ${shimPath}: ${error.message}`, { cause: error }))));
    ready.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      finish(() => {
        const ok = /^ok (\d+)$/.exec(line);
        if (ok !== null) return resolve({ containerPid: Number(ok[1]), spawnedPid: child.pid ?? 0 });
        const failed = /^error (\d+) (.*)$/.exec(line);
        if (failed !== null) return reject(new ContainerStartError(failed[2] ?? "", Number(failed[1])));
        reject(new BerthError(ShimErrorCode.protocol, `berth-shim: unexpected ready line ${JSON.stringify(line)}`));
      });
    });
    ready.on("error", () => undefined);
    ready.on("end", () => {
      if (settled) return;
      // The pipe closed without a line: the shim died early. Report how.
      child.once("exit", (code, signal) =>
        finish(() =>
          reject(new ContainerStartError(`berth-shim exited before the container started (${signal ?? `exit status ${code}`})`, 125)),
        ),
      );
      if (child.exitCode !== null || child.signalCode !== null) child.emit("exit", child.exitCode, child.signalCode);
    });
  });
}

/** The argv of a process, or undefined when it is gone or a zombie. */
export function processCommandLine(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live `berth-shim start <bundle>` (guards against pid reuse). */
export function isShimFor(pid: number, bundle: string): boolean {
  const argv = processCommandLine(pid);
  return argv !== undefined && argv[1] === "start" && argv[2] === bundle && path.basename(argv[0] ?? "").includes("berth-shim");
}

/** Live shims for `bundle`, found by scanning /proc (when shim.pid is missing after a crash). */
export function findShims(bundle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isShimFor(pid, bundle)) found.push(pid);
  }
  return found;
}

/** Every live berth-shim on the machine (the leak check). */
export function listShimProcesses(): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = processCommandLine(Number(entry));
    if (argv !== undefined && path.basename(argv[0] ?? "") === "berth-shim") found.push({ pid: Number(entry), argv });
  }
  return found;
}

/** Alive and not a zombie (an exited process nobody reaped yet counts as gone; state.ts's processAlive would not). */
export function processRunning(pid: number): boolean {
  return pid > 0 && processCommandLine(pid) !== undefined;
}

/** Send a signal; false when the process is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw new BerthError("E_CONTAINER_SIGNAL", `kill ${pid}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Resolve when `condition()` holds, checking on every change in `directory` (inotify) and at
 * least every `pollMs`; false on timeout. With `minPollMs`, the first checks come sooner: the
 * interval starts there and doubles up to `pollMs`, starting over after every inotify wake-up
 * (for what inotify cannot see, like a process exiting just after its last file change).
 */
export async function waitUntil(
  condition: () => boolean,
  options: { directory?: string; timeoutMs: number; pollMs?: number; minPollMs?: number; signal?: AbortSignal | undefined },
): Promise<boolean> {
  if (condition()) return true;
  const deadline = Date.now() + options.timeoutMs;
  let wake: (() => void) | undefined;
  const onAbort = (): void => wake?.();
  options.signal?.addEventListener("abort", onAbort);
  let watcher: FSWatcher | undefined;
  if (options.directory !== undefined) {
    try {
      watcher = watch(options.directory, { persistent: false }, () => wake?.());
      watcher.on("error", () => undefined);
    } catch {
      watcher = undefined;
    }
  }
  const pollMs = options.pollMs ?? 50;
  const minPollMs = Math.min(options.minPollMs ?? pollMs, pollMs);
  let delay = minPollMs;
  try {
    for (;;) {
      if (condition()) return true;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let woken = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, delay));
        wake = () => {
          woken = true;
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = woken ? minPollMs : Math.min(pollMs, delay * 2);
    }
  } finally {
    watcher?.close();
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Wait for a process to be gone (or a zombie); false on timeout. */
export async function waitForProcessExit(pid: number, timeoutMs: number, directory?: string): Promise<boolean> {
  // A shim's last act is to delete shim.pid (an inotify wake-up); it exits a moment later.
  return waitUntil(() => !processRunning(pid), { timeoutMs, pollMs: 10, minPollMs: 1, ...(directory === undefined ? {} : { directory }) });
}

export { sleep };
