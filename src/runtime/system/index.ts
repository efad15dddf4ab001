// `system check` and `system prune`'s kernel half: snapshot what the host has and what this
// state root knows, find the leftovers (leftovers.ts, pure), and reclaim them with the same
// teardowns the engine uses everywhere else, so a prune is the mirror of a setup that crashed.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { cgroupProcesses, containerCgroupDirectories, detectCgroups, removeContainerCgroups, type CgroupLayout } from "../cgroups.js";
import {
  containerFiles,
  containerNeedsNetwork,
  containersDirectory,
  listRecords,
  listShimProcesses,
  mountsUnder,
  readShimPid,
  signalProcess,
  unmountAll,
  waitForProcessExit,
  abandonedEntries,
  type ContainerService,
} from "../container/index.js";
import { redirectOwnerHash, redirectsFor } from "../../network/index.js";
import { listEndpoints, listNetworkRecords, registeredRootsOnHost, rootTag, sandboxPath, syncRedirects, type NetworkKernel, type NetworkService } from "../network/index.js";
import type { RuntimePaths } from "../state.js";
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

/** `berth/<id>` cgroups in every hierarchy, one entry per id, with the processes inside. */
function berthCgroups(layout: CgroupLayout): { id: string; processes: number }[] {
  // A container's directories are `<hierarchy>/berth/<id>`: with no id, the `berth` parents.
  const ids = new Set<string>();
  for (const parent of containerCgroupDirectories(layout, "")) {
    try {
      for (const id of readdirSync(parent)) if (/^[0-9a-f]{64}$/.test(id)) ids.add(id);
    } catch {
      // No berth cgroup in this hierarchy.
    }
  }
  return [...ids].map((id) => ({ id, processes: cgroupProcesses(layout, id).length }));
}

/** What the host has that could be berth's; mounts only where this root puts them (one read of mountinfo). */
async function hostView(kernel: NetworkKernel, layout: CgroupLayout, mountDirectories: readonly string[], tag: string): Promise<HostView> {
  const shims = listShimProcesses()
    .filter((shim) => shim.argv[1] === "start" && shim.argv[2] !== undefined)
    .map((shim) => ({ pid: shim.pid, bundle: shim.argv[2] as string }));
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  const mounts = mountDirectories.flatMap((directory) => mountsUnder(directory, mountinfo));
  const { redirects, owners } = await kernel.listRedirects(tag);
  return { mounts, shims, cgroups: berthCgroups(layout), links: await kernel.listLinks(), chains: await kernel.berthChains(), redirects, redirectOwners: owners };
}

function rootView(paths: RuntimePaths): RootView {
  const containers = listRecords(paths).map((record) => {
    const shimPid = readShimPid(containerFiles(paths, record.id));
    return { id: record.id, name: record.name, live: containerNeedsNetwork(paths, record.id), ...(shimPid === undefined ? {} : { shimPid }) };
  });
  const networks = listNetworkRecords(paths);
  const endpoints = networks.flatMap((network) => listEndpoints(paths, network.id).map((endpoint) => ({ networkName: network.name, endpoint })));
  const live = new Set(containers.filter((container) => container.live).map((container) => container.id));
  const deadRoots = new Map([...registeredRootsOnHost()].filter(([, stateRoot]) => !existsSync(stateRoot)));
  return {
    rootTag: rootTag(paths),
    containersDirectory: containersDirectory(paths),
    netnsDirectory: path.dirname(sandboxPath(paths, "x")),
    containers,
    networks: networks.map((network) => ({ id: network.id, name: network.name })),
    endpoints: endpoints.map(({ networkName, endpoint }) => ({ networkName, containerId: endpoint.containerId })),
    redirects: redirectsFor(endpoints.filter(({ endpoint }) => live.has(endpoint.containerId)).flatMap(({ endpoint }) => endpoint.ports)),
    abandoned: new Set(abandonedEntries(paths)),
    deadRoots,
    deadRedirectOwners: new Map([...deadRoots.keys()].map((tag) => [redirectOwnerHash(tag), tag])),
  };
}

export function createSystemService(options: SystemServiceOptions): SystemService {
  const layout = options.cgroups ?? detectCgroups;
  const check = async (): Promise<Leftover[]> => {
    // The root first: a container that starts meanwhile then has its objects already counted live.
    const root = rootView(options.paths);
    return findLeftovers(await hostView(options.kernel, layout(), [root.containersDirectory, root.netnsDirectory], root.rootTag), root);
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
      case "sync-redirects":
        await syncRedirects(options.networks.context);
        return;
      case "drop-redirects":
        await options.kernel.dropRedirects([action.ownerHash]);
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
