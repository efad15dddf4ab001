// Blob downloads: streamed to tmp/downloads/<hex>.partial while hashing, resumed with
// `Range: bytes=N-` after a dropped connection (206 must continue at N; a 200 starts over),
// retried with backoff, and renamed to tmp/downloads/<hex> only once the sha256 and size match.
// Nothing unverified ever reaches blobs/; the pull moves verified downloads there when it commits.
// A layer blob can be unpacked as it arrives (`unpackInto`): berth-unpack then writes the partial
// file, hashes it and applies the layer in one pass on another core, and the layer is trusted
// only once the blob's digest is checked. From a plain-HTTP registry, a fresh layer download
// goes further: berth-unpack reads the answer off the connection itself (handover.ts), and an
// interrupted transfer is resumed the ordinary way from the bytes it kept.
//
// One download per blob, however many pulls want it: calls in this process share a promise, and
// processes take a per-blob lock file (locks/download-<hex>.lock). Whoever gets the lock second
// finds the blob verified (in blobs/ or tmp/downloads/) and does not fetch it again.

import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { withLock } from "../../state.js";
import { digestHex } from "../digest.js";
import { ImageError, ImageErrorCode, RegistryError } from "../errors.js";
import { createHash } from "../hash.js";
import { blobPath, type StoreLayout } from "../layout.js";
import { applyFromConnection, startStreamingApply, type AppliedLayer, type StreamedLayer } from "../unpacker.js";
import { responseError, type RegistryClient } from "./client.js";
import { connectForHandover, type HandoverConnection } from "./handover.js";
import { backoffDelay, decideResume, isRetryableStatus, rangeHeader } from "./resume.js";
import { defaultIdleTimeoutMs, isNetworkFailure } from "./transport.js";

export interface RetryPolicy {
  /** Failed attempts allowed per blob before giving up. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 8_000 };

export interface BlobDownload {
  readonly client: RegistryClient;
  readonly repositoryPath: string;
  readonly digest: string;
  readonly size: number;
  readonly scopes: readonly string[];
  readonly retry?: RetryPolicy;
  readonly onProgress?: (event: DownloadProgress) => void;
  /** Apply the layer into this (existing, empty) directory while the blob arrives. */
  readonly unpackInto?: { readonly directory: string; readonly layer: string };
}

export type DownloadProgress =
  | { readonly status: "downloading"; readonly current: number; readonly total: number }
  | { readonly status: "retrying"; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  | { readonly status: "waiting" }
  | { readonly status: "verifying" };

export interface DownloadedBlob {
  readonly file: string;
  /** False when the bytes were already here (store or another pull's download): nothing was fetched. */
  readonly fetched: boolean;
  /** Ranged requests this download resumed with. */
  readonly resumes: number;
  /** The layer as applied into `unpackInto`; absent when this call did not fetch the blob. */
  readonly applied?: AppliedLayer;
  /** The body went from the connection straight into berth-unpack (a plain-HTTP registry), not through Node. */
  readonly direct?: boolean;
}

export function downloadsDirectory(layout: StoreLayout): string {
  return path.join(layout.temporaryDirectory, "downloads");
}

export function verifiedDownloadPath(layout: StoreLayout, digest: string): string {
  return path.join(downloadsDirectory(layout), digestHex(digest));
}

/** A verified copy of the blob: in the store, or downloaded and not yet committed. */
export function availableBlob(layout: StoreLayout, digest: string): string | undefined {
  for (const file of [blobPath(layout, digest), verifiedDownloadPath(layout, digest)]) if (existsSync(file)) return file;
  return undefined;
}

const inFlight = new Map<string, Promise<DownloadedBlob>>();

/** Downloads (or finds) a verified blob; concurrent callers share one download. */
export function downloadBlob(layout: StoreLayout, download: BlobDownload): Promise<DownloadedBlob> {
  const key = `${layout.stateRoot}|${download.digest}`;
  const pending = inFlight.get(key);
  if (pending !== undefined) {
    download.onProgress?.({ status: "waiting" });
    return pending.then((blob) => ({ file: blob.file, fetched: false, resumes: 0 }));
  }
  const work = lockedDownload(layout, download).finally(() => inFlight.delete(key));
  inFlight.set(key, work);
  return work;
}

async function lockedDownload(layout: StoreLayout, download: BlobDownload): Promise<DownloadedBlob> {
  const already = availableBlob(layout, download.digest);
  if (already !== undefined) return { file: already, fetched: false, resumes: 0 };
  const lockFile = path.join(layout.locksDirectory, `download-${digestHex(download.digest)}.lock`);
  return withLock(
    lockFile,
    async () => {
      const found = availableBlob(layout, download.digest);
      if (found !== undefined) return { file: found, fetched: false, resumes: 0 };
      return fetchBlob(layout, download);
    },
    60 * 60 * 1000,
  );
}

const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));

