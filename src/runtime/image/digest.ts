// Content digests: sha256 of bytes and files, and the OCI chain id of a layer stack.

import { createHash } from "./hash.js";
import { ImageError, ImageErrorCode } from "./errors.js";

const sha256Digest = /^sha256:[a-f0-9]{64}$/;

export function sha256Of(data: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function isSha256Digest(value: unknown): value is string {
  return typeof value === "string" && sha256Digest.test(value);
}

/** The hex part of a validated `sha256:` digest; anything else (other algorithms, junk) is refused. */
export function digestHex(digest: string, what = "digest"): string {
  if (!isSha256Digest(digest)) {
    throw new ImageError(ImageErrorCode.archive, `${what} ${JSON.stringify(digest)} is not a sha256 digest`, { object: what });
  }
  return digest.slice("sha256:".length);
}

/**
 * Chain ids per the OCI image spec: ChainID(L0) = DiffID(L0),
 * ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). One per layer, bottom first.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const parent = chains.at(-1);
    chains.push(parent === undefined ? diffId : sha256Of(`${parent} ${diffId}`));
  }
  return chains;
}

export function shortId(id: string): string {
  return (id.startsWith("sha256:") ? id.slice("sha256:".length) : id).slice(0, 12);
}
