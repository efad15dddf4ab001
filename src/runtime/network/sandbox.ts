// A container's place on its networks: set up before the shim starts (the shim joins the
// namespace bound at <run>/netns/<id>), torn down after it is gone, and changed while it runs
// (connect, disconnect). Setup decides everything first (addresses, host ports, names), records
// it as endpoint files, then makes the kernel objects; any failure runs the teardown, which is
// the mirror of setup and idempotent: it works from whatever endpoint files and objects exist.

import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import {
  allocateAddress,
  containsAddress,
  macAddressFor,
  NetworkErrorCode,
  parseCidr,
  redirectsFor,
  type EndpointSpec,
  type PublishedPort,
} from "../../network/index.js";
import { randomBytes } from "../random.js";
import { perBoot, readJsonFile, withLock, writeFileAtomic, writeJsonAtomic, type RuntimePaths } from "../state.js";
import {
  dnsNamesOf,
  hostsHeader,
  renderHosts,
  renderNamesTable,
  renderResolvConf,
  renderResolverConfig,
  type ResolverSettings,
} from "./name-files.js";
import {
  endpointFile,
  endpointsDirectory,
  interfaceIndex,
  listEndpoints,
  listNetworkRecords,
  namesTableFile,
  networksLockFile,
  NetworkStoreErrorCode,
  ownerAlias,
  registerRoot,
  rootTag,
  sandboxPath,
  type EndpointRecord,
  type NetworkRecord,
} from "./records.js";
import { bridgeMtu, bringUpPredefined, ensureNetworkKernelObjects, firewallNetwork, type NetworkContext } from "./service.js";

/** A container's attachment to one network, as its record keeps it (Docker's EndpointSettings input). */
export interface ResolvedAttachment {
  readonly networkId: string;
  readonly networkName: string;
  readonly aliases: readonly string[];
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly macAddress?: string;
}

/** One published port as asked: host port 0 = any free one; a range = the first free in it. */
export interface PortRequest {
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp" | "sctp";
  /** "" = the network's default binding address (0.0.0.0, and :: on IPv6 networks). */
  readonly hostIp: string;
  readonly hostPort: number;
  readonly hostPortEnd: number;
}

export interface SandboxRequest {
  readonly containerId: string;
  readonly containerName: string;
  readonly hostname: string;
  readonly domainname: string;
  readonly attachments: readonly ResolvedAttachment[];
  readonly ports: readonly PortRequest[];
  /** `name:address` (`host-gateway` = the first network's gateway). */
  readonly extraHosts: readonly string[];
  readonly resolver: ResolverSettings;
  readonly files: { readonly hosts: string; readonly resolvConf: string; readonly dnsConfig: string };
}

const hostIfName = (containerId: string, index: number): string => `vb${containerId.slice(0, 10)}${index.toString(16).padStart(2, "0")}`;
const interfaceName = (index: number): string => `eth${index}`;
const isV6 = (ip: string): boolean => ip.includes(":");

/** Whether two bindings would take the same host socket (a wildcard address overlaps every address of its family). */
function sameHostSocket(a: Pick<PublishedPort, "hostIp" | "protocol" | "hostPort">, b: Pick<PublishedPort, "hostIp" | "protocol" | "hostPort">): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort || isV6(a.hostIp) !== isV6(b.hostIp)) return false;
  const wildcard = (ip: string): boolean => ip === "0.0.0.0" || ip === "::";
  return wildcard(a.hostIp) || wildcard(b.hostIp) || a.hostIp === b.hostIp;
}

function portError(message: string): BerthError {
  return new BerthError(NetworkErrorCode.portInUse, message);
}

