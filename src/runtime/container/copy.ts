// `cp` between the host and a container. A container path is resolved component by component
// inside the container's root (symlinks followed as the container would, never out of it), and
// across its mounts (volumes and binds of a stopped container live outside its overlay). Then
// GNU cp or tar does the copying, with Docker's rules for what lands where.

import { spawn, spawnSync } from "node:child_process";
import { lstatSync, readlinkSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { BerthError } from "../../errors.js";

export const CopyErrorCode = "E_CONTAINER_COPY";

/** How to reach a container's files from the host. */
export interface RootView {
  /** `/proc/<pid>/root` of a running container, or its mounted overlay. */
  readonly root: string;
  /** For a stopped container: container path → host directory (volumes, binds). */
  readonly mounts: readonly { readonly destination: string; readonly source: string }[];
}

/** Host path of a container path, taking the deepest mount that covers it. */
export function hostPathOf(view: RootView, containerPath: string): string {
  let best: { destination: string; source: string } | undefined;
  for (const mount of view.mounts) {
    if (containerPath === mount.destination || containerPath.startsWith(`${mount.destination}/`)) {
      if (best === undefined || mount.destination.length > best.destination.length) best = mount;
    }
  }
  if (best !== undefined) return path.join(best.source, containerPath.slice(best.destination.length));
  return path.join(view.root, containerPath);
}

/**
 * Resolve `containerPath` (absolute, in the container) to the container path it names after
 * symlinks, and its host path. The final component is followed only when `followFinal`.
 */
export function resolveContainerPath(view: RootView, containerPath: string, followFinal: boolean): { containerPath: string; hostPath: string } {
  let resolved = "/";
  const pending = containerPath.split("/");
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift() ?? "";
    if (component === "" || component === ".") continue;
    if (component === "..") {
      resolved = path.posix.dirname(resolved);
      continue;
    }
    const candidate = path.posix.join(resolved, component);
    const isLast = pending.every((part) => part === "" || part === ".");
    let stats: Stats | undefined;
    try {
      stats = lstatSync(hostPathOf(view, candidate));
    } catch {
      stats = undefined;
    }
    if (stats?.isSymbolicLink() && (!isLast || followFinal)) {
      if (++links > 40) throw new BerthError(CopyErrorCode, `${containerPath}: too many levels of symbolic links`);
      const target = readlinkSync(hostPathOf(view, candidate));
      if (target.startsWith("/")) resolved = "/";
      pending.unshift(...target.split("/"));
      continue;
    }
    resolved = candidate;
  }
  return { containerPath: resolved, hostPath: hostPathOf(view, resolved) };
}

function statOptional(file: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(file) : lstatSync(file);
  } catch {
    return undefined;
  }
}

export interface CopyOptions {
  /** `-a`: keep uid/gid from the source; otherwise files belong to the destination's root. */
  readonly archive?: boolean;
  /** `-L`: follow a symlink given as the source. */
  readonly followLink?: boolean;
}

/** Where Docker puts a copy of `source` given `destination`, or why it refuses. */
export function copyTarget(options: {
  readonly sourceIsDirectory: boolean;
  readonly sourceContents: boolean;
  readonly sourceName: string;
  readonly destination: string;
  readonly destinationStats: Stats | undefined;
  readonly destinationParentIsDirectory: boolean;
}): string {
  const { destination, destinationStats } = options;
  const wantsDirectory = destination.endsWith("/");
  if (destinationStats === undefined) {
    if (!options.destinationParentIsDirectory) throw new BerthError(CopyErrorCode, `no such directory: ${path.dirname(destination)}`);
    if (wantsDirectory && !options.sourceIsDirectory) throw new BerthError(CopyErrorCode, `destination directory ${destination} does not exist`);
    return destination.replace(/\/+$/, "") || "/";
  }
  if (destinationStats.isDirectory()) {
    return options.sourceContents ? destination : path.join(destination, options.sourceName);
  }
  if (options.sourceIsDirectory) throw new BerthError(CopyErrorCode, `cannot copy a directory to a file: ${destination}`);
  if (wantsDirectory) throw new BerthError(CopyErrorCode, `destination ${destination} is not a directory`);
  return destination;
}

function runCopy(args: readonly string[]): void {
  const result = spawnSync("cp", [...args], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    throw new BerthError(CopyErrorCode, `copy failed: ${(result.error?.message ?? result.stderr).trim()}`);
  }
}

function cpArguments(options: CopyOptions, extra: readonly string[]): string[] {
  // -R keeps symlinks as symlinks inside trees; --remove-destination never writes through a symlink already there.
  const preserve = options.archive ? ["-a"] : ["-R", "--preserve=mode,timestamps,links"];
  return [...preserve, ...(options.followLink ? ["-L"] : ["-P"]), "--remove-destination", ...extra];
}

