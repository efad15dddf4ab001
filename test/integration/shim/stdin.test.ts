// stdin (PROTOCOL.md: the `stdin` FIFO in the run directory) and process.terminal (a pty:
// one stdout stream in the log).

import { openSync, writeSync, closeSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { eventually, readLog, startShimOk, stopShim, streamText, waitForShimExit, withBundle, type Bundle } from "../../support/bundle.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function writeFifo(bundle: Bundle, text: string): void {
  const fd = openSync(path.join(bundle.runDir, "stdin"), "w");
  writeSync(fd, text);
  closeSync(fd);
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim stdin and terminal"), () => {
  it("relays bytes written to the stdin FIFO, across writers, to the container", async () => {
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/cat"], shim: (shim) => ((shim.stdin = true), (shim.init = true)) },
      async (bundle) => {
        await startShimOk(bundle);
        writeFifo(bundle, "hello\n");
        await eventually(() => streamText(bundle, "stdout") === "hello\n", 5_000, "the echo");
        // The writer closed: cat must still be there for the next one.
        writeFifo(bundle, "again\n");
        await eventually(() => streamText(bundle, "stdout") === "hello\nagain\n", 5_000, "the second echo");
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(143);
      },
    );
  });

  it("with stdinOnce, ends the container's stdin when the first writer leaves (after all it sent)", async () => {
    // 64 KiB: more than one FIFO read and more than the shim's buffer, so EOF must wait for the relay.
    const payload = `${"x".repeat(1023)}\n`.repeat(64);
    await withBundle(
      fixture.roots(),
      { rootfs: fixture.rootfs(), args: ["/bin/sh", "-c", "wc -c; echo stdin-closed"], shim: (shim) => ((shim.stdin = true), (shim.stdinOnce = true)) },
      async (bundle) => {
        await startShimOk(bundle);
        writeFifo(bundle, payload);
        const status = await waitForShimExit(bundle);
        expect(status.exitCode).toBe(0);
        expect(streamText(bundle, "stdout")).toBe(`${payload.length}\nstdin-closed\n`);
      },
    );
  });

  it("gives the process a terminal when process.terminal is true, logging one stdout stream", async () => {
    const script = "tty; echo to-stderr >&2; read line; echo got-$line";
    await withBundle(
      fixture.roots(),
      {
        rootfs: fixture.rootfs(),
        args: ["/bin/sh", "-c", script],
        spec: (spec) => (spec.process.terminal = true),
        shim: (shim) => (shim.stdin = true),
      },
      async (bundle) => {
        await startShimOk(bundle);
        await eventually(() => streamText(bundle, "stdout").includes("to-stderr"), 5_000, "the first output");
        writeFifo(bundle, "abc\n");
        await eventually(() => streamText(bundle, "stdout").includes("got-abc"), 5_000, "the answer");
        const out = streamText(bundle, "stdout");
        expect(out).toMatch(/^\/dev\/pts\/\d+\r\n/);
        expect(out).toContain("to-stderr\r\n");
        expect(readLog(bundle).every((entry) => entry.stream === "stdout")).toBe(true);
        const status = await stopShim(bundle);
        expect(status.exitCode).toBe(0);
      },
    );
  });
});
