// Cgroups as berth uses them: detect which hierarchies are mounted (v1, v2, or the hybrid these
// machines have: v1 controllers plus a v2 tree with none), name a container's cgroups
// (`berth/<id>` under every hierarchy, as runc does with cgroupsPath `/berth/<id>`), freeze and
// thaw them (pause), read what they hold (top, stats), and remove them with their container.
// The shim creates them and applies limits; this module only reads, freezes and tears down.

import { readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BerthError } from "../errors.js";

export const CgroupErrorCode = "E_CGROUP";

export interface CgroupLayout {
  /** 2 when the controllers live in the unified hierarchy, 1 otherwise (including hybrid). */
  readonly version: 1 | 2;
  /** Controller name → mount point, for v1 hierarchies (`memory` → /sys/fs/cgroup/memory). */
  readonly v1: Readonly<Record<string, string>>;
  /** The cgroup2 mount point, if any (/sys/fs/cgroup/unified on hybrid, /sys/fs/cgroup on v2). */
  readonly unified: string | undefined;
}

/** Parse /proc/self/mountinfo into the cgroup layout. */
export function parseCgroupLayout(mountinfo: string): CgroupLayout {
  const v1: Record<string, string> = {};
  let unified: string | undefined;
  for (const line of mountinfo.split("\n")) {
    const separator = line.indexOf(" - ");
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(" ");
    const after = line.slice(separator + 3).split(" ");
    const mountPoint = unescapeMountPath(before[4] ?? "");
    const fsType = after[0];
    if (fsType === "cgroup2") unified ??= mountPoint;
    else if (fsType === "cgroup") {
      for (const option of (after[2] ?? "").split(",")) {
        if (option === "rw" || option === "ro" || option.startsWith("release_agent") || option === "clone_children") continue;
        v1[option] ??= mountPoint;
      }
    }
  }
  const controllers = Object.keys(v1).filter((name) => !name.startsWith("name="));
  return { version: controllers.length > 0 ? 1 : 2, v1, unified };
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
export function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

let cachedLayout: CgroupLayout | undefined;

export function detectCgroups(): CgroupLayout {
  cachedLayout ??= parseCgroupLayout(readFileSync("/proc/self/mountinfo", "utf8"));
  return cachedLayout;
}

export const cgroupRelativePath = (id: string): string => path.join("berth", id);

/** Every directory a container's cgroups can occupy, one per mounted hierarchy. */
export function containerCgroupDirectories(layout: CgroupLayout, id: string): string[] {
  const roots = new Set(Object.values(layout.v1));
  if (layout.unified !== undefined) roots.add(layout.unified);
  return [...roots].map((root) => path.join(root, cgroupRelativePath(id)));
}

/** Where the container's processes are listed: pids (or memory) on v1, the unified tree on v2. */
function processDirectory(layout: CgroupLayout, id: string): string[] {
  const candidates = [layout.v1["pids"], layout.v1["memory"], layout.v1["freezer"], layout.v1["cpu"], layout.unified];
  return candidates.filter((root): root is string => root !== undefined).map((root) => path.join(root, cgroupRelativePath(id)));
}

/** Host pids in the container's cgroup (all hierarchies agree; the first readable one answers). */
export function cgroupProcesses(layout: CgroupLayout, id: string): number[] {
  for (const directory of processDirectory(layout, id)) {
    const text = readOptional(path.join(directory, "cgroup.procs"));
    if (text === undefined) continue;
    const pids = text.split("\n").filter((line) => line !== "").map(Number);
    if (pids.length > 0) return pids;
  }
  return [];
}

function freezerFile(layout: CgroupLayout, id: string): { file: string; frozen: string; thawed: string } | undefined {
  if (layout.version === 1 && layout.v1["freezer"] !== undefined) {
    return { file: path.join(layout.v1["freezer"], cgroupRelativePath(id), "freezer.state"), frozen: "FROZEN", thawed: "THAWED" };
  }
  if (layout.unified !== undefined) return { file: path.join(layout.unified, cgroupRelativePath(id), "cgroup.freeze"), frozen: "1", thawed: "0" };
  return undefined;
}

export function isFrozen(layout: CgroupLayout, id: string): boolean {
  const freezer = freezerFile(layout, id);
  if (freezer === undefined) return false;
  const state = readOptional(freezer.file)?.trim();
  return state === freezer.frozen || state === "FREEZING";
}

/** Freeze (pause) or thaw (unpause) every process of the container, and wait until the kernel agrees. */
export async function setFrozen(layout: CgroupLayout, id: string, frozen: boolean): Promise<void> {
  const freezer = freezerFile(layout, id);
  if (freezer === undefined) throw new BerthError(CgroupErrorCode, "no freezer cgroup is mounted: pause needs the freezer controller (v1) or cgroup.freeze (v2)");
  const directory = path.dirname(freezer.file);
  if (frozen && layout.version === 1) adoptProcesses(layout, id, directory);
  const wanted = frozen ? freezer.frozen : freezer.thawed;
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      writeFileSync(freezer.file, wanted);
    } catch (error) {
      throw new BerthError(CgroupErrorCode, `write ${freezer.file}: ${(error as Error).message}`, { cause: error });
    }
    const state = readOptional(freezer.file)?.trim();
    if (state === wanted) return;
    // v2 reports progress in cgroup.events ("frozen 1"); v1 passes through FREEZING.
    if (layout.version === 2 && readOptional(path.join(directory, "cgroup.events"))?.includes(`frozen ${frozen ? 1 : 0}`)) return;
    await sleep(2);
  }
  throw new BerthError(CgroupErrorCode, `${freezer.file}: timed out waiting for ${wanted}`);
}

