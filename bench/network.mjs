#!/usr/bin/env node
// Networking, side by side in one run:
//
//   1. data path: a 200 MB file served by busybox httpd inside a container, downloaded by a host
//      client (curl, else a Node client that discards the body) through the published port on
//      127.0.0.1 (no userland proxy: the client's connect() is rewritten to the container's
//      address by berth-redirect's BPF program, DNAT in berth's own chains where that is not
//      available), straight to the container's address, and from the same httpd run as a plain
//      host process on 127.0.0.1;
//   2. setup: one container's network plumbing (src/network's createSandbox + destroySandbox on
//      a bridge made with ensureBridge), and the processes it spawns;
//   3. run: `berth container run --rm --network NAME -p 80 IMAGE true` beside `--network none`,
//      the default network, `node -e 0`, and `docker run --rm -p 80` (a daemon that answers, else
//      a private dockerd started by bench/harness.mjs, said so when there is none).
//
//   node bench/network.mjs [TRANSFERS] [SETUPS] [RUNS]   (defaults 10, 50, 30; as root)
//
// Everything lives in a throwaway directory under bench/.work: the state and run roots, a copy of
// the CLI just built, and an esbuild bundle of src/network and src/runtime (the sources are
// TypeScript; dist/ is one split CLI bundle).
// Traffic goes only to 127.0.0.1 and to the container's address on berth's bridge.
// Cleanup, even on failure: processes by pid, containers by `berth container rm -f` (the engine
// API if that fails), networks by the engine's networks.destroyAll(), then the directory (kept,
// with the command to finish, if a container still runs); then a check that none of this run's
// links, BERTH rules, mounts or shims remain.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
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

const usage = "node bench/network.mjs [TRANSFERS] [SETUPS] [RUNS]";
const transfers = positiveIntegerArgument(process.argv[2], 10, usage);
const setups = positiveIntegerArgument(process.argv[3], 50, usage);
const runs = positiveIntegerArgument(process.argv[4], 30, usage);
requireRootAndBusybox("bench/network.mjs", "namespaces, bridges, iptables, mounts, cgroups");

const fileMegabytes = 200;
const fileBytes = fileMegabytes * 1024 * 1024;
const image = "bench/busybox:latest";
const networkName = "benchnet";
const setupNetworkName = "benchsetup";

// ---------------------------------------------------------------------------------------------
// Host observations: what exists before, so that the check after can tell this run's leftovers.

const linkNames = () => readdirSync("/sys/class/net");
const ruleLines = () =>
  ["iptables-save", "ip6tables-save"].flatMap((tool) => {
    const result = spawnSync(tool, [], { encoding: "utf8" });
    return result.status === 0 ? result.stdout.split("\n").filter((line) => line.includes("BERTH")).map((line) => `${tool}: ${line}`) : [];
  });
