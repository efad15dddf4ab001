// berth-unpack reading a layer's blob straight off a TCP connection (`--length`), as a pull from
// a plain-HTTP registry has it do: it stops after exactly N bytes without waiting for the
// connection to close, and a connection that closes early or stalls ends as "interrupted" with
// the partial blob file holding what arrived, so that the download can be resumed.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyFromConnection, type ConnectionApplyResult } from "../../../src/runtime/image/unpacker.js";
import { ensureUnpacker, isRoot, makeLayer, makeTestRoot, tarEntries, type LayerBlob, type TestRoot } from "../../support/images.js";

type Ending = "hold" | "cut" | "stall";

/**
 * A connection to a server on 127.0.0.1 that writes `bytes` and some more that are not the
 * blob's and holds the connection open ("hold"), or writes half of `bytes` and then closes the
 * connection ("cut") or holds it ("stall").
 */
async function connectionSending(bytes: Buffer, ending: Ending): Promise<{ socket: net.Socket; close(): Promise<void> }> {
  const peers: net.Socket[] = [];
  const server = net.createServer((peer) => {
    peers.push(peer);
    peer.on("error", () => undefined);
    const sent = ending === "hold" ? Buffer.concat([bytes, Buffer.from("not the blob's")]) : bytes.subarray(0, bytes.length >> 1);
    peer.write(sent, () => {
      if (ending === "cut") peer.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  // Paused from the start (as held-body.ts leaves it): only berth-unpack reads this connection.
  const socket = net.connect({ host: "127.0.0.1", port, onread: { buffer: Buffer.alloc(16), callback: () => false } });
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

  /** Writes `held` bytes of the blob to a fresh partial file, serves the rest, and applies. */
  async function apply(held: number, ending: Ending, timeoutMs = 30_000): Promise<{ result: ConnectionApplyResult; partial: string; target: string }> {
    const work = path.join(root.work, `case${++count}`);
    const target = path.join(work, "diff");
    mkdirSync(target, { recursive: true });
    const partial = path.join(work, "blob.partial");
    writeFileSync(partial, layer.blob.subarray(0, held));
    const connection = await connectionSending(layer.blob.subarray(held), ending);
    try {
      const result = await applyFromConnection(partial, target, "test", connection.socket, layer.blob.length - held, timeoutMs);
      return { result, partial, target };
    } finally {
      await connection.close();
    }
  }

  it("reads exactly the announced bytes after the ones already held, and no more, without waiting for the connection to close", async () => {
    const held = 1000;
    const { result, partial, target } = await apply(held, "hold");
    if ("interrupted" in result) throw new Error(`interrupted: ${result.interrupted}`);
    expect(result.failure).toBeUndefined();
    expect(result.applied?.diffId).toBe(layer.diffId);
    expect(result.blobDigest).toBe(layer.digest);
    expect(result.blobSize).toBe(layer.blob.length);
    expect(readFileSync(partial).equals(layer.blob)).toBe(true);
    expect(readFileSync(path.join(target, "data.bin")).equals(content)).toBe(true);
  });

  it("says the transfer was interrupted when the connection closes early, and keeps the bytes that did arrive", async () => {
    const held = 500;
    const { result, partial } = await apply(held, "cut");
    const arrived = (layer.blob.length - held) >> 1;
    expect(result).toEqual({ interrupted: `connection closed ${layer.blob.length - held - arrived} bytes early` });
    expect(readFileSync(partial).equals(layer.blob.subarray(0, held + arrived))).toBe(true);
  });

  it("says the transfer was interrupted when the connection stalls, and keeps the bytes that did arrive", async () => {
    const held = 700;
    const { result, partial } = await apply(held, "stall", 300);
    expect(result).toEqual({ interrupted: "no data for 300 ms" });
    const arrived = (layer.blob.length - held) >> 1;
    expect(readFileSync(partial).equals(layer.blob.subarray(0, held + arrived))).toBe(true);
  });
});