/** `cp CONTAINER:SRC HOSTPATH`. */
export function copyOut(view: RootView, sourcePath: string, destination: string, options: CopyOptions = {}): void {
  const source = resolveContainerPath(view, sourcePath, options.followLink ?? false);
  const stats = statOptional(source.hostPath, false);
  if (stats === undefined) throw new BerthError(CopyErrorCode, `Could not find the file ${sourcePath} in container`);
  if (sourcePath.endsWith("/") && !statOptional(source.hostPath, true)?.isDirectory()) throw new BerthError(CopyErrorCode, `${sourcePath}: not a directory`);
  const target = copyTarget({
    sourceIsDirectory: stats.isDirectory(),
    sourceContents: /\/\.$/.test(sourcePath),
    sourceName: path.posix.basename(source.containerPath),
    destination,
    destinationStats: statOptional(destination, true),
    destinationParentIsDirectory: statOptional(path.dirname(path.resolve(destination)), true)?.isDirectory() ?? false,
  });
  runCopy(cpArguments(options, ["-T", source.hostPath, target]));
}

/** `cp HOSTPATH CONTAINER:DEST`. */
export function copyIn(view: RootView, source: string, destinationPath: string, options: CopyOptions = {}): void {
  const stats = statOptional(source, options.followLink ?? false);
  if (stats === undefined) throw new BerthError(CopyErrorCode, `no such file or directory: ${source}`);
  const resolved = resolveContainerPath(view, destinationPath, true);
  const trailing = destinationPath.endsWith("/") ? "/" : "";
  const target = copyTarget({
    sourceIsDirectory: stats.isDirectory(),
    sourceContents: /\/\.$/.test(source),
    sourceName: path.basename(path.resolve(source)),
    destination: resolved.containerPath === "/" ? "/" : `${resolved.containerPath}${trailing}`,
    destinationStats: statOptional(resolved.hostPath, true),
    destinationParentIsDirectory: statOptional(hostPathOf(view, path.posix.dirname(resolved.containerPath)), true)?.isDirectory() ?? false,
  });
  // Every component above the target is resolved inside the container; the target itself must
  // not be a symlink that a directory copy would write through (it would resolve on the host).
  const hostTarget = hostPathOf(view, target);
  if (stats.isDirectory() && statOptional(hostTarget, false)?.isSymbolicLink()) {
    throw new BerthError(CopyErrorCode, `cannot overwrite a symbolic link with a directory: ${target}`);
  }
  runCopy(cpArguments(options, ["-T", path.resolve(source), hostTarget]));
}

/** A tar stream of a container path (`cp CONTAINER:SRC -`), its top entry named as asked. */
export function tarOut(view: RootView, sourcePath: string, output: Writable, options: CopyOptions = {}): Promise<void> {
  const source = resolveContainerPath(view, sourcePath, options.followLink ?? false);
  if (statOptional(source.hostPath, false) === undefined) throw new BerthError(CopyErrorCode, `Could not find the file ${sourcePath} in container`);
  const contents = /\/\.$/.test(sourcePath);
  const hostName = path.basename(source.hostPath);
  const wanted = path.posix.basename(sourcePath.replace(/\/+\.?$/, "")) || hostName;
  const args = contents
    ? ["-C", source.hostPath, "-cf", "-", "."]
    : ["-C", path.dirname(source.hostPath), "-cf", "-", ...(wanted !== hostName ? [`--transform=s|^${escapeSed(hostName)}|${escapeSed(wanted)}|`] : []), hostName];
  return runTar(args, undefined, output);
}

/** Extract a tar stream into a container directory (`cp - CONTAINER:DEST`). */
export function tarIn(view: RootView, input: Readable, destinationPath: string): Promise<void> {
  const destination = resolveContainerPath(view, destinationPath, true);
  if (!statOptional(destination.hostPath, true)?.isDirectory()) {
    throw new BerthError(CopyErrorCode, `extraction point is not a directory: ${destinationPath}`);
  }
  return runTar(["-C", destination.hostPath, "-xf", "-"], input, undefined);
}

const escapeSed = (text: string): string => text.replace(/[\\|.*[\]^$&]/g, (character) => `\\${character}`);

function runTar(args: readonly string[], input: Readable | undefined, output: Writable | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("tar", [...args], { stdio: [input === undefined ? "ignore" : "pipe", output === undefined ? "ignore" : "pipe", "pipe"] });
    let errors = "";
    child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    if (input !== undefined && child.stdin !== null) {
      // tar exits early on a bad archive; its exit status, not the closed pipe, is the error.
      child.stdin.on("error", () => undefined);
      input.pipe(child.stdin);
    }
    if (output !== undefined && child.stdout !== null) child.stdout.pipe(output, { end: false });
    child.on("error", (error) => reject(new BerthError(CopyErrorCode, `tar: ${error.message}`, { cause: error })));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new BerthError(CopyErrorCode, `tar: ${errors.trim() || `exit status ${code}`}`))));
  });
}
