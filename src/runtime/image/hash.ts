// node:crypto's createHash, loaded on first use: resolving an image (every `container run`)
// never hashes, and importing node:crypto up front costs ~4-5 ms of start-up.

import type { Hash } from "node:crypto";
import { createRequire } from "node:module";

type Crypto = typeof import("node:crypto");
let crypto: Crypto | undefined;

export function createHash(algorithm: string): Hash {
  // process.getBuiltinModule arrived in Node 20.16; older 20.x falls back to require.
  crypto ??= (process.getBuiltinModule?.("node:crypto") as Crypto | undefined) ?? (createRequire(import.meta.url)("node:crypto") as Crypto);
  return crypto.createHash(algorithm);
}
