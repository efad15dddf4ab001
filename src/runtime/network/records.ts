// The engine's network state. Networks persist under the state root (they outlive reboots, as
// Docker's do); endpoints are per boot under the run root, because the kernel objects they
// describe (netns, veths, rules) vanish with a reboot too.
//
//   <state>/networks/<id>.json                  one network (NetworkRecord)
//   <state>/locks/networks.lock                 every network and endpoint change takes it
//   <run>/networks/<id>/endpoints/<cid>.json    a running container's attachment (EndpointRecord)
//   <run>/networks/<id>/names                   the DNS table of the network (NAME ADDRESS lines)
//   <run>/netns/<cid>                           the container's network namespace (bind mount)

import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import type { PublishedPort } from "../../network/index.js";
import { BerthError } from "../../errors.js";
import { createHash } from "../image/hash.js";
import { perBoot, readJsonFile, writeFileAtomic, type RuntimePaths } from "../state.js";
import type { ResolverSettings } from "./name-files.js";
import { compareText } from "../../compare.js";

export const NetworkStoreErrorCode = {
  notFound: "E_NETWORK_NOT_FOUND",
  ambiguous: "E_NETWORK_AMBIGUOUS",
  conflict: "E_NETWORK_CONFLICT",
  invalid: "E_NETWORK_INVALID",
  inUse: "E_NETWORK_IN_USE",
  predefined: "E_NETWORK_PREDEFINED",
} as const;

export type NetworkDriverName = "bridge" | "macvlan" | "host" | "null";

