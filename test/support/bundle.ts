// OCI bundles for shim tests, and the helpers that run `berth-shim start` the way the
// engine does (ready pipe on fd 3, stdio on /dev/null) and always clean up after it:
// every mount, cgroup and process a bundle's container could have created is removed
// by `cleanupBundle`, and `findLeaks` proves it. Not a test file itself (no `.test.ts`).

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { rootfsSkipReason } from "./rootfs.js";

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const shimBinary = path.join(repositoryRoot, "native", "build", "berth-shim");

/** Why shim tests cannot run here, or undefined when they can. */
export function shimSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "shim tests need root (namespaces, mounts, cgroups)";
  if (!existsSync(shimBinary)) return `${shimBinary} is missing: run \`make -C native\``;
  return rootfsSkipReason();
}

// ---- the OCI spec ----

/** Docker's default capability set. */
export const dockerDefaultCapabilities = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
] as const;

export const dockerMaskedPaths = [
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];
export const dockerReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** The parts of the OCI runtime spec these tests write (the shim reads more). */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    resources: {
      devices: OciDeviceRule[];
      memory?: { limit?: number; swap?: number; reservation?: number };
      cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
      pids?: { limit: number };
    };
    sysctl?: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface HealthcheckJson {
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

export interface ShimJson {
  id: string;
  bundle: string;
  runDir: string;
  rootfs: { lowerdirs: string[]; upperdir?: string; workdir?: string; target?: string; volatile?: boolean };
  log: { path: string; maxSize: number; maxFiles: number };
  stdin: boolean;
  stdinOnce?: boolean;
  restart: { policy: "no" | "always" | "on-failure" | "unless-stopped"; maxRetries: number };
  stop: { signal: number; timeoutSeconds: number };
  init: boolean;
  healthcheck: HealthcheckJson | null;
}

/** Docker's default mounts, as `docker run` writes them into config.json. */
export function dockerDefaultMounts(): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"] },
  ];
}

/** Docker's default device cgroup rules. */
export function dockerDeviceRules(): OciDeviceRule[] {
  return [
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
    { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
    { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
    { allow: false, type: "c", major: 10, minor: 229, access: "rwm" },
    { allow: true, type: "c", access: "m" },
    { allow: true, type: "b", access: "m" },
    { allow: true, type: "c", major: 136, access: "rwm" },
    { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
    { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
  ];
}

export const defaultEnv = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=berth-test", "HOME=/root"];

export function defaultSpec(rootPath: string, args: string[], containerId: string): OciSpec {
  const capabilities = [...dockerDefaultCapabilities];
  return {
    ociVersion: "1.1.0",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: [...defaultEnv],
      cwd: "/",
      capabilities: { bounding: [...capabilities], effective: [...capabilities], permitted: [...capabilities], inheritable: [], ambient: [] },
      // Lowering is always allowed; raising needs CAP_SYS_RESOURCE, which some CI sandboxes lack.
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 4096, soft: 1024 }],
      noNewPrivileges: false,
    },
    root: { path: rootPath, readonly: false },
    hostname: "berth-test",
    mounts: dockerDefaultMounts(),
    linux: {
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }, { type: "network" }],
      cgroupsPath: `/berth/${containerId}`,
      resources: { devices: dockerDeviceRules() },
      maskedPaths: [...dockerMaskedPaths],
      readonlyPaths: [...dockerReadonlyPaths],
    },
  };
}

// ---- a throwaway state root per test file ----

export interface TestRoots {
  readonly base: string;
  readonly stateRoot: string;
  readonly runRoot: string;
}

export function makeTestRoots(prefix = "berth-shim-test-"): TestRoots {
  const base = mkdtempSync(path.join(tmpdir(), prefix));
  const stateRoot = path.join(base, "state");
  const runRoot = path.join(base, "run");
  mkdirSync(stateRoot, { recursive: true });
  mkdirSync(runRoot, { recursive: true });
  return { base, stateRoot, runRoot };
}

/** Remove the roots; refuses (throws) while anything is still mounted below them. */
export function removeTestRoots(roots: TestRoots): void {
  const mounted = mountsBelow(roots.base);
  if (mounted.length > 0) throw new Error(`still mounted below ${roots.base}: ${mounted.join(", ")}`);
  rmSync(roots.base, { recursive: true, force: true });
}

