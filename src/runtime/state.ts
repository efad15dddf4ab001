// Where the engine keeps its state, and the two primitives every state change uses:
// atomic file writes (temp + fsync + rename) and inter-process locks, so concurrent
// berth processes never see half-written files or race on the same object.

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BerthError } from "../errors.js";

export interface RuntimePaths {
  /** Persistent state: blobs, layers, images, containers, volumes. */
  readonly stateRoot: string;
  /** Per-boot state: shim pids and sockets, netns mounts. Emptied by a reboot. */
  readonly runRoot: string;
}

export function runtimePaths(environment: Readonly<Record<string, string | undefined>> = process.env): RuntimePaths {
  return {
    stateRoot: path.resolve(environment["BERTH_ROOT"] || "/var/lib/berth"),
    runRoot: path.resolve(environment["BERTH_RUN_ROOT"] || "/run/berth"),
  };
}

export const RuntimeErrorCode = {
  state: "E_RUNTIME_STATE_FILE",
  lock: "E_RUNTIME_LOCK",
} as const;

export interface AtomicWriteOptions {
  readonly mode?: number;
  /**
   * fsync before the rename (the default), so that the new content survives a power cut. Per-boot
   * state under the run root, and files rewritten at every start, skip it: a reboot discards or
   * rewrites them anyway, and the rename alone keeps readers from ever seeing half a file.
   */
  readonly durable?: boolean;
}

/** Write `data` to `file` so that readers see either the old or the new content, never a mix. */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temporary = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(temporary, "w", options.mode ?? 0o644);
    try {
      const buffer = typeof data === "string" ? Buffer.from(data) : data;
      let offset = 0;
      while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
      if (options.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new BerthError(RuntimeErrorCode.state, `write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** For files under the run root, and files rewritten at every start: see AtomicWriteOptions.durable. */
export const perBoot: AtomicWriteOptions = { durable: false };

export function writeJsonAtomic(file: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, options);
}

/** Parsed JSON, or undefined when the file does not exist. A corrupt file is an error naming it. */
export function readJsonFile<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BerthError(RuntimeErrorCode.state, `read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new BerthError(RuntimeErrorCode.state, `${file}: corrupt state file: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Delete a directory and everything in it, like `rmSync(directory, { recursive: true, force: true })`
 * (nothing to delete is no error) but guided by the types readdir reports, where Node's own walk
 * lstats every entry first: about half the time for a container's directory.
 */
export function removeTree(directory: string): void {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    if ((error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
    unlinkSync(directory);
    return;
  }
  for (const entry of entries) {
    const entryPath = `${directory}/${entry.name}`;
    if (entry.isDirectory()) {
      removeTree(entryPath);
      continue;
    }
    removeFile(entryPath);
  }
  try {
    rmdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Delete a file (not a directory); one that is already gone is no error. */
export function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Whether a process with this pid exists (EPERM means it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Hold an exclusive lock file while `action` runs. The file holds the owner's pid, so a
 * lock left by a process that died (kill -9 of the CLI) is taken over instead of blocking forever.
 */
export async function withLock<T>(lockFile: string, action: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      const fd = openSync(lockFile, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new BerthError(RuntimeErrorCode.lock, `lock ${lockFile}: ${(error as Error).message}`, { cause: error });
      }
      const owner = Number.parseInt(readFileSafe(lockFile), 10);
      if (!Number.isNaN(owner) && owner !== process.pid && !processAlive(owner)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new BerthError(RuntimeErrorCode.lock, `timed out waiting for lock ${lockFile} (held by pid ${owner})`);
      }
      await sleep(delay);
    }
  }
  try {
    return await action();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
