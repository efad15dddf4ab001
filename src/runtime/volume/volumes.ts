// Named and anonymous volumes with Docker's `local` driver: `<state>/volumes/<name>/_data` plus
// `volume.json` (labels, options, created). Created atomically (a temporary directory renamed
// into place, so a crash leaves no half volume), kept until removed, refused removal while a
// container uses them. Anonymous volumes carry Docker's `com.docker.volume.anonymous` label.

import { mkdirSync, readdirSync, renameSync, rmSync, statSync, lstatSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { randomBytes } from "../random.js";
import { processAlive, readJsonFile, withLock, writeJsonAtomic, type RuntimePaths } from "../state.js";

export const VolumeErrorCode = {
  notFound: "E_VOLUME_NOT_FOUND",
  inUse: "E_VOLUME_IN_USE",
  invalid: "E_VOLUME_INVALID",
  io: "E_VOLUME_IO",
} as const;

export const anonymousVolumeLabel = "com.docker.volume.anonymous";

/** Docker's volume object (inspect, list items). */
export interface VolumeInfo {
  readonly Name: string;
  readonly Driver: "local";
  readonly Mountpoint: string;
  readonly CreatedAt: string;
  readonly Labels: Readonly<Record<string, string>>;
  readonly Scope: "local";
  readonly Options: Readonly<Record<string, string>>;
}

interface VolumeMetadata {
  readonly name: string;
  readonly driver: "local";
  readonly labels: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export interface VolumeCreateOptions {
  readonly name?: string;
  readonly driver?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly driverOpts?: Readonly<Record<string, string>>;
  /** Mark as anonymous (Docker's label; `prune` without `all` removes only these). No name = a random 64-hex one. */
  readonly anonymous?: boolean;
}

export interface VolumeListOptions {
  /** Docker's filters: `dangling`, `driver`, `label`, `name`. */
  readonly filters?: Readonly<Record<string, readonly string[]>>;
}

export interface VolumePruneResult {
  readonly volumesDeleted: readonly string[];
  readonly spaceReclaimed: number;
}

export interface VolumeService {
  /** Get-or-create: an existing volume of that name is returned unchanged (as Docker does). */
  create(options?: VolumeCreateOptions): Promise<VolumeInfo & { readonly created: boolean }>;
  inspect(name: string): Promise<VolumeInfo>;
  list(options?: VolumeListOptions): Promise<VolumeInfo[]>;
  remove(name: string, options?: { readonly force?: boolean }): Promise<void>;
  /** Unused volumes: anonymous ones only, unless `all`. */
  prune(options?: { readonly all?: boolean; readonly filters?: Readonly<Record<string, readonly string[]>> }): Promise<VolumePruneResult>;
  /** The host directory holding a volume's data. */
  dataPath(name: string): string;
  exists(name: string): boolean;
}

export interface VolumeServiceOptions {
  readonly paths: RuntimePaths;
  /** Ids of the containers that mount each volume (for in-use checks and `dangling`). */
  readonly usage: () => ReadonlyMap<string, readonly string[]>;
  readonly clock?: () => Date;
}

const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateVolumeName(name: string): string {
  if (/^[a-zA-Z0-9]$/.test(name)) throw new BerthError(VolumeErrorCode.invalid, "volume name is too short, names should be at least two alphanumeric characters");
  if (!namePattern.test(name)) {
    throw new BerthError(VolumeErrorCode.invalid, `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  }
  return name;
}

export function createVolumeService(options: VolumeServiceOptions): VolumeService {
  const root = path.join(options.paths.stateRoot, "volumes");
  const clock = options.clock ?? (() => new Date());
  const directory = (name: string): string => path.join(root, name);
  const dataPath = (name: string): string => path.join(directory(name), "_data");
  const metadataFile = (name: string): string => path.join(directory(name), "volume.json");
  const lockFile = (name: string): string => path.join(options.paths.stateRoot, "locks", `volume-${name}.lock`);

  const toInfo = (metadata: VolumeMetadata): VolumeInfo => ({
    Name: metadata.name,
    Driver: "local",
    Mountpoint: dataPath(metadata.name),
    CreatedAt: metadata.createdAt,
    Labels: metadata.labels,
    Scope: "local",
    Options: metadata.options,
  });

  const readMetadata = (name: string): VolumeMetadata | undefined => {
    const metadata = readJsonFile<VolumeMetadata>(metadataFile(name));
    if (metadata !== undefined) return metadata;
    // A volume directory without metadata (made by hand, or an older berth): still a volume.
    try {
      if (statSync(dataPath(name)).isDirectory()) {
        return { name, driver: "local", labels: {}, options: {}, createdAt: statSync(directory(name)).birthtime.toISOString() };
      }
    } catch {
      // not a volume
    }
    return undefined;
  };

  const requireMetadata = (name: string): VolumeMetadata => {
    const metadata = readMetadata(name);
    if (metadata === undefined) throw new BerthError(VolumeErrorCode.notFound, `get ${name}: no such volume`);
    return metadata;
  };

  const allNames = (): string[] => {
    try {
      return readdirSync(root).filter((name) => !name.startsWith("."));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  };

  const create: VolumeService["create"] = async (request = {}) => {
    if (request.driver !== undefined && request.driver !== "" && request.driver !== "local") {
      throw new BerthError(VolumeErrorCode.invalid, `error looking up volume plugin ${request.driver}: plugin "${request.driver}" not found`);
    }
    if (request.driverOpts !== undefined && Object.keys(request.driverOpts).length > 0) {
      throw new BerthError(VolumeErrorCode.invalid, "the local driver's options (type, o, device) are not supported by berth yet");
    }
    const anonymous = request.anonymous === true;
    const name = validateVolumeName(request.name === undefined || request.name === "" ? randomBytes(32).toString("hex") : request.name);
    const existing = readMetadata(name);
    if (existing !== undefined) return { ...toInfo(existing), created: false };
    const metadata: VolumeMetadata = {
      name,
      driver: "local",
      labels: { ...(request.labels ?? {}), ...(anonymous ? { [anonymousVolumeLabel]: "" } : {}) },
      options: {},
      createdAt: clock().toISOString().replace(/\.\d+Z$/, "Z"),
    };
    const temporary = path.join(root, `.creating-${name}-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      mkdirSync(path.join(temporary, "_data"), { recursive: true, mode: 0o755 });
      writeJsonAtomic(path.join(temporary, "volume.json"), metadata);
      renameSync(temporary, directory(name));
    } catch (error) {
      rmSync(temporary, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      // Someone else created it meanwhile: theirs stands.
      if (code === "ENOTEMPTY" || code === "EEXIST") return { ...toInfo(requireMetadata(name)), created: false };
      throw new BerthError(VolumeErrorCode.io, `create volume ${name}: ${(error as Error).message}`, { cause: error });
    }
    return { ...toInfo(metadata), created: true };
  };

  const matches = (metadata: VolumeMetadata, filters: Readonly<Record<string, readonly string[]>>, usage: ReadonlyMap<string, readonly string[]>): boolean => {
    for (const [key, values] of Object.entries(filters)) {
      if (values.length === 0) continue;
      switch (key) {
        case "label":
          if (!values.every((value) => labelMatches(metadata.labels, value))) return false;
          break;
        case "name":
          if (!values.some((value) => metadata.name.includes(value) || safeRegExp(value)?.test(metadata.name) === true)) return false;
          break;
        case "driver":
          if (!values.includes(metadata.driver)) return false;
          break;
        case "dangling": {
          const dangling = (usage.get(metadata.name) ?? []).length === 0;
          if (!values.some((value) => truthy(value) === dangling)) return false;
          break;
        }
        case "label!":
          if (values.some((value) => labelMatches(metadata.labels, value))) return false;
          break;
        default:
          throw new BerthError(VolumeErrorCode.invalid, `invalid filter '${key}'`);
      }
    }
    return true;
  };

  const list: VolumeService["list"] = async (request = {}) => {
    const usage = request.filters?.["dangling"] !== undefined ? options.usage() : new Map<string, readonly string[]>();
    const volumes: VolumeInfo[] = [];
    for (const name of allNames().sort()) {
      const metadata = readMetadata(name);
      if (metadata !== undefined && matches(metadata, request.filters ?? {}, usage)) volumes.push(toInfo(metadata));
    }
    return volumes;
  };

  const removeUnlocked = (name: string, force: boolean): void => {
    const metadata = readMetadata(name);
    if (metadata === undefined) {
      if (force) return;
      throw new BerthError(VolumeErrorCode.notFound, `get ${name}: no such volume`);
    }
    const users = options.usage().get(name) ?? [];
    if (users.length > 0) {
      throw new BerthError(VolumeErrorCode.inUse, `remove ${name}: volume is in use - [${users.join(", ")}]`);
    }
    // Rename first so a crash mid-delete leaves a hidden leftover, not a half volume.
    const doomed = path.join(root, `.removing-${name}-${process.pid}`);
    try {
      renameSync(directory(name), doomed);
      rmSync(doomed, { recursive: true, force: true });
    } catch (error) {
      throw new BerthError(VolumeErrorCode.io, `remove volume ${name}: ${(error as Error).message}`, { cause: error });
    }
  };

  const remove: VolumeService["remove"] = async (name, request = {}) => {
    await withLock(lockFile(name), () => removeUnlocked(name, request.force ?? false));
  };

  /** Hidden `.creating-<name>-<pid>-…` / `.removing-<name>-<pid>` directories whose process died (kill -9). */
  const sweepAbandoned = (): void => {
    let entries: string[];
    try {
      entries = readdirSync(root).filter((name) => name.startsWith(".creating-") || name.startsWith(".removing-"));
    } catch {
      return;
    }
    for (const entry of entries) {
      const pid = Number(/-(\d+)(?:-[0-9a-f]+)?$/.exec(entry)?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) rmSync(path.join(root, entry), { recursive: true, force: true });
    }
  };

  const prune: VolumeService["prune"] = async (request = {}) => {
    sweepAbandoned();
    const usage = options.usage();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const name of allNames().sort()) {
      const metadata = readMetadata(name);
      if (metadata === undefined || (usage.get(name) ?? []).length > 0) continue;
      if (!request.all && !(anonymousVolumeLabel in metadata.labels)) continue;
      if (!matches(metadata, request.filters ?? {}, usage)) continue;
      const size = directorySize(dataPath(name));
      try {
        await withLock(lockFile(name), () => removeUnlocked(name, false));
        deleted.push(name);
        reclaimed += size;
      } catch (error) {
        if (!(error instanceof BerthError && error.code === VolumeErrorCode.inUse)) throw error;
      }
    }
    return { volumesDeleted: deleted, spaceReclaimed: reclaimed };
  };

  return {
    create,
    inspect: async (name) => toInfo(requireMetadata(name)),
    list,
    remove,
    prune,
    dataPath,
    exists: (name) => readMetadata(name) !== undefined,
  };
}

export function labelMatches(labels: Readonly<Record<string, string>>, filter: string): boolean {
  const equals = filter.indexOf("=");
  if (equals < 0) return filter in labels;
  return labels[filter.slice(0, equals)] === filter.slice(equals + 1);
}

const truthy = (value: string): boolean => !["", "0", "false", "no", "none"].includes(value.trim().toLowerCase());

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}

/** Bytes used under a directory (apparent sizes of regular files), for prune reports. */
export function directorySize(directory: string): number {
  let total = 0;
  const visit = (current: string): void => {
    let entries;
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile()) {
        try {
          total += lstatSync(full).size;
        } catch {
          // vanished
        }
      }
    }
  };
  visit(directory);
  return total;
}
