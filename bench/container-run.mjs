#!/usr/bin/env node
// `berth container run --rm IMAGE true`, end to end (create, start under the shim, wait, remove),
// against the floor every berth command stands on (`node -e 0`), against `runc run` of the very
// bundle berth wrote for the same image, and against `docker run --rm` of the same image when a
// Docker daemon is reachable (said so when it is not).
//
//   node bench/container-run.mjs [RUNS]      (default 50 runs each; as root)
//
// Runs are interleaved (a, b, c, then c, b, a …) so drift hits every contender alike; the image
// is built here from Debian's busybox-static into a throwaway BERTH_ROOT, which is removed after.

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { berthBin, buildBerth, formatMs, measure, median, positiveIntegerArgument, printTimings, timeInterleaved } from "./harness.mjs";

const runs = positiveIntegerArgument(process.argv[2], 50, "node bench/container-run.mjs [RUNS]");
if (process.getuid?.() !== 0) {
  console.error("bench/container-run.mjs needs root (containers need namespaces, mounts and cgroups)");
  process.exit(2);
}
if (!existsSync("/bin/busybox")) {
  console.error("needs /bin/busybox (apt-get install busybox-static)");
  process.exit(2);
}

const sha256 = (data) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A one-layer busybox image as an OCI layout, named `bench/busybox:latest`. */
function writeImage(work) {
  const rootfs = path.join(work, "rootfs");
  for (const directory of ["bin", "etc", "proc", "sys", "dev", "tmp", "root"]) mkdirSync(path.join(rootfs, directory), { recursive: true });
  copyFileSync("/bin/busybox", path.join(rootfs, "bin", "busybox"));
  chmodSync(path.join(rootfs, "bin", "busybox"), 0o755);
  execFileSync("chroot", [rootfs, "/bin/busybox", "--install", "-s", "/bin"]);
  writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");
  const layer = execFileSync("tar", ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", rootfs, "-cf", "-", "."], { maxBuffer: 1 << 30 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: [sha256(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
    }),
  );
  const layout = path.join(work, "layout");
  mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, config, manifest]) writeFileSync(path.join(layout, "blobs", "sha256", sha256(blob).slice(7)), blob);
  writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    path.join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "bench/busybox:latest" } }],
    }),
  );
  rmSync(rootfs, { recursive: true, force: true });
  return layout;
}

const base = mkdtempSync(path.join(tmpdir(), "berth-bench-run-"));
const env = { ...process.env, BERTH_ROOT: path.join(base, "state"), BERTH_RUN_ROOT: path.join(base, "run") };
const image = "bench/busybox:latest";
const berth = (args, options = {}) => spawnSync(process.execPath, ["--", berthBin, ...args], { env, encoding: "utf8", ...options });
let runcBundle;
let template;

function cleanup() {
  if (runcBundle !== undefined) spawnSync("umount", [path.join(runcBundle, "rootfs")]);
  if (template !== undefined) berth(["container", "rm", "-f", template]);
  spawnSync("rm", ["-rf", base]);
}
process.on("exit", cleanup);

buildBerth();
const loaded = berth(["image", "load", "-i", writeImage(base)]);
if (loaded.status !== 0) {
  console.error(`berth image load failed:\n${loaded.stderr}`);
  process.exit(1);
}

// runc runs the bundle berth itself wrote for this image (config.json as is, rootfs as the same
// overlay), from a created-but-never-started container.
const runc = spawnSync("runc", ["--version"], { encoding: "utf8" });
if (runc.status === 0) {
  template = berth(["container", "create", "--network", "none", image, "true"]).stdout.trim();
  const containerDirectory = path.join(env.BERTH_ROOT, "containers", template);
  const shim = JSON.parse(readFileSync(path.join(containerDirectory, "shim.json"), "utf8"));
  const config = JSON.parse(readFileSync(path.join(containerDirectory, "config.json"), "utf8"));
  runcBundle = path.join(base, "runc-bundle");
  for (const directory of ["rootfs", "upper", "work"]) mkdirSync(path.join(runcBundle, directory), { recursive: true });
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${shim.rootfs.lowerdirs.join(":")},upperdir=${runcBundle}/upper,workdir=${runcBundle}/work`, path.join(runcBundle, "rootfs")]);
  config.root.path = path.join(runcBundle, "rootfs");
  config.linux.cgroupsPath = "/berth/bench-runc";
  writeFileSync(path.join(runcBundle, "config.json"), JSON.stringify(config));
}
const runcRoot = path.join(base, "runc-state");

const dockerInfo = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 10_000 });
const dockerReachable = dockerInfo.status === 0 && dockerInfo.stdout.trim() !== "";
if (dockerReachable) {
  const archive = path.join(base, "image.tar");
  berth(["image", "save", "-o", archive, image]);
  execFileSync("docker", ["load", "-i", archive], { stdio: "ignore" });
}

const contenders = {
  "node -e 0": () => spawnSync(process.execPath, ["-e", "0"], { stdio: "ignore" }),
  "berth container run --rm": () => berth(["container", "run", "--rm", image, "true"], { stdio: ["ignore", "pipe", "pipe"] }),
  ...(runcBundle !== undefined ? { "runc run (berth's bundle)": () => spawnSync("runc", ["--root", runcRoot, "run", "-b", runcBundle, "berth-bench-runc"], { stdio: "ignore" }) } : {}),
  ...(dockerReachable ? { "docker run --rm": () => spawnSync("docker", ["run", "--rm", "--network", "none", image, "true"], { stdio: "ignore" }) } : {}),
};

function time(name) {
  const { result, milliseconds } = measure(contenders[name]);
  if (result.status !== 0) {
    console.error(`${name} failed (exit status ${result.status}):\n${result.stderr ?? ""}`);
    process.exit(1);
  }
  return milliseconds;
}

const names = Object.keys(contenders);
for (const name of names) time(name); // warm caches; not counted
const timings = timeInterleaved(names, runs, time);
console.log(`node ${process.version}, ${runs} interleaved runs each; kernel ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}`);
printTimings(timings);
const berthMedian = median(timings["berth container run --rm"]);
const nodeMedian = median(timings["node -e 0"]);
console.log(`berth - node -e 0: ${formatMs(berthMedian - nodeMedian)} (target: at most 20 ms); berth / node: ${(berthMedian / nodeMedian).toFixed(2)}x`);
if (runcBundle !== undefined) {
  const runcMedian = median(timings["runc run (berth's bundle)"]);
  console.log(`berth / runc run: ${(berthMedian / runcMedian).toFixed(2)}x (runc ${formatMs(runcMedian)} holds no node start-up)`);
} else {
  console.log("runc: not installed (apt-get install runc), skipped");
}
if (dockerReachable) {
  const dockerMedian = median(timings["docker run --rm"]);
  console.log(`berth / docker run --rm: ${(berthMedian / dockerMedian).toFixed(2)}x (target: under 0.5x)`);
} else {
  console.log("docker: no Docker daemon reachable (`docker info` failed), docker run --rm not measured");
}
