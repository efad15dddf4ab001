// Mounts: the caller's bind, volume and tmpfs mounts plus the image's VOLUMEs (anonymous volumes)
// resolved to host sources, and then turned into OCI mounts after Docker's defaults, sorted
// parents first. Pure: volume paths and anonymous names come in as functions.

import path from "node:path/posix";
import { BerthError } from "../../errors.js";
import { validateVolumeName } from "../volume/index.js";
import type { MountSpec, ResolvedMount } from "./spec.js";

export const MountErrorCode = "E_CONTAINER_MOUNT";

export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

export interface ResolveMountsInput {
  readonly mounts: readonly MountSpec[];
  /** The image config's `Volumes` keys: each gets an anonymous volume unless a mount covers it. */
  readonly imageVolumes: readonly string[];
  /** Host directory of a volume's data (`<state>/volumes/<name>/_data`). */
  readonly volumeDataPath: (name: string) => string;
  /** A fresh 64-hex name for an anonymous volume. */
  readonly anonymousVolumeName: () => string;
}

function cleanTarget(target: string, type: string): string {
  if (!target.startsWith("/")) {
    throw new BerthError(MountErrorCode, `invalid mount config for type "${type}": invalid mount path: '${target}' mount path must be absolute`);
  }
  const cleaned = path.normalize(target).replace(/(.)\/$/, "$1");
  if (cleaned === "/") throw new BerthError(MountErrorCode, `invalid specification: destination can't be '/'`);
  return cleaned;
}

export function resolveMounts(input: ResolveMountsInput): ResolvedMount[] {
  const resolved: ResolvedMount[] = [];
  const targets = new Set<string>();
  const claim = (target: string): void => {
    if (targets.has(target)) throw new BerthError(MountErrorCode, `Duplicate mount point: ${target}`);
    targets.add(target);
  };
  for (const mount of input.mounts) {
    const destination = cleanTarget(mount.target, mount.type);
    claim(destination);
    switch (mount.type) {
      case "bind": {
        if (!mount.source.startsWith("/")) {
          throw new BerthError(MountErrorCode, `invalid mount config for type "bind": invalid mount path: '${mount.source}' mount path must be absolute`);
        }
        resolved.push({
          type: "bind",
          source: path.normalize(mount.source).replace(/(.)\/$/, "$1"),
          destination,
          readWrite: !(mount.readOnly ?? false),
          propagation: mount.propagation ?? "rprivate",
          mode: mount.readOnly ? "ro" : "",
          ...(mount.createHostPath ? { createHostPath: true } : {}),
        });
        break;
      }
      case "volume": {
        const anonymous = mount.source === undefined || mount.source === "";
        const name = anonymous ? input.anonymousVolumeName() : validateVolumeName(mount.source ?? "");
        resolved.push({
          type: "volume",
          name,
          source: input.volumeDataPath(name),
          destination,
          readWrite: !(mount.readOnly ?? false),
          propagation: "",
          mode: mount.readOnly ? "ro" : "",
          ...(anonymous ? { anonymous: true } : {}),
          ...(mount.noCopy ? { noCopy: true } : {}),
          ...(mount.labels !== undefined ? { volumeLabels: mount.labels } : {}),
        });
        break;
      }
      case "tmpfs": {
        resolved.push({
          type: "tmpfs",
          source: "",
          destination,
          readWrite: !(mount.options ?? []).includes("ro"),
          propagation: "",
          mode: "",
          tmpfsOptions: tmpfsOptions(mount),
        });
        break;
      }
      default: {
        const unknown: never = mount;
        throw new BerthError(MountErrorCode, `unknown mount type ${JSON.stringify(unknown)}`);
      }
    }
  }
  for (const volume of input.imageVolumes) {
    const destination = cleanTarget(volume, "volume");
    if (targets.has(destination)) continue;
    targets.add(destination);
    const name = input.anonymousVolumeName();
    resolved.push({ type: "volume", name, source: input.volumeDataPath(name), destination, readWrite: true, propagation: "", mode: "", anonymous: true });
  }
  return resolved;
}

/** `--mount type=tmpfs,tmpfs-size=…,tmpfs-mode=…` and `--tmpfs /x:opts` as moby turns them into options. */
function tmpfsOptions(mount: Extract<MountSpec, { type: "tmpfs" }>): string[] {
  const data = [...(mount.options ?? [])];
  if (mount.sizeBytes !== undefined && mount.sizeBytes > 0) data.push(`size=${sizeWithSuffix(mount.sizeBytes)}`);
  if (mount.mode !== undefined && mount.mode > 0) data.push(`mode=${mount.mode.toString(8)}`);
  return mergeTmpfsOptions(["noexec", "nosuid", "nodev", "rprivate", ...data]);
}

