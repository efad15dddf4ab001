// src/network: the kernel-facing network layer. Pure parts (IPAM, firewall rules as data) are
// exported as they are; kernel-facing parts act on this process's network namespace as the
// host. `networkHost({ netns })` gives the same operations bound to another namespace playing
// the host (tests run everything inside a throwaway one, firewall and sysctls included).

import type { Family } from "./address.js";
import { createContext, type Context } from "./context.js";
import * as firewall from "./firewall.js";
import type { FirewallNetwork } from "./firewall-rules.js";
import * as host from "./host.js";
import * as links from "./links.js";
import type { BridgeSpec, EndpointSpec, LinkInfo } from "./links.js";
import * as ports from "./ports.js";
import * as redirect from "./redirect.js";
import type { Redirect, RedirectListing } from "./redirect.js";
import type { HostSockets, ListeningSocket, PickFreePortOptions, Protocol } from "./ports.js";
import * as sysctl from "./sysctl.js";
import type { SystemOptions } from "./system.js";

export {
  allocateAddress,
  canonicalIp,
  chooseSubnet,
  containsAddress,
  gatewayOf,
  macAddressFor,
  overlaps,
  parseCidr,
  validateIpamConfig,
  type AllocateOptions,
  type ChooseSubnetOptions,
  type IpamConfig,
  type SubnetPool,
} from "./ipam.js";
export { NetworkError, NetworkErrorCode } from "./network-error.js";
export { redirectOwnerHash, redirectsFor, type Redirect, type RedirectListing } from "./redirect.js";
export {
  networkRules,
  parseSave,
  renderApply,
  type FirewallNetwork,
  type PublishedPort,
  type RuleSet,
  type SaveState,
} from "./firewall-rules.js";
export { bridgeMac, type BridgeSpec, type EndpointSpec, type LinkInfo } from "./links.js";
export { parseProcNetSockets, parseSctpEndpoints, type HostSockets, type ListeningSocket, type PickFreePortOptions, type Protocol } from "./ports.js";
export { parseIPv6Routes } from "./host.js";
export { spawnCount } from "./system.js";

/** Every kernel-facing operation, bound to one network namespace playing the host. */
export interface NetworkHost {
  /** The namespace playing the host; undefined for this process's own. */
  readonly netns: string | undefined;
  hostRoutedRanges(family?: 4 | 6): string[];
  hostAddresses(family?: 4 | 6): string[];
  ipv6Available(): boolean;
  listeningSockets(): ListeningSocket[];
  hostPortBusy(protocol: Protocol, hostIp: string, port: number): boolean;
  hostSockets(protocols: readonly Protocol[]): HostSockets;
  ephemeralPortRange(): [number, number];
  pickFreePort(options: PickFreePortOptions): number;
  ensureBridge(spec: BridgeSpec): Promise<void>;
  removeBridge(name: string): Promise<void>;
  takeSysctlNotices(): string[];
  createSandbox(nsPath: string, endpoints: readonly EndpointSpec[]): Promise<void>;
  connectEndpoint(nsPath: string, endpoint: EndpointSpec): Promise<void>;
  disconnectEndpoint(nsPath: string, endpoint: Pick<EndpointSpec, "ifName" | "hostIfName">): Promise<void>;
  destroySandbox(nsPath: string): Promise<void>;
  removeLinks(names: readonly string[]): Promise<void>;
  applyNetworkRules(network: FirewallNetwork): Promise<void>;
  removeNetworkRules(networkId: string): Promise<void>;
  berthRulesPresent(): { family: 4 | 6; line: string }[];
  removeBaseChains(): Promise<void>;
  listLinks(): Promise<LinkInfo[]>;
  berthChains(): Promise<{ family: 4 | 6; table: string; chain: string }[]>;
  forgetUdpFlows(hostPorts: readonly number[]): Promise<void>;
  syncRedirects(owner: string, redirects: readonly Redirect[]): Promise<boolean>;
  listRedirects(owner: string): Promise<RedirectListing>;
  dropRedirects(ownerHashes: readonly string[]): Promise<void>;
}

export type NetworkHostOptions = SystemOptions;

export function networkHost(options: NetworkHostOptions = {}): NetworkHost {
  const context: Context = createContext(options);
  const { system } = context;
  return {
    netns: system.netns,
    hostRoutedRanges: (family?: Family) => host.hostRoutedRanges(system, family),
    hostAddresses: (family?: Family) => host.hostAddresses(system, family),
    ipv6Available: () => host.ipv6Available(system),
    listeningSockets: () => ports.listeningSockets(system),
    hostPortBusy: (protocol, hostIp, port) => ports.hostPortBusy(system, protocol, hostIp, port),
    hostSockets: (protocols) => ports.hostSockets(system, protocols),
    ephemeralPortRange: () => ports.ephemeralPortRange(system),
    pickFreePort: (pickOptions) => ports.pickFreePort(system, pickOptions),
    ensureBridge: (spec) => links.ensureBridge(context, spec),
    removeBridge: (name) => links.removeBridge(context, name),
    takeSysctlNotices: () => sysctl.takeSysctlNotices(context),
    createSandbox: (nsPath, endpoints) => links.createSandbox(context, nsPath, endpoints),
    connectEndpoint: (nsPath, endpoint) => links.connectEndpoint(context, nsPath, endpoint),
    disconnectEndpoint: (nsPath, endpoint) => links.disconnectEndpoint(context, nsPath, endpoint),
    destroySandbox: (nsPath) => links.destroySandbox(context, nsPath),
    removeLinks: (names) => links.removeLinks(context, names),
    applyNetworkRules: (network) => firewall.applyNetworkRules(context, network),
    removeNetworkRules: (networkId) => firewall.removeNetworkRules(context, networkId),
    berthRulesPresent: () => firewall.berthRulesPresent(context),
    removeBaseChains: () => firewall.removeBaseChains(context),
    listLinks: () => links.listLinks(context),
    berthChains: () => firewall.berthChains(context),
    forgetUdpFlows: (hostPorts) => firewall.forgetUdpFlows(context, hostPorts),
    syncRedirects: (owner, redirects) => redirect.syncRedirects(context, owner, redirects),
    listRedirects: (owner) => redirect.listRedirects(context, owner),
    dropRedirects: (ownerHashes) => redirect.dropRedirects(context, ownerHashes),
  };
}

