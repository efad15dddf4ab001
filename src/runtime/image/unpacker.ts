// The bridge to native/unpack (berth-unpack): apply a layer blob to a directory, digest a blob's
// uncompressed stream, or decompress it to a file. A stored blob reaches the program as its
// stdin file descriptor, so its bytes never pass through Node; a blob still downloading is
// piped in as it arrives (`--blob`), and the program keeps, digests and unpacks it at once; on a
// plain-HTTP connection the program reads the body off the socket itself (`--length`).

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isSha256Digest } from "./digest.js";
import { ImageError, ImageErrorCode } from "./errors.js";

let cachedPath: string | undefined;

/** native/build/berth-unpack of this checkout (found upward from this module), or $BERTH_UNPACK. */
export function unpackerPath(): string {
  const override = process.env["BERTH_UNPACK"];
  if (override) return override;
  if (cachedPath !== undefined) return cachedPath;
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(directory, "native", "build", "berth-unpack");
    if (existsSync(candidate)) {
      cachedPath = candidate;
      return candidate;
    }
    directory = path.dirname(directory);
  }
  throw new ImageError(ImageErrorCode.unpacker, "berth-unpack is not built", {
    hint: "run `npm run build` (or `make -C native`) in the berth checkout",
    object: "native/build/berth-unpack",
  });
}

interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The program's exit status and output, once it has exited (a failed spawn reads as status null). */
function outcome(child: ChildProcess): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise<RunResult>((resolve) => {
    child.on("error", (error) => resolve({ status: null, stdout, stderr: `berth-unpack: ${error.message}` }));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function run(args: readonly string[], inputFile: string, outputFile?: string): Promise<RunResult> {
  const input = openSync(inputFile, "r");
  const output = outputFile === undefined ? undefined : openSync(outputFile, "w", 0o600);
  try {
    return await outcome(spawn(unpackerPath(), args, { stdio: [input, output ?? "pipe", "pipe"] }));
  } finally {
    closeSync(input);
    if (output !== undefined) closeSync(output);
  }
}

function failure(result: RunResult, layer: string): ImageError {
  const line = result.stderr.trim().split("\n").at(-1)?.replace(/^berth-unpack: (refused: )?/, "") ?? "";
  const message = line === "" ? `berth-unpack exited with status ${result.status}` : line;
  if (result.status === 3) {
    return new ImageError(ImageErrorCode.layerUnsafe, `layer ${layer}: refused: ${message}`, { object: `layer ${layer}` });
  }
  return new ImageError(ImageErrorCode.layer, `layer ${layer}: ${message}`, { object: `layer ${layer}` });
}

export interface AppliedLayer {
  /** sha256 of the uncompressed stream. */
  readonly diffId: string;
  /** Bytes of file content (and symlink targets) written. */
  readonly size: number;
}

/** Applies the layer blob at `blobPath` to the existing directory `target`. */
export async function applyLayer(blobPath: string, target: string, options: { layer: string; allowDevices?: boolean }): Promise<AppliedLayer> {
  const args = [...(options.allowDevices === false ? ["--no-devices"] : []), target];
  const result = await run(args, blobPath);
  if (result.status !== 0) throw failure(result, options.layer);
  const [diffId, size] = result.stdout.trim().split("\n");
  if (!isSha256Digest(diffId)) {
    throw new ImageError(ImageErrorCode.layer, `layer ${options.layer}: unexpected output from berth-unpack`);
  }
  return { diffId, size: Number(size ?? 0) };
}

/** The diff id (sha256 of the uncompressed stream) of a layer blob, writing nothing. */
export async function layerDiffId(blobPath: string, layer: string): Promise<string> {
  const result = await run(["--digest"], blobPath);
  if (result.status !== 0) throw failure(result, layer);
  return result.stdout.trim();
}

/** Writes the uncompressed stream of a layer blob to `outputFile`. */
export async function decompressLayer(blobPath: string, outputFile: string, layer: string): Promise<void> {
  const result = await run(["--decompress"], blobPath, outputFile);
  if (result.status !== 0) throw failure(result, layer);
}

/** A layer applied from a blob that is still arriving, and what the kept blob file holds. */
export interface StreamedLayer {
  /** The layer as applied; undefined when applying failed (`failure` says why). */
  readonly applied: AppliedLayer | undefined;
  readonly failure: ImageError | undefined;
  /** sha256 and size of the whole blob file: check these before trusting `applied` or `failure`. */
  readonly blobDigest: string;
  readonly blobSize: number;
}

/** `berth-unpack --blob FILE DIR` fed through a pipe, one chunk of the download at a time. */
export interface StreamingApply {
  /** Queues a chunk; false when the pipe is full (wait for `drained()`). */
  write(chunk: Buffer): boolean;
  /** Resolves when the pipe takes more, or the program has gone. */
  drained(): Promise<void>;
  /** No more bytes: waits for the program and reads its report. */
  finish(): Promise<StreamedLayer>;
  /** Stops the program (a download given up or started over); resolves once it has exited. */
  abort(): Promise<void>;
}

/**
 * Starts applying the layer whose blob is being written to `blobFile` (bytes already there are
 * read back first, as after an interrupted download) into the existing directory `target`.
 */
export function startStreamingApply(blobFile: string, target: string, layer: string): StreamingApply {
  const child = spawn(unpackerPath(), ["--blob", blobFile, target], { stdio: ["pipe", "pipe", "pipe"] });
  const stdin = child.stdin;
  // A program that stopped early closes the pipe: its exit status says why, not EPIPE.
  stdin.on("error", () => undefined);
  const exited = outcome(child);
  return {
    write: (chunk) => stdin.write(chunk),
    drained: () => Promise.race([new Promise<void>((resolve) => stdin.once("drain", () => resolve())), exited.then(() => undefined)]),
    async finish() {
      stdin.end();
      const result = await exited;
      return streamedLayer(result, layer);
    },
    async abort() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * How applying from a connection ended: the layer and blob as for a pipe; the transfer cut short
 * (`interrupted`, why); or, with `http`, an answer that is not the whole blob (`declined`, its
 * HTTP status, 0 when it was not HTTP), with nothing written.
 */
export type ConnectionApplyResult = StreamedLayer | { readonly interrupted: string } | { readonly declined: number };

/**
 * Applies the layer whose blob continues on `connection`: berth-unpack reads the next `length`
 * bytes off it itself, after replaying what `blobFile` already holds. With `http`, `blobFile` is
 * empty and the connection starts with the registry's answer to a GET of the whole blob, head
 * and all. A connection that closes early or stalls for `timeoutMs` leaves `blobFile` holding
 * what arrived.
 */
export async function applyFromConnection(
  blobFile: string,
  target: string,
  layer: string,
  connection: { readonly connection: Socket; readonly length: number; readonly http: boolean; readonly timeoutMs: number },
): Promise<ConnectionApplyResult> {
  const args = ["--blob", blobFile, "--length", String(connection.length), ...(connection.http ? ["--http"] : [])];
  args.push("--timeout-ms", String(Math.max(1, Math.round(connection.timeoutMs))), target);
  const result = await outcome(spawn(unpackerPath(), args, { stdio: [connection.connection, "pipe", "pipe"] }));
  if (result.status === 4) return { interrupted: result.stderr.trim().split("\n").at(-1)?.replace(/^berth-unpack: (read layer stream: )?/, "") ?? "interrupted" };
  if (result.status === 5) return { declined: Number(/^http (\d+)/.exec(result.stdout)?.[1] ?? 0) };
  return streamedLayer(result, layer);
}

function streamedLayer(result: RunResult, layer: string): StreamedLayer {
  const lines = result.stdout.trim().split("\n");
  const blobLine = (digestLine: string | undefined, sizeLine: string | undefined): { blobDigest: string; blobSize: number } | undefined =>
    isSha256Digest(digestLine) && /^\d+$/.test(sizeLine ?? "") ? { blobDigest: digestLine, blobSize: Number(sizeLine) } : undefined;
  if (result.status === 0) {
    const [diffId, size, digestLine, sizeLine] = lines;
    const blob = blobLine(digestLine, sizeLine);
    if (isSha256Digest(diffId) && blob !== undefined) {
      return { applied: { diffId, size: Number(size ?? 0) }, failure: undefined, ...blob };
    }
    throw new ImageError(ImageErrorCode.layer, `layer ${layer}: unexpected output from berth-unpack`);
  }
  // A failed apply still reports the kept blob ("blob sha256:…"), unless keeping it failed too.
  const blob = blobLine(lines[0]?.replace(/^blob /, ""), lines[1]);
  if (lines[0]?.startsWith("blob ") !== true || blob === undefined) throw failure(result, layer);
  return { applied: undefined, failure: failure(result, layer), ...blob };
}
