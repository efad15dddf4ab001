// The json-file log: streams kept apart, Docker's escaping, line splitting, partial
// lines, and size-capped rotation (PROTOCOL.md "Files": <id>-json.log).

import { existsSync, readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readLog, readLogFile, startShimOk, waitForShimExit, withBundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();
const rfc3339Nano = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim logs"), () => {
  it("keeps stdout and stderr apart, one entry per line, with RFC3339Nano UTC times", async () => {
    const script = "echo out1; echo err1 >&2; echo out2; echo err2 >&2";
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script] }, async (bundle) => {
      await startShimOk(bundle);
      await waitForShimExit(bundle);
      const entries = readLog(bundle);
      expect(entries.filter((entry) => entry.stream === "stdout").map((entry) => entry.log)).toEqual(["out1\n", "out2\n"]);
      expect(entries.filter((entry) => entry.stream === "stderr").map((entry) => entry.log)).toEqual(["err1\n", "err2\n"]);
      for (const entry of entries) {
        expect(Object.keys(entry)).toEqual(["log", "stream", "time"]);
        expect(entry.time).toMatch(rfc3339Nano);
      }
    });
  });

  it("escapes as Docker's json-file driver: HTML characters, control bytes, invalid UTF-8, U+2028", async () => {
    // tab, <, >, &, ", backslash, an invalid byte, a truncated 3-byte sequence, U+2028, é.
    const script = "printf 'a\\tb<>&\"\\\\\\377\\342\\202z\\342\\200\\250\\303\\251\\n'";
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script] }, async (bundle) => {
      await startShimOk(bundle);
      await waitForShimExit(bundle);
      const raw = readFileSync(bundle.logPath, "utf8").split("\n")[0] ?? "";
      expect(raw).toContain(String.raw`"log":"a\u0009b\u003c\u003e\u0026\"\\\ufffd\ufffd\ufffdz\u2028é\n"`);
    });
  });

  it("writes a line longer than 16 KiB in 16 KiB pieces, and flushes a partial last line at exit", async () => {
    const script = "head -c 40000 /dev/zero | tr '\\0' a; echo; printf 'no newline'";
    await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script] }, async (bundle) => {
      await startShimOk(bundle);
      await waitForShimExit(bundle);
      const pieces = readLog(bundle).map((entry) => entry.log);
      expect(pieces.map((piece) => piece.length)).toEqual([16384, 16384, 7233, 10]);
      expect(pieces[2]?.endsWith("a\n")).toBe(true);
      expect(pieces[3]).toBe("no newline");
    });
  });

  it("rotates at maxSize keeping maxFiles files, oldest dropped, order kept", async () => {
    const script = "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done";
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script], shim: (shim) => (shim.log = { ...shim.log, maxSize: 2000, maxFiles: 3 }) },
      async (bundle) => {
        await startShimOk(bundle);
        await waitForShimExit(bundle);
        expect(existsSync(`${bundle.logPath}.1`)).toBe(true);
        expect(existsSync(`${bundle.logPath}.2`)).toBe(true);
        expect(existsSync(`${bundle.logPath}.3`)).toBe(false);
        for (const file of [bundle.logPath, `${bundle.logPath}.1`, `${bundle.logPath}.2`]) {
          // A file may pass maxSize by at most the one entry written when it reached it.
          expect(statSync(file).size).toBeLessThan(2000 + 200);
        }
        const kept = [`${bundle.logPath}.2`, `${bundle.logPath}.1`, bundle.logPath].flatMap((file) => readLogFile(file).map((entry) => entry.log));
        const numbers = kept.map((line) => Number(/^line-(\d+)\n$/.exec(line)?.[1]));
        expect(numbers.at(-1)).toBe(299);
        expect(numbers).toEqual(numbers.map((_, index) => (numbers[0] ?? 0) + index));
        expect(numbers[0]).toBeGreaterThan(0);
      },
    );
  });

  it("truncates in place with maxFiles 1", async () => {
    const script = "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done";
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", script], shim: (shim) => (shim.log = { ...shim.log, maxSize: 1000, maxFiles: 1 }) },
      async (bundle) => {
        await startShimOk(bundle);
        await waitForShimExit(bundle);
        expect(existsSync(`${bundle.logPath}.1`)).toBe(false);
        expect(statSync(bundle.logPath).size).toBeLessThan(1000 + 200);
        expect(readLog(bundle).at(-1)?.log).toBe("line-199\n");
      },
    );
  });
});
