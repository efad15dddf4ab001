// The container's filesystem on the host side: is something mounted there, mount and unmount
// an overlay (cp into a stopped container, filling a volume from a multi-layer image), fill a new
// volume from the image's content at its mount point, and the hostname/hosts/resolv.conf files
// berth writes per container.

import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { unescapeMountPath } from "../cgroups.js";
import { layersHolding } from "./layered-fs.js";
import { defaultHostsLines } from "../network/index.js";

export const RootfsErrorCode = "E_CONTAINER_ROOTFS";

/** Mount points at or under `directory`, deepest first (the order to unmount them in). */
export function mountsUnder(directory: string, mountinfo: string = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  const found: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const mountPoint = unescapeMountPath(line.split(" ")[4] ?? "");
    if (mountPoint === directory || mountPoint.startsWith(`${directory}/`)) found.push(mountPoint);
  }
  return found.sort((a, b) => b.length - a.length);
}

export const isMountPoint = (directory: string): boolean => mountsUnder(directory).includes(directory);

/** Unmount everything at or under `directory`; a busy mount is detached lazily. Idempotent. */
export function unmountAll(directory: string): void {
  const failures: string[] = [];
  for (const mountPoint of mountsUnder(directory)) {
    const result = spawnSync("umount", [mountPoint], { encoding: "utf8" });
    if (result.status === 0) continue;
    const lazy = spawnSync("umount", ["-l", mountPoint], { encoding: "utf8" });
    if (lazy.status !== 0 && isMountPoint(mountPoint)) failures.push(`${mountPoint}: ${(lazy.stderr || result.stderr).trim()}`);
  }
  if (failures.length > 0) throw new BerthError(RootfsErrorCode, `unmount: ${failures.join("; ")}`);
}

export interface OverlayMount {
  /** Lower layers, top first (overlayfs order). */
  readonly lowerdirs: readonly string[];
  readonly upperdir?: string;
  readonly workdir?: string;
  readonly target: string;
}

export function mountOverlay(overlay: OverlayMount): void {
  mkdirSync(overlay.target, { recursive: true });
  if (overlay.lowerdirs.length === 1 && overlay.upperdir === undefined) {
    // overlayfs wants two lower layers when there is no upper one; one layer is just a bind.
    run("mount", ["--bind", "-o", "ro", overlay.lowerdirs[0] ?? "", overlay.target]);
    return;
  }
  const options = [`lowerdir=${overlay.lowerdirs.join(":")}`];
  if (overlay.upperdir !== undefined && overlay.workdir !== undefined) {
    options.push(`upperdir=${overlay.upperdir}`, `workdir=${overlay.workdir}`);
    // An --rm container's shim mounted it "volatile", which leaves a marker overlayfs refuses to
    // mount over; that layer was declared disposable, so the marker goes.
    rmSync(path.join(overlay.workdir, "work", "incompat", "volatile"), { recursive: true, force: true });
  }
  run("mount", ["-t", "overlay", "overlay", "-o", options.join(","), overlay.target]);
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, [...args], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    throw new BerthError(RootfsErrorCode, `${command} ${args.join(" ")}: ${(result.error?.message ?? result.stderr).trim()}`);
  }
}

const isEmptyDirectory = (directory: string): boolean => {
  try {
    return readdirSync(directory).length === 0;
  } catch {
    return false;
  }
};

/**
 * Docker's copy-up into a new volume: when the volume is empty and the image has a directory at
 * `containerPath`, copy it in (ownership, modes, xattrs) and give the volume root that
 * directory's owner and mode. `scratch` is a directory berth may mount on temporarily.
 */
export function fillVolumeFromImage(options: {
  readonly layerPathsBottomFirst: readonly string[];
  readonly containerPath: string;
  readonly volumeData: string;
  readonly scratch: string;
}): boolean {
  if (!isEmptyDirectory(options.volumeData)) return false;
  const layersTopFirst = [...options.layerPathsBottomFirst].reverse();
  const holding = layersHolding(layersTopFirst, options.containerPath);
  if (holding.length === 0) return false;
  const relative = path.normalize(options.containerPath).replace(/^\/+/, "");
  let mounted = false;
  let source = path.join(holding[0] ?? "", relative);
  try {
    if (holding.length > 1) {
      mountOverlay({ lowerdirs: layersTopFirst, target: options.scratch });
      mounted = true;
      source = path.join(options.scratch, relative);
    }
    const stats = statSync(source);
    if (!stats.isDirectory()) return false;
    run("cp", ["-a", "--", `${source}/.`, `${options.volumeData}/`]);
    chownSync(options.volumeData, stats.uid, stats.gid);
    chmodSync(options.volumeData, stats.mode & 0o7777);
    return true;
  } finally {
    if (mounted) unmountAll(options.scratch);
    rmSync(options.scratch, { recursive: true, force: true });
  }
}


/** /etc/hosts, /etc/hostname, /etc/resolv.conf for the container, as Docker writes them. */
export function networkFileContents(options: {
  readonly hostname: string;
  readonly domainname: string;
  readonly networkMode: string;
  readonly hostHosts: string | undefined;
  readonly hostResolvConf: string | undefined;
}): { hostname: string; hosts: string; resolvConf: string } {
  const hostname = `${options.hostname}\n`;
  if (options.networkMode === "host") {
    return { hostname, hosts: options.hostHosts ?? `${defaultHostsLines.join("\n")}\n`, resolvConf: options.hostResolvConf ?? "" };
  }
  const lines = (options.hostResolvConf ?? "").split("\n");
  // Docker drops loopback resolvers (unreachable from another network namespace) and falls back to public ones.
  const kept = lines.filter((line) => !/^\s*nameserver\s+(127\.|::1\b)/.test(line));
  if (!kept.some((line) => /^\s*nameserver\s/.test(line))) kept.push("nameserver 8.8.8.8", "nameserver 8.8.4.4");
  const resolvConf = `${kept.filter((line, index) => line !== "" || index < kept.length - 1).join("\n").trim()}\n`;
  return { hostname, hosts: `${defaultHostsLines.join("\n")}\n`, resolvConf };
}

export function readHostFile(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Write a file only when its content differs (start rewrites config.json; most starts change nothing). */
export function writeIfChanged(file: string, content: string, write: (file: string, content: string) => void): boolean {
  if (existsSync(file) && readHostFile(file) === content) return false;
  write(file, content);
  return true;
}

export function writePlainFile(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o644 });
}