/** The endpoint a container gets on one network: addresses chosen now, names decided. */
function planEndpoint(options: {
  readonly network: NetworkRecord;
  readonly attachment: ResolvedAttachment;
  readonly request: Pick<SandboxRequest, "containerId" | "containerName" | "hostname" | "domainname" | "files" | "resolver">;
  readonly index: number;
  readonly taken: readonly EndpointRecord[];
  readonly header: string;
}): EndpointRecord {
  const { network, attachment, request, index } = options;
  const takenAddresses = new Set(options.taken.flatMap((endpoint) => [endpoint.ipv4, endpoint.ipv6]).filter((ip) => ip !== ""));
  const pick = (family: 4 | 6, wanted: string | undefined): { ip: string; prefix: number; gateway: string } => {
    const pools = network.ipam.config.filter((pool) => parseCidr(pool.subnet).family === family);
    if (pools.length === 0) {
      if (wanted !== undefined && wanted !== "") throw new BerthError(NetworkStoreErrorCode.invalid, `network ${network.name} has no IPv${family} subnet for address ${wanted}`);
      return { ip: "", prefix: 0, gateway: "" };
    }
    const reserved = new Set<string>(takenAddresses);
    for (const pool of pools) {
      reserved.add(pool.gateway);
      for (const aux of Object.values(pool.auxAddresses ?? {})) reserved.add(aux);
    }
    if (wanted !== undefined && wanted !== "") {
      const pool = pools.find((candidate) => containsAddress(candidate.subnet, wanted));
      if (pool === undefined) throw new BerthError(NetworkStoreErrorCode.invalid, `no configured subnet or ip-range contain the IP address ${wanted}`);
      if (reserved.has(wanted)) throw new BerthError(NetworkStoreErrorCode.conflict, `Address already in use: ${wanted} on network ${network.name}`);
      return { ip: wanted, prefix: parseCidr(pool.subnet).prefix, gateway: pool.gateway };
    }
    for (const pool of pools) {
      try {
        const ip = allocateAddress({ subnet: pool.subnet, ...(pool.ipRange ? { ipRange: pool.ipRange } : {}), reserved });
        return { ip, prefix: parseCidr(pool.subnet).prefix, gateway: pool.gateway };
      } catch (error) {
        if (pool === pools[pools.length - 1]) throw error;
      }
    }
    return { ip: "", prefix: 0, gateway: "" };
  };
  const v4 = pick(4, attachment.ipv4Address);
  const v6 = network.enableIPv6 ? pick(6, attachment.ipv6Address) : { ip: "", prefix: 0, gateway: "" };
  return {
    networkId: network.id,
    containerId: request.containerId,
    containerName: request.containerName,
    endpointId: randomBytes(32).toString("hex"),
    ifName: interfaceName(index),
    hostIfName: hostIfName(request.containerId, index),
    sandbox: "",
    ipv4: v4.ip,
    ipv4Prefix: v4.prefix,
    gateway: v4.gateway,
    ipv6: v6.ip,
    ipv6Prefix: v6.prefix,
    ipv6Gateway: v6.gateway,
    mac: attachment.macAddress ?? (v4.ip === "" ? randomMac() : macAddressFor(v4.ip)),
    aliases: attachment.aliases,
    dnsNames: dnsNamesOf({ containerName: request.containerName, containerId: request.containerId, hostname: request.hostname, aliases: attachment.aliases }),
    ports: [],
    hostsFile: request.files.hosts,
    hostsHeader: options.header,
    hostname: request.hostname,
    domainname: request.domainname,
    dnsConfigFile: request.files.dnsConfig,
    resolver: request.resolver,
  };
}

function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

/** Host ports for the container's published ports, checked against berth's own and the host's sockets. */
function allocatePorts(context: NetworkContext, endpoint: EndpointRecord, network: NetworkRecord, requests: readonly PortRequest[], allEndpoints: readonly EndpointRecord[]): PublishedPort[] {
  const published: PublishedPort[] = [];
  if (requests.length === 0) return published;
  const claimed = [...allEndpoints.flatMap((other) => other.ports)];
  const host = context.kernel.hostSockets(requests.map((request) => request.protocol));
  const defaultIp = network.options["com.docker.network.bridge.host_binding_ipv4"] ?? "0.0.0.0";
  const free = (hostIp: string, protocol: PortRequest["protocol"], port: number): "ok" | "berth" | "host" => {
    if (claimed.some((other) => sameHostSocket(other, { hostIp, protocol, hostPort: port }))) return "berth";
    if (host.busy(protocol, hostIp, port)) return "host";
    return "ok";
  };
  for (const request of requests) {
    const hostIps = request.hostIp !== "" ? [request.hostIp] : endpoint.ipv6 !== "" ? [defaultIp, "::"] : [defaultIp];
    for (const hostIp of hostIps) {
      const containerIp = isV6(hostIp) ? endpoint.ipv6 : endpoint.ipv4;
      if (containerIp === "") {
        throw new BerthError(NetworkStoreErrorCode.invalid, `cannot publish ${hostIp} port ${request.containerPort}/${request.protocol}: network ${network.name} gives the container no IPv${isV6(hostIp) ? 6 : 4} address`);
      }
      const shown = isV6(hostIp) ? `[${hostIp}]` : hostIp;
      let hostPort: number;
      if (request.hostPort === 0) {
        const taken = new Set(claimed.filter((other) => other.protocol === request.protocol).map((other) => other.hostPort));
        hostPort = host.pickFree({ protocol: request.protocol, hostIp, taken });
      } else if (request.hostPortEnd > request.hostPort) {
        const candidates = Array.from({ length: request.hostPortEnd - request.hostPort + 1 }, (_, offset) => request.hostPort + offset);
        const found = candidates.find((port) => free(hostIp, request.protocol, port) === "ok");
        if (found === undefined) throw portError(`Bind for ${shown}:${request.hostPort}-${request.hostPortEnd} failed: all ports of the range are already allocated`);
        hostPort = found;
      } else {
        hostPort = request.hostPort;
        const verdict = free(hostIp, request.protocol, hostPort);
        if (verdict === "berth") throw portError(`Bind for ${shown}:${hostPort} failed: port is already allocated`);
        if (verdict === "host") throw portError(`failed to bind host port ${shown}:${hostPort}/${request.protocol}: address already in use`);
      }
      const port: PublishedPort = { hostIp, hostPort, containerIp, containerPort: request.containerPort, protocol: request.protocol };
      published.push(port);
      claimed.push(port);
    }
  }
  return published;
}

