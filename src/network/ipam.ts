// IP address management, pure: parse and compare CIDRs, pick a subnet for a new network from
// Docker's default pools, hand out the lowest free address, validate an ipam config with
// Docker's own messages, and derive Docker's MAC address from an IPv4 address.

import {
  bitsOf,
  canonicalAddress,
  formatAddress,
  formatPrefix,
  lastOf,
  parseAddress,
  parsePrefix,
  parseRange,
  prefixContains,
  prefixesOverlap,
  requirePrefix,
  type Family,
  type Prefix,
} from "./address.js";
import { NetworkError, NetworkErrorCode, invalid } from "./network-error.js";

function requireAddress(text: string): { family: Family; value: bigint } {
  const address = parseAddress(text);
  if (address === undefined) throw invalid(`invalid IP address: ${text}`);
  return address;
}

/** `172.18.0.5/16` → `{ family: 4, network: "172.18.0.0", prefix: 16 }`. */
export function parseCidr(text: string): { family: 4 | 6; network: string; prefix: number } {
  const prefix = requirePrefix(text);
  return { family: prefix.family, network: formatAddress(prefix.family, prefix.network), prefix: prefix.prefix };
}

export function containsAddress(cidr: string, ip: string): boolean {
  return prefixContains(requirePrefix(cidr), requireAddress(ip));
}

/** Whether two CIDRs share any address (false across families). */
export function overlaps(a: string, b: string): boolean {
  return prefixesOverlap(requirePrefix(a), requirePrefix(b));
}

/** The first host address: 172.18.0.1 for 172.18.0.0/16, fd00::1 for fd00::/64. */
export function gatewayOf(subnet: string): string {
  const prefix = requirePrefix(subnet);
  if (prefix.prefix >= bitsOf(prefix.family)) throw invalid(`subnet ${subnet} has no room for a gateway`);
  return formatAddress(prefix.family, prefix.network + 1n);
}

export interface SubnetPool {
  /** The range subnets are cut from, e.g. `192.168.0.0/16`. */
  readonly base: string;
  /** The prefix length of each subnet, e.g. 20. */
  readonly size: number;
}

/** Docker's default-address-pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s. */
export const defaultIPv4Pools: readonly SubnetPool[] = [
  ...Array.from({ length: 15 }, (_, index) => ({ base: `172.${17 + index}.0.0/16`, size: 16 })),
  { base: "192.168.0.0/16", size: 20 },
];

export interface ChooseSubnetOptions {
  readonly family: 4 | 6;
  /** Everything already taken: other networks' subnets and the host's routes and addresses. */
  readonly inUse: readonly string[];
  readonly pool?: readonly SubnetPool[];
  /** A source of 16 random bits for the default IPv6 pool (tests make it deterministic). */
  readonly random?: () => number;
}

/** The first subnet of the pools that overlaps nothing in `inUse`. */
export function chooseSubnet(options: ChooseSubnetOptions): string {
  const taken = options.inUse.map(parseRange).filter((range): range is Prefix => range !== undefined && range.family === options.family);
  for (const pool of options.pool ?? defaultPools(options)) {
    const base = requirePrefix(pool.base);
    if (base.family !== options.family) continue;
    if (!Number.isInteger(pool.size) || pool.size < base.prefix || pool.size > bitsOf(base.family)) {
      throw invalid(`invalid address pool ${pool.base}: size ${pool.size} does not fit`);
    }
    const found = firstFree(base, pool.size, taken);
    if (found !== undefined) return found;
  }
  throw new NetworkError(NetworkErrorCode.exhausted, "all predefined address pools have been fully subnetted", {
    hint: "remove unused networks (berth network prune) or give the network an explicit subnet",
  });
}

function defaultPools(options: ChooseSubnetOptions): readonly SubnetPool[] {
  if (options.family === 4) return defaultIPv4Pools;
  // A ULA /48 with 16 random bits (so two hosts rarely pick the same), cut into /64s.
  const random = Math.floor((options.random ?? Math.random)() * 0x10000) & 0xffff;
  return [{ base: `fd00:b3e7:${random.toString(16)}::/48`, size: 64 }];
}

/** Walk the pool in steps of the subnet size, jumping past every taken range it meets. */
function firstFree(base: Prefix, size: number, taken: readonly Prefix[]): string | undefined {
  const step = 1n << BigInt(bitsOf(base.family) - size);
  const end = lastOf(base);
  for (let candidate = base.network; candidate <= end; ) {
    const subnet: Prefix = { family: base.family, network: candidate, prefix: size, written: candidate };
    const blocker = taken.find((range) => prefixesOverlap(range, subnet));
    if (blocker === undefined) return formatPrefix(subnet);
    // The next candidate starts after the blocker (aligned to the step), or at the next step.
    const afterBlocker = lastOf(blocker) + 1n;
    const aligned = ((afterBlocker + step - 1n) / step) * step;
    candidate = aligned > candidate ? aligned : candidate + step;
  }
  return undefined;
}

