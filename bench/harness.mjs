// What the benchmark scripts share: a fresh build, interleaved timing, medians, and for the ones
// that run containers: the root check, a busybox image, the Docker daemon to compare with, and
// the engine's API (a bundle of src/runtime) to take their networks down after.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const repoRoot = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
export const berthBin = path.join(repoRoot, "bin", "berth");

/** Build dist/ so a benchmark measures the source as it is now (esbuild takes well under a second). */
export function buildBerth() {
  if (spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" }).status !== 0) process.exit(1);
}

/** A positive integer command-line argument, or the fallback; exits with the usage line otherwise. */
export function positiveIntegerArgument(text, fallback, usage) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value > 0) return value;
  console.error(`usage: ${usage}  (expected a positive integer, got ${JSON.stringify(text)})`);
  process.exit(2);
}

/**
 * Milliseconds per contender over `runs` rounds. Rounds alternate the order (a, b, then b, a) so
 * that drift and cache effects hit every contender alike. `timeOne(name)` returns one duration.
 */
export function timeInterleaved(names, runs, timeOne) {
  const timings = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < runs; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) timings[name].push(timeOne(name));
  }
  return timings;
}

/** Wall-clock milliseconds of a synchronous call. */
export function measure(call) {
  const started = performance.now();
  const result = call();
  return { result, milliseconds: performance.now() - started };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const formatMs = (milliseconds) => `${milliseconds.toFixed(1)} ms`;

/** One line per contender: median, min, max. */
export function printTimings(timings) {
  const width = Math.max(...Object.keys(timings).map((name) => name.length)) + 2;
  for (const [name, values] of Object.entries(timings)) {
    const cells = [median(values), Math.min(...values), Math.max(...values)].map((value) => formatMs(value).padStart(10));
    console.log(`${name.padEnd(width)}median ${cells[0]}   min ${cells[1]}   max ${cells[2]}`);
  }
}

/** Exit 2 with a message unless running as root with /bin/busybox (what writeBusyboxImage builds from). */
export function requireRootAndBusybox(script, why) {
  if (process.getuid?.() !== 0) {
    console.error(`${script} needs root (${why})`);
    process.exit(2);
  }
  if (!existsSync("/bin/busybox")) {
    console.error("needs /bin/busybox (apt-get install busybox-static)");
    process.exit(2);
  }
}

const sha256 = (data) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/**
 * A one-layer image of Debian's busybox-static as an OCI layout under `work` (for `berth image
 * load -i`), named `name`. `directories` are made in its root besides the usual ones; `config`
 * adds to the image config (`{ ExposedPorts: … }`). Returns the layout's path.
 */
export function writeBusyboxImage(work, { name, directories = [], config = {} }) {
  const rootfs = path.join(work, "rootfs");
  for (const directory of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", ...directories]) mkdirSync(path.join(rootfs, directory), { recursive: true });
  copyFileSync("/bin/busybox", path.join(rootfs, "bin", "busybox"));
  chmodSync(path.join(rootfs, "bin", "busybox"), 0o755);
  execFileSync("chroot", [rootfs, "/bin/busybox", "--install", "-s", "/bin"]);
  writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");
  const layer = execFileSync("tar", ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", rootfs, "-cf", "-", "."], { maxBuffer: 1 << 30 });
  const imageConfig = Buffer.from(
    JSON.stringify({
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"], ...config },
      rootfs: { type: "layers", diff_ids: [sha256(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(imageConfig), size: imageConfig.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
    }),
  );
  const layout = path.join(work, "layout");
  mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, imageConfig, manifest]) writeFileSync(path.join(layout, "blobs", "sha256", sha256(blob).slice(7)), blob);
  writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    path.join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": name } }],
    }),
  );
  rmSync(rootfs, { recursive: true, force: true });
  return layout;
}

/**
 * A Docker daemon to compare with, and `image` loaded into it (`berth image save` through
 * `archive`, then `docker load`; `berth(args)` runs berth's CLI). A daemon that already answers is
 * used as it is. Otherwise, when Debian's docker.io is installed, a private dockerd is started
 * under `work` with its own socket, data and exec roots, and with `--iptables=false --bridge=none`:
 * a benchmark must never rewrite the host's firewall, so this dockerd publishes ports with its
 * userland proxy only and makes no default bridge. `stop()` ends it by its pid and removes what
 * it made; DOCKER_HOST points at it meanwhile.
 */
export function dockerWithImage({ berth, image, archive, work }) {
  const answers = () => spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 10_000 });
  let info = answers();
  let stop = () => undefined;
  let note = "";
  if ((info.status !== 0 || info.stdout.trim() === "") && work !== undefined && spawnSync("sh", ["-c", "command -v dockerd"]).status === 0) {
    const root = path.join(work, "dockerd");
    mkdirSync(root, { recursive: true });
    const socket = path.join(root, "docker.sock");
    const log = openSync(path.join(root, "dockerd.log"), "w");
    const daemon = spawn(
      "dockerd",
      ["--data-root", path.join(root, "data"), "--exec-root", path.join(root, "exec"), "--pidfile", path.join(root, "docker.pid"), "-H", `unix://${socket}`,
        "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none"],
      { stdio: ["ignore", log, log] },
    );
    daemon.unref(); // the benchmark's own exit must not wait for it (stop() ends it)
    process.env["DOCKER_HOST"] = `unix://${socket}`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (info = answers()).status !== 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    stop = () => {
      try {
        process.kill(daemon.pid, "SIGTERM");
      } catch {
        return;
      }
      // dockerd unmounts its overlays and stops its containerd before it exits.
      const until = Date.now() + 20_000;
      while (Date.now() < until && spawnSync("kill", ["-0", String(daemon.pid)]).status === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      delete process.env["DOCKER_HOST"];
      rmSync(root, { recursive: true, force: true });
    };
    note = `a private dockerd ${info.stdout.trim()} started for this run (--iptables=false --bridge=none: ports go through docker-proxy only, the host's firewall is not touched)`;
  }
  if (info.status !== 0 || info.stdout.trim() === "") {
    stop();
    return { reachable: false, why: info.error !== undefined ? info.error.message : (info.stderr.trim().split("\n").pop() ?? ""), note: "", stop: () => undefined };
  }
  const saved = berth(["image", "save", "-o", archive, image]);
  if (saved.status !== 0) throw new Error(`berth image save failed:\n${saved.stderr}`);
  execFileSync("docker", ["load", "-i", archive], { stdio: "ignore" });
  return { reachable: true, why: "", note: note || `the Docker daemon at ${process.env["DOCKER_HOST"] ?? "/var/run/docker.sock"} (${info.stdout.trim()})`, stop };
}