function endpointSpec(paths: RuntimePaths, network: NetworkRecord, endpoint: EndpointRecord, routeDefault: boolean): EndpointSpec {
  const mtu = bridgeMtu(network);
  const addresses = [
    ...(endpoint.ipv4 === "" ? [] : [`${endpoint.ipv4}/${endpoint.ipv4Prefix}`]),
    ...(endpoint.ipv6 === "" ? [] : [`${endpoint.ipv6}/${endpoint.ipv6Prefix}`]),
  ];
  const gateways = routeDefault && !network.internal ? [endpoint.gateway, endpoint.ipv6Gateway].filter((gateway) => gateway !== "") : [];
  if (network.driver === "macvlan") {
    const mode = (network.options["macvlan_mode"] ?? "bridge") as NonNullable<EndpointSpec["macvlanMode"]>;
    return { driver: "macvlan", ifName: endpoint.ifName, hostIfName: endpoint.hostIfName, parent: network.options["parent"] ?? "", macvlanMode: mode, addresses, gateways, mac: endpoint.mac, ...(mtu === undefined ? {} : { mtu }) };
  }
  const hostAlias = ownerAlias(paths, "container", endpoint.containerId);
  return { driver: "bridge", ifName: endpoint.ifName, hostIfName: endpoint.hostIfName, bridge: network.bridge, addresses, gateways, mac: endpoint.mac, hostAlias, ...(mtu === undefined ? {} : { mtu }) };
}

const userDefined = (network: NetworkRecord): boolean => network.predefined !== true;

/** Rewrite the names table and every member's /etc/hosts and dns.json after a network's membership changed. */
function refreshNames(context: NetworkContext, networks: readonly NetworkRecord[], changed: ReadonlySet<string>): void {
  const byId = new Map(networks.map((network) => [network.id, network]));
  const members = new Map<string, EndpointRecord[]>();
  for (const network of networks) members.set(network.id, listEndpoints(context.paths, network.id));
  for (const id of changed) {
    const network = byId.get(id);
    if (network === undefined) continue;
    mkdirSync(path.dirname(namesTableFile(context.paths, id)), { recursive: true });
    writeFileAtomic(namesTableFile(context.paths, id), userDefined(network) ? renderNamesTable(members.get(id) ?? []) : "", perBoot);
  }
  // Every container on a changed network: its hosts file (peers) and its resolver's table list.
  const containers = new Set<string>();
  for (const id of changed) for (const endpoint of members.get(id) ?? []) containers.add(endpoint.containerId);
  for (const containerId of containers) {
    const own = [...members.values()].flat().filter((endpoint) => endpoint.containerId === containerId);
    const first = own.sort((a, b) => interfaceIndex(a.ifName) - interfaceIndex(b.ifName))[0];
    if (first === undefined) continue;
    const sharedNetworks = own.map((endpoint) => byId.get(endpoint.networkId)).filter((network): network is NetworkRecord => network !== undefined && userDefined(network));
    const peers = sharedNetworks.flatMap((network) => (members.get(network.id) ?? []).filter((endpoint) => endpoint.containerId !== containerId));
    writeInPlace(first.hostsFile, renderHosts({ header: first.hostsHeader, self: own, hostname: first.hostname, domainname: first.domainname, peers }));
    if (existsSync(path.dirname(first.dnsConfigFile))) {
      writeFileAtomic(first.dnsConfigFile, renderResolverConfig({ ...first.resolver, tables: sharedNetworks.map((network) => namesTableFile(context.paths, network.id)) }), perBoot);
    }
  }
}

