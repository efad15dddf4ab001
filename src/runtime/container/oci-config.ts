// The OCI runtime config (config.json) for a container, exactly as Docker would hand it to runc:
// process (args, env, cwd, user, capabilities, rlimits, no_new_privileges, terminal), root,
// hostname, mounts, and linux (namespaces, cgroup resources and path, sysctls, masked and
// read-only paths, devices). Pure: every fact about the host comes in as input.

import { BerthError } from "../../errors.js";
import { containerCapabilities } from "./capabilities.js";
import { defaultShmSize, maskedPaths, memorySwap, readonlyPaths } from "./defaults.js";
import { ociMounts, type NetworkFiles, type OciMount } from "./mounts.js";
import { processEnvironment } from "./resolve.js";
import type { ContainerCreateSpec, ResolvedConfig, ResolvedMount } from "./spec.js";
import type { ProcessUser } from "./users.js";

export const OciConfigErrorCode = "E_CONTAINER_INVALID_CONFIG";


export interface OciDevice {
  readonly path: string;
  readonly type: "c" | "b" | "p";
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: "a" | "c" | "b";
  readonly major?: number;
  readonly minor?: number;
  readonly access: string;
}

/** The devices cgroup allow-list of a non-privileged Docker container (moby + runc defaults). */
export const defaultDeviceRules: readonly OciDeviceRule[] = [
  { allow: false, access: "rwm" },
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
  { allow: true, type: "c", major: 136, access: "rwm" },
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
];

export interface HostFacts {
  /** Which cgroup hierarchy holds the controllers. */
  readonly cgroupVersion: 1 | 2;
  /** memory.memsw (v1) / memory.swap.max (v2) exists. */
  readonly swapAccounting: boolean;
  /** Host devices given to a privileged container. */
  readonly devices: readonly OciDevice[];
  /** Mount a cgroup filesystem at /sys/fs/cgroup (only where the shim supports it). */
  readonly cgroupMount: boolean;
  /** The host's bounding set: what "all capabilities" means (privileged, cap_add ALL). Default: every known one. */
  readonly capabilities?: readonly string[];
}

export interface OciConfigInput {
  readonly id: string;
  readonly spec: ContainerCreateSpec;
  readonly config: ResolvedConfig;
  readonly mounts: readonly ResolvedMount[];
  readonly user: ProcessUser;
  /** The merged overlay directory. */
  readonly rootPath: string;
  readonly networkFiles: NetworkFiles;
  readonly host: HostFacts;
  /** A network namespace to join (berth's sandbox, or another container's); absent = a new empty one. */
  readonly networkNamespace?: string;
}

export interface OciProcess {
  readonly terminal: boolean;
  readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids: readonly number[] };
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly capabilities: { readonly bounding: readonly string[]; readonly effective?: readonly string[]; readonly permitted?: readonly string[] };
  readonly rlimits?: readonly { readonly type: string; readonly hard: number; readonly soft: number }[];
  readonly noNewPrivileges: boolean;
}

export interface OciResources {
  readonly devices: readonly OciDeviceRule[];
  readonly memory?: { readonly limit?: number; readonly swap?: number; readonly reservation?: number };
  readonly cpu?: { readonly shares?: number; readonly quota?: number; readonly period?: number; readonly cpus?: string; readonly mems?: string };
  readonly pids?: { readonly limit: number };
}

export interface OciConfig {
  readonly ociVersion: string;
  readonly process: OciProcess;
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly domainname?: string;
  readonly mounts: readonly OciMount[];
  readonly linux: {
    readonly namespaces: readonly { readonly type: string; readonly path?: string }[];
    readonly resources: OciResources;
    readonly cgroupsPath: string;
    readonly sysctl?: Readonly<Record<string, string>>;
    readonly maskedPaths?: readonly string[];
    readonly readonlyPaths?: readonly string[];
    readonly devices?: readonly OciDevice[];
  };
}

export const cgroupsPathFor = (id: string): string => `/berth/${id}`;

export function buildOciConfig(input: OciConfigInput): OciConfig {
  const { spec, config, user, host } = input;
  const privileged = spec.privileged ?? false;
  const networkMode = spec.networkMode ?? "default";
  const capabilities = containerCapabilities({ capAdd: spec.capAdd, capDrop: spec.capDrop, privileged, available: host.capabilities });
  const env = processEnvironment(config);
  if (!env.some((entry) => entry.startsWith("HOME="))) env.push(`HOME=${user.home || "/"}`);
  const rlimits = (spec.ulimits ?? []).map((ulimit) => ({ type: rlimitType(ulimit.name), hard: ulimit.hard, soft: ulimit.soft }));
  const sysctls = validateSysctls(spec.sysctls ?? {}, networkMode);
  const namespaces = [
    { type: "mount" },
    ...(networkMode === "host" ? [] : [input.networkNamespace === undefined ? { type: "network" } : { type: "network", path: input.networkNamespace }]),
    { type: "uts" },
    { type: "pid" },
    { type: "ipc" },
    ...(host.cgroupVersion === 2 ? [{ type: "cgroup" }] : []),
  ];
  return {
    ociVersion: "1.1.0",
    process: {
      terminal: config.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: [...user.additionalGids] },
      args: [...config.entrypoint, ...config.cmd],
      env,
      cwd: config.workingDir,
      capabilities: user.uid === 0 ? { bounding: capabilities, effective: capabilities, permitted: capabilities } : { bounding: capabilities },
      ...(rlimits.length > 0 ? { rlimits } : {}),
      noNewPrivileges: noNewPrivileges(spec.securityOpt ?? []),
    },
    root: { path: input.rootPath, readonly: spec.readOnly ?? false },
    hostname: config.hostname,
    ...(config.domainname !== "" ? { domainname: config.domainname } : {}),
    mounts: ociMounts({
      mounts: input.mounts,
      networkFiles: input.networkFiles,
      readOnlyRootfs: spec.readOnly ?? false,
      shmSizeBytes: spec.shmSize !== undefined && spec.shmSize > 0 ? spec.shmSize : defaultShmSize,
      privileged,
      cgroupMount: host.cgroupMount,
    }),
    linux: {
      namespaces,
      resources: buildResources(spec, host, privileged),
      cgroupsPath: cgroupsPathFor(input.id),
      ...(Object.keys(sysctls).length > 0 ? { sysctl: sysctls } : {}),
      ...(privileged ? {} : { maskedPaths: [...maskedPaths], readonlyPaths: [...readonlyPaths] }),
      ...(privileged && host.devices.length > 0 ? { devices: [...host.devices] } : {}),
    },
  };
}

