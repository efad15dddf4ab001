// What the host already uses: routed and addressed ranges (so a new network's subnet avoids
// them), the host's own addresses, and whether IPv6 is on. Sync: these run once per network
// creation, where a blocking spawn costs nothing that matters.

import { formatAddress, formatPrefix, isLoopback, parseAddress, parseRange, type Family } from "./address.js";
import type { System } from "./system.js";

interface IpRoute {
  readonly dst?: string;
}

interface IpAddressInfo {
  readonly family?: string;
  readonly local?: string;
  readonly prefixlen?: number;
  readonly scope?: string;
}

interface IpLink {
  readonly ifname?: string;
  readonly addr_info?: readonly IpAddressInfo[];
}

function ipJson<T>(system: System, argv: readonly string[]): T[] {
  const result = system.runSync(["ip", "-j", ...argv]);
  if (result.status !== 0 || result.stdout.trim() === "") return [];
  return JSON.parse(result.stdout) as T[];
}

/** /proc/net/ipv6_route covers every table: `dst(32 hex) prefix(2 hex) … dev`. */
export function parseIPv6Routes(text: string): string[] {
  const ranges: string[] = [];
  for (const line of text.split("\n")) {
    const [destination, length] = line.trim().split(/\s+/);
    if (destination === undefined || length === undefined || !/^[0-9a-f]{32}$/.test(destination)) continue;
    const prefix = parseInt(length, 16);
    if (prefix === 0) continue; // default routes overlap everything and say nothing
    ranges.push(formatPrefix({ family: 6, network: BigInt(`0x${destination}`), prefix }));
  }
  return ranges;
}

function addressRanges(links: readonly IpLink[], family: Family | undefined): string[] {
  const ranges: string[] = [];
  for (const link of links) {
    for (const info of link.addr_info ?? []) {
      const range = info.local === undefined || info.prefixlen === undefined ? undefined : parseRange(`${info.local}/${info.prefixlen}`);
      if (range !== undefined && (family === undefined || range.family === family)) ranges.push(formatPrefix(range));
    }
  }
  return ranges;
}

/** Every CIDR routed (any table) or addressed on the host, default routes excepted. */
export function hostRoutedRanges(system: System, family?: Family): string[] {
  const ranges = new Set<string>();
  if (family !== 6) {
    for (const route of ipJson<IpRoute>(system, ["-4", "route", "show", "table", "all"])) {
      const range = route.dst === undefined || route.dst === "default" ? undefined : parseRange(route.dst);
      if (range !== undefined && range.prefix > 0) ranges.add(formatPrefix(range));
    }
  }
  if (family !== 4) for (const range of parseIPv6Routes(system.readText("/proc/net/ipv6_route") ?? "")) ranges.add(range);
  for (const range of addressRanges(ipJson<IpLink>(system, ["addr", "show"]), family)) ranges.add(range);
  return [...ranges];
}

/** The host's own addresses, loopback and IPv6 link-local excepted (those need a zone). */
export function hostAddresses(system: System, family?: Family): string[] {
  const addresses: string[] = [];
  for (const link of ipJson<IpLink>(system, ["addr", "show"])) {
    for (const info of link.addr_info ?? []) {
      const address = info.local === undefined ? undefined : parseAddress(info.local);
      if (address === undefined || isLoopback(address) || info.scope === "link" || info.scope === "host") continue;
      if (family === undefined || address.family === family) addresses.push(formatAddress(address.family, address.value));
    }
  }
  return addresses;
}

/** IPv6 is compiled in and not disabled for the host netns. */
export function ipv6Available(system: System): boolean {
  return system.readText("/proc/sys/net/ipv6/conf/all/disable_ipv6")?.trim() === "0";
}
