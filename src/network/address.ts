// IP addresses and prefixes as (family, bigint) pairs: parse strictly (as Go's netip does, since
// Docker's messages are the reference), format canonically (RFC 5952 for IPv6), and do the
// arithmetic IPAM and the firewall need. Pure.

import { invalid } from "./network-error.js";

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export interface Prefix {
  readonly family: Family;
  /** The network address (host bits zero). */
  readonly network: bigint;
  readonly prefix: number;
  /** The address as written, host bits included (`10.10.10.0/8` keeps `10.10.10.0`). */
  readonly written: bigint;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Decimal only, no leading zeros (0127 would be octal to inet_aton and is refused by Go).
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  if (text.includes("%")) return undefined; // zones have no place in a network config
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): string[] | undefined => (part === "" ? [] : part.split(":"));
  const left = groups(halves[0] ?? "");
  const right = halves.length === 2 ? groups(halves[1] ?? "") : [];
  if (left === undefined || right === undefined) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let value = 0n;
  for (const group of [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

export function parseAddress(text: string): Address | undefined {
  if (text.includes(":")) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, index) => Number((value >> BigInt(112 - index * 16)) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** The canonical text of an address, or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const address = parseAddress(text);
  return address === undefined ? undefined : formatAddress(address.family, address.value);
}

export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = parseAddress(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d{0,2})$/.test(bitsText)) return undefined;
  const prefix = Number(bitsText);
  if (prefix > bitsOf(address.family)) return undefined;
  return { family: address.family, network: address.value & maskOf(address.family, prefix), prefix, written: address.value };
}

/** parsePrefix, or an E_NET_INVALID error naming the text. */
export function requirePrefix(text: string): Prefix {
  const prefix = parsePrefix(text);
  if (prefix === undefined) throw invalid(`invalid CIDR address: ${text}`);
  return prefix;
}

function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/** The last address of a prefix (the IPv4 broadcast address). */
export function lastOf(prefix: Prefix): bigint {
  return prefix.network | (((1n << BigInt(bitsOf(prefix.family))) - 1n) ^ maskOf(prefix.family, prefix.prefix));
}

export function prefixContains(prefix: Prefix, address: Address): boolean {
  return prefix.family === address.family && (address.value & maskOf(prefix.family, prefix.prefix)) === prefix.network;
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  const mask = maskOf(a.family, shorter);
  return (a.network & mask) === (b.network & mask);
}

export function formatPrefix(prefix: Pick<Prefix, "family" | "network" | "prefix">): string {
  return `${formatAddress(prefix.family, prefix.network)}/${prefix.prefix}`;
}

/** A plain address or a CIDR as a prefix (an address is its own /32 or /128). */
export function parseRange(text: string): Prefix | undefined {
  if (text.includes("/")) return parsePrefix(text);
  const address = parseAddress(text);
  if (address === undefined) return undefined;
  return { family: address.family, network: address.value, prefix: bitsOf(address.family), written: address.value };
}

export function isLoopback(address: Address): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n;
}

export function isUnspecified(address: Address): boolean {
  return address.value === 0n;
}
