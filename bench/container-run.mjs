#!/usr/bin/env node
// `berth container run --rm IMAGE true`, end to end (create, start under the shim, wait, remove),
// against the floor every berth command stands on (`node -e 0`), against the floor of any run
// that Node starts under berth-shim (./shim-floor.cjs: node, spawn, container, exit; no berth
// code), against `runc run` of the very
// bundle berth wrote for the same image, and against `docker run --rm` of the same image (a
// daemon that answers, else a private dockerd the harness starts when Debian's docker.io is
// installed, with --iptables=false --bridge=none; said so when there is neither).
//
//   node bench/container-run.mjs [RUNS]      (default 50 runs each; as root)
//
// Runs are interleaved (a, b, c, then c, b, a …) so drift hits every contender alike; the image
// is built here from Debian's busybox-static into a throwaway BERTH_ROOT, which is removed after.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  berthBin,
  buildBerth,
  bundleEngine,
  destroyNetworks,
  dockerWithImage,
  formatMs,
  measure,
  median,
  positiveIntegerArgument,
  printTimings,
  repoRoot,
  requireRootAndBusybox,
  timeInterleaved,
  writeBusyboxImage,
} from "./harness.mjs";

const runs = positiveIntegerArgument(process.argv[2], 50, "node bench/container-run.mjs [RUNS]");
requireRootAndBusybox("bench/container-run.mjs", "containers need namespaces, mounts and cgroups");

const base = mkdtempSync(path.join(tmpdir(), "berth-bench-run-"));
const paths = { stateRoot: path.join(base, "state"), runRoot: path.join(base, "run") };
const env = { ...process.env, BERTH_ROOT: paths.stateRoot, BERTH_RUN_ROOT: paths.runRoot };
const image = "bench/busybox:latest";
const berth = (args, options = {}) => spawnSync(process.execPath, ["--", berthBin, ...args], { env, encoding: "utf8", ...options });
let runcBundle;
let template;
let engineBundle;
let docker;

function cleanup() {
  docker?.stop();
  if (runcBundle !== undefined) spawnSync("umount", [path.join(runcBundle, "rootfs")]);
  if (template !== undefined) berth(["container", "rm", "-f", template]);
  // The default network the runs joined (its bridge and rules) outlives the containers.
  if (engineBundle !== undefined) {
    const destroyed = destroyNetworks(engineBundle, paths);
    if (destroyed.status !== 0) console.error(`cleanup: networks.destroyAll failed: ${destroyed.stderr.trim()}`);
  }
  spawnSync("rm", ["-rf", base]);
}
process.on("exit", cleanup);

buildBerth();
engineBundle = await bundleEngine(path.join(base, "bundle"));
const loaded = berth(["image", "load", "-i", writeBusyboxImage(base, { name: image })]);
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

docker = dockerWithImage({ berth, image, archive: path.join(base, "image.tar"), work: base });

// The floor (./shim-floor.cjs): node spawning berth-shim on a bundle berth created beforehand
// (untimed, a fresh container each round, removed after it) and waiting for the exit.
const shimPath = path.join(repoRoot, "native", "build", "berth-shim");
let floorContainer;
const floor = {
  prepare() {
    const created = berth(["container", "create", "--network", "none", image, "true"]);
    if (created.status !== 0) throw new Error(`berth container create failed: ${created.stderr}`);
    floorContainer = created.stdout.trim();
  },
  run: () =>
    spawnSync(process.execPath, [path.join(repoRoot, "bench", "shim-floor.cjs"), shimPath, path.join(env.BERTH_ROOT, "containers", floorContainer), path.join(env.BERTH_RUN_ROOT, "containers", floorContainer)], {
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    }),
  finish() {
    berth(["container", "rm", "-f", floorContainer]);
  },
};

const contenders = {
  "node -e 0": () => spawnSync(process.execPath, ["-e", "0"], { stdio: "ignore" }),
  "floor: node + berth-shim": floor,
  "berth container run --rm": () => berth(["container", "run", "--rm", image, "true"], { stdio: ["ignore", "pipe", "pipe"] }),
  "berth … --network none": () => berth(["container", "run", "--rm", "--network", "none", image, "true"], { stdio: ["ignore", "pipe", "pipe"] }),
  ...(runcBundle !== undefined ? { "runc run (berth's bundle)": () => spawnSync("runc", ["--root", runcRoot, "run", "-b", runcBundle, "berth-bench-runc"], { stdio: "ignore" }) } : {}),
  ...(docker.reachable ? { "docker run --rm --network none": () => spawnSync("docker", ["run", "--rm", "--network", "none", image, "true"], { stdio: "ignore" }) } : {}),
};

function time(name) {
  const contender = contenders[name];
  if (typeof contender === "function") return check(name, measure(contender));
  contender.prepare();
  try {
    return check(name, measure(contender.run));
  } finally {
    contender.finish();
  }
}

function check(name, { result, milliseconds }) {
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
const noneMedianOverall = median(timings["berth … --network none"]);
const floorMedian = median(timings["floor: node + berth-shim"]);
console.log(`berth - node -e 0: ${formatMs(berthMedian - nodeMedian)}, with --network none ${formatMs(noneMedianOverall - nodeMedian)} (target: at most 20 ms); berth / node: ${(berthMedian / nodeMedian).toFixed(2)}x`);
console.log(`floor - node -e 0: ${formatMs(floorMedian - nodeMedian)} (node spawning berth-shim on a ready bundle and waiting for the exit, no berth code); berth's own code, --network none: ${formatMs(noneMedianOverall - floorMedian)}`);
if (runcBundle !== undefined) {
  const runcMedian = median(timings["runc run (berth's bundle)"]);
  console.log(`berth / runc run: ${(berthMedian / runcMedian).toFixed(2)}x (runc ${formatMs(runcMedian)} holds no node start-up)`);
} else {
  console.log("runc: not installed (apt-get install runc), skipped");
}
if (docker.reachable) {
  const dockerMedian = median(timings["docker run --rm --network none"]);
  const noneMedian = median(timings["berth … --network none"]);
  console.log(`docker: ${docker.note}`);
  console.log(`berth / docker run --rm, both --network none: ${(noneMedian / dockerMedian).toFixed(2)}x (target: under 0.5x); berth with its default network / docker --network none: ${(berthMedian / dockerMedian).toFixed(2)}x`);
} else {
  console.log(`docker: no Docker daemon reachable (docker info: ${docker.why}), docker run --rm not measured`);
}
