// berth-unpack reading a layer's blob straight off a TCP connection (`--length`, and `--http`
// where the connection starts with the registry's answer), as a pull from a plain-HTTP registry
// has it do: it stops after exactly N bytes without waiting for the connection to close; an
// answer that is not the whole blob is declined with nothing written; and a connection that
// closes early or stalls ends as "interrupted" with the partial blob file holding what arrived,
// so that the download can be resumed; and the program dies with the process that started it.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyFromConnection, unpackerPath, type ConnectionApplyResult } from "../../../src/runtime/image/unpacker.js";
import { ensureUnpacker, isRoot, makeLayer, makeTestRoot, tarEntries, type LayerBlob, type TestRoot } from "../../support/images.js";

/** After its pieces: hold the connection open, or close it. */
type Ending = "hold" | "close";

/** A connection to a server on 127.0.0.1 that writes `pieces` 20 ms apart, then holds or closes the connection. */
async function connectionSending(pieces: readonly Buffer[], ending: Ending): Promise<{ socket: net.Socket; close(): Promise<void> }> {
  const peers: net.Socket[] = [];
  const server = net.createServer(async (peer) => {
    peers.push(peer);
    peer.on("error", () => undefined);
    for (const [index, piece] of pieces.entries()) {
      if (index > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      peer.write(piece);
    }
    if (ending === "close") peer.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  // Paused from the start (as handover.ts leaves it): only berth-unpack reads this connection.
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.pause();
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return {
    socket,
    close: async () => {
      socket.destroy();
      for (const peer of peers) peer.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const head = (lines: readonly string[]): Buffer => Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");

describe.skipIf(!isRoot)("berth-unpack reading a connection (needs root)", () => {
  let root: TestRoot;
  let layer: LayerBlob;
  let count = 0;
  const content = Buffer.alloc(1_500_000);
  for (let index = 0; index < content.length; index++) content[index] = (index * 7919) % 251;

  beforeAll(() => {
    ensureUnpacker();
    root = makeTestRoot("unpack-connection");
    layer = makeLayer(tarEntries([{ header: { name: "data.bin", type: "file", mode: 0o644 }, content }]), "gzip");
  });

  afterAll(() => root?.remove());

  /** Serves `pieces` on a connection and applies from it into a fresh directory, `held` blob bytes already in the partial file. */
  async function apply(
    pieces: readonly Buffer[],
    ending: Ending,
    options: { held?: number; http?: boolean; timeoutMs?: number; layer?: LayerBlob } = {},
  ): Promise<{ result: ConnectionApplyResult; partial: string; target: string }> {
    const held = options.held ?? 0;
    const layerSent = options.layer ?? layer;
    const work = path.join(root.work, `case${++count}`);
    const target = path.join(work, "diff");
    mkdirSync(target, { recursive: true });
    const partial = path.join(work, "blob.partial");
    writeFileSync(partial, layerSent.blob.subarray(0, held));
    const connection = await connectionSending(pieces, ending);
    try {
      const result = await applyFromConnection(partial, target, "test", {
        connection: connection.socket,
        length: layerSent.blob.length - held,
        http: options.http ?? false,
        timeoutMs: options.timeoutMs ?? 30_000,
      });
      return { result, partial, target };
    } finally {
      await connection.close();
    }
  }

  function expectWholeLayer(outcome: { result: ConnectionApplyResult; partial: string; target: string }, sent: { layer: LayerBlob; content: Buffer } = { layer, content }): void {
    const { result, partial, target } = outcome;
    if (!("applied" in result)) throw new Error(`not applied: ${JSON.stringify(result)}`);
    expect(result.failure).toBeUndefined();
    expect(result.applied?.diffId).toBe(sent.layer.diffId);
    expect(result.blobDigest).toBe(sent.layer.digest);
    expect(result.blobSize).toBe(sent.layer.blob.length);
    expect(readFileSync(partial).equals(sent.layer.blob)).toBe(true);
    expect(readFileSync(path.join(target, "data.bin")).equals(sent.content)).toBe(true);
  }

  it("reads exactly the announced bytes after the ones already held, and no more, without waiting for the connection to close", async () => {
    const held = 1000;
    expectWholeLayer(await apply([layer.blob.subarray(held), Buffer.from("not the blob's")], "hold", { held }));
  });

  it("writes a layer larger than the writeback step (its file and its blob are flushed as they grow) whole", async () => {
    // Incompressible, so that the kept blob passes 8 MiB too.
    const big = randomBytes(20 * 1024 * 1024);
    const bigLayer = makeLayer(tarEntries([{ header: { name: "data.bin", type: "file", mode: 0o644 }, content: big }]), "gzip");
    expect(bigLayer.blob.length).toBeGreaterThan(16 * 1024 * 1024);
    expectWholeLayer(await apply([bigLayer.blob], "hold", { layer: bigLayer }), { layer: bigLayer, content: big });
  });

  it("says the transfer was interrupted when the connection closes early, and keeps the bytes that did arrive", async () => {
    const held = 500;
    const arrived = (layer.blob.length - held) >> 1;
    const { result, partial } = await apply([layer.blob.subarray(held, held + arrived)], "close", { held });
    expect(result).toEqual({ interrupted: `connection closed ${layer.blob.length - held - arrived} bytes early` });
    expect(readFileSync(partial).equals(layer.blob.subarray(0, held + arrived))).toBe(true);
  });

  it("says the transfer was interrupted when the connection stalls, and keeps the bytes that did arrive", async () => {
    const held = 700;
    const arrived = (layer.blob.length - held) >> 1;
    const { result, partial } = await apply([layer.blob.subarray(held, held + arrived)], "hold", { held, timeoutMs: 300 });
    expect(result).toEqual({ interrupted: "no data for 300 ms" });
    expect(readFileSync(partial).equals(layer.blob.subarray(0, held + arrived))).toBe(true);
  });

  it("dies with the process that started it, rather than keep writing a download nobody waits for", async () => {
    const work = path.join(root.work, `case${++count}`);
    mkdirSync(path.join(work, "diff"), { recursive: true });
    const fifo = path.join(work, "never-written");
    execFileSync("mkfifo", [fifo]);
    // sh starts it on a stream that never ends, prints its pid and exits.
    const script = '"$0" --blob "$1" --length 100 "$2" <>"$3" >/dev/null 2>&1 & echo $!';
    const pid = Number(execFileSync("sh", ["-c", script, unpackerPath(), path.join(work, "blob.partial"), path.join(work, "diff"), fifo], { encoding: "utf8" }).trim());
    const deadline = Date.now() + 5_000;
    // Gone, or a zombie waiting for whoever reaps orphans here.
    const alive = (): boolean => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive()).toBe(false);
  });

  describe("--http: the connection starts with the registry's answer", () => {
    const ok = (length = layer.blob.length): Buffer => head(["HTTP/1.1 200 OK", "Content-Type: application/octet-stream", `content-length:  ${length} `, "Docker-Content-Digest: x"]);

    it("reads the head, even in pieces, and applies the body that follows it (some of it in the head's packet)", async () => {
      const response = Buffer.concat([ok(), layer.blob]);
      expectWholeLayer(await apply([response.subarray(0, 30), response.subarray(30, 200), response.subarray(200)], "hold", { http: true }));
    });

    it("declines, writing nothing, an answer that is not the whole blob: another status, another length, chunked, not HTTP", async () => {
      const answers: [Buffer, number][] = [
        [head(["HTTP/1.1 404 Not Found", "Content-Length: 0"]), 404],
        [head(["HTTP/1.1 307 Temporary Redirect", "Location: http://elsewhere/blob", "Content-Length: 0"]), 307],
        [head(["HTTP/1.1 401 Unauthorized", 'WWW-Authenticate: Bearer realm="x"', "Content-Length: 0"]), 401],
        [Buffer.concat([ok(layer.blob.length - 1), layer.blob]), 200],
        [Buffer.concat([head(["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"]), layer.blob]), 200],
        [head(["HTTP/1.1 200 OK"]), 200],
        [head(["SSH-2.0-OpenSSH_9.2", "x: y"]), 0],
      ];
      for (const [answer, status] of answers) {
        const { result, partial } = await apply([answer], "hold", { http: true });
        expect(result).toEqual({ declined: status });
        expect(statSync(partial).size).toBe(0);
      }
    });

    it("says the transfer was interrupted when the connection closes inside the head or the body", async () => {
      expect((await apply([ok().subarray(0, 20)], "close", { http: true })).result).toEqual({ interrupted: "connection closed before the response head" });
      const half = layer.blob.length >> 1;
      const { result, partial } = await apply([Buffer.concat([ok(), layer.blob.subarray(0, half)])], "close", { http: true });
      expect(result).toEqual({ interrupted: `connection closed ${layer.blob.length - half} bytes early` });
      expect(readFileSync(partial).equals(layer.blob.subarray(0, half))).toBe(true);
    });
  });
});
