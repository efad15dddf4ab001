// Ports published on 127.0.0.1, for clients on the host itself: native/build/berth-redirect
// rewrites their TCP connect() to the container's own address and port (a cgroup/connect4 BPF
// program on the cgroup v2 root), so that their packets take the direct path to the container
// instead of being translated one by one by the DNAT and MASQUERADE rules (about a tenth of the
// throughput here, bench/network.mjs). Those rules stay: they serve other hosts, containers, the
// host's other addresses, UDP, and any machine where BPF is not available, where this does nothing.

import type { Context } from "./context.js";
import type { PublishedPort } from "./firewall-rules.js";
import { NetworkError, NetworkErrorCode } from "./network-error.js";

export interface Redirect {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerIp: string;
  readonly containerPort: number;
}

/** berth-redirect's "not available here" (no cgroup v2, no BPF): DNAT alone serves. */
const unavailable = 3;

const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The connects to rewrite for these published ports: TCP ports on 127.0.0.1, or on every address
 * (which includes 127.0.0.1; the host's other addresses keep DNAT, since a connect()-time program
 * cannot tell a local address from a remote one cheaply), to an IPv4 container address.
 */
export function redirectsFor(ports: readonly PublishedPort[]): Redirect[] {
  const redirects = new Map<number, Redirect>();
  for (const port of ports) {
    if (port.protocol !== "tcp" || !ipv4.test(port.containerIp)) continue;
    if (port.hostIp !== "" && port.hostIp !== "0.0.0.0" && port.hostIp !== "127.0.0.1") continue;
    redirects.set(port.hostPort, { hostIp: "127.0.0.1", hostPort: port.hostPort, containerIp: port.containerIp, containerPort: port.containerPort });
  }
  return [...redirects.values()].sort((a, b) => a.hostPort - b.hostPort);
}

/**
 * Make `owner`'s redirects in the host netns exactly `redirects` (the program is attached with
 * the first entry on the machine and detached with the last). False when they could not be
 * made: where BPF is not available, silently; on any other failure with a notice. Either way the
 * ports work, through DNAT: a redirect is a faster path, never the only one.
 */
export async function syncRedirects(context: Context, owner: string, redirects: readonly Redirect[]): Promise<boolean> {
  const { system } = context;
  const input = redirects.map((redirect) => `${redirect.hostIp} ${redirect.hostPort} ${redirect.containerIp} ${redirect.containerPort}\n`).join("");
  const result = await system.run([system.berthRedirect, "sync", redirectOwnerHash(owner)], { input });
  if (result.status === 0) return true;
  if (result.status !== unavailable) {
    context.notices.push(`berth: published ports go through DNAT only: berth-redirect: ${result.stderr.trim().replace(/^berth-redirect: /, "") || `exit status ${result.status}`}`);
  }
  return false;
}

/** How berth-redirect records an owner in its map (FNV-1a of the owner, as 8 hex digits). */
export function redirectOwnerHash(owner: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(owner)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

export interface RedirectListing {
  /** `owner`'s entries in the host netns. */
  readonly redirects: Redirect[];
  /** The owner hashes of every entry on the machine, any root, any namespace. */
  readonly owners: string[];
}

/** What berth-redirect holds: `owner`'s entries here, and who owns the rest (one `list`). */
export async function listRedirects(context: Context, owner: string): Promise<RedirectListing> {
  const { system } = context;
  const result = await system.run([system.berthRedirect, "list"]);
  if (result.status === unavailable) return { redirects: [], owners: [] };
  if (result.status !== 0) throw new NetworkError(NetworkErrorCode.kernel, `published-port redirects: ${result.stderr.trim()}`, { object: "berth-redirect" });
  const lines = result.stdout.split("\n");
  const here = lines.find((line) => line.startsWith("netns "))?.slice("netns ".length);
  const mine = redirectOwnerHash(owner);
  const entries = lines.filter((line) => /^[0-9a-f]{8} /.test(line)).map((line) => line.split(" "));
  const redirects = entries
    .filter(([hash, cookie]) => hash === mine && cookie === here)
    .map(([, , hostIp = "", hostPort = "", containerIp = "", containerPort = ""]) => ({ hostIp, hostPort: Number(hostPort), containerIp, containerPort: Number(containerPort) }));
  return { redirects, owners: [...new Set(entries.map(([hash = ""]) => hash))] };
}

/** Delete every entry of these owners (hashes), in any namespace: roots whose state is gone. */
export async function dropRedirects(context: Context, ownerHashes: readonly string[]): Promise<void> {
  if (ownerHashes.length === 0) return;
  for (const hash of ownerHashes) if (!/^[0-9a-f]{8}$/.test(hash)) throw new NetworkError(NetworkErrorCode.invalid, `invalid redirect owner hash ${JSON.stringify(hash)}`);
  const { system } = context;
  const result = await system.run([system.berthRedirect, "drop", ...ownerHashes]);
  if (result.status !== 0 && result.status !== unavailable) {
    throw new NetworkError(NetworkErrorCode.kernel, `published-port redirects: ${result.stderr.trim() || `exit status ${result.status}`}`, { object: "berth-redirect" });
  }
}
