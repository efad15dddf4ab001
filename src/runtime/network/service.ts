// Networks as the engine keeps them: create (IPAM decided once, bridge and rules made at once,
// as Docker does), list, inspect, remove, prune; plus the container side (sandbox.ts). Every
// change holds the networks lock; subnet choice also holds a host-wide lock, because two state
// roots (parallel tests, two users) share the host's address space.

import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { chooseSubnet, gatewayOf, overlaps, parseCidr, validateIpamConfig, type FirewallNetwork } from "../../network/index.js";
import { randomBytes } from "../random.js";
import { withLock, writeJsonAtomic, type RuntimePaths } from "../state.js";
import type { NetworkKernel } from "./kernel.js";
import {
  findNetworkRecord,
  listEndpoints,
  listNetworkRecords,
  networkFile,
  networkRunDirectory,
  networksLockFile,
  NetworkStoreErrorCode,
  ownerAlias,
  registerRoot,
  type EndpointRecord,
  type IpamPool,
  type NetworkRecord,
} from "./records.js";

export interface NetworkCreateRequest {
  readonly name: string;
  readonly driver?: string;
  readonly internal?: boolean;
  readonly attachable?: boolean;
  readonly enableIPv6?: boolean;
  readonly ipam?: {
    readonly driver?: string;
    readonly options?: Readonly<Record<string, string>>;
    readonly config?: readonly { readonly subnet?: string; readonly ipRange?: string; readonly gateway?: string; readonly auxAddresses?: Readonly<Record<string, string>> }[];
  };
  readonly options?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Docker's network inspect document. */
export interface NetworkInspect {
  readonly Name: string;
  readonly Id: string;
  readonly Created: string;
  readonly Scope: "local";
  readonly Driver: string;
  readonly EnableIPv4: boolean;
  readonly EnableIPv6: boolean;
  readonly IPAM: {
    readonly Driver: string;
    readonly Options: Readonly<Record<string, string>>;
    readonly Config: readonly { readonly Subnet: string; readonly Gateway: string; readonly IPRange?: string; readonly AuxiliaryAddresses?: Readonly<Record<string, string>> }[];
  };
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Ingress: false;
  readonly ConfigFrom: { readonly Network: string };
  readonly ConfigOnly: false;
  readonly Containers: Readonly<Record<string, { readonly Name: string; readonly EndpointID: string; readonly MacAddress: string; readonly IPv4Address: string; readonly IPv6Address: string }>>;
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
}

export const predefinedNames = ["bridge", "host", "none"] as const;

/** Host-wide, not per root: subnets are a host resource. */
const subnetLockFile = "/run/lock/berth-subnets.lock";

export interface NetworkContext {
  readonly paths: RuntimePaths;
  readonly kernel: NetworkKernel;
  readonly clock: () => Date;
  /** Whether a container's process is alive now (endpoints of dead ones are reclaimed). */
  readonly isRunning: (containerId: string) => boolean;
}

const bridgeNameOption = "com.docker.network.bridge.name";
const mtuOption = "com.docker.network.driver.mtu";
const masqueradeOption = "com.docker.network.bridge.enable_ip_masquerade";

export const bridgeMtu = (record: NetworkRecord): number | undefined => {
  const mtu = record.options[mtuOption];
  return mtu === undefined ? undefined : Number.parseInt(mtu, 10);
};

export const masquerades = (record: NetworkRecord): boolean => record.options[masqueradeOption] !== "false";

/** The gateway addresses of a bridge, in CIDR form (`172.18.0.1/16`). */
export function gatewayAddresses(record: NetworkRecord): string[] {
  return record.ipam.config.map((pool) => `${pool.gateway}/${parseCidr(pool.subnet).prefix}`);
}

/** The firewall's view of a bridge network: its rules follow from this and the ports its endpoints publish. */
export function firewallNetwork(record: NetworkRecord, endpoints: readonly EndpointRecord[]): FirewallNetwork {
  return {
    id: record.id,
    bridge: record.bridge,
    subnets: record.ipam.config.map((pool) => pool.subnet),
    internal: record.internal,
    masquerade: masquerades(record),
    ports: endpoints.flatMap((endpoint) => endpoint.ports),
  };
}

export async function ensureNetworkKernelObjects(context: NetworkContext, record: NetworkRecord, endpoints: readonly EndpointRecord[]): Promise<void> {
  if (record.driver !== "bridge") return;
  registerRoot(context.paths);
  const mtu = bridgeMtu(record);
  await context.kernel.ensureBridge({
    name: record.bridge,
    addresses: gatewayAddresses(record),
    routeLocalnet: !record.internal,
    alias: ownerAlias(context.paths, "network", record.id),
    ...(mtu === undefined ? {} : { mtu }),
  });
  await context.kernel.applyNetworkRules(firewallNetwork(record, endpoints));
}

async function removeNetworkKernelObjects(context: NetworkContext, record: NetworkRecord): Promise<void> {
  if (record.driver !== "bridge") return;
  await context.kernel.removeNetworkRules(record.id);
  await context.kernel.removeBridge(record.bridge);
}

function invalid(message: string): BerthError {
  return new BerthError(NetworkStoreErrorCode.invalid, message);
}

/** Decide the address pools: the given ones validated, else free subnets from the default pools. */
function decidePools(context: NetworkContext, request: NetworkCreateRequest, existing: readonly NetworkRecord[], ipv6: boolean): IpamPool[] {
  const given = request.ipam?.config ?? [];
  const pools: IpamPool[] = [];
  const others = existing.flatMap((record) => record.ipam.config.map((pool) => pool.subnet));
  for (const entry of given) {
    if (entry.subnet === undefined || entry.subnet === "") {
      if (entry.gateway !== undefined || entry.ipRange !== undefined) throw invalid("invalid pool request: gateway and ip-range need a subnet");
      continue;
    }
    validateIpamConfig({ subnet: entry.subnet, ...(entry.ipRange ? { ipRange: entry.ipRange } : {}), ...(entry.gateway ? { gateway: entry.gateway } : {}), ...(entry.auxAddresses ? { auxAddresses: entry.auxAddresses } : {}) });
    const canonical = parseCidr(entry.subnet);
    const subnet = `${canonical.network}/${canonical.prefix}`;
    const clash = others.find((other) => overlaps(other, subnet));
    if (clash !== undefined) throw new BerthError(NetworkStoreErrorCode.conflict, `invalid pool request: Pool overlaps with other one on this address space (${clash})`);
    pools.push({
      subnet,
      gateway: entry.gateway ?? gatewayOf(subnet),
      ...(entry.ipRange ? { ipRange: entry.ipRange } : {}),
      ...(entry.auxAddresses && Object.keys(entry.auxAddresses).length > 0 ? { auxAddresses: entry.auxAddresses } : {}),
    });
  }
  let routed: string[] | undefined; // one `ip` spawn, and only when a subnet must be chosen
  const inUse = (): string[] => [...others, ...pools.map((pool) => pool.subnet), ...(routed ??= context.kernel.hostRoutedRanges())];
  if (!pools.some((pool) => parseCidr(pool.subnet).family === 4)) {
    const subnet = chooseSubnet({ family: 4, inUse: inUse() });
    pools.unshift({ subnet, gateway: gatewayOf(subnet) });
  }
  if (ipv6 && !pools.some((pool) => parseCidr(pool.subnet).family === 6)) {
    const subnet = chooseSubnet({ family: 6, inUse: inUse() });
    pools.push({ subnet, gateway: gatewayOf(subnet) });
  }
  return pools;
}

export async function createNetwork(context: NetworkContext, request: NetworkCreateRequest, predefined = false): Promise<NetworkRecord> {
  const name = request.name;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const driver = request.driver ?? "bridge";
  if (!predefined && (predefinedNames as readonly string[]).includes(name)) {
    throw new BerthError(NetworkStoreErrorCode.predefined, `network with name ${name} already exists`, { hint: `"${name}" is a pre-defined network` });
  }
  if (driver !== "bridge" && driver !== "macvlan" && !(predefined && (driver === "host" || driver === "null"))) {
    throw invalid(`plugin "${driver}" not found`);
  }
  const options = { ...(request.options ?? {}) };
  if (driver === "macvlan") {
    const parent = options["parent"];
    if (parent === undefined || parent === "") throw invalid("macvlan network needs a parent interface (-o parent=IFACE)");
    const mode = options["macvlan_mode"] ?? "bridge";
    if (!["bridge", "private", "vepa", "passthru"].includes(mode)) throw invalid(`invalid macvlan mode: ${mode}`);
  }
  if (request.enableIPv6 && !context.kernel.ipv6Available()) throw invalid("IPv6 is not available on this host");
  const mtu = options[mtuOption];
  if (mtu !== undefined && !/^\d+$/.test(mtu)) throw invalid(`invalid MTU: ${mtu}`);
  const id = randomBytes(32).toString("hex");
  return withLock(networksLockFile(context.paths), () =>
    withLock(subnetLockFile, async () => {
      const existing = listNetworkRecords(context.paths);
      if (existing.some((record) => record.name === name)) {
        throw new BerthError(NetworkStoreErrorCode.conflict, `network with name ${name} already exists`);
      }
      const bridge = driver === "bridge" ? (options[bridgeNameOption] ?? `br-${id.slice(0, 12)}`) : "";
      if (bridge.length > 15) throw invalid(`bridge name ${bridge} is longer than 15 characters`);
      if (bridge !== "" && existing.some((record) => record.bridge === bridge)) throw new BerthError(NetworkStoreErrorCode.conflict, `bridge name ${bridge} is already used by another network`);
      const usesAddresses = driver === "bridge" || driver === "macvlan";
      const record: NetworkRecord = {
        version: 1,
        id,
        name,
        created: context.clock().toISOString().replace(/Z$/, "000000Z"),
        driver: driver as NetworkRecord["driver"],
        bridge,
        internal: request.internal ?? false,
        attachable: request.attachable ?? false,
        enableIPv6: request.enableIPv6 ?? false,
        ipam: {
          driver: request.ipam?.driver ?? "default",
          options: request.ipam?.options ?? {},
          config: usesAddresses ? decidePools(context, request, existing, request.enableIPv6 ?? false) : [],
        },
        options,
        labels: request.labels ?? {},
        ...(predefined ? { predefined: true } : {}),
      };
      mkdirSync(path.dirname(networkFile(context.paths, id)), { recursive: true });
      try {
        // Made now, as Docker does: the bridge's address also reserves the subnet host-wide.
        // The default bridge waits for its first container (bringUpPredefined).
        if (!predefined) await ensureNetworkKernelObjects(context, record, []);
        writeJsonAtomic(networkFile(context.paths, id), record);
      } catch (error) {
        await removeNetworkKernelObjects(context, record).catch(() => undefined);
        throw error;
      }
      return record;
    }),
  );
}

/**
 * Bring up the default bridge for its first container. Its subnet was chosen when the record
 * was made, possibly long ago: if something else on the host took that range meanwhile, a
 * fresh one is chosen (it has no endpoints yet, so nothing holds the old addresses).
 */
export async function bringUpPredefined(context: NetworkContext, record: NetworkRecord): Promise<NetworkRecord> {
  return withLock(subnetLockFile, async () => {
    let current = record;
    const routed = context.kernel.hostRoutedRanges();
    const taken = current.ipam.config.some((pool) => routed.some((range) => overlaps(range, pool.subnet)));
    if (taken) {
      const others = listNetworkRecords(context.paths).filter((other) => other.id !== record.id).flatMap((other) => other.ipam.config.map((pool) => pool.subnet));
      const subnet = chooseSubnet({ family: 4, inUse: [...others, ...routed] });
      current = { ...current, ipam: { ...current.ipam, config: [{ subnet, gateway: gatewayOf(subnet) }] } };
      writeJsonAtomic(networkFile(context.paths, current.id), current);
    }
    await ensureNetworkKernelObjects(context, current, []);
    return current;
  });
}

/** The default `bridge` network (and the `host` and `none` entries), made on first use. */
export async function ensurePredefined(context: NetworkContext): Promise<NetworkRecord[]> {
  let records = listNetworkRecords(context.paths);
  for (const [name, driver] of [["bridge", "bridge"], ["host", "host"], ["none", "null"]] as const) {
    if (records.some((record) => record.name === name && record.predefined === true)) continue;
    await createNetwork(
      context,
      {
        name,
        driver,
        ...(name === "bridge" ? { options: { "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true", "com.docker.network.bridge.enable_ip_masquerade": "true" } } : {}),
      },
      true,
    ).catch((error: unknown) => {
      // Another process made it meanwhile.
      if (!(error instanceof BerthError && error.code === NetworkStoreErrorCode.conflict)) throw error;
    });
    records = listNetworkRecords(context.paths);
  }
  return records;
}

export function findNetwork(context: NetworkContext, reference: string): NetworkRecord {
  const record = findNetworkRecord(listNetworkRecords(context.paths), reference);
  if (record === undefined) throw new BerthError(NetworkStoreErrorCode.notFound, `network ${reference} not found`);
  return record;
}

export function inspectView(context: NetworkContext, record: NetworkRecord): NetworkInspect {
  const containers: Record<string, NetworkInspect["Containers"][string]> = {};
  for (const endpoint of listEndpoints(context.paths, record.id)) {
    if (!context.isRunning(endpoint.containerId)) continue;
    containers[endpoint.containerId] = {
      Name: endpoint.containerName,
      EndpointID: endpoint.endpointId,
      MacAddress: endpoint.mac,
      IPv4Address: endpoint.ipv4 === "" ? "" : `${endpoint.ipv4}/${endpoint.ipv4Prefix}`,
      IPv6Address: endpoint.ipv6 === "" ? "" : `${endpoint.ipv6}/${endpoint.ipv6Prefix}`,
    };
  }
  return {
    Name: record.name,
    Id: record.id,
    Created: record.created,
    Scope: "local",
    Driver: record.driver,
    EnableIPv4: record.driver === "bridge" || record.driver === "macvlan",
    EnableIPv6: record.enableIPv6,
    IPAM: {
      Driver: record.ipam.driver,
      Options: record.ipam.options,
      Config: record.ipam.config.map((pool) => ({
        Subnet: pool.subnet,
        Gateway: pool.gateway,
        ...(pool.ipRange ? { IPRange: pool.ipRange } : {}),
        ...(pool.auxAddresses ? { AuxiliaryAddresses: pool.auxAddresses } : {}),
      })),
    },
    Internal: record.internal,
    Attachable: record.attachable,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    Options: record.options,
    Labels: record.labels,
  };
}

/** Remove a network with no running container on it (endpoints of dead containers are reclaimed first). */
export async function removeNetwork(context: NetworkContext, reference: string, reclaim: () => Promise<void>): Promise<NetworkRecord> {
  const record = findNetwork(context, reference);
  if (record.predefined) throw new BerthError(NetworkStoreErrorCode.predefined, `${record.name} is a pre-defined network and cannot be removed`);
  await reclaim();
  return withLock(networksLockFile(context.paths), async () => {
    const active = listEndpoints(context.paths, record.id);
    if (active.length > 0) {
      throw new BerthError(NetworkStoreErrorCode.inUse, `error while removing network: network ${record.name} id ${record.id} has active endpoints`, {
        hint: `connected: ${active.map((endpoint) => endpoint.containerName).join(", ")}`,
      });
    }
    await removeNetworkKernelObjects(context, record);
    rmSync(networkRunDirectory(context.paths, record.id), { recursive: true, force: true });
    rmSync(networkFile(context.paths, record.id), { force: true });
    // The shared chains go with the host's last berth network (any root's): it checks live rules.
    await context.kernel.removeBaseChains();
    return record;
  });
}

/** Take down every network of this root, kernel objects and records (tests; `system prune`'s last step). */
export async function destroyAllNetworks(context: NetworkContext): Promise<void> {
  await withLock(networksLockFile(context.paths), async () => {
    for (const record of listNetworkRecords(context.paths)) {
      await removeNetworkKernelObjects(context, record);
      rmSync(networkRunDirectory(context.paths, record.id), { recursive: true, force: true });
      rmSync(networkFile(context.paths, record.id), { force: true });
    }
    await context.kernel.removeBaseChains();
  });
}