function digestMismatchError(download: BlobDownload, actual: string, size: number): RegistryError {
  const sizeNote = size === download.size ? "" : ` (${size} bytes, ${download.size} expected)`;
  return new RegistryError(ImageErrorCode.digest, `blob ${download.digest}: digest mismatch: content is ${actual}${sizeNote}`, {
    registry: download.client.name,
    object: `blob ${download.digest}`,
  });
}

/** Where a download's bytes go as they arrive. */
interface BlobSink {
  /** Bytes held so far, earlier attempts' included: a resumed request starts here. */
  readonly bytes: number;
  /** Takes a chunk; returns a promise when it wants no more until that settles. */
  append(chunk: Buffer): Promise<void> | undefined;
  /** Drops everything held (the registry answered a ranged request with the whole blob). */
  restart(): Promise<void>;
  /** Every byte is in: the digest and size of what is held (synced to disk), and the layer if one was applied. */
  finish(): Promise<HeldBlob>;
  /** Releases the file and stops any program; the partial file stays for a later resume. */
  close(): Promise<void>;
}

interface HeldBlob {
  readonly digest: string;
  readonly size: number;
  readonly applied?: AppliedLayer | undefined;
  /** Why the layer could not be applied; reported only once the digest is known to be right. */
  readonly failure?: ImageError | undefined;
}

/** The partial file, written and hashed here. */
function openFileSink(partial: string, limit: number): BlobSink {
  const fd = openSync(partial, constants.O_RDWR | constants.O_CREAT, 0o600);
  let bytes = fstatSync(fd).size;
  if (bytes > limit) ftruncateSync(fd, (bytes = 0));
  let hash = createHash("sha256");
  hashExisting(fd, bytes, hash);
  return {
    get bytes() {
      return bytes;
    },
    append(chunk) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written, bytes + written);
      hash.update(chunk);
      bytes += chunk.length;
      return undefined;
    },
    async restart() {
      ftruncateSync(fd, (bytes = 0));
      hash = createHash("sha256");
    },
    async finish() {
      fsyncSync(fd);
      return { digest: `sha256:${hash.digest("hex")}`, size: bytes };
    },
    async close() {
      closeSync(fd);
    },
  };
}

/** The partial file, written, hashed and applied as a layer by berth-unpack as bytes arrive. */
function openUnpackSink(partial: string, limit: number, target: { readonly directory: string; readonly layer: string }): BlobSink {
  let bytes = fileSize(partial);
  if (bytes > limit) truncateSync(partial, (bytes = 0));
  let program = startStreamingApply(partial, target.directory, target.layer);
  return {
    get bytes() {
      return bytes;
    },
    append(chunk) {
      bytes += chunk.length;
      return program.write(chunk) ? undefined : program.drained();
    },
    async restart() {
      await program.abort();
      truncateSync(partial, (bytes = 0));
      emptyDirectory(target.directory);
      program = startStreamingApply(partial, target.directory, target.layer);
    },
    async finish() {
      return heldBlob(await program.finish());
    },
    close: () => program.abort(),
  };
}

/**
 * Streams the response body into the sink, pausing while the sink catches up. The sink's byte
 * count advances with every chunk, so after a dropped connection it says where to resume.
 */