/** An esbuild bundle of src/network and src/runtime in `outdir` (the sources are TypeScript; dist/ is one split CLI bundle). */
export async function bundleEngine(outdir) {
  const { build } = await import("esbuild");
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  await build({
    absWorkingDir: repoRoot,
    entryPoints: { network: "src/network/index.ts", runtime: "src/runtime/index.ts" },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "warning",
    define: { BERTH_VERSION: JSON.stringify(version) },
    banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  });
  return outdir;
}

/**
 * Take down every network of the state root at `paths` (`{ stateRoot, runRoot }`): bridges and
 * rules, the default network's included (no CLI verb removes that one), and berth's shared chains
 * once no network's remain (on this host, any root's). Through the engine's API in the bundle at
 * `bundleDirectory`, in a fresh process: src/network caches iptables-save per process, and an
 * older copy would miss the chains that other processes made. Returns spawnSync's result.
 */
export function destroyNetworks(bundleDirectory, paths) {
  const script = path.join(bundleDirectory, "destroy-networks.mjs");
  writeFileSync(
    script,
    `const { createEngine } = await import(${JSON.stringify(pathToFileURL(path.join(bundleDirectory, "runtime.js")).href)});
await createEngine({ paths: ${JSON.stringify(paths)} }).networks.destroyAll();`,
  );
  return spawnSync(process.execPath, [script], { encoding: "utf8" });
}
