#!/usr/bin/env node
// Registry pulls, side by side in one run:
//
//   1. cold pull: a multi-layer image of about 200 MB (a busybox layer and three layers of
//      incompressible data, gzip) from Debian's docker-registry on 127.0.0.1 into an empty store,
//      `berth image pull` (download, verify, unpack) beside `skopeo copy` of the same image into an
//      empty OCI layout (download only), interleaved rounds, ratio of medians (target <= 1.0);
//   2. warm pull: the same image pulled again into the store that has it, through a counting
//      proxy in front of the registry: how many requests, of which kinds (target: about one
//      manifest request), and how long.
//
//   node bench/pull.mjs [ROUNDS]   (default 5; as root: berth unpacks layers with their owners)
//
// Everything lives in a throwaway directory under bench/.work; the registry and the proxy listen
// on 127.0.0.1 only and are stopped by the pid this script started.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { berthBin, buildBerth, formatMs, measure, median, positiveIntegerArgument, printTimings, repoRoot, timeInterleaved } from "./harness.mjs";

const usage = "node bench/pull.mjs [ROUNDS]";
const rounds = positiveIntegerArgument(process.argv[2], 5, usage);
if (process.getuid?.() !== 0) {
  console.error("bench/pull.mjs: run as root (berth unpacks layers with their owners)");
  process.exit(2);
}
for (const tool of ["docker-registry", "skopeo"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    console.error(`bench/pull.mjs: ${tool} is not installed (scripts/install-deps.sh installs it)`);
    process.exit(2);
  }
}

const sha256 = (data) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url, what) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      http.get(url, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      }).on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An OCI layout: busybox (the host's static binary and its applets) and three ~64 MiB layers of random bytes. */
function writeBigImage(work) {
  const layers = [];
  const rootfs = path.join(work, "rootfs");
  for (const directory of ["bin", "etc", "tmp"]) mkdirSync(path.join(rootfs, directory), { recursive: true });
  execFileSync("cp", ["/bin/busybox", path.join(rootfs, "bin", "busybox")]);
  execFileSync("chroot", [rootfs, "/bin/busybox", "--install", "-s", "/bin"]);
  layers.push(execFileSync("tar", ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", rootfs, "-cf", "-", "."], { maxBuffer: 1 << 30 }));
  for (let index = 1; index <= 3; index++) {
    const directory = path.join(work, `data${index}`);
    mkdirSync(path.join(directory, "data"), { recursive: true });
    for (let part = 0; part < 4; part++) writeFileSync(path.join(directory, "data", `layer${index}-part${part}.bin`), randomBytes(16 * 1024 * 1024));
    layers.push(execFileSync("tar", ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", directory, "-cf", "-", "."], { maxBuffer: 1 << 30 }));
    rmSync(directory, { recursive: true, force: true });
  }
  rmSync(rootfs, { recursive: true, force: true });
  const compressed = layers.map((layer) => gzipSync(layer, { level: 1 }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: layers.map(sha256) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: compressed.map((blob) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(blob), size: blob.length })),
    }),
  );
  const layout = path.join(work, "layout");
  mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  for (const blob of [...compressed, config, manifest]) writeFileSync(path.join(layout, "blobs", "sha256", sha256(blob).slice(7)), blob);
  writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    path.join(layout, "index.json"),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "big" } }] }),
  );
  return { layout, bytes: compressed.reduce((sum, blob) => sum + blob.length, config.length), layers: compressed.length };
}