const ulimitNames = new Set(["as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"]);

function rlimitType(name: string): string {
  const lower = name.toLowerCase();
  if (!ulimitNames.has(lower)) throw new BerthError(OciConfigErrorCode, `invalid ulimit type: ${name}`);
  return `RLIMIT_${lower.toUpperCase()}`;
}

/** `no-new-privileges` (also `=true`, `:true`); `seccomp`/`apparmor=unconfined` and `label=disable` are what berth does anyway. */
export function noNewPrivileges(options: readonly string[]): boolean {
  let enabled = false;
  for (const option of options) {
    const [key = "", value] = option.split(/[=:]/, 2);
    if (key === "no-new-privileges") {
      if (value === undefined || value === "true") enabled = true;
      else if (value === "false") enabled = false;
      else throw new BerthError(OciConfigErrorCode, `invalid --security-opt 2: "${option}"`);
    } else if (!((key === "seccomp" || key === "apparmor") && value === "unconfined") && !(key === "label" && value === "disable")) {
      throw new BerthError(OciConfigErrorCode, `invalid --security-opt: "${option}" (berth supports no-new-privileges, seccomp=unconfined, apparmor=unconfined, label=disable)`);
    }
  }
  return enabled;
}

const ipcSysctls = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]);

/** Docker's rule: only namespaced sysctls (IPC, fs.mqueue.*, net.* unless the network is the host's). */
export function validateSysctls(sysctls: Readonly<Record<string, string>>, networkMode: string): Record<string, string> {
  for (const key of Object.keys(sysctls)) {
    if (ipcSysctls.has(key) || key.startsWith("fs.mqueue.") || key === "kernel.domainname") continue;
    if (key.startsWith("net.")) {
      if (networkMode === "host") throw new BerthError(OciConfigErrorCode, `sysctl '${key}' not allowed in host network namespace`);
      continue;
    }
    throw new BerthError(OciConfigErrorCode, `sysctl '${key}' is not allowed`);
  }
  return { ...sysctls };
}

function buildResources(spec: ContainerCreateSpec, host: HostFacts, privileged: boolean): OciResources {
  const resources = spec.resources ?? {};
  const devices: OciDeviceRule[] = privileged ? [{ allow: true, access: "rwm" }] : [...defaultDeviceRules];
  if (resources.nanoCpus !== undefined && resources.nanoCpus > 0 && (resources.cpuQuota !== undefined || resources.cpuPeriod !== undefined)) {
    throw new BerthError(OciConfigErrorCode, "Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set");
  }
  const memory: { limit?: number; swap?: number; reservation?: number } = {};
  if (resources.memory !== undefined && resources.memory > 0) {
    if (resources.memory < 6 * 1024 * 1024) throw new BerthError(OciConfigErrorCode, "Minimum memory limit allowed is 6MB");
    memory.limit = resources.memory;
  }
  const swap = memorySwap(resources);
  if (swap !== undefined && resources.memory !== undefined && swap > 0 && swap < resources.memory) {
    throw new BerthError(OciConfigErrorCode, "Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (swap !== undefined && host.swapAccounting && memory.limit !== undefined) memory.swap = swap;
  if (resources.memoryReservation !== undefined && resources.memoryReservation > 0) memory.reservation = resources.memoryReservation;
  const cpu: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string } = {};
  if (resources.cpuShares !== undefined && resources.cpuShares > 0) cpu.shares = resources.cpuShares;
  if (resources.nanoCpus !== undefined && resources.nanoCpus > 0) {
    cpu.period = 100_000;
    cpu.quota = Math.round((resources.nanoCpus * 100_000) / 1e9);
  }
  if (resources.cpuQuota !== undefined && resources.cpuQuota !== 0) cpu.quota = resources.cpuQuota;
  if (resources.cpuPeriod !== undefined && resources.cpuPeriod !== 0) cpu.period = resources.cpuPeriod;
  if (resources.cpusetCpus !== undefined && resources.cpusetCpus !== "") cpu.cpus = resources.cpusetCpus;
  if (resources.cpusetMems !== undefined && resources.cpusetMems !== "") cpu.mems = resources.cpusetMems;
  return {
    devices,
    ...(Object.keys(memory).length > 0 ? { memory } : {}),
    ...(Object.keys(cpu).length > 0 ? { cpu } : {}),
    ...(resources.pidsLimit !== undefined && resources.pidsLimit > 0 ? { pids: { limit: resources.pidsLimit } } : {}),
  };
}

export { defaultShmSize, maskedPaths, memorySwap, readonlyPaths };
