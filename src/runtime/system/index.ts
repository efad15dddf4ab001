// `system check` and `system prune`'s kernel half: snapshot what the host has and what this
// state root knows, find the leftovers (leftovers.ts, pure), and reclaim them with the same
// teardowns the engine uses everywhere else, so a prune is the mirror of a setup that crashed.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { detectCgroups, removeContainerCgroups, unescapeMountPath, type CgroupLayout } from "../cgroups.js";
import {
  containerFiles,
  containerNeedsNetwork,
  containersDirectory,
  listRecords,
  listShimProcesses,
  readShimPid,
  signalProcess,
  unmountAll,
  waitForProcessExit,
  type ContainerService,
} from "../container/index.js";
import { listEndpoints, listNetworkRecords, registeredRootsOnHost, rootTag, sandboxPath, type NetworkKernel, type NetworkService } from "../network/index.js";
import { processAlive, type RuntimePaths } from "../state.js";
import { findLeftovers, reclaimPlan, type HostView, type Leftover, type ReclaimAction, type RootView } from "./leftovers.js";

export { findLeftovers, reclaimPlan } from "./leftovers.js";
export type { HostView, Leftover, LeftoverKind, ReclaimAction, RootView } from "./leftovers.js";

export interface SystemService {
  /** berth's kernel objects of this root (or of no root) that nothing alive accounts for. */
  check(): Promise<Leftover[]>;
  /** Reclaim every leftover; returns what was found and what is still there afterwards. */
  prune(): Promise<{ readonly reclaimed: readonly Leftover[]; readonly remaining: readonly Leftover[]; readonly errors: readonly string[] }>;
}

export interface SystemServiceOptions {
  readonly paths: RuntimePaths;
  readonly containers: ContainerService;
  readonly networks: NetworkService;
  readonly kernel: NetworkKernel;
  readonly cgroups?: () => CgroupLayout;
}

function mountPoints(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""));
}

/** `berth/<id>` cgroups in every hierarchy, one entry per id, with the most processes any lists. */
function berthCgroups(layout: CgroupLayout): { id: string; processes: number }[] {
  const roots = new Set(Object.values(layout.v1));
  if (layout.unified !== undefined) roots.add(layout.unified);
  const found = new Map<string, number>();
  for (const root of roots) {
    let entries: string[];
    try {
      entries = readdirSync(path.join(root, "berth"));
    } catch {
      continue;
    }
    for (const id of entries) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      let processes = 0;
      try {
        processes = readFileSync(path.join(root, "berth", id, "cgroup.procs"), "utf8").split("\n").filter((line) => line !== "").length;
      } catch {
        // Gone meanwhile, or a hierarchy without cgroup.procs.
      }
      found.set(id, Math.max(found.get(id) ?? 0, processes));
    }
  }
  return [...found].map(([id, processes]) => ({ id, processes }));
}

async function hostView(kernel: NetworkKernel, layout: CgroupLayout): Promise<HostView> {
  const shims = listShimProcesses()
    .filter((shim) => shim.argv[1] === "start" && shim.argv[2] !== undefined)
    .map((shim) => ({ pid: shim.pid, bundle: shim.argv[2] as string }));
  return { mounts: mountPoints(), shims, cgroups: berthCgroups(layout), links: await kernel.listLinks(), chains: await kernel.berthChains() };
}

function pendingOwners(directory: string): Map<string, { ownerAlive: boolean }> {
  const owners = new Map<string, { ownerAlive: boolean }>();
  let entries: string[] = [];
  try {
    entries = readdirSync(directory).filter((name) => name.startsWith("."));
  } catch {
    return owners;
  }
  for (const entry of entries) {
    const pid = /-(\d+)$/.exec(entry)?.[1];
    owners.set(entry, { ownerAlive: pid !== undefined && Number(pid) !== process.pid && processAlive(Number(pid)) });
  }
  return owners;
}

function rootView(paths: RuntimePaths): RootView {
  const containers = listRecords(paths).map((record) => {
    const shimPid = readShimPid(containerFiles(paths, record.id));
    return { id: record.id, name: record.name, live: containerNeedsNetwork(paths, record.id), ...(shimPid === undefined ? {} : { shimPid }) };
  });
  const networks = listNetworkRecords(paths);
  return {
    rootTag: rootTag(paths),
    containersDirectory: containersDirectory(paths),
    netnsDirectory: path.dirname(sandboxPath(paths, "x")),
    containers,
    networks: networks.map((network) => ({ id: network.id, name: network.name })),
    endpoints: networks.flatMap((network) => listEndpoints(paths, network.id).map((endpoint) => ({ networkName: network.name, containerId: endpoint.containerId }))),
    pendingOwners: pendingOwners(containersDirectory(paths)),
    deadRoots: new Map([...registeredRootsOnHost()].filter(([, stateRoot]) => !existsSync(stateRoot))),
  };
}

export function createSystemService(options: SystemServiceOptions): SystemService {
  const layout = options.cgroups ?? detectCgroups;
  const check = async (): Promise<Leftover[]> => {
    // The root first: a container that starts meanwhile then has its objects already counted live.
    const root = rootView(options.paths);
    return findLeftovers(await hostView(options.kernel, layout()), root);
  };
  const run = async (action: ReclaimAction): Promise<void> => {
    switch (action.type) {
      case "kill-shim":
        if (signalProcess(action.pid, "SIGKILL")) await waitForProcessExit(action.pid, 5000);
        return;
      case "reclaim-container":
        await options.containers.reclaim(action.id);
        return;
      case "sweep-abandoned":
        await options.containers.sweepAbandoned();
        return;
      case "remove-cgroup":
        await removeContainerCgroups(layout(), action.id);
        return;
      case "unmount":
        unmountAll(action.path);
        return;
      case "destroy-sandbox":
        await options.kernel.destroySandbox(action.path);
        return;
      case "reclaim-endpoints":
        await options.networks.reclaimStale();
        return;
      case "remove-link":
        await options.kernel.removeLinks([action.name]);
        return;
      case "remove-network-rules":
        await options.kernel.removeNetworkRules(action.id12);
        return;
      case "remove-base-chains":
        await options.kernel.removeBaseChains();
        return;
      default: {
        const never: never = action;
        throw new Error(`unknown reclaim action ${JSON.stringify(never)}`);
      }
    }
  };
  return {
    check,
    prune: async () => {
      const reclaimed = await check();
      const failures: string[] = [];
      // Teardown never stops early: every action runs, and what stays is reported by the re-check.
      for (const action of reclaimPlan(reclaimed)) {
        try {
          await run(action);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
      // A shim killed above leaves its container's objects: they are leftovers now, so go round once more.
      const second = await check();
      for (const action of reclaimPlan(second)) await run(action).catch((error: unknown) => failures.push((error as Error).message));
      const remaining = await check();
      const found = [...reclaimed, ...second.filter((leftover) => !reclaimed.some((first) => first.kind === leftover.kind && first.name === leftover.name))];
      return { reclaimed: found.filter((leftover) => !remaining.some((left) => left.kind === leftover.kind && left.name === leftover.name)), remaining, errors: failures };
    },
  };
}