let processHost: NetworkHost | undefined;

/** This process's own network namespace as the host (made on first use). */
function own(): NetworkHost {
  return (processHost ??= networkHost());
}

// ipam-adjacent host reads
/** Every CIDR routed (any table) or addressed on the host, default routes excepted: chooseSubnet's inUse. */
export function hostRoutedRanges(family?: 4 | 6): string[] {
  return own().hostRoutedRanges(family);
}
/** The host's own addresses, loopback and IPv6 link-local excepted. */
export function hostAddresses(family?: 4 | 6): string[] {
  return own().hostAddresses(family);
}
export function ipv6Available(): boolean {
  return own().ipv6Available();
}

// ports
/** Sockets bound in the host netns: TCP in LISTEN, every bound UDP (and SCTP) socket. */
export function listeningSockets(): ListeningSocket[] {
  return own().listeningSockets();
}
/** Whether a host socket holds the port on hostIp (0.0.0.0 and :: collide with every address). */
export function hostPortBusy(protocol: Protocol, hostIp: string, port: number): boolean {
  return own().hostPortBusy(protocol, hostIp, port);
}
export function ephemeralPortRange(): [number, number] {
  return own().ephemeralPortRange();
}
/** One read of the host's sockets of these protocols, for every check and pick of one operation. */
export function hostSockets(protocols: readonly Protocol[]): HostSockets {
  return own().hostSockets(protocols);
}
export function pickFreePort(options: PickFreePortOptions): number {
  return own().pickFreePort(options);
}

// links
export function ensureBridge(spec: BridgeSpec): Promise<void> {
  return own().ensureBridge(spec);
}
export function removeBridge(name: string): Promise<void> {
  return own().removeBridge(name);
}
/** One-time notices about sysctls berth changed ("berth: enabled net.ipv4.ip_forward (…)"). */
export function takeSysctlNotices(): string[] {
  return own().takeSysctlNotices();
}
export function createSandbox(nsPath: string, endpoints: readonly EndpointSpec[]): Promise<void> {
  return own().createSandbox(nsPath, endpoints);
}
export function connectEndpoint(nsPath: string, endpoint: EndpointSpec): Promise<void> {
  return own().connectEndpoint(nsPath, endpoint);
}
export function disconnectEndpoint(nsPath: string, endpoint: Pick<EndpointSpec, "ifName" | "hostIfName">): Promise<void> {
  return own().disconnectEndpoint(nsPath, endpoint);
}
export function destroySandbox(nsPath: string): Promise<void> {
  return own().destroySandbox(nsPath);
}
/** Deletes links by name (system prune); missing ones are skipped. */
export function removeLinks(names: readonly string[]): Promise<void> {
  return own().removeLinks(names);
}

// firewall
export function applyNetworkRules(network: FirewallNetwork): Promise<void> {
  return own().applyNetworkRules(network);
}
export function removeNetworkRules(networkId: string): Promise<void> {
  return own().removeNetworkRules(networkId);
}
/** Drop conntrack's UDP flows to these host ports (a UDP port was published or withdrawn). */
export function forgetUdpFlows(hostPorts: readonly number[]): Promise<void> {
  return own().forgetUdpFlows(hostPorts);
}
/** Make `owner`'s connect()-time redirects of ports published on 127.0.0.1 exactly these (./redirect.ts); false where BPF is not available. */
export function syncRedirects(owner: string, redirects: readonly Redirect[]): Promise<boolean> {
  return own().syncRedirects(owner, redirects);
}
export function listRedirects(owner: string): Promise<RedirectListing> {
  return own().listRedirects(owner);
}
export function dropRedirects(ownerHashes: readonly string[]): Promise<void> {
  return own().dropRedirects(ownerHashes);
}
export function berthRulesPresent(): { family: 4 | 6; line: string }[] {
  return own().berthRulesPresent();
}
export function removeBaseChains(): Promise<void> {
  return own().removeBaseChains();
}

// system check
/** Every host link with kind, alias and master. */
export function listLinks(): Promise<LinkInfo[]> {
  return own().listLinks();
}
/** berth's chains in every family, read fresh. */
export function berthChains(): Promise<{ family: 4 | 6; table: string; chain: string }[]> {
  return own().berthChains();
}