/** If the shim did not put the container into a freezer cgroup, move its processes there. */
function adoptProcesses(layout: CgroupLayout, id: string, freezerDirectory: string): void {
  const procs = path.join(freezerDirectory, "cgroup.procs");
  if (readOptional(procs)?.trim()) return;
  const pids = cgroupProcesses(layout, id);
  if (pids.length === 0) return;
  try {
    for (const pid of pids) writeFileSync(procs, String(pid));
  } catch (error) {
    throw new BerthError(CgroupErrorCode, `move processes into ${freezerDirectory}: ${(error as Error).message}`, { cause: error });
  }
}

export interface CgroupStats {
  readonly memoryUsageBytes: number | undefined;
  readonly memoryLimitBytes: number | undefined;
  readonly cpuUsageNanoseconds: number | undefined;
  readonly pids: number | undefined;
  readonly oomKills: number | undefined;
}

export function readStats(layout: CgroupLayout, id: string): CgroupStats {
  const relative = cgroupRelativePath(id);
  const number = (file: string | undefined): number | undefined => {
    if (file === undefined) return undefined;
    const text = readOptional(file)?.trim();
    if (text === undefined || text === "max") return undefined;
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  };
  const under = (root: string | undefined, file: string): string | undefined => (root === undefined ? undefined : path.join(root, relative, file));
  if (layout.version === 1) {
    const oomControl = readOptional(under(layout.v1["memory"], "memory.oom_control") ?? "");
    return {
      memoryUsageBytes: number(under(layout.v1["memory"], "memory.usage_in_bytes")),
      memoryLimitBytes: number(under(layout.v1["memory"], "memory.limit_in_bytes")),
      cpuUsageNanoseconds: number(under(layout.v1["cpuacct"], "cpuacct.usage")),
      pids: number(under(layout.v1["pids"], "pids.current")),
      oomKills: oomControl === undefined ? undefined : Number(/oom_kill (\d+)/.exec(oomControl)?.[1] ?? 0),
    };
  }
  const cpuStat = readOptional(under(layout.unified, "cpu.stat") ?? "");
  const events = readOptional(under(layout.unified, "memory.events") ?? "");
  const usec = cpuStat === undefined ? undefined : /usage_usec (\d+)/.exec(cpuStat)?.[1];
  return {
    memoryUsageBytes: number(under(layout.unified, "memory.current")),
    memoryLimitBytes: number(under(layout.unified, "memory.max")),
    cpuUsageNanoseconds: usec === undefined ? undefined : Number(usec) * 1000,
    pids: number(under(layout.unified, "pids.current")),
    oomKills: events === undefined ? undefined : Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0),
  };
}

/** Swap limits are only possible where the kernel accounts swap (memory.memsw.* on v1). */
export function swapAccounting(layout: CgroupLayout): boolean {
  if (layout.version === 1) {
    const memory = layout.v1["memory"];
    return memory !== undefined && readOptional(path.join(memory, "memory.memsw.limit_in_bytes")) !== undefined;
  }
  return layout.unified !== undefined && readOptional(path.join(layout.unified, "cgroup.subtree_control"))?.includes("memory") === true;
}

/**
 * Remove the container's cgroups in every hierarchy: thaw, SIGKILL whatever is still inside,
 * wait for it to leave, rmdir. "Already gone" is success; failures are collected and reported
 * together, naming each directory (STYLE 14: teardown never stops early).
 */
export async function removeContainerCgroups(layout: CgroupLayout, id: string, timeoutMs = 5000): Promise<void> {
  const directories = containerCgroupDirectories(layout, id);
  if (isFrozen(layout, id)) await setFrozen(layout, id, false).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  const failures: string[] = [];
  for (const directory of directories) {
    for (;;) {
      const error = removeTree(directory);
      if (error === undefined) break;
      if (Date.now() > deadline) {
        failures.push(`${directory}: ${error}`);
        break;
      }
      for (const pid of readProcs(directory)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      await sleep(5);
    }
  }
  if (failures.length > 0) throw new BerthError(CgroupErrorCode, `remove cgroups: ${failures.join("; ")}`);
}

/** rmdir a cgroup and any child cgroups, deepest first; undefined on success or when absent. */
function removeTree(directory: string): string | undefined {
  let children: string[];
  try {
    children = readdirSync(directory, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(directory, entry.name));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : (error as Error).message;
  }
  for (const child of children) {
    const error = removeTree(child);
    if (error !== undefined) return error;
  }
  try {
    rmdirSync(directory);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : (error as Error).message;
  }
}

function readProcs(directory: string): number[] {
  const pids: number[] = [];
  const visit = (current: string): void => {
    const text = readOptional(path.join(current, "cgroup.procs"));
    if (text !== undefined) pids.push(...text.split("\n").filter((line) => line !== "").map(Number));
    try {
      for (const entry of readdirSync(current, { withFileTypes: true })) if (entry.isDirectory()) visit(path.join(current, entry.name));
    } catch {
      // gone
    }
  };
  visit(directory);
  return pids;
}

/** Leftover berth cgroups (the leak check): `berth/<id>` directories in any hierarchy. */
export function listBerthCgroups(layout: CgroupLayout = detectCgroups()): string[] {
  const roots = new Set(Object.values(layout.v1));
  if (layout.unified !== undefined) roots.add(layout.unified);
  const found: string[] = [];
  for (const root of roots) {
    try {
      for (const entry of readdirSync(path.join(root, "berth"), { withFileTypes: true })) {
        if (entry.isDirectory()) found.push(path.join(root, "berth", entry.name));
      }
    } catch {
      // no berth cgroups in this hierarchy
    }
  }
  return found.sort();
}

function readOptional(file: string): string | undefined {
  if (file === "") return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
