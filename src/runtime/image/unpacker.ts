// The bridge to native/unpack (berth-unpack): apply a layer blob to a directory, digest a blob's
// uncompressed stream, or decompress it to a file. The blob reaches the program as its stdin
// file descriptor, so layer bytes never pass through Node.

import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
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

async function run(args: readonly string[], inputFile: string, outputFile?: string): Promise<RunResult> {
  const input = openSync(inputFile, "r");
  const output = outputFile === undefined ? undefined : openSync(outputFile, "w", 0o600);
  try {
    return await new Promise<RunResult>((resolve, reject) => {
      const child = spawn(unpackerPath(), args, { stdio: [input, output ?? "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
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
  if (diffId === undefined || !/^sha256:[a-f0-9]{64}$/.test(diffId)) {
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