function appendBody(body: NodeJS.ReadableStream, sink: BlobSink, limit: number, onData: (bytes: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let waiting: Promise<void> | undefined;
    const stop = (error: unknown): void => {
      (body as unknown as { destroy(): void }).destroy();
      reject(error);
    };
    body.on("data", (chunk: Buffer) => {
      if (sink.bytes + chunk.length > limit) {
        stop(new Error(`more bytes than the ${limit} announced`));
        return;
      }
      let pending: Promise<void> | undefined;
      try {
        pending = sink.append(chunk);
      } catch (error) {
        stop(error);
        return;
      }
      onData(sink.bytes);
      if (pending !== undefined) {
        body.pause();
        waiting = pending.then(() => {
          waiting = undefined;
          body.resume();
        });
      }
    });
    body.on("end", () => void (waiting ?? Promise.resolve()).then(() => resolve()));
    body.on("error", reject);
    body.on("aborted", () => reject(Object.assign(new Error("connection closed mid-body"), { code: "ECONNRESET" })));
  });
}

/** Hashes the first `length` bytes already in the partial file (a resume after a crash). */
function hashExisting(fd: number, length: number, hash: ReturnType<typeof createHash>): void {
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let done = 0;
  while (done < length) {
    const count = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), done);
    if (count === 0) break;
    hash.update(buffer.subarray(0, count));
    done += count;
  }
}

/**
 * A fresh layer download from a plain-HTTP registry, read off the connection by berth-unpack.
 * Undefined when this way does not apply (TLS, a redirect, a 401, no Content-Length…): the
 * ordinary request then does everything, errors included. An interrupted transfer leaves the
 * partial file holding what arrived, for the ordinary way to resume.
 */
async function fetchOverConnection(
  download: BlobDownload,
  partial: string,
  target: { readonly directory: string; readonly layer: string },
): Promise<{ readonly held: HeldBlob } | { readonly interrupted: string } | undefined> {
  let connection: HandoverConnection;
  try {
    const prepared = await download.client.prepare({ path: `/v2/${download.repositoryPath}/blobs/${download.digest}`, scopes: download.scopes });
    if (prepared.url.protocol !== "http:") return undefined;
    connection = await connectForHandover({ url: prepared.url, headers: prepared.headers, registry: download.client.name, idleTimeoutMs: defaultIdleTimeoutMs });
  } catch {
    return undefined;
  }
  const progress = setInterval(() => reportSize(partial, download), 100);
  try {
    // The program starts (a fork, on this thread) before the GET goes out: once layers stream
    // in, the cores are busy, and a later start would wait for them.
    const applying = applyFromConnection(partial, target.directory, target.layer, {
      connection: connection.socket,
      length: download.size,
      http: true,
      timeoutMs: defaultIdleTimeoutMs,
    });
    // A GET that cannot be written closes the connection: the program then says "interrupted".
    await connection.send().catch(() => undefined);
    const result = await applying;
    if ("declined" in result) return undefined;
    if ("interrupted" in result) return result;
    reportSize(partial, download);
    return { held: heldBlob(result) };
  } finally {
    clearInterval(progress);
    connection.socket.destroy();
  }
}

function reportSize(partial: string, download: BlobDownload): void {
  download.onProgress?.({ status: "downloading", current: fileSize(partial), total: download.size });
}

/** Bytes in the file; 0 when there is none. */
function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** A layer applied half way goes: the directory is made again, empty, for a fresh apply. */
function emptyDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { mode: 0o755 });
}

/** What berth-unpack kept and applied, as a sink reports it. */
function heldBlob(streamed: StreamedLayer): HeldBlob {
  return { digest: streamed.blobDigest, size: streamed.blobSize, applied: streamed.applied, failure: streamed.failure };
}

