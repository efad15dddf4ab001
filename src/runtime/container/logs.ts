// Reading a container's json-file log (written by the shim, rotated to .1, .2, …): the backlog
// with tail/since/until, and following it (inotify plus a short poll) across rotations until the
// container stops. Entries keep their stream, so stdout and stderr stay apart.

import { closeSync, fstatSync, openSync, readSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { LogsErrorCode, timeToNanoseconds } from "./log-time.js";

export { LogsErrorCode, formatLogTime, parseTimestampArgument, timeToNanoseconds } from "./log-time.js";

export interface LogEntry {
  readonly stream: "stdout" | "stderr";
  /** RFC 3339 with nanoseconds, as the shim wrote it. */
  readonly time: string;
  /** The bytes of the line, including its newline (a partial line has none). */
  readonly log: string;
}

export interface LogReadOptions {
  /** Last N entries of the backlog; undefined or negative = all. */
  readonly tail?: number;
  /** Nanoseconds since the epoch (inclusive); entries before are skipped. */
  readonly sinceNs?: bigint;
  /** Nanoseconds since the epoch; entries after end the read. */
  readonly untilNs?: bigint;
}

export interface LogFollowOptions extends LogReadOptions {
  readonly follow: boolean;
  /** Following stops once this says the container is no longer running (after a last read). */
  readonly isRunning?: () => boolean;
  /** Directories whose changes should wake the follower (the run dir, for exits). */
  readonly wakeDirectories?: readonly string[];
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

/** The log's files, oldest first: `<log>.N` … `<log>.1`, `<log>`. */
export function logFiles(logPath: string): string[] {
  const directory = path.dirname(logPath);
  const base = path.basename(logPath);
  let rotated: number[] = [];
  try {
    rotated = readdirSync(directory)
      .filter((name) => name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)))
      .map((name) => Number(name.slice(base.length + 1)))
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
  return [...rotated.map((number) => `${logPath}.${number}`), logPath];
}

function parseLine(line: string): LogEntry | undefined {
  if (line.trim() === "") return undefined;
  try {
    const value = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof value.log !== "string" || typeof value.time !== "string") return undefined;
    return { stream: value.stream === "stderr" ? "stderr" : "stdout", time: value.time, log: value.log };
  } catch {
    return undefined;
  }
}

/** Reads complete lines from an open file, keeping a partial last line for the next call. */
class LineReader {
  private remainder = "";
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);
  offset = 0;

  constructor(readonly fd: number) {}

  read(): LogEntry[] {
    const entries: LogEntry[] = [];
    for (;;) {
      const count = readSync(this.fd, this.buffer, 0, this.buffer.length, this.offset);
      if (count <= 0) break;
      this.offset += count;
      const text = this.remainder + this.buffer.toString("utf8", 0, count);
      const lines = text.split("\n");
      this.remainder = lines.pop() ?? "";
      for (const line of lines) {
        const entry = parseLine(line);
        if (entry !== undefined) entries.push(entry);
      }
    }
    return entries;
  }
}

function openOptional(file: string): number | undefined {
  try {
    return openSync(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BerthError(LogsErrorCode, `open ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function readWhole(file: string): LogEntry[] {
  const fd = openOptional(file);
  if (fd === undefined) return [];
  try {
    return new LineReader(fd).read();
  } finally {
    closeSync(fd);
  }
}

const inWindow = (entry: LogEntry, options: LogReadOptions): boolean => {
  if (options.sinceNs === undefined && options.untilNs === undefined) return true;
  const at = timeToNanoseconds(entry.time);
  return (options.sinceNs === undefined || at >= options.sinceNs) && (options.untilNs === undefined || at <= options.untilNs);
};

function selectBacklog(entries: readonly LogEntry[], options: LogReadOptions): LogEntry[] {
  const filtered = entries.filter((entry) => inWindow(entry, options));
  if (options.tail === undefined || options.tail < 0) return filtered;
  return options.tail === 0 ? [] : filtered.slice(-options.tail);
}

/** The backlog (no following). */
export function readLogs(logPath: string, options: LogReadOptions = {}): LogEntry[] {
  return selectBacklog(logFiles(logPath).flatMap(readWhole), options);
}

/** The backlog, then (with `follow`) new entries until the container stops or `signal` aborts. */
export async function* streamLogs(logPath: string, options: LogFollowOptions): AsyncGenerator<LogEntry> {
  const files = logFiles(logPath);
  const current = files.pop() ?? logPath;
  let fd = openOptional(current);
  let reader = fd === undefined ? undefined : new LineReader(fd);
  const backlog = [...files.flatMap(readWhole), ...(reader?.read() ?? [])];
  for (const entry of selectBacklog(backlog, options)) yield entry;
  if (!options.follow) {
    if (fd !== undefined) closeSync(fd);
    return;
  }
  const passesUntil = (entry: LogEntry): boolean => options.untilNs === undefined || timeToNanoseconds(entry.time) <= options.untilNs;
  let wake: (() => void) | undefined;
  const watchers: FSWatcher[] = [];
  for (const directory of [path.dirname(logPath), ...(options.wakeDirectories ?? [])]) {
    try {
      const watcher = watch(directory, { persistent: false }, () => wake?.());
      watcher.on("error", () => undefined);
      watchers.push(watcher);
    } catch {
      // polling still works
    }
  }
  const onAbort = (): void => wake?.();
  options.signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      const running = options.isRunning?.() ?? true;
      // Rotation: the shim renamed the file away and started a new one. Drain the old one first.
      const rotated = fd !== undefined && inodeOf(logPath) !== fstatSync(fd).ino;
      if (reader !== undefined) {
        for (const entry of reader.read()) {
          if (!passesUntil(entry)) return;
          if (inWindow(entry, options)) yield entry;
        }
      }
      if (rotated || fd === undefined) {
        if (fd !== undefined) closeSync(fd);
        fd = openOptional(logPath);
        reader = fd === undefined ? undefined : new LineReader(fd);
        if (reader !== undefined) continue;
      }
      if (!running || options.signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 100);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    for (const watcher of watchers) watcher.close();
    if (fd !== undefined) closeSync(fd);
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}