function sizeWithSuffix(bytes: number): string {
  for (const [suffix, divisor] of [["g", 1024 ** 3], ["m", 1024 ** 2], ["k", 1024]] as const) {
    if (bytes % divisor === 0) return `${bytes / divisor}${suffix}`;
  }
  return String(bytes);
}

const flagGroups: Readonly<Record<string, string>> = {
  rw: "ro", ro: "ro", exec: "exec", noexec: "exec", suid: "suid", nosuid: "suid", dev: "dev", nodev: "dev",
  sync: "sync", async: "sync", atime: "atime", noatime: "atime", diratime: "diratime", nodiratime: "diratime",
  relatime: "relatime", norelatime: "relatime", strictatime: "strictatime", nostrictatime: "strictatime",
  mand: "mand", nomand: "mand", dirsync: "dirsync", private: "propagation", rprivate: "propagation",
  shared: "propagation", rshared: "propagation", slave: "propagation", rslave: "propagation",
  unbindable: "propagation", runbindable: "propagation",
};
const tmpfsDataKeys = new Set(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"]);

/** moby's MergeTmpfsOptions: the last of each flag pair or data key wins, in the order they came. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const merged: string[] = [];
  for (let index = options.length - 1; index >= 0; index--) {
    const option = options[index] ?? "";
    if (option === "defaults" || option === "") continue;
    const group = flagGroups[option];
    if (group !== undefined) {
      if (!seenFlags.has(group)) merged.unshift(option);
      seenFlags.add(group);
      continue;
    }
    const equals = option.indexOf("=");
    const key = equals < 0 ? option : option.slice(0, equals);
    if (equals < 0 || !tmpfsDataKeys.has(key)) throw new BerthError(MountErrorCode, `Invalid tmpfs option "${option}"`);
    if (!seenData.has(key)) merged.unshift(option);
    seenData.add(key);
  }
  return merged;
}

export interface DefaultMountsInput {
  readonly shmSizeBytes: number;
  readonly privileged: boolean;
  readonly cgroupMount: boolean;
}

/** moby's default Linux mounts; /dev/shm sized by `--shm-size`; /sys writable when privileged. */
export function defaultMounts({ shmSizeBytes, privileged, cgroupMount }: DefaultMountsInput): OciMount[] {
  const readOnly = privileged ? [] : ["ro"];
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...readOnly] },
    ...(cgroupMount ? [{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: [...readOnly, "nosuid", "noexec", "nodev"] }] : []),
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${shmSizeBytes}`] },
  ];
}

/** The files berth writes per container and binds in, as Docker does with its own copies. */
export interface NetworkFiles {
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
}

export interface OciMountsInput extends DefaultMountsInput {
  readonly mounts: readonly ResolvedMount[];
  readonly networkFiles: NetworkFiles;
  readonly readOnlyRootfs: boolean;
}

/** Defaults (minus those a mount replaces), then the container's mounts, parents before children. */
export function ociMounts(input: OciMountsInput): OciMount[] {
  const own: OciMount[] = input.mounts.map(toOciMount);
  const taken = new Set(own.map((mount) => mount.destination));
  const networkFileMounts: OciMount[] = [
    ["/etc/resolv.conf", input.networkFiles.resolvConf],
    ["/etc/hostname", input.networkFiles.hostname],
    ["/etc/hosts", input.networkFiles.hosts],
  ]
    .filter(([destination]) => !taken.has(destination ?? ""))
    .map(([destination, source]) => ({
      destination: destination ?? "",
      type: "bind",
      source: source ?? "",
      options: ["rbind", ...(input.readOnlyRootfs ? ["ro"] : []), "rprivate"],
    }));
  const all = [...own, ...networkFileMounts];
  const defaults = defaultMounts(input).filter((mount) => !all.some((other) => other.destination === mount.destination));
  return [...defaults, ...sortByDepth(all)];
}

function toOciMount(mount: ResolvedMount): OciMount {
  if (mount.type === "tmpfs") return { destination: mount.destination, type: "tmpfs", source: "tmpfs", options: mount.tmpfsOptions ?? [] };
  const options = ["rbind", ...(mount.readWrite ? [] : ["ro"]), mount.propagation === "" ? "rprivate" : mount.propagation];
  return { destination: mount.destination, type: "bind", source: mount.source, options };
}

/** moby's sortMounts: fewer path components first, stable otherwise. */
function sortByDepth(mounts: readonly OciMount[]): OciMount[] {
  const depth = (mount: OciMount): number => path.normalize(mount.destination).split("/").length;
  return mounts
    .map((mount, index) => ({ mount, index }))
    .sort((a, b) => depth(a.mount) - depth(b.mount) || a.index - b.index)
    .map(({ mount }) => mount);
}