export interface IpamPool {
  readonly subnet: string;
  readonly gateway: string;
  readonly ipRange?: string;
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

export interface NetworkRecord {
  readonly version: 1;
  readonly id: string;
  readonly name: string;
  readonly created: string;
  readonly driver: NetworkDriverName;
  /** The Linux bridge (bridge driver) or "" (macvlan). */
  readonly bridge: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly enableIPv6: boolean;
  readonly ipam: { readonly driver: string; readonly options: Readonly<Record<string, string>>; readonly config: readonly IpamPool[] };
  /** driver_opts as given (`com.docker.network.bridge.name`, `parent`, …). */
  readonly options: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** The default `bridge` network: created on first use, never removed by `network rm`. */
  readonly predefined?: boolean;
}

export interface EndpointRecord {
  readonly networkId: string;
  readonly containerId: string;
  readonly containerName: string;
  readonly endpointId: string;
  readonly ifName: string;
  readonly hostIfName: string;
  readonly sandbox: string;
  readonly ipv4: string;
  readonly ipv4Prefix: number;
  readonly gateway: string;
  readonly ipv6: string;
  readonly ipv6Prefix: number;
  readonly ipv6Gateway: string;
  readonly mac: string;
  readonly aliases: readonly string[];
  /** Every name peers resolve to this endpoint: container name, aliases, hostname, short id. */
  readonly dnsNames: readonly string[];
  /** Ports published through this endpoint (only the first network of a container carries them). */
  readonly ports: readonly PublishedPort[];
  /** The container's /etc/hosts on the host, rewritten in place when peers change. */
  readonly hostsFile: string;
  readonly hostsHeader: string;
  readonly hostname: string;
  readonly domainname: string;
  /** The resolver's dns.json of the container (its table list changes on connect/disconnect). */
  readonly dnsConfigFile: string;
  readonly resolver: ResolverSettings;
}

export const networksDirectory = (paths: RuntimePaths): string => path.join(paths.stateRoot, "networks");
export const networkFile = (paths: RuntimePaths, id: string): string => path.join(networksDirectory(paths), `${id}.json`);
export const networksLockFile = (paths: RuntimePaths): string => path.join(paths.stateRoot, "locks", "networks.lock");
export const networkRunDirectory = (paths: RuntimePaths, id: string): string => path.join(paths.runRoot, "networks", id);
export const endpointsDirectory = (paths: RuntimePaths, id: string): string => path.join(networkRunDirectory(paths, id), "endpoints");
export const endpointFile = (paths: RuntimePaths, networkId: string, containerId: string): string =>
  path.join(endpointsDirectory(paths, networkId), `${containerId}.json`);
export const namesTableFile = (paths: RuntimePaths, id: string): string => path.join(networkRunDirectory(paths, id), "names");
export const sandboxPath = (paths: RuntimePaths, containerId: string): string => path.join(paths.runRoot, "netns", containerId);

/**
 * The ifalias berth gives its links: `berth:<root8>:<kind>:<id>`, root8 naming the state root.
 * `system check` tells its own leftovers from another root's live objects by it.
 */
export function ownerAlias(paths: RuntimePaths, kind: "network" | "container", id: string): string {
  return `${rootTag(paths)}:${kind}:${id}`;
}

/** The owner an `ownerAlias` names; undefined for any other alias. */
export function parseOwnerAlias(alias: string | undefined): { root: string; kind: "network" | "container"; id: string } | undefined {
  const match = /^(berth:[0-9a-f]{8}):(network|container):([0-9a-f]{64})$/.exec(alias ?? "");
  if (match === null) return undefined;
  return { root: match[1] as string, kind: match[2] as "network" | "container", id: match[3] as string };
}

const rootTags = new Map<string, string>();

/**
 * `berth:<first 8 hex digits of sha256(state root)>` (hashed once per root and process: every
 * link's alias names it). The run root keeps the last one computed (`root-tag`: the tag, a space,
 * the state root it is for), so that a container start does not load node:crypto for it.
 */
export function rootTag(paths: RuntimePaths): string {
  let tag = rootTags.get(paths.stateRoot);
  if (tag === undefined) {
    const cacheFile = path.join(paths.runRoot, "root-tag");
    tag = cachedRootTag(cacheFile, paths.stateRoot);
    if (tag === undefined) {
      tag = `berth:${createHash("sha256").update(paths.stateRoot).digest("hex").slice(0, 8)}`;
      try {
        writeFileAtomic(cacheFile, `${tag} ${paths.stateRoot}`, perBoot);
      } catch {
        // Only a cache: the next run hashes again.
      }
    }
    rootTags.set(paths.stateRoot, tag);
  }
  return tag;
}

function cachedRootTag(cacheFile: string, stateRoot: string): string | undefined {
  try {
    const text = readFileSync(cacheFile, "utf8");
    const space = text.indexOf(" ");
    const tag = text.slice(0, space);
    return space > 0 && text.slice(space + 1) === stateRoot && /^berth:[0-9a-f]{8}$/.test(tag) ? tag : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Host-wide, per boot: which state root each `berth:<root8>` tag stands for, one file per tag
 * holding the root's path. `system check` in any root then tells a live root's objects from
 * those of a root that was deleted (a test's throwaway root, a moved BERTH_ROOT), which nothing
 * else would ever reclaim.
 */
export const rootsRegistryDirectory = "/run/lock/berth-roots";
const registeredRoots = new Set<string>();

/** Record this root under its tag (once per process; before it tags any kernel object). */
export function registerRoot(paths: RuntimePaths): void {
  const tag = rootTag(paths);
  if (registeredRoots.has(tag)) return;
  const file = path.join(rootsRegistryDirectory, tag.slice("berth:".length));
  try {
    if (readFileSync(file, "utf8") !== paths.stateRoot) throw new Error("stale");
  } catch {
    mkdirSync(rootsRegistryDirectory, { recursive: true });
    writeFileAtomic(file, paths.stateRoot);
  }
  registeredRoots.add(tag);
}

/** Every registered root: tag → state root path. */
export function registeredRootsOnHost(): Map<string, string> {
  const roots = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(rootsRegistryDirectory);
  } catch {
    return roots;
  }
  for (const name of names) {
    if (!/^[0-9a-f]{8}$/.test(name)) continue;
    try {
      roots.set(`berth:${name}`, readFileSync(path.join(rootsRegistryDirectory, name), "utf8"));
    } catch {
      // Written meanwhile, or removed.
    }
  }
  return roots;
}

const isId = (name: string): boolean => /^[0-9a-f]{64}$/.test(name);

export function listNetworkRecords(paths: RuntimePaths): NetworkRecord[] {
  let names: string[];
  try {
    names = readdirSync(networksDirectory(paths));
  } catch {
    return [];
  }
  const records: NetworkRecord[] = [];
  for (const name of names) {
    if (!name.endsWith(".json") || !isId(name.slice(0, -5))) continue;
    const record = readJsonFile<NetworkRecord>(path.join(networksDirectory(paths), name));
    if (record !== undefined) records.push(record);
  }
  return records.sort((a, b) => compareText(a.created, b.created) || compareText(a.name, b.name));
}

/** Docker's lookup order: full id, exact name, unique id prefix. */
export function findNetworkRecord(records: readonly NetworkRecord[], reference: string): NetworkRecord | undefined {
  const byId = records.find((record) => record.id === reference);
  if (byId !== undefined) return byId;
  const byName = records.find((record) => record.name === reference);
  if (byName !== undefined) return byName;
  if (/^[0-9a-f]+$/.test(reference)) {
    const matches = records.filter((record) => record.id.startsWith(reference));
    if (matches.length > 1) throw new BerthError(NetworkStoreErrorCode.ambiguous, `network ${reference} is ambiguous (${matches.length} matches found based on ID prefix)`);
    return matches[0];
  }
  return undefined;
}

export function listEndpoints(paths: RuntimePaths, networkId: string): EndpointRecord[] {
  let names: string[];
  try {
    names = readdirSync(endpointsDirectory(paths, networkId));
  } catch {
    return [];
  }
  const endpoints: EndpointRecord[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".json") || !isId(name.slice(0, -5))) continue;
    const endpoint = readJsonFile<EndpointRecord>(path.join(endpointsDirectory(paths, networkId), name));
    if (endpoint !== undefined) endpoints.push(endpoint);
  }
  return endpoints;
}

/** A container's endpoints on every network, in its interface order (eth0 first). */
export function endpointsOfContainer(paths: RuntimePaths, containerId: string, networks: readonly NetworkRecord[]): EndpointRecord[] {
  const found: EndpointRecord[] = [];
  for (const network of networks) {
    const endpoint = readJsonFile<EndpointRecord>(endpointFile(paths, network.id, containerId));
    if (endpoint !== undefined) found.push(endpoint);
  }
  return found.sort((a, b) => interfaceIndex(a.ifName) - interfaceIndex(b.ifName));
}

export const interfaceIndex = (ifName: string): number => Number.parseInt(ifName.replace(/^\D+/, ""), 10) || 0;