/** /etc/hosts is bind-mounted: a rename would leave the container reading the old inode for good. */
function writeInPlace(file: string, content: string): void {
  try {
    writeFileSync(file, content);
  } catch {
    // The container was removed meanwhile; nothing reads this file any more.
  }
}

/** Drop endpoints whose container is no longer running (it exited with no berth process watching). */
async function reclaimStaleLocked(context: NetworkContext, networks: readonly NetworkRecord[], except: string): Promise<Set<string>> {
  const stale = new Set<string>();
  for (const network of networks) {
    for (const endpoint of listEndpoints(context.paths, network.id)) {
      if (endpoint.containerId !== except && !context.isRunning(endpoint.containerId)) stale.add(endpoint.containerId);
    }
  }
  const changed = new Set<string>();
  for (const containerId of stale) for (const id of await tearDownLocked(context, networks, containerId, false)) changed.add(id);
  return changed;
}

/**
 * Remove a container's endpoints, its namespace (its veths go with it) and its published
 * ports. Returns the networks whose membership changed. Idempotent.
 */
async function tearDownLocked(context: NetworkContext, networks: readonly NetworkRecord[], containerId: string, refresh = true): Promise<Set<string>> {
  const changed = new Set<string>();
  const withPorts: NetworkRecord[] = [];
  const removed: EndpointRecord[] = [];
  for (const network of networks) {
    const file = endpointFile(context.paths, network.id, containerId);
    const endpoint = readJsonFile<EndpointRecord>(file);
    if (endpoint === undefined) continue;
    removed.push(endpoint);
    rmSync(file, { force: true });
    changed.add(network.id);
    if (endpoint.ports.length > 0) withPorts.push(network);
  }
  const sandbox = sandboxPath(context.paths, containerId);
  if (existsSync(sandbox)) await context.kernel.destroySandbox(sandbox);
  for (const network of withPorts) {
    if (network.driver === "bridge") await applyRules(context, network);
  }
  await context.kernel.forgetUdpFlows(udpHostPorts(removed));
  if (refresh) refreshNames(context, networks, changed);
  return changed;
}

/** The host ports of these endpoints' published UDP ports. */
function udpHostPorts(endpoints: readonly EndpointRecord[]): number[] {
  return endpoints.flatMap((endpoint) => endpoint.ports.filter((port) => port.protocol === "udp").map((port) => port.hostPort));
}

/** A network's rules after its published ports changed, and the root's connect()-time redirects with them. */
async function applyRules(context: NetworkContext, network: NetworkRecord): Promise<void> {
  await context.kernel.applyNetworkRules(firewallNetwork(network, listEndpoints(context.paths, network.id)));
  await syncRedirects(context);
}

/**
 * Every TCP port this root publishes on 127.0.0.1 (or on every address), for clients on the host:
 * their connect() goes straight to the container (src/network/redirect.ts). Recomputed from the
 * endpoint records, like the rules; where BPF is not available the DNAT rules serve alone.
 */
export async function syncRedirects(context: NetworkContext): Promise<void> {
  const ports = listNetworkRecords(context.paths).flatMap((network) => listEndpoints(context.paths, network.id).flatMap((endpoint) => endpoint.ports));
  await context.kernel.syncRedirects(rootTag(context.paths), redirectsFor(ports));
}

/**
 * Bridges (and their rules) exist after a reboot only once something needs them again; the
 * default bridge comes up with its first container. Returns the records as they are now.
 */
async function ensureBridges(context: NetworkContext, networks: readonly NetworkRecord[]): Promise<NetworkRecord[]> {
  const current: NetworkRecord[] = [];
  for (const network of networks) {
    if (network.driver !== "bridge" || existsSync(path.join("/sys/class/net", network.bridge))) {
      current.push(network);
    } else if (network.predefined === true && listEndpoints(context.paths, network.id).length === 0) {
      current.push(await bringUpPredefined(context, network));
    } else {
      await ensureNetworkKernelObjects(context, network, listEndpoints(context.paths, network.id));
      current.push(network);
    }
  }
  return current;
}