/** A proxy to the registry that counts requests by kind (method and manifests/blobs/other). */
function countingProxy(targetPort) {
  const counts = new Map();
  const server = http.createServer((request, response) => {
    const kind = `${request.method} ${/\/manifests\//.test(request.url ?? "") ? "manifest" : /\/blobs\//.test(request.url ?? "") ? "blob" : request.url}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const upstream = http.request({ host: "127.0.0.1", port: targetPort, method: request.method, path: request.url, headers: { ...request.headers, host: `127.0.0.1:${targetPort}` } }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on("error", () => response.destroy());
    request.pipe(upstream);
  });
  return { server, counts };
}

buildBerth();
const benchRoot = path.join(repoRoot, "bench", ".work");
mkdirSync(benchRoot, { recursive: true });
const work = mkdtempSync(path.join(benchRoot, "pull-"));
let registry;
let proxy;
try {
  const registryPort = await freePort();
  const storage = path.join(work, "registry");
  writeFileSync(
    path.join(work, "registry.yml"),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${registryPort}\n`,
  );
  // Its log (errors for the HEADs of blobs not pushed yet, which are expected) goes to a file.
  const registryLog = openSync(path.join(work, "registry.log"), "w");
  registry = spawn("docker-registry", ["serve", path.join(work, "registry.yml")], { stdio: ["ignore", "ignore", registryLog] });
  await waitFor(`http://127.0.0.1:${registryPort}/v2/`, "docker-registry");

  const image = writeBigImage(work);
  const reference = `127.0.0.1:${registryPort}/bench/big:1`;
  execFileSync("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", `oci:${image.layout}:big`, `docker://${reference}`], { stdio: ["ignore", "ignore", "inherit"] });
  console.log(`image: ${reference}, ${image.layers} layers, ${(image.bytes / 1e6).toFixed(1)} MB compressed (gzip); registry: Debian's docker-registry on 127.0.0.1`);

  // 1. cold pulls, interleaved.
  let round = 0;
  const timings = timeInterleaved(["berth image pull", "skopeo copy"], rounds, (name) => {
    const target = path.join(work, `target-${round++}`);
    mkdirSync(target, { recursive: true });
    const run =
      name === "berth image pull"
        ? () => spawnSync(process.execPath, [berthBin, "image", "pull", "-q", reference], { env: { ...process.env, BERTH_ROOT: path.join(target, "state"), BERTH_RUN_ROOT: path.join(target, "run") }, encoding: "utf8" })
        : () => spawnSync("skopeo", ["copy", "--quiet", "--src-tls-verify=false", `docker://${reference}`, `oci:${path.join(target, "layout")}:big`], { encoding: "utf8" });
    const { result, milliseconds } = measure(run);
    if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr.trim()}`);
    rmSync(target, { recursive: true, force: true });
    return milliseconds;
  });
  console.log(`\n1. cold pull into an empty store / layout, ${rounds} interleaved rounds`);
  printTimings(timings);
  const berthMs = median(timings["berth image pull"]);
  const skopeoMs = median(timings["skopeo copy"]);
  console.log(`berth / skopeo: ${(berthMs / skopeoMs).toFixed(2)} (target: at most 1.0; berth also verifies and unpacks every layer, skopeo only stores the blobs)`);
  console.log(`berth throughput: ${(image.bytes / 1e6 / (berthMs / 1000)).toFixed(0)} MB/s; skopeo: ${(image.bytes / 1e6 / (skopeoMs / 1000)).toFixed(0)} MB/s`);

  // Where a cold pull's time goes: one more pull with Docker's plain progress lines, timed.
  {
    const target = path.join(work, "traced");
    const started = performance.now();
    const child = spawn(process.execPath, [berthBin, "--progress", "plain", "image", "pull", reference], {
      env: { ...process.env, BERTH_ROOT: path.join(target, "state"), BERTH_RUN_ROOT: path.join(target, "run") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const events = [];
    let pending = "";
    child.stdout.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (/Download complete|Pull complete|Digest:/.test(line)) events.push(`${formatMs(performance.now() - started).padStart(10)}  ${line}`);
    });
    await new Promise((resolve) => child.on("close", resolve));
    console.log(`one traced cold pull (${formatMs(performance.now() - started)} in all):`);
    for (const event of events) console.log(event);
    rmSync(target, { recursive: true, force: true });
  }

  // 2. warm pull through the counting proxy.
  const proxyPort = await freePort();
  proxy = countingProxy(registryPort);
  await new Promise((resolve) => proxy.server.listen(proxyPort, "127.0.0.1", resolve));
  const viaProxy = `127.0.0.1:${proxyPort}/bench/big:1`;
  const warmRoot = path.join(work, "warm");
  const env = { ...process.env, BERTH_ROOT: path.join(warmRoot, "state"), BERTH_RUN_ROOT: path.join(warmRoot, "run") };
  const pull = () => new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [berthBin, "image", "pull", "-q", viaProxy], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (status) => (status === 0 ? resolve(performance.now() - started) : reject(new Error(`berth image pull failed: ${stderr.trim()}`))));
  });
  await pull();
  const first = new Map(proxy.counts);
  proxy.counts.clear();
  const warm = [];
  for (let index = 0; index < rounds; index++) warm.push(await pull());
  const perPull = [...proxy.counts].map(([kind, count]) => `${kind} ×${count / rounds}`).join(", ");
  const node = [];
  for (let index = 0; index < rounds; index++) node.push(measure(() => spawnSync(process.execPath, ["-e", "0"])).milliseconds);
  console.log(`\n2. pulling the same image again, ${rounds} times, through a counting proxy`);
  console.log(`first pull's requests: ${[...first].map(([kind, count]) => `${kind} ×${count}`).join(", ")}`);
  console.log(`each repeat pull's requests: ${perPull} (target: about one manifest request)`);
  console.log(`repeat pull median ${formatMs(median(warm))} (node -e 0: ${formatMs(median(node))})`);
  console.log(`\nsummary: cold pull berth ${formatMs(berthMs)} vs skopeo copy ${formatMs(skopeoMs)}: ratio ${(berthMs / skopeoMs).toFixed(2)}; repeat pull ${formatMs(median(warm))} with ${perPull}`);
} finally {
  proxy?.server.close();
  if (registry?.pid !== undefined) {
    try {
      process.kill(registry.pid, "SIGTERM");
    } catch {
      // gone already
    }
  }
  rmSync(work, { recursive: true, force: true });
}
