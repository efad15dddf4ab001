// Content-addressed blobs: every blob is hashed as it is copied in and refused when its sha256
// is not the digest it was announced with. Blobs are staged first and moved into
// blobs/sha256/ only when a whole load has been verified.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import type { MemberRange } from "./archive.js";
import { digestHex, sha256Of } from "./digest.js";
import { createHash } from "./hash.js";
import { ImageError, ImageErrorCode } from "./errors.js";
import { blobPath, type StoreLayout } from "./layout.js";

export interface StagedBlob {
  readonly digest: string;
  readonly size: number;
  /** Where the bytes are now: in staging, or already in the store. */
  readonly file: string;
  readonly stored: boolean;
}

export function digestMismatch(what: string, expected: string, actual: string): ImageError {
  return new ImageError(ImageErrorCode.digest, `${what}: digest mismatch: expected ${expected}, content is ${actual}`, {
    object: what,
  });
}

/** Copies a member into `stagingDirectory/<hex>`, hashing it; checks the announced digest and size. */
export function stageBlobFromRange(
  range: MemberRange,
  stagingDirectory: string,
  expected: { readonly digest?: string; readonly size?: number },
  what: string,
): StagedBlob {
  if (expected.size !== undefined && expected.size !== range.size) {
    throw new ImageError(ImageErrorCode.digest, `${what}: size mismatch: expected ${expected.size} bytes, found ${range.size}`, {
      object: what,
    });
  }
  mkdirSync(stagingDirectory, { recursive: true });
  const temporary = path.join(stagingDirectory, `incoming-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const hash = createHash("sha256");
  const output = openSync(temporary, "w", 0o644);
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let copied = 0;
    while (copied < range.size) {
      const count = readSync(range.fd, buffer, 0, Math.min(buffer.length, range.size - copied), range.offset + copied);
      if (count === 0) throw new ImageError(ImageErrorCode.archive, `${what}: truncated`, { object: what });
      const chunk = buffer.subarray(0, count);
      hash.update(chunk);
      let written = 0;
      while (written < count) written += writeSync(output, chunk, written, count - written);
      copied += count;
    }
    fsyncSync(output);
  } catch (error) {
    closeSync(output);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(output);
  const digest = `sha256:${hash.digest("hex")}`;
  if (expected.digest !== undefined && expected.digest !== digest) {
    rmSync(temporary, { force: true });
    throw digestMismatch(what, expected.digest, digest);
  }
  const file = path.join(stagingDirectory, digestHex(digest));
  renameSync(temporary, file);
  return { digest, size: range.size, file, stored: false };
}

export function stageBlobFromBytes(bytes: Uint8Array, stagingDirectory: string, expectedDigest: string | undefined, what: string): StagedBlob {
  const digest = sha256Of(bytes);
  if (expectedDigest !== undefined && expectedDigest !== digest) throw digestMismatch(what, expectedDigest, digest);
  mkdirSync(stagingDirectory, { recursive: true });
  const file = path.join(stagingDirectory, digestHex(digest));
  const fd = openSync(file, "w", 0o644);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { digest, size: bytes.length, file, stored: false };
}

export function hasBlob(layout: StoreLayout, digest: string): boolean {
  return existsSync(blobPath(layout, digest));
}

export function storedBlob(layout: StoreLayout, digest: string): StagedBlob | undefined {
  const file = blobPath(layout, digest);
  try {
    return { digest, size: statSync(file).size, file, stored: true };
  } catch {
    return undefined;
  }
}

/** Moves a verified staged blob into blobs/sha256/ (a blob already there has the same bytes). */
export function installBlob(layout: StoreLayout, blob: StagedBlob): void {
  if (blob.stored) return;
  mkdirSync(layout.blobsDirectory, { recursive: true });
  renameSync(blob.file, blobPath(layout, blob.digest));
}

export function readBlob(layout: StoreLayout, digest: string, limit = 16 * 1024 * 1024): Buffer {
  const file = blobPath(layout, digest);
  try {
    if (statSync(file).size > limit) throw new Error(`larger than ${limit} bytes`);
    return readFileSync(file);
  } catch (error) {
    throw new ImageError(ImageErrorCode.store, `blob ${digest}: ${(error as Error).message}`, {
      object: `blob ${digest}`,
      hint: "the image store is damaged: remove the image and load it again",
    });
  }
}

/** "tar" | "gzip" | "zstd", from the blob's first bytes. */
export function blobCompression(file: string): "tar" | "gzip" | "zstd" {
  const fd = openSync(file, "r");
  try {
    const magic = Buffer.alloc(4);
    const count = readSync(fd, magic, 0, 4, 0);
    if (count >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) return "gzip";
    if (count >= 4 && magic.readUInt32LE(0) === 0xfd2fb528) return "zstd";
    return "tar";
  } finally {
    closeSync(fd);
  }
}
