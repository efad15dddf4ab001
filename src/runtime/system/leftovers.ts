// Leftovers: berth's own kernel objects that nothing alive accounts for. A pure function from
// two snapshots (what the host has, what this state root knows) to a list of findings, each
// with the action that reclaims it, so `system check` prints it and `system prune` runs it.
//
// Ownership is exact, so that several state roots (the test suite's, a user's) never touch each
// other's objects: mounts and shims by path under this root; links by the ifalias berth gives
// them (`berth:<root8>:<kind>:<id>`); a cgroup `berth/<id>` by a container of this root, or by
// no live shim anywhere; a network's chains by this root's networks or another root's tagged
// bridge. Links of a root whose state directory is gone (the per-boot registry of roots says
// which path a tag stands for) belong to nobody, and so are leftovers for every root. A port
// redirect (src/network/redirect.ts) carries its root's tag too: one this root's live endpoints do
// not publish is a leftover. Host-side veths renamed vbdel<N> by a teardown are left out: the kernel reaps them
// with their namespace, and a namespace still held shows up as its container's cgroup.

import path from "node:path";
import { parseOwnerAlias } from "../network/index.js";

export type LeftoverKind = "shim process" | "mount" | "cgroup" | "netns" | "endpoint" | "link" | "iptables chain" | "port redirect";

export type ReclaimAction =
  | { readonly type: "kill-shim"; readonly pid: number }
  | { readonly type: "reclaim-container"; readonly id: string }
  | { readonly type: "sweep-abandoned" }
  | { readonly type: "remove-cgroup"; readonly id: string }
  | { readonly type: "unmount"; readonly path: string }
  | { readonly type: "destroy-sandbox"; readonly path: string }
  | { readonly type: "reclaim-endpoints" }
  | { readonly type: "remove-link"; readonly name: string }
  | { readonly type: "remove-network-rules"; readonly id12: string }
  | { readonly type: "remove-base-chains" }
  | { readonly type: "sync-redirects" }
  | { readonly type: "drop-redirects"; readonly ownerHash: string };

export interface Leftover {
  readonly kind: LeftoverKind;
  /** The object: a path, a link or chain name, a pid. */
  readonly name: string;
  /** Why it is a leftover, for people. */
  readonly reason: string;
  readonly action: ReclaimAction;
}

/** What the host has that could be berth's. */
export interface HostView {
  /** Mount points of this mount namespace. */
  readonly mounts: readonly string[];
  /** Live `berth-shim start <bundle>` processes, any root. */
  readonly shims: readonly { readonly pid: number; readonly bundle: string }[];
  /** `berth/<id>` cgroups, any hierarchy (one entry per id), with the pids inside. */
  readonly cgroups: readonly { readonly id: string; readonly processes: number }[];
  readonly links: readonly { readonly name: string; readonly kind: string; readonly alias?: string }[];
  readonly chains: readonly { readonly family: 4 | 6; readonly table: string; readonly chain: string }[];
  /** This root's connect()-time redirects of published ports, in the host netns. */
  readonly redirects: readonly PortRedirect[];
  /** Whose redirects exist at all, as berth-redirect hashes its owners (any root, any netns). */
  readonly redirectOwners: readonly string[];
}

export interface PortRedirect {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerIp: string;
  readonly containerPort: number;
}

/** What this state root knows. */
export interface RootView {
  /** `berth:<root8>`, as link aliases carry it. */
  readonly rootTag: string;
  readonly containersDirectory: string;
  readonly netnsDirectory: string;
  readonly containers: readonly {
    readonly id: string;
    readonly name: string;
    /** The shim lives, or a start is in flight in a live process. */
    readonly live: boolean;
    /** The shim pid the container's run directory names. */
    readonly shimPid?: number;
  }[];
  readonly networks: readonly { readonly id: string; readonly name: string }[];
  /** Endpoint records (per boot) with the container they belong to. */
  readonly endpoints: readonly { readonly networkName: string; readonly containerId: string }[];
  /** The redirects the live containers' published ports call for. */
  readonly redirects: readonly PortRedirect[];
  /** Hidden `.creating-…`/`.removing-…` directories whose owner died half-way (the sweep's own rule). */
  readonly abandoned: ReadonlySet<string>;
  /** Other roots' tags whose state root no longer exists, with its path: their objects are nobody's. */
  readonly deadRoots: ReadonlyMap<string, string>;
  /** The dead roots' tags as berth-redirect hashes them, for their redirects. */
  readonly deadRedirectOwners: ReadonlyMap<string, string>;
}

