// The few kernel switches networks need, set only when off, each change reported once as a
// notice (the CLI prints it): IP forwarding (published ports from outside, container egress)
// and route_localnet on a bridge (published ports on 127.0.0.1).

import type { Family } from "./address.js";
import type { Context } from "./context.js";
import { kernelError } from "./network-error.js";

// A sysctl is named by its parts: the key joins them with dots (`net.ipv4.conf.br-x.route_localnet`),
// the file with slashes (an interface name may hold dots, so a key cannot be turned into a file).
function sysctlFile(parts: readonly string[]): string {
  return `/proc/sys/${parts.join("/")}`;
}

function readSysctl(context: Context, parts: readonly string[]): string | undefined {
  return context.system.readText(sysctlFile(parts))?.trim();
}

/** Writes value unless the sysctl holds it already. */
function ensureSysctl(context: Context, parts: readonly string[], value: string, why: string): void {
  const current = readSysctl(context, parts);
  if (current === value) return;
  const key = parts.join(".");
  if (current === undefined) throw kernelError(`sysctl ${key}`, "not available on this kernel");
  try {
    context.system.writeText(sysctlFile(parts), value);
  } catch (error) {
    throw kernelError(`sysctl ${key}`, (error as Error).message, { cause: error });
  }
  if (why !== "") context.notices.push(`berth: ${value === "1" ? "enabled" : `set ${value} on`} ${key} (${why})`);
}

/** IPv4 (and IPv6) forwarding on, as bridge networks with egress or published ports need. */
export function ensureForwarding(context: Context, families: ReadonlySet<Family>): void {
  if (families.has(4)) ensureSysctl(context, ["net", "ipv4", "ip_forward"], "1", "needed for published ports and egress");
  if (!families.has(6)) return;
  const forwarding = ["net", "ipv6", "conf", "all", "forwarding"];
  if (readSysctl(context, forwarding) === "1") return;
  // Forwarding on makes an interface with accept_ra=1 ignore router advertisements, and a host
  // that takes its IPv6 default route from them would lose it. accept_ra=2 keeps them coming.
  for (const name of context.system.listDirectory("/proc/sys/net/ipv6/conf")) {
    if (["all", "default", "lo"].includes(name) || name.startsWith("br-") || name.startsWith("vb")) continue;
    const acceptRa = ["net", "ipv6", "conf", name, "accept_ra"];
    if (readSysctl(context, acceptRa) === "1") ensureSysctl(context, acceptRa, "2", "so that router advertisements still count once IPv6 forwarding is on");
  }
  ensureSysctl(context, forwarding, "1", "needed for published ports and egress over IPv6");
}

/** Lets 127.0.0.1 traffic DNATed to a container leave through the bridge. */
export function ensureRouteLocalnet(context: Context, bridge: string): void {
  ensureSysctl(context, ["net", "ipv4", "conf", bridge, "route_localnet"], "1", "");
}

/** The notices since the last call, each once. */
export function takeSysctlNotices(context: Context): string[] {
  return context.notices.splice(0);
}
