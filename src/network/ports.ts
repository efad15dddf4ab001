// Host ports: which are bound in the host netns (from /proc/net, no spawn), whether a port to be
// published collides with one, and a free port for `-p 80` style publishing. Published ports
// are DNAT rules, not sockets, so without this check a host service would silently lose its
// port to a container.

import { formatAddress, parseAddress, type Address } from "./address.js";
import { NetworkError, NetworkErrorCode, invalid } from "./network-error.js";
import type { System } from "./system.js";

export type Protocol = "tcp" | "udp" | "sctp";

export interface ListeningSocket {
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
}

const tcpListen = "0A";

/** /proc/net/{tcp,udp}: hex `ADDR:PORT`, the address as 32-bit words in host byte order (little-endian here). */
function decodeProcAddress(hex: string): string | undefined {
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    for (let index = 6; index >= 0; index -= 2) bytes.push(parseInt(hex.slice(word + index, word + index + 2), 16));
  }
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if (bytes.length === 4) return formatAddress(4, value);
  // An IPv4-mapped IPv6 socket (::ffff:a.b.c.d) holds that IPv4 address.
  if (value >> 32n === 0xffffn) return formatAddress(4, value & 0xffffffffn);
  return formatAddress(6, value);
}

/** Parses one /proc/net/{tcp,tcp6,udp,udp6} file: TCP sockets in LISTEN, every bound UDP socket. */
export function parseProcNetSockets(text: string, protocol: "tcp" | "udp"): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    const state = fields[3];
    if (local === undefined || state === undefined) continue;
    if (protocol === "tcp" && state !== tcpListen) continue;
    const [hexAddress, hexPort] = local.split(":");
    const address = hexAddress === undefined ? undefined : decodeProcAddress(hexAddress);
    const port = parseInt(hexPort ?? "", 16);
    if (address === undefined || !Number.isInteger(port) || port === 0) continue;
    sockets.push({ protocol, address, port });
  }
  return sockets;
}

/** /proc/net/sctp/eps: `ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS...`. */
export function parseSctpEndpoints(text: string): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const port = Number(fields[5]);
    if (!Number.isInteger(port) || port === 0) continue;
    for (const text of fields.slice(8)) {
      const address = parseAddress(text);
      if (address !== undefined) sockets.push({ protocol: "sctp", address: formatAddress(address.family, address.value), port });
    }
  }
  return sockets;
}

/** Where /proc/net lists each protocol's sockets (the TCP and UDP files per family). */
const socketFiles: Readonly<Record<Protocol, readonly string[]>> = {
  tcp: ["/proc/net/tcp", "/proc/net/tcp6"],
  udp: ["/proc/net/udp", "/proc/net/udp6"],
  sctp: ["/proc/net/sctp/eps"],
};

/** The sockets of these protocols (default: all); asking for one reads only its files. */
export function listeningSockets(system: System, only: readonly Protocol[] = ["tcp", "udp", "sctp"]): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const protocol of only) {
    for (const file of socketFiles[protocol]) {
      const text = system.readText(file);
      if (text === undefined) continue;
      sockets.push(...(protocol === "sctp" ? parseSctpEndpoints(text) : parseProcNetSockets(text, protocol)));
    }
  }
  return sockets;
}

function requireHostIp(hostIp: string): Address {
  const address = parseAddress(hostIp);
  if (address === undefined) throw invalid(`invalid host IP address: ${hostIp}`);
  return address;
}

/** Two socket addresses collide when equal or when either is a wildcard (0.0.0.0 or ::, which may take IPv4 too). */
function collides(a: Address, b: Address): boolean {
  return a.value === 0n || b.value === 0n || (a.family === b.family && a.value === b.value);
}

/** The ports of `protocol` that a socket holds in a way that collides with hostIp. */
export function busyPorts(sockets: readonly ListeningSocket[], protocol: Protocol, hostIp: string): Set<number> {
  const wanted = requireHostIp(hostIp);
  const ports = new Set<number>();
  for (const socket of sockets) {
    if (socket.protocol !== protocol || ports.has(socket.port)) continue;
    const bound = parseAddress(socket.address);
    if (bound !== undefined && collides(bound, wanted)) ports.add(socket.port);
  }
  return ports;
}

/**
 * The host's sockets of some protocols, read once: every port check and pick of one operation
 * (a container's create, its start) asks this instead of re-reading /proc/net, which costs
 * milliseconds per file on a busy host.
 */
export interface HostSockets {
  busy(protocol: Protocol, hostIp: string, port: number): boolean;
  /** The lowest port of the range (default: the ephemeral range) that is neither taken nor bound. */
  pickFree(options: PickFreePortOptions): number;
}

export function hostSockets(system: System, protocols: readonly Protocol[]): HostSockets {
  const sockets = listeningSockets(system, [...new Set(protocols)]);
  const known = new Set(protocols);
  const busyOn = (protocol: Protocol, hostIp: string): Set<number> => {
    if (!known.has(protocol)) throw invalid(`host sockets of ${protocol} were not read`);
    return busyPorts(sockets, protocol, hostIp);
  };
  return {
    busy: (protocol, hostIp, port) => busyOn(protocol, hostIp).has(port),
    pickFree: (options) => {
      const [low, high] = options.range ?? ephemeralPortRange(system);
      if (!(Number.isInteger(low) && Number.isInteger(high) && low >= 1 && high <= 65535 && low <= high)) {
        throw invalid(`invalid port range ${low}-${high}`);
      }
      const busy = busyOn(options.protocol, options.hostIp);
      for (let port = low; port <= high; port++) {
        if (!options.taken.has(port) && !busy.has(port)) return port;
      }
      throw new NetworkError(NetworkErrorCode.exhausted, `no free ${options.protocol} port on ${options.hostIp} in ${low}-${high}`);
    },
  };
}

export function hostPortBusy(system: System, protocol: Protocol, hostIp: string, port: number): boolean {
  return hostSockets(system, [protocol]).busy(protocol, hostIp, port);
}

export function ephemeralPortRange(system: System): [number, number] {
  const [low, high] = (system.readText("/proc/sys/net/ipv4/ip_local_port_range") ?? "").trim().split(/\s+/).map(Number);
  return low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high) && low <= high ? [low, high] : [32768, 60999];
}

export interface PickFreePortOptions {
  readonly protocol: Protocol;
  readonly hostIp: string;
  /** Ports berth already publishes on this address. */
  readonly taken: ReadonlySet<number>;
  readonly range?: [number, number];
}

/** The lowest port of the range (default: the ephemeral range) that is neither taken nor bound. */
export function pickFreePort(system: System, options: PickFreePortOptions): number {
  return hostSockets(system, [options.protocol]).pickFree(options);
}