// ---- bundles ----

export interface BundleOptions {
  /** The image root: overlay lowerdir, or the root itself when overlay is false. */
  readonly rootfs: string;
  readonly args: string[];
  /** Mount an overlay (the shim does it) with rootfs as the only lower layer. Default true. */
  readonly overlay?: boolean;
  readonly spec?: (spec: OciSpec) => void;
  readonly shim?: (shim: ShimJson) => void;
}

export interface Bundle {
  readonly id: string;
  readonly dir: string;
  readonly runDir: string;
  readonly logPath: string;
  readonly rootPath: string;
  readonly spec: OciSpec;
  readonly shimJson: ShimJson;
  /** Set by startShim. */
  shimPid?: number;
  containerPid?: number;
}

/** Every bundle this process created, for sweepBundles(). */
const createdBundles: Bundle[] = [];

export function createBundle(roots: TestRoots, options: BundleOptions): Bundle {
  const id = randomBytes(32).toString("hex");
  const dir = path.join(roots.stateRoot, "containers", id);
  const runDir = path.join(roots.runRoot, "containers", id);
  mkdirSync(dir, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const overlay = options.overlay ?? true;
  const rootPath = overlay ? path.join(dir, "merged") : options.rootfs;
  const logPath = path.join(dir, `${id}-json.log`);
  const spec = defaultSpec(rootPath, options.args, id);
  const shimJson: ShimJson = {
    id,
    bundle: dir,
    runDir,
    rootfs: overlay
      ? { lowerdirs: [options.rootfs], upperdir: path.join(dir, "upper"), workdir: path.join(dir, "work"), target: rootPath }
      : { lowerdirs: [] },
    log: { path: logPath, maxSize: 0, maxFiles: 1 },
    stdin: false,
    restart: { policy: "no", maxRetries: 0 },
    stop: { signal: 15, timeoutSeconds: 10 },
    init: false,
    healthcheck: null,
  };
  if (overlay) {
    for (const sub of ["upper", "work", "merged"]) mkdirSync(path.join(dir, sub), { recursive: true });
  }
  options.spec?.(spec);
  options.shim?.(shimJson);
  writeBundleFiles({ dir, spec, shimJson });
  const bundle: Bundle = { id, dir, runDir, logPath, rootPath, spec, shimJson };
  createdBundles.push(bundle);
  return bundle;
}

export function writeBundleFiles(bundle: Pick<Bundle, "dir" | "spec" | "shimJson">): void {
  writeFileSync(path.join(bundle.dir, "config.json"), `${JSON.stringify(bundle.spec, null, 2)}\n`);
  writeFileSync(path.join(bundle.dir, "shim.json"), `${JSON.stringify(bundle.shimJson, null, 2)}\n`);
}

export type StartResult =
  | { readonly ok: true; readonly containerPid: number; readonly shimPid: number | undefined; readonly line: string; readonly exitCode: number | null }
  | { readonly ok: false; readonly code: number; readonly message: string; readonly line: string; readonly exitCode: number | null };

/** `berth-shim start <bundle>` with the ready pipe on fd 3, as the engine spawns it. */
export interface StartOptions {
  readonly timeoutMs?: number;
  /** Run the shim through this command line (e.g. in a prepared mount namespace): gets the shim's argv. */
  readonly launcher?: (argv: string[]) => string[];
}

export async function startShim(bundle: Bundle, options: StartOptions = {}): Promise<StartResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const argv = options.launcher ? options.launcher([shimBinary, "start", bundle.dir]) : [shimBinary, "start", bundle.dir];
  const [command, ...args] = argv;
  if (!command) throw new Error("empty launcher command");
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "ignore", "pipe"] });
  const ready = child.stdio[3] as Readable | null;
  if (!ready) throw new Error("no ready pipe");
  let text = "";
  ready.setEncoding("utf8");
  ready.on("data", (chunk: string) => {
    text += chunk;
  });
  const ended = new Promise<void>((resolve) => ready.on("close", () => resolve()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [, exitCode] = await Promise.all([ended, exited]);
  clearTimeout(timer);
  const line = text.trimEnd();
  const ok = /^ok (\d+)$/.exec(line);
  if (ok?.[1]) {
    const containerPid = Number(ok[1]);
    bundle.containerPid = containerPid;
    // A command that exits at once can let the shim finish, and remove shim.pid, before
    // this reads it: then there is no shim left to know about.
    let shimPid: number | undefined;
    try {
      shimPid = Number(readFileSync(path.join(bundle.runDir, "shim.pid"), "utf8").trim());
      bundle.shimPid = shimPid;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    return { ok: true, containerPid, shimPid, line, exitCode };
  }
  const failed = /^error (\d+) (.*)$/s.exec(line);
  return { ok: false, code: failed?.[1] ? Number(failed[1]) : -1, message: failed?.[2] ?? line, line, exitCode };
}

export async function startShimOk(bundle: Bundle, options: StartOptions = {}): Promise<{ containerPid: number; shimPid: number | undefined }> {
  const result = await startShim(bundle, options);
  if (!result.ok) throw new Error(`berth-shim start failed: ${result.line}`);
  return { containerPid: result.containerPid, shimPid: result.shimPid };
}

// ---- state ----

export interface ShimStatus {
  status: "running" | "restarting" | "exited";
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string | null;
  restartCount: number;
  error: string | null;
}

export interface HealthState {
  status: "starting" | "healthy" | "unhealthy";
  failingStreak: number;
  log: { start: string; end: string; exitCode: number; output: string }[];
}

export interface LogEntry {
  log: string;
  stream: "stdout" | "stderr";
  time: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export function readStatus(bundle: Bundle): ShimStatus | undefined {
  return readJson<ShimStatus>(path.join(bundle.runDir, "status.json"));
}

export function readHealth(bundle: Bundle): HealthState | undefined {
  return readJson<HealthState>(path.join(bundle.runDir, "health.json"));
}

export function readLogFile(file: string): LogEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as LogEntry);
}

export function readLog(bundle: Bundle): LogEntry[] {
  return readLogFile(bundle.logPath);
}

export function streamText(bundle: Bundle, stream: "stdout" | "stderr"): string {
  return readLog(bundle)
    .filter((entry) => entry.stream === stream)
    .map((entry) => entry.log)
    .join("");
}

/** Poll `check` until it returns a value other than undefined/false, or fail after timeoutMs. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await sleep(20);
  }
}

/** Whether pid is a live process (zombies count as gone). */
export function processAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Wait until the shim has exited for good (status.json final, shim.pid removed, process gone). */
export async function waitForShimExit(bundle: Bundle, timeoutMs = 15_000): Promise<ShimStatus> {
  return eventually(
    () => {
      const status = readStatus(bundle);
      if (status?.status !== "exited") return undefined;
      if (existsSync(path.join(bundle.runDir, "shim.pid"))) return undefined;
      if (processAlive(bundle.shimPid)) return undefined;
      return status;
    },
    timeoutMs,
    "the shim to exit",
  );
}

/** SIGTERM to the shim (stop), then wait for it to finish. */
export async function stopShim(bundle: Bundle, timeoutMs = 20_000): Promise<ShimStatus> {
  if (bundle.shimPid && processAlive(bundle.shimPid)) process.kill(bundle.shimPid, "SIGTERM");
  return waitForShimExit(bundle, timeoutMs);
}

// ---- kernel objects, leaks and cleanup ----

function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function mountsBelow(prefix: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((target): target is string => target !== undefined)
    .map(unescapeMountinfo)
    .filter((target) => target === prefix || target.startsWith(`${prefix}/`));
}

/** Mount points of every cgroup hierarchy (v1 controllers, named, and cgroup2). */
export function cgroupMountpoints(): string[] {
  const seen = new Set<string>();
  const points: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const separator = line.indexOf(" - ");
    if (separator < 0) continue;
    const fstype = line.slice(separator + 3).split(" ")[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const fields = line.split(" ");
    const device = fields[2];
    const target = fields[4];
    if (!device || !target || seen.has(device)) continue;
    seen.add(device);
    points.push(unescapeMountinfo(target));
  }
  return points;
}

export function cgroupDirectories(bundle: Bundle): string[] {
  return cgroupMountpoints()
    .map((point) => path.join(point, bundle.spec.linux.cgroupsPath))
    .filter((directory) => existsSync(directory));
}

/** Host pids whose cgroup is the bundle's. */
export function processesInCgroup(bundle: Bundle): number[] {
  const wanted = bundle.spec.linux.cgroupsPath;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const lines = readFileSync(`/proc/${entry}/cgroup`, "utf8").split("\n");
      if (lines.some((line) => line.split(":").slice(2).join(":") === wanted) && processAlive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export interface Leaks {
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly processes: number[];
}

export function findLeaks(bundle: Bundle): Leaks {
  const processes = [bundle.shimPid, bundle.containerPid].filter((pid): pid is number => processAlive(pid));
  for (const pid of processesInCgroup(bundle)) if (!processes.includes(pid)) processes.push(pid);
  return { mounts: mountsBelow(bundle.dir), cgroups: cgroupDirectories(bundle), processes };
}

export const noLeaks: Leaks = { mounts: [], cgroups: [], processes: [] };

/** Remove everything the bundle's shim and container could have left: always safe to call. */
export async function cleanupBundle(bundle: Bundle): Promise<void> {
  for (const pid of [bundle.shimPid, bundle.containerPid, ...processesInCgroup(bundle)]) {
    if (pid && processAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const left = [bundle.shimPid, bundle.containerPid].filter((pid) => processAlive(pid));
    if (left.length === 0) break;
    await sleep(10);
  }
  for (const directory of cgroupDirectories(bundle)) {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        rmdirSync(directory);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
        try {
          for (const pid of readFileSync(path.join(directory, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
        } catch {
          // empty or gone
        }
        await sleep(10);
      }
    }
  }
  for (const target of mountsBelow(bundle.dir).reverse()) {
    if (spawnSync("umount", [target]).status !== 0) spawnSync("umount", ["-l", target]);
  }
}

/** Run `body` with a fresh bundle; always clean up, and fail if anything leaked. */
export async function withBundle<T>(roots: TestRoots, options: BundleOptions, body: (bundle: Bundle) => Promise<T>): Promise<T> {
  const bundle = createBundle(roots, options);
  let leaks: Leaks | undefined;
  try {
    const result = await body(bundle);
    leaks = await eventually(() => {
      const found = findLeaks(bundle);
      return found.mounts.length + found.cgroups.length + found.processes.length === 0 ? found : undefined;
    }, 5_000, `no leaks of ${bundle.id.slice(0, 12)}`).catch(() => findLeaks(bundle));
    return result;
  } finally {
    await cleanupBundle(bundle);
    if (leaks && leaks.mounts.length + leaks.cgroups.length + leaks.processes.length > 0) {
      throw new Error(`leaked after the test: ${JSON.stringify(leaks)}`);
    }
  }
}

/** Run the probe's JSON output (one line) from a log. */
export function probeOutput<T = ProbeReport>(bundle: Bundle): T {
  return JSON.parse(streamText(bundle, "stdout")) as T;
}

export interface ProbeMount {
  target: string;
  fstype: string;
  source: string;
  options: string;
  superOptions: string;
}

export interface ProbeReport {
  pid: number;
  ppid: number;
  hostname: string;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  groups: number[];
  cwd: string;
  env: string[];
  noNewPrivs: number;
  umask: string;
  capabilities: Record<"CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb" | "NoNewPrivs" | "Seccomp", string>;
  mounts: ProbeMount[];
  cgroup: Record<string, string | null>;
  rlimits: Record<string, [number, number]>;
  rawSocket: string;
}

/** Capability bit mask (as /proc/self/status prints it, 16 hex digits) of a set of names. */
export function capabilityMask(names: readonly string[]): string {
  const numbers: Record<string, number> = {
    CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
    CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11,
    CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17,
    CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23,
    CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29,
    CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31,
  };
  let mask = 0n;
  for (const name of names) {
    const bit = numbers[name];
    if (bit === undefined) throw new Error(`unknown capability ${name}`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, "0");
}

/**
 * The global teardown of a test file: whatever any bundle of this process left behind
 * is reported, then removed. Returns the leaks found before the sweep.
 */
export async function sweepBundles(): Promise<{ id: string; leaks: Leaks }[]> {
  const leaked: { id: string; leaks: Leaks }[] = [];
  for (const bundle of createdBundles.splice(0)) {
    const leaks = findLeaks(bundle);
    if (leaks.mounts.length + leaks.cgroups.length + leaks.processes.length > 0) leaked.push({ id: bundle.id, leaks });
    await cleanupBundle(bundle);
  }
  return leaked;
}
