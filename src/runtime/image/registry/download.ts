// Blob downloads: streamed to tmp/downloads/<hex>.partial while hashing, resumed with
// `Range: bytes=N-` after a dropped connection (206 must continue at N; a 200 starts over),
// retried with backoff, and renamed to tmp/downloads/<hex> only once the sha256 and size match.
// Nothing unverified ever reaches blobs/; the pull moves verified downloads there when it commits.
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
  writeSync,
} from "node:fs";
import path from "node:path";
import { withLock } from "../../state.js";
import { digestHex } from "../digest.js";
import { ImageErrorCode, RegistryError } from "../errors.js";
import { createHash } from "../hash.js";
import { blobPath, type StoreLayout } from "../layout.js";
import { responseError, type RegistryClient } from "./client.js";
import { backoffDelay, decideResume, isRetryableStatus, rangeHeader } from "./resume.js";
import { isNetworkFailure } from "./transport.js";

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
    return pending.then((blob) => ({ ...blob, fetched: false, resumes: 0 }));
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

/** What a download holds so far: bytes in the partial file and their running hash. */
interface Held {
  bytes: number;
  hash: ReturnType<typeof createHash>;
}

/**
 * Streams the response body into `fd` after the held bytes, hashing as it goes. `held` advances
 * with every chunk, so after a dropped connection it says exactly where to resume.
 */
function appendBody(body: NodeJS.ReadableStream, fd: number, held: Held, limit: number, onData: (held: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    body.on("data", (chunk: Buffer) => {
      if (held.bytes + chunk.length > limit) {
        (body as unknown as { destroy(): void }).destroy();
        reject(new Error(`more bytes than the ${limit} announced`));
        return;
      }
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written, held.bytes + written);
      held.hash.update(chunk);
      held.bytes += chunk.length;
      onData(held.bytes);
    });
    body.on("end", () => resolve());
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

async function fetchBlob(layout: StoreLayout, download: BlobDownload): Promise<DownloadedBlob> {
  const policy = download.retry ?? defaultRetryPolicy;
  const directory = downloadsDirectory(layout);
  mkdirSync(directory, { recursive: true });
  const finalFile = verifiedDownloadPath(layout, download.digest);
  const partial = `${finalFile}.partial`;
  const fd = openSync(partial, constants.O_RDWR | constants.O_CREAT, 0o600);
  let resumes = 0;
  try {
    const held: Held = { bytes: fstatSync(fd).size, hash: createHash("sha256") };
    if (held.bytes > download.size) ftruncateSync(fd, (held.bytes = 0));
    hashExisting(fd, held.bytes, held.hash);
    const restart = (): void => {
      ftruncateSync(fd, 0);
      held.bytes = 0;
      held.hash = createHash("sha256");
    };
    let failures = 0;
    for (;;) {
      if (held.bytes === download.size) break;
      const range = rangeHeader(held.bytes);
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
        const decision = decideResume(held.bytes, response.status, response.header("content-range"), download.size);
        if (decision.action === "fail") {
          const error = await responseError(response, download.client.name, `blob ${download.digest}`);
          if (!isRetryableStatus(response.status)) throw error;
          failure = error;
        } else if (decision.action === "complete") {
          response.discard();
          break;
        } else if (decision.action === "refetch") {
          response.discard();
          restart();
          continue;
        } else {
          if (decision.action === "restart") restart();
          await appendBody(response.body, fd, held, download.size, (current) => download.onProgress?.({ status: "downloading", current, total: download.size }));
          if (held.bytes !== download.size) {
            throw Object.assign(new Error(`connection closed after ${held.bytes} of ${download.size} bytes`), { code: "ECONNRESET" });
          }
          break;
        }
      } catch (error) {
        if (error instanceof RegistryError && !isNetworkFailure(error)) throw error;
        failure = error;
      }
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
    }
    download.onProgress?.({ status: "verifying" });
    const actual = `sha256:${held.hash.digest("hex")}`;
    if (actual !== download.digest || held.bytes !== download.size) {
      rmSync(partial, { force: true });
      throw digestMismatchError(download, actual, held.bytes);
    }
    fsyncSync(fd);
    renameSync(partial, finalFile);
    return { file: finalFile, fetched: true, resumes };
  } finally {
    closeSync(fd);
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
