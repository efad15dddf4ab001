// The json-file log reader: rotated files in order, tail, since/until, partial lines, following
// across a rotation until the container stops; the timestamp formats of `logs -t` and --since.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatLogTime, parseTimestampArgument, timeToNanoseconds } from "../../../../src/runtime/container/log-time.js";
import { logFiles, readLogs, streamLogs, type LogEntry } from "../../../../src/runtime/container/logs.js";

let directory: string;
let log: string;
beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), "berth-logs-"));
  log = path.join(directory, "c-json.log");
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

const line = (text: string, stream: "stdout" | "stderr", second: number): string =>
  `${JSON.stringify({ log: text, stream, time: `2026-01-01T00:00:${String(second).padStart(2, "0")}.5Z` })}\n`;

describe("readLogs", () => {
  it("reads rotated files oldest first and keeps streams apart", () => {
    writeFileSync(`${log}.2`, line("one\n", "stdout", 1));
    writeFileSync(`${log}.1`, line("two\n", "stderr", 2));
    writeFileSync(log, line("three\n", "stdout", 3) + line("partial", "stdout", 4));
    expect(logFiles(log)).toEqual([`${log}.2`, `${log}.1`, log]);
    expect(readLogs(log).map((entry) => [entry.stream, entry.log])).toEqual([
      ["stdout", "one\n"],
      ["stderr", "two\n"],
      ["stdout", "three\n"],
      ["stdout", "partial"],
    ]);
  });

  it("applies tail, since and until", () => {
    writeFileSync(log, [1, 2, 3, 4, 5].map((second) => line(`${second}\n`, "stdout", second)).join(""));
    const texts = (entries: LogEntry[]): string[] => entries.map((entry) => entry.log.trim());
    expect(texts(readLogs(log, { tail: 2 }))).toEqual(["4", "5"]);
    expect(texts(readLogs(log, { tail: 0 }))).toEqual([]);
    expect(texts(readLogs(log, { tail: -1 }))).toEqual(["1", "2", "3", "4", "5"]);
    expect(texts(readLogs(log, { sinceNs: timeToNanoseconds("2026-01-01T00:00:03.5Z") }))).toEqual(["3", "4", "5"]);
    expect(texts(readLogs(log, { untilNs: timeToNanoseconds("2026-01-01T00:00:02.6Z") }))).toEqual(["1", "2"]);
  });

  it("is empty for a container that never wrote", () => {
    expect(readLogs(log)).toEqual([]);
  });
});

describe("streamLogs with follow", () => {
  it("yields new lines, follows a rotation, and ends after the container stops", async () => {
    writeFileSync(log, line("before\n", "stdout", 1));
    let running = true;
    const seen: string[] = [];
    const done = (async () => {
      for await (const entry of streamLogs(log, { follow: true, isRunning: () => running, pollMs: 10 })) seen.push(entry.log.trim());
    })();
    await waitFor(() => seen.length === 1);
    appendFileSync(log, line("after\n", "stdout", 2));
    await waitFor(() => seen.length === 2);
    // The shim rotates: renames the file away (after its last write) and starts a new one.
    appendFileSync(log, line("last of old\n", "stderr", 3));
    renameSync(log, `${log}.1`);
    writeFileSync(log, line("first of new\n", "stdout", 4));
    await waitFor(() => seen.length === 4);
    appendFileSync(log, line("final\n", "stdout", 5));
    running = false;
    await done;
    expect(seen).toEqual(["before", "after", "last of old", "first of new", "final"]);
  });

  it("stops on abort", async () => {
    writeFileSync(log, "");
    const controller = new AbortController();
    const done = (async () => {
      for await (const _entry of streamLogs(log, { follow: true, signal: controller.signal, pollMs: 10_000 })) void _entry;
    })();
    controller.abort();
    await done;
  });
});

describe("log times", () => {
  it("prints Docker's fixed-width nanoseconds", () => {
    expect(formatLogTime("2026-01-01T00:00:01.5Z")).toBe("2026-01-01T00:00:01.500000000Z");
    expect(formatLogTime("2026-01-01T00:00:01Z")).toBe("2026-01-01T00:00:01.000000000Z");
    expect(formatLogTime("2026-01-01T00:00:01.123456789Z")).toBe("2026-01-01T00:00:01.123456789Z");
  });

  it("reads --since/--until as docker does", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(parseTimestampArgument("1700000000.25", now)).toBe(1_700_000_000_250_000_000n);
    expect(parseTimestampArgument("10m", now)).toBe(BigInt(now - 600_000) * 1_000_000n);
    expect(parseTimestampArgument("2026-01-01T11:00:00Z", now)).toBe(BigInt(Date.parse("2026-01-01T11:00:00Z")) * 1_000_000n);
    expect(parseTimestampArgument("2026-01-01T11:00:00.000000001+00:00", now)).toBe(BigInt(Date.parse("2026-01-01T11:00:00Z")) * 1_000_000n + 1n);
    expect(() => parseTimestampArgument("yesterday", now)).toThrow("invalid value");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
