// bin/berth through dist/main.cjs, the launcher: the first successful run of a command writes its
// V8 code cache (dist/cache/<command>.v8), later runs use it and leave it alone, a failed run
// writes nothing, and a damaged or stale cache is ignored and written anew. Runs a copy of bin/
// and dist/ that the test owns.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCache } from "../../src/cli/code-cache.js";
import { ensureBuilt, makeTempDirectory, removeTempDirectory, repoRoot } from "./run-berth.js";

describe("the launcher's code cache", () => {
  let copy: string;
  let cacheDirectory: string;
  let cacheFile: string;
  const berth = (...args: string[]) => spawnSync(process.execPath, ["--", path.join(copy, "bin", "berth"), ...args], { encoding: "utf8", cwd: copy });
  const cached = (): string[] => (existsSync(cacheDirectory) ? readdirSync(cacheDirectory).sort() : []);

  beforeAll(() => {
    ensureBuilt();
    copy = makeTempDirectory("launcher");
    cpSync(path.join(repoRoot, "dist"), path.join(copy, "dist"), { recursive: true });
    rmSync(path.join(copy, "dist", "cache"), { recursive: true, force: true });
    mkdirSync(path.join(copy, "bin"));
    for (const file of ["berth", "package.json"]) copyFileSync(path.join(repoRoot, "bin", file), path.join(copy, "bin", file));
    cacheDirectory = path.join(copy, "dist", "cache");
    cacheFile = path.join(cacheDirectory, "version.v8");
  });
  afterAll(() => removeTempDirectory(copy));

  it("writes the cache on a command's first run and keeps it for the next", () => {
    expect(existsSync(cacheFile)).toBe(false);
    const first = berth("version");
    expect(first.stdout).toMatch(/^berth version v/);
    expect(cached()).toEqual(["version.v8"]);
    const written = statSync(cacheFile).mtimeMs;
    expect(berth("version").status).toBe(0);
    expect(statSync(cacheFile).mtimeMs).toBe(written);
  });

  it("gives each command its own cache, and writes none for a failed run", () => {
    expect(berth("container", "run", "--help").status).toBe(0);
    expect(berth("container", "nonsense").status).not.toBe(0);
    expect(cached()).toEqual(["container_run.v8", "version.v8"]);
  });

  it.each([
    ["a garbled header", (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 40), Buffer.alloc(1000, 7)])],
    // The header still names this bundle; V8 itself rejects the data.
    ["damaged V8 data", (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 4 + bytes.readUInt32LE(0)), Buffer.alloc(5000, 7)])],
  ])("ignores a cache with %s, runs, and writes a good one", (_damage, damage) => {
    writeFileSync(cacheFile, damage(readFileSync(cacheFile)));
    const run = berth("version");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^berth version v/);
    expect(run.stderr).toBe("");
    const rewritten = readFileSync(cacheFile);
    expect(decodeCache(rewritten)?.data.length).toBeGreaterThan(10_000);
    expect(berth("version").status).toBe(0);
    expect(readFileSync(cacheFile).equals(rewritten)).toBe(true);
  });

  it("ignores a cache made from another bundle", () => {
    const bundle = path.join(copy, "dist", "version.cjs");
    writeFileSync(bundle, `${readFileSync(bundle, "utf8")}\n`);
    expect(berth("version").status).toBe(0);
    const header = decodeCache(readFileSync(cacheFile))?.header;
    expect(header?.bundle).toBe(`${statSync(bundle).size}:${statSync(bundle).mtimeMs}`);
  });

  it("says how to build when dist/ is missing, in one line", () => {
    const bare = makeTempDirectory("launcher-bare");
    try {
      mkdirSync(path.join(bare, "bin"));
      for (const file of ["berth", "package.json"]) copyFileSync(path.join(repoRoot, "bin", file), path.join(bare, "bin", file));
      const run = spawnSync(process.execPath, ["--", path.join(bare, "bin", "berth"), "version"], { encoding: "utf8", cwd: bare });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe("berth is not built yet: run `npm ci && npm run build` in the berth checkout\n");
    } finally {
      removeTempDirectory(bare);
    }
  });

  it("reports a bundle that throws as it loads in one line, with no stack trace", () => {
    const bundle = path.join(copy, "dist", "version.cjs");
    const kept = readFileSync(bundle);
    try {
      writeFileSync(bundle, 'throw new Error("damaged bundle");');
      const run = berth("version");
      expect(run.status).toBe(1);
      expect(run.stderr).toBe("internal error: damaged bundle\n");
    } finally {
      writeFileSync(bundle, kept);
    }
  });

  it("runs each verb from its family's bundle, and help and unknown verbs from the whole CLI's", () => {
    // A family's bundle holds only its own commands: swapping bundles shows which one ran.
    const bundles = path.join(copy, "dist");
    const help = berth("--help");
    expect(help.status).toBe(0);
    for (const verb of ["config", "container", "image", "pull", "volume", "network", "system", "version"]) expect(help.stdout).toContain(`\n  ${verb}`);
    writeFileSync(path.join(bundles, "container.cjs"), 'process.stdout.write("container bundle\\n");');
    writeFileSync(path.join(bundles, "image.cjs"), 'process.stdout.write("image bundle\\n");');
    expect(berth("container", "ls").stdout).toBe("container bundle\n");
    expect(berth("-p", "demo", "pull", "x").stdout).toBe("image bundle\n");
    expect(berth("volume", "ls", "--help").stdout).toContain("Usage: berth volume ls");
    const unknown = berth("frobnicate");
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("frobnicate");
  });
});
