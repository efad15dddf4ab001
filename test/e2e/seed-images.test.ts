// scripts/seed-images must build real base images from Debian packages, under honest tags, into
// a throwaway berth store: one layer shared between the base and what stands on it, reproducible
// digests, a cached second run that only checks the store, containers that run, and no mount left
// behind. One build (busybox, debian, redis) serves the whole file; the build cache is the one
// .ci/run seeds ($BERTH_SEED_CACHE, default /var/cache/berth/seed), so a seeded machine only loads.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeFixture, mountsUnder, skipReason as containerSkipReason, type Fixture } from "../integration/container/harness.js";
import { ensureBuilt, repoRoot, runBerth, type BerthRun } from "./run-berth.js";

const script = path.join(repoRoot, "scripts", "seed-images");
const seedCache = process.env["BERTH_SEED_CACHE"] ?? "/var/cache/berth/seed";

function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

function skipReason(): string | undefined {
  const container = containerSkipReason();
  if (container !== undefined) return container;
  for (const tool of ["mmdebstrap", "unshare", "getfattr"]) if (!onPath(tool)) return `${tool} is not installed (scripts/install-deps.sh)`;
  return undefined;
}

interface SeedRun extends BerthRun {
  readonly seconds: number;
}

const skip = skipReason();

describe.skipIf(skip !== undefined)(`scripts/seed-images${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  let firstRun: SeedRun;
  // Asynchronous: a build takes minutes, and a blocked event loop starves vitest's worker RPC.
  const seed = (args: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 600_000): Promise<SeedRun> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn(script, [...args], {
        cwd: fixture.work,
        env: { ...process.env, ...fixture.env, BERTH_SEED_CACHE: seedCache, ...env },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: timeoutMs,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.once("error", reject);
      child.once("close", (status, signal) => resolve({ status, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
    });
  const berth = (args: readonly string[]): BerthRun => runBerth(args, { cwd: fixture.work, env: fixture.env, timeoutMs: 60_000 });
  const inspect = (reference: string): { Id: string; RootFS: { Layers: string[] }; Config: Record<string, unknown> & { Labels: Record<string, string> } } => {
    const result = berth(["image", "inspect", reference]);
    expect(result.status, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as [ReturnType<typeof inspect>])[0];
  };
  const seedMounts = (): string[] => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes("berth-seed"));

  beforeAll(async () => {
    ensureBuilt();
    fixture = makeFixture("seed");
    firstRun = await seed(["--only", "busybox,debian,redis"]);
    expect(firstRun.status, `${firstRun.stdout}\n${firstRun.stderr}`).toBe(0);
    console.log(`seed-images --only busybox,debian,redis: ${firstRun.seconds.toFixed(1)} s (first run of this file)`);
  }, 900_000);
  afterAll(async () => {
    if (fixture === undefined) return;
    await fixture.dispose();
  });

  it("must list the images under honest tags that say what is inside", () => {
    const listed = berth(["image", "ls", "--format", "json"]).stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { Repository: string; Tag: string });
    expect(listed.map((image) => `${image.Repository}:${image.Tag}`).sort()).toEqual(["busybox:1.35", "debian:bookworm-slim", "redis:7"]);
    const redis = inspect("redis:7");
    expect(redis.Config.Labels["org.opencontainers.image.version"]).toMatch(/^7\.0\./);
    expect(redis.Config.Labels["berth.seed.packages"]).toMatch(/(^| )redis-server=5:7\.0\.[0-9]+-/);
    expect(redis.Config).toMatchObject({ Cmd: ["redis-server"], Entrypoint: ["docker-entrypoint.sh"], WorkingDir: "/data", ExposedPorts: { "6379/tcp": {} } });
    expect(inspect("busybox:1.35").Config.Labels["berth.seed.packages"]).toMatch(/^busybox-static=1:1\.35\.0-/);
    expect(inspect("debian:bookworm-slim").Config.Labels["berth.seed.packages"]).toMatch(/(^| )base-files=12\./);
  });

  it("redis must stand on the debian layer itself (the same first layer), busybox on nothing", () => {
    const debian = inspect("debian:bookworm-slim");
    const redis = inspect("redis:7");
    expect(debian.RootFS.Layers).toHaveLength(1);
    expect(redis.RootFS.Layers).toHaveLength(2);
    expect(redis.RootFS.Layers[0]).toBe(debian.RootFS.Layers[0]);
    expect(inspect("busybox:1.35").RootFS.Layers).toHaveLength(1);
  });

  it("containers must run from them: busybox echoes, redis reports 7.0", () => {
    expect(berth(["container", "run", "--rm", "--network", "none", "busybox:1.35", "echo", "hi"])).toMatchObject({ status: 0, stdout: "hi\n" });
    const version = berth(["container", "run", "--rm", "--network", "none", "redis:7", "redis-server", "--version"]);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^Redis server v=7\.0\.\d+ /);
    const debian = berth(["container", "run", "--rm", "--network", "none", "debian:bookworm-slim", "sh", "-c", ". /etc/os-release && echo $VERSION_CODENAME"]);
    expect(debian).toMatchObject({ status: 0, stdout: "bookworm\n" });
  });

  it("a second run must come from the cache, find the images in the store, and take seconds", async () => {
    const second = await seed(["--only", "busybox,debian,redis"]);
    expect(second.status, second.stderr).toBe(0);
    console.log(`seed-images, cached second run: ${second.seconds.toFixed(1)} s`);
    expect(second.stderr).not.toMatch(/building/);
    expect(second.stdout.match(/already in the store/g)).toHaveLength(3);
    expect(second.seconds).toBeLessThan(20);
  });

  it("a rebuild without the cache must give the same image id (reproducible layers)", async () => {
    const before = inspect("debian:bookworm-slim").Id;
    const rebuilt = await seed(["--only", "debian", "--no-cache"]);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    console.log(`seed-images --only debian --no-cache: ${rebuilt.seconds.toFixed(1)} s`);
    expect(rebuilt.stderr).toMatch(/built debian:bookworm-slim/);
    expect(rebuilt.stdout).toMatch(/debian:bookworm-slim .* already in the store/);
    expect(inspect("debian:bookworm-slim").Id).toBe(before);
  }, 300_000);

  it("must leave no mount behind", () => {
    expect(seedMounts()).toEqual([]);
    expect(mountsUnder(seedCache)).toEqual([]);
    expect(mountsUnder(fixture.base)).toEqual([]);
  });

  it("must fail with one clear line on bad input or an unreachable archive", async () => {
    const unknown = await seed(["--only", "nosuch"]);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^seed-images: error: unknown image 'nosuch'/)]);
    const cache = mkdtempSync(path.join(tmpdir(), "berth-seed-unreachable-"));
    try {
      // Port 9 (discard) on loopback: nothing answers; only loopback is ever contacted.
      const unreachable = await seed(["-q", "--only", "busybox"], { BERTH_SEED_CACHE: cache, BERTH_SEED_MIRROR: "http://127.0.0.1:9/debian", BERTH_SEED_SECURITY_MIRROR: "http://127.0.0.1:9/debian-security" }, 120_000);
      expect(unreachable.status).toBe(1);
      expect(unreachable.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^seed-images: error: cannot reach the Debian archive/)]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
    expect(seedMounts()).toEqual([]);
  }, 180_000);

  it.skipIf(!onPath("docker-registry") || !onPath("skopeo"))("--registry must serve the images from a local registry as berth's docker.io mirror, and --stop-registry stop it", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const registryRoot = path.join(fixture.base, "registry");
    const mirrorConfig = path.join(fixture.base, "registries.json");
    const env = { BERTH_SEED_REGISTRY_ROOT: registryRoot, BERTH_REGISTRY_CONFIG: mirrorConfig };
    try {
      const pushed = await seed(["--only", "busybox", "--registry", address], env, 120_000);
      expect(pushed.status, pushed.stderr).toBe(0);
      const catalog = (await (await fetch(`http://${address}/v2/_catalog`)).json()) as { repositories: string[] };
      expect(catalog.repositories).toContain("library/busybox");
      const manifest = await fetch(`http://${address}/v2/library/busybox/manifests/1.35`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      expect(manifest.status).toBe(200);
      expect(JSON.parse(readFileSync(mirrorConfig, "utf8"))).toEqual({ mirrors: { "docker.io": [`http://${address}`] }, insecure: [] });
    } finally {
      const stopped = await seed(["--stop-registry"], env, 60_000);
      expect(stopped.status, stopped.stderr).toBe(0);
    }
    expect(existsSync(path.join(registryRoot, `registry-127.0.0.1-${port}.pid`))).toBe(false);
    await expect(fetch(`http://${address}/v2/`)).rejects.toThrow();
  }, 180_000);
});

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
