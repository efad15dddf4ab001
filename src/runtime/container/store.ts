// Where a container's files live and how its record is read, found and listed.
//
//   <state>/containers/<id>/container.json  the record: create spec, resolved config, name, mounts, layers
//                           state.json      what the engine last saw (started/finished/exit code), survives reboots
//                           config.json     OCI runtime config     shim.json  the shim's instructions
//                           hostname hosts resolv.conf             bound into the container
//                           upper/ work/ merged/                   the overlay
//                           <id>-json.log[.N]                      the log (written by the shim)
//   <state>/containers/.creating-<id>-<pid>/ a create in progress (renamed into place when complete)
//   <state>/locks/container-<id>.lock       per-container lock; container-names.lock for names
//   <run>/containers/<id>/                  shim.pid status.json health.json stdin stop-timeout (per boot)

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import type { PortRequest, ResolvedAttachment } from "../network/index.js";
import type { RuntimePaths } from "../state.js";
import type { ShimStatusFile, HealthFile, PersistedState } from "./status.js";
import type { ContainerPaths } from "./shim-config.js";
import type { ContainerCreateSpec, ResolvedConfig, ResolvedMount } from "./spec.js";

export const StoreErrorCode = {
  notFound: "E_CONTAINER_NOT_FOUND",
  ambiguous: "E_CONTAINER_AMBIGUOUS",
  nameInUse: "E_CONTAINER_NAME_IN_USE",
  corrupt: "E_RUNTIME_STATE_FILE",
} as const;

export interface ContainerRecord {
  readonly version: 1;
  readonly id: string;
  readonly name: string;
  /** RFC 3339 with nanoseconds. */
  readonly created: string;
  readonly image: { readonly reference: string; readonly id: string };
  readonly spec: ContainerCreateSpec;
  readonly config: ResolvedConfig;
  readonly mounts: readonly ResolvedMount[];
  /** Image layers, bottom first. */
  readonly layerPaths: readonly string[];
  /** Networks in interface order (absent: none, host, container: modes, or records from before networks). */
  readonly networks?: readonly ResolvedAttachment[];
  /** Published ports, expanded from `-p`/`-P`, decided at create. */
  readonly ports?: readonly PortRequest[];
}

export interface ContainerFiles extends ContainerPaths {
  readonly record: string;
  readonly state: string;
  readonly ociConfig: string;
  readonly shimConfig: string;
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
  readonly lock: string;
  readonly shimPid: string;
  readonly status: string;
  readonly health: string;
  readonly stdin: string;
  readonly stopTimeout: string;
  /** The shim resolver's instructions (containers on bridge networks). */
  readonly dnsConfig: string;
  /** Marker written while a start is in flight (recovery after the CLI is killed). */
  readonly starting: string;
}

export const containersDirectory = (paths: RuntimePaths): string => `${paths.stateRoot}/containers`;
export const namesLockFile = (paths: RuntimePaths): string => path.join(paths.stateRoot, "locks", "container-names.lock");
export const creatingPrefix = ".creating-";

export function containerFiles(paths: RuntimePaths, id: string, bundle = `${containersDirectory(paths)}/${id}`): ContainerFiles {
  // Plain concatenation: the roots are resolved paths and `bundle` a joined one, and this runs
  // for every lookup of a container (path.join normalizes each of 22 paths, in the interpreter
  // on a command's single run).
  const runDir = `${paths.runRoot}/containers/${id}`;
  return {
    bundle,
    runDir,
    upper: `${bundle}/upper`,
    work: `${bundle}/work`,
    merged: `${bundle}/merged`,
    log: `${bundle}/${id}-json.log`,
    record: `${bundle}/container.json`,
    state: `${bundle}/state.json`,
    ociConfig: `${bundle}/config.json`,
    shimConfig: `${bundle}/shim.json`,
    hostname: `${bundle}/hostname`,
    hosts: `${bundle}/hosts`,
    resolvConf: `${bundle}/resolv.conf`,
    lock: `${paths.stateRoot}/locks/container-${id}.lock`,
    shimPid: `${runDir}/shim.pid`,
    status: `${runDir}/status.json`,
    health: `${runDir}/health.json`,
    stdin: `${runDir}/stdin`,
    stopTimeout: `${runDir}/stop-timeout`,
    starting: `${runDir}/starting`,
    dnsConfig: `${runDir}/dns.json`,
  };
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw new BerthError(StoreErrorCode.corrupt, `read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    // A shim mid-rewrite never leaves a torn file (rename), so this is real corruption.
    throw new BerthError(StoreErrorCode.corrupt, `${file}: corrupt state file: ${(error as Error).message}`, { cause: error });
  }
}

export const readRecord = (files: ContainerFiles): ContainerRecord | undefined => readJson<ContainerRecord>(files.record);
export const readPersistedState = (files: ContainerFiles): PersistedState | undefined => readJson<PersistedState>(files.state);
export const readStatusFile = (files: ContainerFiles): ShimStatusFile | undefined => readJson<ShimStatusFile>(files.status);
export const readHealthFile = (files: ContainerFiles): HealthFile | undefined => readJson<HealthFile>(files.health);

export function readShimPid(files: ContainerFiles): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(files.shimPid, "utf8"), 10);
    return Number.isNaN(pid) ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** Ids of complete containers (directories holding container.json), in no particular order. */
export function listContainerIds(paths: RuntimePaths): string[] {
  try {
    return readdirSync(containersDirectory(paths)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export function listRecords(paths: RuntimePaths): ContainerRecord[] {
  const records: ContainerRecord[] = [];
  for (const id of listContainerIds(paths)) {
    const record = readRecord(containerFiles(paths, id));
    if (record !== undefined) records.push(record);
  }
  return records;
}

/**
 * Docker's lookup: a full id, then an exact name (with or without the leading `/`), then a
 * unique id prefix. `No such container: x` otherwise.
 */
export function findRecord(paths: RuntimePaths, reference: string): ContainerRecord {
  if (/^[0-9a-f]{64}$/.test(reference)) {
    const record = readRecord(containerFiles(paths, reference));
    if (record !== undefined) return record;
  }
  const name = reference.replace(/^\//, "");
  const records = listRecords(paths);
  const byName = records.find((record) => record.name === name);
  if (byName !== undefined) return byName;
  if (/^[0-9a-f]+$/.test(reference)) {
    const matches = records.filter((record) => record.id.startsWith(reference));
    if (matches.length === 1 && matches[0] !== undefined) return matches[0];
    if (matches.length > 1) throw new BerthError(StoreErrorCode.ambiguous, `multiple IDs found with provided prefix: ${reference}`);
  }
  throw new BerthError(StoreErrorCode.notFound, `No such container: ${reference}`);
}