function attachedNetworks(all: readonly NetworkRecord[], attachments: readonly ResolvedAttachment[]): NetworkRecord[] {
  return attachments.map((attachment) => {
    const network = all.find((record) => record.id === attachment.networkId);
    if (network === undefined) throw new BerthError(NetworkStoreErrorCode.notFound, `network ${attachment.networkName} not found`);
    return network;
  });
}

function resolveExtraHosts(extraHosts: readonly string[], gateway: string): { name: string; address: string }[] {
  return extraHosts.map((entry) => {
    const separator = entry.indexOf(":");
    const name = entry.slice(0, separator);
    let address = entry.slice(separator + 1).replace(/^\[(.*)\]$/, "$1");
    if (address === "host-gateway") {
      if (gateway === "") throw new BerthError(NetworkStoreErrorCode.invalid, `extra host ${name}: host-gateway needs a bridge network`);
      address = gateway;
    }
    return { name, address };
  });
}

export interface SandboxResult {
  /** The namespace the shim joins. */
  readonly sandbox: string;
  readonly endpoints: readonly EndpointRecord[];
}

/** Everything a container needs on its networks before its shim starts. */
export async function setUpSandbox(context: NetworkContext, request: SandboxRequest): Promise<SandboxResult> {
  return withLock(networksLockFile(context.paths), async () => {
    let all = listNetworkRecords(context.paths);
    const changed = await reclaimStaleLocked(context, all, request.containerId);
    // A previous run of this container that was never torn down (its CLI was killed).
    for (const id of await tearDownLocked(context, all, request.containerId, false)) changed.add(id);
    const networks = await ensureBridges(context, attachedNetworks(all, request.attachments));
    all = all.map((record) => networks.find((network) => network.id === record.id) ?? record);
    const first = networks[0];
    if (request.ports.length > 0 && (first === undefined || first.driver !== "bridge" || first.internal)) {
      throw new BerthError(NetworkStoreErrorCode.invalid, "published ports need a (non-internal) bridge network as the container's first network");
    }
    const sandbox = sandboxPath(context.paths, request.containerId);
    const firstGateway = networks.find((network) => network.driver === "bridge")?.ipam.config[0]?.gateway ?? "";
    const header = hostsHeader(resolveExtraHosts(request.extraHosts, firstGateway));
    // One read of every endpoint: addresses taken per network, host ports taken across all of them.
    const members = new Map(all.map((network) => [network.id, listEndpoints(context.paths, network.id)]));
    const everyEndpoint = [...members.values()].flat();
    const endpoints = networks.map((network, index): EndpointRecord => {
      const attachment = request.attachments[index] as ResolvedAttachment;
      const planned = planEndpoint({ network, attachment, request, index, taken: members.get(network.id) ?? [], header });
      const ports = index === 0 ? allocatePorts(context, planned, network, request.ports, everyEndpoint) : [];
      return { ...planned, sandbox, ports };
    });
    try {
      for (const endpoint of endpoints) {
        mkdirSync(endpointsDirectory(context.paths, endpoint.networkId), { recursive: true });
        writeJsonAtomic(endpointFile(context.paths, endpoint.networkId, endpoint.containerId), endpoint, perBoot);
        changed.add(endpoint.networkId);
      }
      mkdirSync(path.dirname(sandbox), { recursive: true });
      registerRoot(context.paths);
      await context.kernel.createSandbox(
        sandbox,
        endpoints.map((endpoint, index) => endpointSpec(context.paths, networks[index] as NetworkRecord, endpoint, index === 0)),
      );
      for (const [index, network] of networks.entries()) {
        if ((endpoints[index]?.ports.length ?? 0) > 0) await applyRules(context, network);
      }
      await context.kernel.forgetUdpFlows(udpHostPorts(endpoints));
      writeFileAtomic(request.files.resolvConf, renderResolvConf(request.resolver), perBoot);
      refreshNames(context, all, changed);
    } catch (error) {
      await tearDownLocked(context, all, request.containerId).catch(() => undefined);
      throw error;
    }
    return { sandbox, endpoints };
  });
}

/** The mirror of setUpSandbox; idempotent, and safe when setup never ran. */
export async function tearDownSandbox(context: NetworkContext, containerId: string): Promise<void> {
  if (!hasNetworkState(context, containerId)) return;
  await withLock(networksLockFile(context.paths), async () => {
    await tearDownLocked(context, listNetworkRecords(context.paths), containerId);
  });
}

