// The awesome-compose corpus as the e2e tests use it: the examples, a scratch copy of each in a
// directory of the same name (so the project name matches), and `berth config` run there with
// no environment but PATH and HOME.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { beforeAll } from "vitest";
import { corpusDirectory } from "../support/corpus.js";
import { berthBin, ensureBuilt, makeTempDirectory, removeTempDirectory } from "./run-berth.js";

export const corpusRoot = corpusDirectory;
export const home = process.env["HOME"] ?? homedir();

export function corpusExamples(): string[] {
  if (!existsSync(corpusRoot)) throw new Error(`the compose corpus is missing: expected it at ${corpusRoot}`);
  return readdirSync(corpusRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** Registers the build and a scratch directory for the calling test file; returns the copier. */
export function useCorpusScratch(prefix: string): (example: string) => string {
  let scratch = "";
  let copies = 0;
  beforeAll(() => {
    ensureBuilt();
    scratch = realpathSync(makeTempDirectory(prefix));
    return () => removeTempDirectory(scratch);
  }, 300_000);
  return (example) => {
    const parent = path.join(scratch, String(copies++));
    mkdirSync(parent, { recursive: true });
    const projectDirectory = path.join(parent, example);
    cpSync(path.join(corpusRoot, example), projectDirectory, { recursive: true });
    return projectDirectory;
  };
}

export interface ConfigRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runConfig(projectDirectory: string, args: readonly string[]): ConfigRun {
  const result = spawnSync(process.execPath, [berthBin, "config", ...args], {
    cwd: projectDirectory,
    env: { PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", HOME: home },
    input: "",
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