async function fetchBlob(layout: StoreLayout, download: BlobDownload): Promise<DownloadedBlob> {
  const policy = download.retry ?? defaultRetryPolicy;
  const directory = downloadsDirectory(layout);
  mkdirSync(directory, { recursive: true });
  const finalFile = verifiedDownloadPath(layout, download.digest);
  const partial = `${finalFile}.partial`;
  let failures = 0;
  let resumes = 0;

  /** Counts a failed attempt: gives up after the policy's attempts, else says so and waits. */
  const afterFailure = async (failure: unknown): Promise<void> => {
    failures++;
    const reason = (failure as Error).message;
    if (failures >= policy.attempts) {
      throw new RegistryError(ImageErrorCode.registryConnection, `blob ${download.digest}: gave up after ${failures} attempts: ${reason}`, {
        registry: download.client.name,
        cause: failure,
        object: `blob ${download.digest}`,
      });
    }
    const delayMs = backoffDelay(failures, policy.baseDelayMs, policy.maxDelayMs);
    download.onProgress?.({ status: "retrying", attempt: failures, delayMs, reason });
    await sleep(delayMs);
  };

  /** Every byte is in: checks them, moves the file beside the store, and reports the layer. */
  const settle = (held: HeldBlob, direct: boolean): DownloadedBlob => {
    if (held.digest !== download.digest || held.size !== download.size) {
      rmSync(partial, { force: true });
      throw digestMismatchError(download, held.digest, held.size);
    }
    renameSync(partial, finalFile);
    // The bytes are the registry's own: a layer that does not apply is broken at its source.
    if (held.failure !== undefined) throw held.failure;
    return { file: finalFile, fetched: true, resumes, direct, ...(held.applied === undefined ? {} : { applied: held.applied }) };
  };

  if (download.unpackInto !== undefined && fileSize(partial) === 0) {
    download.onProgress?.({ status: "downloading", current: 0, total: download.size });
    const outcome = await fetchOverConnection(download, partial, download.unpackInto);
    if (outcome !== undefined && "held" in outcome) return settle(outcome.held, true);
    if (outcome !== undefined) {
      // Files of the unfinished layer go; the ordinary way replays the kept bytes into a clean directory.
      emptyDirectory(download.unpackInto.directory);
      await afterFailure(new Error(outcome.interrupted));
    }
  }

  const sink = download.unpackInto === undefined ? openFileSink(partial, download.size) : openUnpackSink(partial, download.size, download.unpackInto);
  try {
    for (;;) {
      if (sink.bytes === download.size) break;
      const range = rangeHeader(sink.bytes);
      if (range !== undefined) resumes++;
      let failure: unknown;
      try {
        const response = await download.client.request({
          method: "GET",
          path: `/v2/${download.repositoryPath}/blobs/${download.digest}`,
          headers: range === undefined ? {} : { Range: range },
          scopes: download.scopes,
          followRedirects: true,
        });
        const decision = decideResume(sink.bytes, response.status, response.header("content-range"), download.size);
        if (decision.action === "fail") {
          const error = await responseError(response, download.client.name, `blob ${download.digest}`);
          if (!isRetryableStatus(response.status)) throw error;
          failure = error;
        } else if (decision.action === "complete") {
          response.discard();
          break;
        } else if (decision.action === "refetch") {
          response.discard();
          await sink.restart();
          continue;
        } else {
          if (decision.action === "restart") await sink.restart();
          await appendBody(response.body, sink, download.size, (current) => download.onProgress?.({ status: "downloading", current, total: download.size }));
          if (sink.bytes !== download.size) {
            throw Object.assign(new Error(`connection closed after ${sink.bytes} of ${download.size} bytes`), { code: "ECONNRESET" });
          }
          break;
        }
      } catch (error) {
        if (error instanceof RegistryError && !isNetworkFailure(error)) throw error;
        failure = error;
      }
      await afterFailure(failure);
    }
    download.onProgress?.({ status: "verifying" });
    return settle(await sink.finish(), false);
  } finally {
    await sink.close();
  }
}

/** Verified downloads nobody committed (a failed pull) are kept for a retry, but not forever. */
export function sweepStaleDownloads(layout: StoreLayout, maxAgeMs = 24 * 60 * 60 * 1000): void {
  const directory = downloadsDirectory(layout);
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const file = path.join(directory, name);
    try {
      if (now - statSync(file).mtimeMs > maxAgeMs) rmSync(file, { force: true });
    } catch {
      // removed by someone else
    }
  }
}