/** Cheap check (no lock, no spawn) so that containers without networks pay nothing at stop. */
export function hasNetworkState(context: NetworkContext, containerId: string): boolean {
  return existsSync(sandboxPath(context.paths, containerId)) || listNetworkRecords(context.paths).some((network) => existsSync(endpointFile(context.paths, network.id, containerId)));
}

/** Reclaim every endpoint of a container that no longer runs (before `network rm`, `system prune`). */
export async function reclaimStale(context: NetworkContext): Promise<void> {
  await withLock(networksLockFile(context.paths), async () => {
    const all = listNetworkRecords(context.paths);
    refreshNames(context, all, await reclaimStaleLocked(context, all, ""));
  });
}

/** Attach a running container to one more network (`network connect`). */
export async function connectRunning(context: NetworkContext, request: Omit<SandboxRequest, "attachments" | "ports" | "extraHosts" | "files" | "resolver"> & { readonly attachment: ResolvedAttachment }): Promise<EndpointRecord> {
  return withLock(networksLockFile(context.paths), async () => {
    const all = listNetworkRecords(context.paths);
    const [network] = attachedNetworks(all, [request.attachment]);
    if (network === undefined) throw new BerthError(NetworkStoreErrorCode.notFound, `network ${request.attachment.networkName} not found`);
    const sandbox = sandboxPath(context.paths, request.containerId);
    const own = all.flatMap((candidate) => listEndpoints(context.paths, candidate.id)).filter((endpoint) => endpoint.containerId === request.containerId);
    if (own.some((endpoint) => endpoint.networkId === network.id)) {
      throw new BerthError(NetworkStoreErrorCode.conflict, `endpoint with name ${request.containerName} already exists in network ${network.name}`);
    }
    const first = own[0];
    if (first === undefined) throw new BerthError(NetworkStoreErrorCode.invalid, `container ${request.containerName} has no network namespace of berth's to connect (network mode none, host or container:)`);
    const used = new Set(own.map((endpoint) => interfaceIndex(endpoint.ifName)));
    let index = 0;
    while (used.has(index)) index++;
    const planned = planEndpoint({
      network,
      attachment: request.attachment,
      // The resolver's settings and the hosts file were decided at start; they stay the container's.
      request: { ...request, resolver: first.resolver, files: { hosts: first.hostsFile, resolvConf: "", dnsConfig: first.dnsConfigFile } },
      index,
      taken: listEndpoints(context.paths, network.id),
      header: first.hostsHeader,
    });
    const endpoint: EndpointRecord = { ...planned, sandbox };
    mkdirSync(endpointsDirectory(context.paths, network.id), { recursive: true });
    writeJsonAtomic(endpointFile(context.paths, network.id, request.containerId), endpoint, perBoot);
    try {
      await ensureBridges(context, [network]);
      await context.kernel.connectEndpoint(sandbox, endpointSpec(context.paths, network, endpoint, false));
    } catch (error) {
      rmSync(endpointFile(context.paths, network.id, request.containerId), { force: true });
      await context.kernel.disconnectEndpoint(sandbox, endpoint).catch(() => undefined);
      throw error;
    }
    refreshNames(context, all, new Set([network.id]));
    return endpoint;
  });
}

/** Detach a running container from one network (`network disconnect`). */
export async function disconnectRunning(context: NetworkContext, containerId: string, networkId: string): Promise<void> {
  await withLock(networksLockFile(context.paths), async () => {
    const all = listNetworkRecords(context.paths);
    const endpoint = listEndpoints(context.paths, networkId).find((candidate) => candidate.containerId === containerId);
    if (endpoint === undefined) return;
    await context.kernel.disconnectEndpoint(endpoint.sandbox, endpoint);
    rmSync(endpointFile(context.paths, networkId, containerId), { force: true });
    const network = all.find((record) => record.id === networkId);
    if (network !== undefined && endpoint.ports.length > 0 && network.driver === "bridge") await applyRules(context, network);
    refreshNames(context, all, new Set([networkId]));
  });
}

/** Whether a published host port is claimed by some endpoint of this root (create's early check). */
export function portClaimed(context: NetworkContext, wanted: Pick<PublishedPort, "hostIp" | "protocol" | "hostPort">): boolean {
  return listNetworkRecords(context.paths)
    .flatMap((network) => listEndpoints(context.paths, network.id))
    .some((endpoint) => endpoint.ports.some((port) => sameHostSocket(port, wanted)) && context.isRunning(endpoint.containerId));
}