export interface AllocateOptions {
  readonly subnet: string;
  readonly ipRange?: string;
  /** Addresses not to hand out: gateway, aux addresses, addresses of other endpoints. */
  readonly reserved: ReadonlySet<string>;
}

/** The lowest free host address of ipRange (or of the subnet). */
export function allocateAddress(options: AllocateOptions): string {
  const subnet = requirePrefix(options.subnet);
  const range = options.ipRange === undefined ? subnet : requirePrefix(options.ipRange);
  const reserved = new Set<bigint>();
  for (const entry of options.reserved) {
    const address = parseAddress(entry.split("/")[0] ?? "");
    if (address?.family === subnet.family) reserved.add(address.value);
  }
  // The network address is never a host; nor is the IPv4 broadcast address (except in /31 and
  // /32, which have neither, as RFC 3021 says).
  const hostBits = bitsOf(subnet.family) - subnet.prefix;
  const excluded = (value: bigint): boolean =>
    reserved.has(value) || (hostBits >= 2 && value === subnet.network) || (subnet.family === 4 && hostBits >= 2 && value === lastOf(subnet));
  if (!prefixesOverlap(range, subnet)) throw invalid(`ip range ${options.ipRange ?? ""} is outside subnet ${options.subnet}`);
  // Two overlapping prefixes nest: walk the smaller one. A candidate is excluded only by the
  // finite reserved set and two fixed addresses, so this ends within reserved.size + 3 steps
  // (or at the end of the range) even for a /64.
  const walk = range.prefix >= subnet.prefix ? range : subnet;
  const end = lastOf(walk);
  for (let value = walk.network; value <= end; value++) {
    if (!excluded(value)) return formatAddress(subnet.family, value);
  }
  throw new NetworkError(NetworkErrorCode.exhausted, `no available IPv${subnet.family} addresses on network ${formatPrefix(subnet)}`);
}

export interface IpamConfig {
  readonly subnet: string;
  readonly ipRange?: string;
  readonly gateway?: string;
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

/** Docker's checks (api/types/network ValidateIPAM), all problems in one error. */
export function validateIpamConfig(config: IpamConfig): void {
  const problems: string[] = [];
  const subnet = parsePrefix(config.subnet);
  if (subnet === undefined) {
    problems.push(`invalid subnet ${config.subnet}: invalid CIDR block notation`);
  } else {
    const familyName = `IPv${subnet.family}`;
    if (subnet.written !== subnet.network) problems.push(`invalid subnet ${config.subnet}: it should be ${formatPrefix(subnet)}`);
    if (config.ipRange !== undefined && config.ipRange !== "") {
      const range = parsePrefix(config.ipRange);
      if (range === undefined) {
        problems.push(`invalid ip-range ${config.ipRange}: invalid CIDR block notation`);
      } else if (range.family !== subnet.family) {
        problems.push(`invalid ip-range ${config.ipRange}: parent subnet is an ${familyName} block`);
      } else {
        if (range.prefix < subnet.prefix) {
          problems.push(`invalid ip-range ${config.ipRange}: CIDR block is bigger than its parent subnet ${formatPrefix(subnet)}`);
        }
        if (range.written !== range.network) problems.push(`invalid ip-range ${config.ipRange}: it should be ${formatPrefix(range)}`);
        if (!prefixesOverlap(range, subnet)) {
          problems.push(`invalid ip-range ${config.ipRange}: parent subnet ${formatPrefix(subnet)} doesn't contain ip-range`);
        }
      }
    }
    const checkAddress = (label: string, text: string | undefined): void => {
      if (text === undefined || text === "") return;
      const address = parseAddress(text);
      if (address === undefined) problems.push(`${label}: invalid address`);
      else if (address.family !== subnet.family) problems.push(`${label}: parent subnet is an ${familyName} block`);
      else if (!prefixContains(subnet, address)) problems.push(`${label}: parent subnet ${formatPrefix(subnet)} doesn't contain this address`);
    };
    checkAddress(`invalid gateway ${config.gateway ?? ""}`, config.gateway);
    for (const [name, value] of Object.entries(config.auxAddresses ?? {})) checkAddress(`invalid auxiliary address ${name}`, value);
  }
  if (problems.length > 0) throw invalid(`invalid network config: ${problems.join("; ")}`);
}

/**
 * Docker's MAC for an endpoint: 02:42 and the four bytes of the IPv4 address
 * (172.18.0.2 → 02:42:ac:12:00:02). For an IPv6-only endpoint, the last four bytes of the IPv6
 * address (Docker picks a random MAC there; a derived one keeps it stable across restarts).
 */
export function macAddressFor(ip: string): string {
  const address = requireAddress(ip);
  const bytes = [0x02, 0x42, ...[24n, 16n, 8n, 0n].map((shift) => Number((address.value >> shift) & 0xffn))];
  return bytes.map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

/** The canonical spelling of an address, for comparing user input with kernel output. */
export function canonicalIp(ip: string): string {
  const canonical = canonicalAddress(ip);
  if (canonical === undefined) throw invalid(`invalid IP address: ${ip}`);
  return canonical;
}
