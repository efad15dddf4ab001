// Shared by the e2e suites: run the real `bin/berth` in a directory the test owns.
// Not a test file itself (no `.test.ts`), so vitest does not collect it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const berthBin = path.join(repoRoot, "bin", "berth");
const builtEntry = path.join(repoRoot, "dist", "main.cjs");

export interface BerthRun {
  /** null when the process died from a signal or hit the timeout. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd: string;
  /** Added to the cleaned environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Standard input (default: empty, so nothing waits on a terminal). */
  readonly input?: string;
  readonly timeoutMs?: number;
  /**
   * Execute bin/berth itself, through its `#!` line, as a user's shell does (with this Node first
   * on PATH), instead of `node -- bin/berth`.
   */
  readonly throughShebang?: boolean;
}

/** The caller's environment without the variables that would steer the loader (COMPOSE_*, BERTH_DEBUG). */
export function cleanEnvironment(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("COMPOSE_") || key === "BERTH_DEBUG") continue;
    environment[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete environment[key];
    else environment[key] = value;
  }
  return environment;
}

export function runBerth(args: readonly string[], options: RunOptions): BerthRun {
  // `--` ends Node's own options: Node 20 otherwise acts on `--env-file` anywhere on its command
  // line, even after the script (it exits 9 when the file is missing), and `berth --env-file` is ours.
  const [command, commandArgs] = options.throughShebang
    ? [berthBin, [...args]]
    : [process.execPath, ["--", berthBin, ...args]];
  const environment = cleanEnvironment(options.env);
  if (options.throughShebang) environment["PATH"] = `${path.dirname(process.execPath)}${path.delimiter}${environment["PATH"] ?? ""}`;
  const result = spawnSync(command, commandArgs, {
    cwd: options.cwd,
    env: environment,
    input: options.input ?? "",
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs ?? 60_000,
  });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code !== "ETIMEDOUT") throw result.error;
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Build dist/ when it is missing or older than src/ (so a test never runs stale code).
 * Test files run in parallel workers; an mkdir lock keeps two builds from writing dist/ at once.
 */
export function ensureBuilt(): void {
  const lock = path.join(tmpdir(), "berth-e2e-build.lock");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (existsSync(builtEntry) && statSync(builtEntry).mtimeMs >= newestModification(path.join(repoRoot, "src"))) return;
    const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

function newestModification(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const child = path.join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestModification(child) : statSync(child).mtimeMs);
  }
  return newest;
}

/** A fresh directory under the system temp dir; remove it with `removeTempDirectory`. */
export function makeTempDirectory(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `berth-e2e-${prefix}-`));
}

export function removeTempDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
}

/** Write `relative path → contents` under `root`, creating parent directories. */
export function writeFiles(root: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  for (const [relative, contents] of Object.entries(files)) {
    const file = path.join(root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, contents);
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isEmptyObject(value: Json | undefined): boolean {
  return isObject(value) && Object.keys(value).length === 0;
}

/**
 * The JSON model less what Compose's YAML encoder leaves out: `command`/`entrypoint: null`,
 * empty deploy `resources`/`placement`, empty network `ipam` (compose-go types: JSON tags without
 * omitempty, YAML tags with it).
 */
export function withoutJsonOnlyValues(model: Json): Json {
  const copy = structuredClone(model);
  if (!isObject(copy)) return copy;
  const services = copy["services"];
  if (isObject(services)) {
    for (const service of Object.values(services)) {
      if (!isObject(service)) continue;
      for (const key of ["command", "entrypoint"]) if (service[key] === null) delete service[key];
      const deploy = service["deploy"];
      if (isObject(deploy)) for (const key of ["resources", "placement"]) if (isEmptyObject(deploy[key])) delete deploy[key];
    }
  }
  const networks = copy["networks"];
  if (isObject(networks)) {
    for (const network of Object.values(networks)) if (isObject(network) && isEmptyObject(network["ipam"])) delete network["ipam"];
  }
  return copy;
}