/** berth-redirect's program and entries ("program attached" when it is); empty where it is not built. */
const redirectTool = path.join(repoRoot, "native", "build", "berth-redirect");
const redirectLines = () => {
  if (!existsSync(redirectTool)) return [];
  const result = spawnSync(redirectTool, ["list"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.split("\n").filter((line) => line !== "").map((line) => (line.startsWith("program ") ? "program attached" : line.startsWith("peer-program ") ? "peer program attached" : line)) : [];
};
const sysctlFiles = [
  "/proc/sys/net/ipv4/ip_forward",
  "/proc/sys/net/ipv4/conf/all/route_localnet",
  "/proc/sys/net/bridge/bridge-nf-call-iptables",
  "/proc/sys/net/ipv6/conf/all/forwarding",
];
const sysctls = () => Object.fromEntries(sysctlFiles.map((file) => [file.slice("/proc/sys/".length).replaceAll("/", "."), existsSync(file) ? readFileSync(file, "utf8").trim() : "-"]));
const mountsUnder = (directory) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => (line.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((mountPoint) => mountPoint === directory || mountPoint.startsWith(`${directory}/`));

const linksBefore = new Set(linkNames());
const rulesBefore = new Set(ruleLines());
const redirectsBefore = new Set(redirectLines());
const sysctlsBefore = sysctls();

// ---------------------------------------------------------------------------------------------
// The throwaway directory, the bundle, the engine.

mkdirSync(path.join(repoRoot, "bench", ".work"), { recursive: true });
const base = mkdtempSync(path.join(repoRoot, "bench", ".work", "network-"));
const paths = { stateRoot: path.join(base, "state"), runRoot: path.join(base, "run") };
const env = { ...process.env, BERTH_ROOT: paths.stateRoot, BERTH_RUN_ROOT: paths.runRoot };
// The CLI runs from a copy of bin/ and dist/ made right after the build, so that someone else's
// `npm run build` (which empties dist/) cannot pull it away mid-run. It finds native/build upward.
let berthCli = berthBin;
const berth = (args, options = {}) => spawnSync(process.execPath, ["--", berthCli, ...args], { env, encoding: "utf8", ...options });

function snapshotCli() {
  const copy = path.join(base, "cli");
  cpSync(path.join(repoRoot, "dist"), path.join(copy, "dist"), { recursive: true });
  mkdirSync(path.join(copy, "bin"));
  for (const file of ["berth", "package.json"]) copyFileSync(path.join(path.dirname(berthBin), file), path.join(copy, "bin", file));
  berthCli = path.join(copy, "bin", "berth");
  const version = berth(["version"]);
  if (version.status !== 0) throw new Error(`the copy of the CLI does not run (dist/ rebuilt meanwhile?):\n${version.stderr}`);
}

/** What this run made, for the cleanup and the leak check. */
const made = { children: new Set(), containers: new Set(), bridges: new Set(), hostLinks: new Set(), sandboxes: new Set(), networkIds: new Set() };
let net; // src/network
let runtime; // src/runtime
let engine;

async function cleanup() {
  const problems = [];
  for (const child of made.children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  // Containers: berth's own command (it tears down their sandboxes), then whatever the root lists.
  const listed = existsSync(paths.stateRoot) ? berth(["container", "ls", "-aq", "--no-trunc"]).stdout?.split("\n").filter(Boolean) ?? [] : [];
  for (const id of new Set([...made.containers, ...listed])) {
    const removed = berth(["container", "rm", "-f", id]);
    if (removed.status === 0 || /no such container/i.test(removed.stderr)) continue;
    // The CLI failed (its copy broken?): the same removal through the engine API of the bundle.
    const viaEngine = engine === undefined ? new Error("no engine") : await engine.containers.remove(id, { force: true, volumes: true }).then(() => undefined, (error) => error);
    if (viaEngine !== undefined && !/no such container/i.test(viaEngine.message)) problems.push(`container rm -f ${id}: ${removed.stderr.trim()}; engine: ${viaEngine.message}`);
  }
  if (net !== undefined) {
    for (const sandbox of made.sandboxes) await net.destroySandbox(sandbox).catch((error) => problems.push(`destroySandbox ${sandbox}: ${error.message}`));
  }
  if (made.dockerImage !== undefined) spawnSync("docker", ["image", "rm", made.dockerImage], { stdio: "ignore" });
  if (made.dockerNetwork !== undefined) spawnSync("docker", ["network", "rm", made.dockerNetwork], { stdio: "ignore" });
  made.docker?.stop();
  if (engine !== undefined) {
    for (const summary of await engine.networks.list().catch(() => [])) {
      const record = await engine.networks.find(summary.Id).catch(() => undefined);
      if (record === undefined) continue;
      made.networkIds.add(record.id);
      if (record.bridge !== "") made.bridges.add(record.bridge);
    }
    // Every network of the root, the default bridge and berth's shared chains (when no other
    // network's remain) included.
    const destroyed = destroyNetworks(path.join(base, "bundle"), paths);
    if (destroyed.status !== 0) problems.push(`networks.destroyAll: ${destroyed.stderr.trim()}`);
  }
  for (const id of made.containers) made.hostLinks.add(`vb${id.slice(0, 10)}`);
  // A container still running keeps the directory (its state) for `berth container rm -f`.
  const shims = runtime === undefined ? [] : runtime.listShimProcesses().filter((shim) => shim.argv.some((argument) => argument.startsWith(base)));
  const keep = shims.length > 0;
  if (keep) problems.push(`shims left (pids ${shims.map((shim) => shim.pid).join(", ")}): ${base} kept; remove with BERTH_ROOT=${paths.stateRoot} BERTH_RUN_ROOT=${paths.runRoot} berth container rm -f $(berth container ls -aq)`);
  // Leak check, before the directory goes (a namespace still bound below it would show here).
  const mounts = mountsUnder(base);
  if (mounts.length > 0) problems.push(`mounts left below ${base}: ${mounts.join(", ")}${keep ? "" : " (unmounted now)"}`);
  if (!keep) for (const mountPoint of mounts.reverse()) spawnSync("umount", ["-l", mountPoint]);
  const linksAfter = linkNames();
  const ours = linksAfter.filter((name) => made.bridges.has(name) || [...made.hostLinks].some((prefix) => name.startsWith(prefix)));
  if (ours.length > 0) problems.push(`links of this run left: ${ours.join(", ")}`);
  const newLinks = linksAfter.filter((name) => /^(br-|vb)/.test(name) && !linksBefore.has(name) && !ours.includes(name));
  const notes = [];
  if (newLinks.length > 0) notes.push(`br-/vb links new since the start, not this run's (another berth on this host): ${newLinks.join(", ")}`);
  const ids12 = [...made.networkIds].map((id) => id.slice(0, 12));
  const rulesLeft = ruleLines().filter((line) => !rulesBefore.has(line));
  const ourRules = rulesLeft.filter((line) => ids12.some((id12) => line.includes(id12)) || [...made.bridges].some((bridge) => line.includes(bridge)));
  if (ourRules.length > 0) problems.push(`BERTH rules of this run's networks left:\n    ${ourRules.join("\n    ")}`);
  const redirectsLeft = redirectLines().filter((line) => !redirectsBefore.has(line));
  if (redirectsLeft.length > 0) problems.push(`port redirects left (berth-redirect list):\n    ${redirectsLeft.join("\n    ")}`);
  const otherRules = rulesLeft.filter((line) => !ourRules.includes(line));
  if (otherRules.length > 0) notes.push(`BERTH rules new since the start, not of this run's networks (shared chains, or another berth on this host):\n    ${otherRules.join("\n    ")}`);
  if (!keep) {
    rmSync(base, { recursive: true, force: true });
    if (existsSync(base)) problems.push(`could not remove ${base}`);
  }
  const sysctlsAfter = sysctls();
  const changed = Object.keys(sysctlsAfter).filter((key) => sysctlsAfter[key] !== sysctlsBefore[key]);
  console.log("");
  console.log(`cleanup: ${problems.length === 0 ? "nothing of this run left (links, BERTH rules, port redirects, mounts, shims, work directory)" : "PROBLEMS"}`);
  for (const problem of problems) console.log(`  ${problem}`);
  for (const note of notes) console.log(`  note: ${note}`);
  console.log(
    `links matching br-|vb now: ${linksAfter.filter((name) => /^(br-|vb)/.test(name)).join(", ") || "none"}; BERTH lines in iptables-save/ip6tables-save: ${ruleLines().length}`,
  );
  if (changed.length > 0) console.log(`sysctls berth changed (left as berth leaves them): ${changed.map((key) => `${key} ${sysctlsBefore[key]} -> ${sysctlsAfter[key]}`).join(", ")}`);
  return problems.length === 0;
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
  });
}
const checkInterrupted = () => {
  if (interrupted) throw new Error("interrupted");
};

// ---------------------------------------------------------------------------------------------
// Helpers.

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Wait until GET /big answers 200 with the whole file's length. */
async function waitForServer(host, port, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    checkInterrupted();
    const length = await new Promise((resolve) => {
      const req = request({ host, port, path: "/big", method: "HEAD", timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode === 200 ? Number(response.headers["content-length"]) : `status ${response.statusCode}`);
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (error) => resolve(error.message));
      req.end();
    });
    if (length === fileBytes) return;
    last = String(length);
    await sleep(100);
  }
  throw new Error(`${what} (${host}:${port}) did not serve /big in time (last: ${last})`);
}

const curl = spawnSync("curl", ["--version"], { encoding: "utf8" }).status === 0;

/** One download of /big; bytes per second. curl when installed, else a Node client discarding the body. */
function downloadSync(host, port) {
  const url = `http://${host}:${port}/big`;
  if (curl) {
    const result = spawnSync("curl", ["-o", "/dev/null", "-s", "-S", "--noproxy", "*", "-w", "%{speed_download} %{size_download} %{http_code}", url], { encoding: "utf8" });
    const [speed, size, code] = result.stdout.trim().split(" ").map(Number);
    if (result.status !== 0 || code !== 200 || size !== fileBytes) throw new Error(`curl ${url}: status ${result.status}, http ${code}, ${size} bytes: ${result.stderr.trim()}`);
    return speed;
  }
  const script = `
    const started = performance.now(); let size = 0;
    require("node:http").get(${JSON.stringify(url)}, (response) => {
      response.on("data", (chunk) => { size += chunk.length; });
      response.on("end", () => { process.stdout.write(JSON.stringify({ code: response.statusCode, size, seconds: (performance.now() - started) / 1000 })); });
    }).on("error", (error) => { console.error(error.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`node client ${url}: ${result.stderr.trim()}`);
  const { code, size, seconds } = JSON.parse(result.stdout);
  if (code !== 200 || size !== fileBytes) throw new Error(`node client ${url}: http ${code}, ${size} bytes`);
  return size / seconds;
}

const python = spawnSync("python3", ["--version"], { encoding: "utf8" }).status === 0;

/**
 * One download of /big by a client that reads 1 MiB at a time (a Python socket loop): a second
 * view of the same paths, with far fewer reads than curl's 16 KiB ones. Bytes per second.
 */
function downloadLargeReadsSync(host, port) {
  const script = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /big HTTP/1.0\\r\\nHost: bench\\r\\n\\r\\n")
buffer = bytearray(1 << 20); head = b""; body = -1; started = time.perf_counter()
while True:
    count = s.recv_into(buffer)
    if not count: break
    if body < 0:
        head += bytes(buffer[:count]); cut = head.find(b"\\r\\n\\r\\n")
        if cut >= 0: body = len(head) - cut - 4; head = head[:cut]
        continue
    body += count
print(head.split(b" ")[1].decode(), body, time.perf_counter() - started)`;
  const result = spawnSync("python3", ["-c", script, host, String(port)], { encoding: "utf8" });
  const [code, size, seconds] = result.stdout.trim().split(" ").map(Number);
  if (result.status !== 0 || code !== 200 || size !== fileBytes) throw new Error(`python client ${host}:${port}: status ${result.status}, http ${code}, ${size} bytes: ${result.stderr.trim()}`);
  return size / seconds;
}

const formatRate = (bytesPerSecond) => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;

function printRates(rates) {
  const width = Math.max(...Object.keys(rates).map((name) => name.length)) + 2;
  for (const [name, values] of Object.entries(rates)) {
    const cells = [median(values), Math.min(...values), Math.max(...values)].map((value) => formatRate(value).padStart(11));
    console.log(`${name.padEnd(width)}median ${cells[0]}   min ${cells[1]}   max ${cells[2]}`);
  }
}

/** Whether any socket listens on this TCP port (a userland proxy would). */
function listening(port) {
  const result = spawnSync("ss", ["-Htln", `sport = :${port}`], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() !== "" : undefined;
}

// ---------------------------------------------------------------------------------------------
// 1. Data path.

/** The published port, the container's address, and a host process, downloading the same 200 MB file. */
async function dataPath() {
  const publishedPort = await freePort();
  const serve = ["sh", "-c", `dd if=/dev/zero of=/www/big bs=1M count=${fileMegabytes} 2>/dev/null && exec httpd -f -p 80 -h /www`];
  const started = berth(["container", "run", "-d", "--name", "bench-web", "--network", networkName, "-p", `127.0.0.1:${publishedPort}:80`, image, ...serve]);
  if (started.status !== 0) throw new Error(`berth container run -d … httpd failed:\n${started.stderr}`);
  const id = started.stdout.trim();
  made.containers.add(id);
  const settings = (await engine.containers.inspect(id)).NetworkSettings;
  const containerIp = settings.Networks[networkName]?.IPAddress ?? "";
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(containerIp)) throw new Error(`container bench-web has no IPv4 address on ${networkName}: ${JSON.stringify(settings.Networks)}`);

  // The same busybox httpd as a host process on loopback, serving a file made the same way.
  const hostDirectory = path.join(base, "www");
  mkdirSync(hostDirectory);
  execFileSync("dd", ["if=/dev/zero", `of=${path.join(hostDirectory, "big")}`, "bs=1M", `count=${fileMegabytes}`], { stdio: "ignore" });
  const hostPort = await freePort();
  const hostServer = spawn("/bin/busybox", ["httpd", "-f", "-p", `127.0.0.1:${hostPort}`, "-h", hostDirectory], { stdio: "ignore" });
  made.children.add(hostServer);

  await waitForServer(containerIp, 80, "httpd in the container, by its address");
  await waitForServer("127.0.0.1", publishedPort, "httpd in the container, by the published port");
  await waitForServer("127.0.0.1", hostPort, "httpd on the host");
  const proxy = listening(publishedPort);
  const redirected = redirectLines().some((line) => line.includes(` 127.0.0.1 ${publishedPort} ${containerIp} 80`));

  const contenders = {
    [`published port 127.0.0.1:${publishedPort}`]: () => downloadSync("127.0.0.1", publishedPort),
    [`container address ${containerIp}:80`]: () => downloadSync(containerIp, 80),
    [`host process 127.0.0.1:${hostPort}`]: () => downloadSync("127.0.0.1", hostPort),
    ...(python
      ? {
          "published, 1 MiB reads": () => downloadLargeReadsSync("127.0.0.1", publishedPort),
          "container address, 1 MiB reads": () => downloadLargeReadsSync(containerIp, 80),
        }
      : {}),
  };
  const names = Object.keys(contenders);
  for (const name of names) contenders[name](); // warm caches; not counted
  const rates = timeInterleaved(names, transfers, (name) => {
    checkInterrupted();
    return contenders[name]();
  });
  const [published, direct, host] = names.map((name) => median(rates[name]));
  console.log("");
  console.log(`1. data path: GET of a ${fileMegabytes} MiB file from busybox httpd, ${transfers} interleaved downloads each, client ${curl ? "curl -o /dev/null" : "node:http (body discarded)"}; MB = 10^6 bytes`);
  console.log(`   container started by berth container run -d --network ${networkName} -p 127.0.0.1:${publishedPort}:80`);
  printRates(rates);
  // Paired: the two downloads of one round ran back to back, so their ratio holds little drift.
  const paired = rates[names[0]].map((value, round) => value / rates[names[1]][round]);
  console.log(`published / direct: ${(published / direct).toFixed(2)} (ratio of medians; target: at least 0.95; Docker's userland proxy gets 0.58 here)`);
  console.log(`published / direct, round by round: median ${median(paired).toFixed(2)}, min ${Math.min(...paired).toFixed(2)}, max ${Math.max(...paired).toFixed(2)}`);
  console.log(`published / host process: ${(published / host).toFixed(2)}; direct / host process: ${(direct / host).toFixed(2)}`);
  if (python) {
    const largePublished = median(rates["published, 1 MiB reads"]);
    const largeDirect = median(rates["container address, 1 MiB reads"]);
    results.dataPathLargeReads = largePublished / largeDirect;
    console.log(`published / direct with 1 MiB reads (a Python socket loop instead of curl): ${(largePublished / largeDirect).toFixed(2)}`);
  }
  console.log(
    proxy === undefined
      ? "listener on the published port: unknown (ss failed)"
      : proxy
        ? `a process LISTENS on the published port ${publishedPort} (a userland proxy?)`
        : `no process listens on the published port ${publishedPort}: the kernel forwards it (${redirected ? "connect() rewritten to the container's address by berth-redirect's BPF program" : "DNAT: berth-redirect has no entry for it"})`,
  );
  results.dataPath = { published, direct, host, ratio: published / direct, paired: median(paired) };
}

// ---------------------------------------------------------------------------------------------
// 2. Setup: src/network's plumbing for one container, create + teardown.

const straceInstalled = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;

/**
 * Every process a command makes, from `strace -f`: the processes (the command's own included),
 * the programs exec'd (a chain like berth-netns→ip is one process exec'ing twice), and which
 * exec'd programs fork further. Threads are not processes.
 */
function traceProcesses(name, argv, options = {}) {
  const trace = path.join(base, `${name}.strace`);
  const result = spawnSync("strace", ["-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, ...argv], { encoding: "utf8", ...options });
  if (result.status !== 0) throw new Error(`strace ${argv.join(" ")}: exit status ${result.status}: ${result.stderr.trim()}`);
  const programs = new Map(); // pid → [programs exec'd, in order]
  const forks = new Map(); // pid → process-creating calls
  const lines = readFileSync(trace, "utf8").split("\n");
  const rootPid = lines[0]?.split(" ")[0];
  let processes = 1;
  for (const line of lines) {
    const match = /^(\d+) +(execve|clone3?|v?fork)\((.*)$/.exec(line);
    if (match === null) continue;
    const [, pid, call, rest] = match;
    if (call === "execve") {
      if (/= -1 /.test(rest)) continue; // PATH search misses
      programs.set(pid, [...(programs.get(pid) ?? []), path.basename(JSON.parse(/^("(?:[^"\\]|\\.)*")/.exec(rest)?.[1] ?? '""'))]);
    } else if (!rest.includes("CLONE_THREAD")) {
      processes++;
      forks.set(pid, (forks.get(pid) ?? 0) + 1);
    }
  }
  const children = [...programs.entries()].filter(([pid]) => pid !== rootPid);
  const counts = new Map();
  for (const [, names] of children) counts.set(names.join("→"), (counts.get(names.join("→")) ?? 0) + 1);
  return {
    stdout: result.stdout,
    processes,
    programs: [...counts].map(([program, count]) => `${program} ×${count}`).join(", "),
    forking: children.filter(([pid]) => (forks.get(pid) ?? 0) > 0).map(([pid, names]) => `${names.join("→")} (${forks.get(pid)})`),
  };
}

/** Which programs one create + destroy runs, and whether any of them forks, in a child doing one cycle. */
function straceOneCycle(bundleDirectory, request) {
  if (!straceInstalled) return "strace not installed: process tree not checked";
  const script = path.join(base, "one-cycle.mjs");
  writeFileSync(
    script,
    `const net = await import(${JSON.stringify(pathToFileURL(path.join(bundleDirectory, "network.js")).href)});
const request = JSON.parse(process.argv[2]);
await net.createSandbox(request.sandbox, request.endpoints);
await net.destroySandbox(request.sandbox);
process.stdout.write(String(net.spawnCount()));`,
  );
  const traced = traceProcesses("one-cycle", [process.execPath, script, JSON.stringify(request)]);
  return `strace -f of one create + destroy in a child process: ${traced.processes - 1} processes besides node (${traced.programs}), spawnCount() ${traced.stdout.trim()}; ${traced.forking.length === 0 ? "none of them forks further" : `forking further: ${traced.forking.join(", ")}`}`;
}

async function setup(record) {
  const pool = record.ipam.config[0];
  const prefix = Number(pool.subnet.split("/")[1]);
  const containerIp = net.allocateAddress({ subnet: pool.subnet, reserved: new Set([pool.gateway]) });
  const sandboxDirectory = path.join(paths.runRoot, "netns");
  mkdirSync(sandboxDirectory, { recursive: true });
  const sandbox = path.join(sandboxDirectory, `bench-${randomBytes(4).toString("hex")}`);
  const hostIfName = `vb${randomBytes(5).toString("hex")}00`;
  made.sandboxes.add(sandbox);
  made.hostLinks.add(hostIfName);
  const endpoint = {
    driver: "bridge",
    ifName: "eth0",
    hostIfName,
    bridge: record.bridge,
    addresses: [`${containerIp}/${prefix}`],
    gateways: [pool.gateway],
    mac: net.macAddressFor(containerIp),
  };
  const publishedPort = await freePort();
  const rules = (ports) => ({ id: record.id, bridge: record.bridge, subnets: record.ipam.config.map((entry) => entry.subnet), internal: false, masquerade: true, ports });
  const port = { hostIp: "127.0.0.1", hostPort: publishedPort, containerIp, containerPort: 80, protocol: "tcp" };

  // The bridge exists (the engine made it with the network); ensureBridge again is what setup costs when it does.
  let spawnsBefore = net.spawnCount();
  const ensure = performance.now();
  await net.ensureBridge({ name: record.bridge, addresses: record.ipam.config.map((entry) => `${entry.gateway}/${entry.subnet.split("/")[1]}`), routeLocalnet: true });
  const ensureMs = performance.now() - ensure;
  const ensureSpawns = net.spawnCount() - spawnsBefore;

  let vethLingered = 0;
  let released = 0; // cycles after which a released veth (vbdel…) still awaited the kernel's reaper
  const cycles = {
    "createSandbox + destroySandbox": async () => {
      const t0 = performance.now();
      await net.createSandbox(sandbox, [endpoint]);
      const t1 = performance.now();
      await net.destroySandbox(sandbox);
      const destroy = performance.now() - t1;
      if (existsSync(`/sys/class/net/${hostIfName}`)) vethLingered++;
      if (linkNames().some((name) => name.startsWith("vbdel"))) released++;
      return { create: t1 - t0, destroy };
    },
    "… + one published port (rules applied, then withdrawn)": async () => {
      const t0 = performance.now();
      await net.createSandbox(sandbox, [endpoint]);
      await net.applyNetworkRules(rules([port]));
      const t1 = performance.now();
      await net.destroySandbox(sandbox);
      if (existsSync(`/sys/class/net/${hostIfName}`)) vethLingered++;
      if (linkNames().some((name) => name.startsWith("vbdel"))) released++;
      await net.applyNetworkRules(rules([]));
      return { create: t1 - t0, destroy: performance.now() - t1 };
    },
  };
  const names = Object.keys(cycles);
  const timings = Object.fromEntries(names.map((name) => [name, { total: [], create: [], destroy: [], spawns: [] }]));
  const one = async (name, keep) => {
    checkInterrupted();
    const before = net.spawnCount();
    const { create, destroy } = await cycles[name]();
    if (!keep) return;
    timings[name].total.push(create + destroy);
    timings[name].create.push(create);
    timings[name].destroy.push(destroy);
    timings[name].spawns.push(net.spawnCount() - before);
  };
  for (const name of names) await one(name, false); // warm caches; not counted
  for (let round = 0; round < setups; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) await one(name, true);
  }
  const processTree = straceOneCycle(path.join(base, "bundle"), { sandbox, endpoints: [endpoint] });

  console.log("");
  console.log(`2. setup: one container's network plumbing with src/network's API (veth on bridge ${record.bridge}, netns at <run>/netns/…), ${setups} interleaved cycles each`);
  console.log(`ensureBridge on the existing bridge: ${formatMs(ensureMs)}, ${ensureSpawns} spawns`);
  const width = Math.max(...names.map((name) => name.length)) + 2;
  for (const name of names) {
    const t = timings[name];
    const spawns = [...new Set(t.spawns)].sort((a, b) => a - b).join("/");
    console.log(
      `${name.padEnd(width)}median ${formatMs(median(t.total)).padStart(9)} (create ${formatMs(median(t.create))}, teardown ${formatMs(median(t.destroy))})   min ${formatMs(Math.min(...t.total))}   max ${formatMs(Math.max(...t.total))}   spawns per container ${spawns}`,
    );
  }
  console.log(processTree);
  console.log(
    `right after destroySandbox returned: the host-side veth's name still taken in ${vethLingered} of ${2 * (setups + 1)} cycles; a released veth (vbdel…) awaiting the kernel's reaper in ${released}`,
  );
  const plain = timings[names[0]];
  console.log(`targets: at most 15 ms (median ${formatMs(median(plain.total))}: ${median(plain.total) <= 15 ? "met" : "NOT met"}), at most 4 spawns (${Math.max(...plain.spawns)}: ${Math.max(...plain.spawns) <= 4 ? "met" : "NOT met"})`);
  results.setup = { plain: median(plain.total), withPort: median(timings[names[1]].total), spawns: Math.max(...plain.spawns), spawnsWithPort: Math.max(...timings[names[1]].spawns), processTree };
}

// ---------------------------------------------------------------------------------------------
// 3. Run: a container end to end on a network with a published port, beside none and the default.

async function runContainers() {
  const docker = dockerWithImage({ berth, image, archive: path.join(base, "image.tar"), work: base });
  made.docker = docker;
  if (docker.reachable) made.dockerImage = image;
  // Docker's side of `--network NAME -p 80`: a user bridge network of its own (a private dockerd
  // has no default bridge; made without iptables, its ports go through docker-proxy).
  const dockerNetwork = docker.reachable && spawnSync("docker", ["network", "create", "berthbench"], { encoding: "utf8" }).status === 0 ? "berthbench" : undefined;
  if (dockerNetwork !== undefined) made.dockerNetwork = dockerNetwork;
  const run = (args) => berth(["container", "run", "--rm", ...args, image, "true"]);
  const contenders = {
    "node -e 0": () => spawnSync(process.execPath, ["-e", "0"], { encoding: "utf8" }),
    "berth run --rm --network none": () => run(["--network", "none"]),
    "berth run --rm (default network)": () => run([]),
    [`berth run --rm --network ${networkName} -p 80`]: () => run(["--network", networkName, "-p", "80"]),
    ...(docker.reachable ? { "docker run --rm -p 80": () => spawnSync("docker", ["run", "--rm", ...(dockerNetwork === undefined ? [] : ["--network", dockerNetwork]), "-p", "80", image, "true"], { encoding: "utf8" }) } : {}),
  };
  const time = (name) => {
    checkInterrupted();
    const { result, milliseconds } = measure(contenders[name]);
    if (result.status !== 0) throw new Error(`${name} failed (exit status ${result.status}):\n${result.stderr ?? ""}`);
    return milliseconds;
  };
  const names = Object.keys(contenders);
  for (const name of names) time(name); // warm caches; not counted
  const timings = timeInterleaved(names, runs, time);
  console.log("");
  console.log(`3. run: IMAGE true end to end, ${runs} interleaved runs each`);
  printTimings(timings);
  const [nodeMs, noneMs, defaultMs, publishedMs] = names.slice(0, 4).map((name) => median(timings[name]));
  console.log(`network + -p vs --network none: +${formatMs(publishedMs - noneMs)}; default network vs none: +${formatMs(defaultMs - noneMs)}; network + -p vs node -e 0: +${formatMs(publishedMs - nodeMs)}`);
  if (docker.reachable) {
    console.log(`docker: ${docker.note}; its run: --network ${dockerNetwork ?? "(default)"} -p 80`);
    console.log(`berth / docker run --rm -p 80: ${(publishedMs / median(timings["docker run --rm -p 80"])).toFixed(2)}x`);
  } else {
    console.log(`docker: no Docker daemon reachable (docker info: ${docker.why}), docker run --rm -p 80 not measured`);
  }
  if (straceInstalled) {
    const traced = traceProcesses("one-run", [process.execPath, "--", berthCli, "container", "run", "--rm", "--network", networkName, "-p", "80", image, "true"], { env });
    console.log(`strace -f of one \`berth container run --rm --network ${networkName} -p 80 IMAGE true\`: ${traced.processes} processes; exec'd: ${traced.programs}; forking further: ${traced.forking.join(", ") || "none"}`);
  }
  results.run = { nodeMs, noneMs, defaultMs, publishedMs };
}

function summary() {
  const { dataPath: d, setup: s, run: r } = results;
  console.log("");
  console.log(`summary (node ${process.version}, kernel ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}, ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores):`);
  console.log(`  data path: published ${formatRate(d.published)}, direct ${formatRate(d.direct)}, host process ${formatRate(d.host)}; published/direct ${d.ratio.toFixed(2)} (round by round ${d.paired.toFixed(2)}; target >= 0.95: ${d.ratio >= 0.95 ? "met" : "NOT met"})`);
  if (results.dataPathLargeReads !== undefined) console.log(`  data path with 1 MiB reads: published/direct ${results.dataPathLargeReads.toFixed(2)}`);
  console.log(`  setup: ${formatMs(s.plain)} and ${s.spawns} spawns per container (targets <= 15 ms: ${s.plain <= 15 ? "met" : "NOT met"}, <= 4 spawns: ${s.spawns <= 4 ? "met" : "NOT met"}); with a published port ${formatMs(s.withPort)}, ${s.spawnsWithPort} spawns`);
  console.log(`  run: -p ${formatMs(r.publishedMs)}, default ${formatMs(r.defaultMs)}, none ${formatMs(r.noneMs)}, node -e 0 ${formatMs(r.nodeMs)}`);
}

// ---------------------------------------------------------------------------------------------

const results = {};
let ok = false;
try {
  buildBerth();
  snapshotCli();
  const bundleDirectory = await bundleEngine(path.join(base, "bundle"));
  net = await import(pathToFileURL(path.join(bundleDirectory, "network.js")).href);
  runtime = await import(pathToFileURL(path.join(bundleDirectory, "runtime.js")).href);
  engine = runtime.createEngine({ paths });

  const loaded = berth(["image", "load", "-i", writeBusyboxImage(base, { name: image, directories: ["www"], config: { ExposedPorts: { "80/tcp": {} } } })]);
  if (loaded.status !== 0) throw new Error(`berth image load failed:\n${loaded.stderr}`);

  // The networks, through the engine (the same call `berth network create` makes).
  const network = await engine.networks.find((await engine.networks.create({ name: networkName })).Id);
  const setupNetwork = await engine.networks.find((await engine.networks.create({ name: setupNetworkName })).Id);
  for (const record of [network, setupNetwork]) {
    made.networkIds.add(record.id);
    made.bridges.add(record.bridge);
  }

  await dataPath();
  checkInterrupted();
  await setup(setupNetwork);
  checkInterrupted();
  await runContainers();
  summary();
  ok = true;
} catch (error) {
  console.error(`\nbench/network.mjs failed: ${error.stack ?? error}`);
} finally {
  const clean = await cleanup();
  process.exitCode = ok && clean ? 0 : 1;
}