const networkChain = /^BERTH-(PR|DN|PO|FW)-([0-9a-f]{12})$/;
const short = (id: string): string => id.slice(0, 12);

export function findLeftovers(host: HostView, root: RootView): Leftover[] {
  const found: Leftover[] = [];
  const containers = new Map(root.containers.map((container) => [container.id, container]));
  const describe = (id: string): string => {
    const container = containers.get(id);
    return container === undefined ? `removed container ${short(id)}` : `container ${container.name}, which is not running`;
  };
  /** The action for an object of this root's container: clean the whole container if it has a record. */
  const containerAction = (id: string, fallback: ReclaimAction): ReclaimAction =>
    containers.has(id) ? { type: "reclaim-container", id } : fallback;

  // Shims of this root: one per container, and only for a container that exists.
  const liveShimIds = new Set(host.shims.map((shim) => path.basename(shim.bundle)));
  /** Containers of this root whose record is gone while their shim runs on: all they hold is left over. */
  const orphanedIds = new Set<string>();
  for (const shim of host.shims) {
    if (path.dirname(shim.bundle) !== root.containersDirectory) continue;
    const id = path.basename(shim.bundle);
    const container = containers.get(id);
    if (container === undefined) {
      orphanedIds.add(id);
      found.push({ kind: "shim process", name: String(shim.pid), reason: `supervises removed container ${short(id)}`, action: { type: "kill-shim", pid: shim.pid } });
    } else if (container.shimPid !== shim.pid) {
      found.push({ kind: "shim process", name: String(shim.pid), reason: `a second shim for container ${container.name} (its own is ${container.shimPid ?? "none"})`, action: { type: "kill-shim", pid: shim.pid } });
    }
  }

  for (const mountPoint of host.mounts) {
    if (mountPoint.startsWith(`${root.containersDirectory}/`)) {
      const directory = mountPoint.slice(root.containersDirectory.length + 1).split("/")[0] ?? "";
      if (directory.startsWith(".")) {
        if (!root.abandoned.has(directory)) continue;
        found.push({ kind: "mount", name: mountPoint, reason: "left by a create or remove that was killed", action: { type: "sweep-abandoned" } });
        continue;
      }
      if (containers.get(directory)?.live === true) continue;
      found.push({ kind: "mount", name: mountPoint, reason: `root filesystem of ${describe(directory)}`, action: containerAction(directory, { type: "unmount", path: mountPoint }) });
    } else if (path.dirname(mountPoint) === root.netnsDirectory) {
      const id = path.basename(mountPoint);
      if (containers.get(id)?.live === true) continue;
      found.push({ kind: "netns", name: mountPoint, reason: `network namespace of ${describe(id)}`, action: containerAction(id, { type: "destroy-sandbox", path: mountPoint }) });
    }
  }

  for (const cgroup of host.cgroups) {
    const container = containers.get(cgroup.id);
    if (container?.live === true) continue;
    // Not this root's: another root's container keeps it while its shim lives.
    if (container === undefined && liveShimIds.has(cgroup.id) && !orphanedIds.has(cgroup.id)) continue;
    const inside = cgroup.processes === 0 ? "empty" : `${cgroup.processes} process${cgroup.processes === 1 ? "" : "es"} inside`;
    const whose = orphanedIds.has(cgroup.id)
      ? `removed container ${short(cgroup.id)}`
      : container === undefined
        ? `container ${short(cgroup.id)}, with no shim`
        : `container ${container.name}, which is not running`;
    found.push({ kind: "cgroup", name: `berth/${cgroup.id}`, reason: `${whose} (${inside})`, action: containerAction(cgroup.id, { type: "remove-cgroup", id: cgroup.id }) });
  }

  for (const endpoint of root.endpoints) {
    if (containers.get(endpoint.containerId)?.live === true) continue;
    found.push({
      kind: "endpoint",
      name: `${endpoint.networkName}/${short(endpoint.containerId)}`,
      reason: `address on network ${endpoint.networkName} held for ${describe(endpoint.containerId)}`,
      action: { type: "reclaim-endpoints" },
    });
  }

  const networkIds = new Set(root.networks.map((network) => network.id));
  const otherRootsNetworks = new Set<string>();
  let taggedBridges = 0;
  for (const link of host.links) {
    // Released by a teardown, alias and all; the kernel reaps it with its namespace.
    if (link.name.startsWith("vbdel")) continue;
    const owner = parseOwnerAlias(link.alias);
    if (owner === undefined) continue;
    const { root: tag, kind, id } = owner;
    if (kind === "network") taggedBridges++;
    if (tag !== root.rootTag) {
      const deadRoot = root.deadRoots.get(tag);
      if (deadRoot !== undefined) {
        const what = kind === "network" ? `bridge of network ${short(id)}` : `host side of a veth of container ${short(id)}`;
        found.push({ kind: "link", name: link.name, reason: `${what} of state root ${deadRoot}, which no longer exists`, action: { type: "remove-link", name: link.name } });
      } else if (kind === "network") {
        otherRootsNetworks.add(short(id));
      }
      continue;
    }
    if (kind === "network" && !networkIds.has(id)) {
      found.push({ kind: "link", name: link.name, reason: `bridge of removed network ${short(id)}`, action: { type: "remove-link", name: link.name } });
    } else if (kind === "container" && containers.get(id)?.live !== true) {
      found.push({ kind: "link", name: link.name, reason: `host side of a veth of ${describe(id)}`, action: containerAction(id, { type: "remove-link", name: link.name }) });
    }
  }

  const ownNetworks = new Set([...networkIds].map(short));
  let networkChainsKept = 0;
  const baseChains: { family: 4 | 6; table: string; chain: string }[] = [];
  for (const chain of host.chains) {
    const match = networkChain.exec(chain.chain);
    if (match === null) {
      baseChains.push(chain);
      continue;
    }
    const id12 = match[2] ?? "";
    if (ownNetworks.has(id12) || otherRootsNetworks.has(id12)) {
      networkChainsKept++;
      continue;
    }
    found.push({
      kind: "iptables chain",
      name: `${chain.family === 6 ? "ip6tables" : "iptables"} ${chain.table} ${chain.chain}`,
      reason: `rules of removed network ${id12}`,
      action: { type: "remove-network-rules", id12 },
    });
  }
  const wanted = new Set(root.redirects.map((redirect) => JSON.stringify(redirect)));
  for (const redirect of host.redirects) {
    if (wanted.has(JSON.stringify(redirect))) continue;
    found.push({
      kind: "port redirect",
      name: `${redirect.hostIp}:${redirect.hostPort} -> ${redirect.containerIp}:${redirect.containerPort}`,
      reason: "no live container of this root publishes it",
      action: { type: "sync-redirects" },
    });
  }
  for (const owner of host.redirectOwners) {
    const deadTag = root.deadRedirectOwners.get(owner);
    if (deadTag === undefined) continue;
    found.push({
      kind: "port redirect",
      name: `redirects of ${deadTag}`,
      reason: `state root ${root.deadRoots.get(deadTag) ?? "?"} no longer exists`,
      action: { type: "drop-redirects", ownerHash: owner },
    });
  }
  // The shared chains serve every root: a leftover only when no network anywhere needs them.
  if (networkChainsKept === 0 && taggedBridges === 0) {
    for (const chain of baseChains) {
      found.push({
        kind: "iptables chain",
        name: `${chain.family === 6 ? "ip6tables" : "iptables"} ${chain.table} ${chain.chain}`,
        reason: "shared chain with no network using it",
        action: { type: "remove-base-chains" },
      });
    }
  }
  return found;
}

/** The order prune runs actions in: processes first, then what they held, the firewall last. */
const actionOrder: readonly ReclaimAction["type"][] = [
  "kill-shim",
  "reclaim-container",
  "sweep-abandoned",
  "remove-cgroup",
  "unmount",
  "destroy-sandbox",
  "reclaim-endpoints",
  "remove-link",
  "remove-network-rules",
  "remove-base-chains",
  "sync-redirects",
  "drop-redirects",
];

/** Each distinct action once, in the order prune runs them. */
export function reclaimPlan(leftovers: readonly Leftover[]): ReclaimAction[] {
  const seen = new Map<string, ReclaimAction>();
  for (const leftover of leftovers) seen.set(JSON.stringify(leftover.action), leftover.action);
  const rank = (action: ReclaimAction): number => actionOrder.indexOf(action.type);
  const deepestFirst = (action: ReclaimAction): number => (action.type === "unmount" ? -action.path.length : 0);
  return [...seen.values()].sort((a, b) => rank(a) - rank(b) || deepestFirst(a) - deepestFirst(b));
}
