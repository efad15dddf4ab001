// Firewall rules as data, pure: a network (bridge, subnets, published ports) becomes the lines
// iptables-save prints for it, and those become one `iptables-restore --noflush` input that
// writes them, or one that removes them. Nothing here touches the kernel.
//
// Layout (every name starts with BERTH-, so leaks are findable):
//   shared chains, created once and jumped to from the built-in chains:
//     raw    BERTH-PREROUTING   from PREROUTING (first)                      IPv4 only
//     nat    BERTH-DNAT         from PREROUTING and OUTPUT, local destinations only
//     nat    BERTH-POSTROUTING  from POSTROUTING
//     filter BERTH-FORWARD      from FORWARD (first: the policy may be DROP if dockerd ran)
//   per network (id12 = the first 12 hex digits of its id), each jumped to from its shared chain:
//     raw    BERTH-PR-<id12>  drops 127.0.0.0/8 traffic arriving on the bridge, and traffic
//                             for ports published on a loopback address arriving anywhere but lo
//     nat    BERTH-DN-<id12>  one DNAT per published port
//     nat    BERTH-PO-<id12>  MASQUERADE for egress, for host-local sources (127.0.0.1 ports)
//                             and for hairpin (a container reaching a published port)
//     filter BERTH-FW-<id12>  what may enter and leave the bridge
// Internal networks get only the raw and filter chains; their filter jump goes first in
// BERTH-FORWARD so no other network's ACCEPT (a DNAT to it, say) can let their traffic out.
//
// Declaring `:CHAIN - [0:0]` under --noflush flushes an existing user chain, which is how a
// network's rules are rewritten in one atomic step per table; a port published or withdrawn is
// instead only inserted or deleted (chainDelta), since a flush makes the commit wait for an RCU
// grace period. Deltas are computed from this process's knowledge of the kernel: a delete that
// meets a chain changed meanwhile by another process fails the batch like a stale `-N` does, and
// the retry renders from the kernel's state again; an insert into such a chain can leave a rule
// there twice, which the next change of that network finds (the chain no longer matches its plan,
// nor is the plan a subsequence of it) and rewrites whole. Shared chains are created with
// `-N`, which fails (and aborts that table's batch) if another process made them meanwhile;
// the caller then re-reads the kernel's state and tries again. iptables-restore commits per
// table, so each table's part is complete on its own.

import { bitsOf, formatAddress, formatPrefix, isLoopback, isUnspecified, parseAddress, prefixContains, requirePrefix, type Family, type Prefix } from "./address.js";
import { invalid } from "./network-error.js";

type Table = "raw" | "nat" | "filter";
const tables: readonly Table[] = ["raw", "nat", "filter"];

export interface PublishedPort {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerIp: string;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp" | "sctp";
}

export interface FirewallNetwork {
  /** 64 hex digits; chains use the first 12. */
  readonly id: string;
  readonly bridge: string;
  readonly subnets: readonly string[];
  readonly internal: boolean;
  readonly masquerade: boolean;
  readonly ports: readonly PublishedPort[];
}

/** iptables-save lines (chain declarations and rules) per table, without table headers. */
export interface RuleSet {
  readonly raw: string[];
  readonly nat: string[];
  readonly filter: string[];
}

/** What iptables-save showed: per table, its chains and its rule lines in order. */
export type SaveState = ReadonlyMap<Table, { readonly chains: ReadonlySet<string>; readonly rules: readonly string[] }>;

const emptySaveState: SaveState = new Map();

const sharedChain = {
  raw: "BERTH-PREROUTING",
  dnat: "BERTH-DNAT",
  postrouting: "BERTH-POSTROUTING",
  forward: "BERTH-FORWARD",
} as const;

/** The per-network chain name prefixes; `BERTH-XX-` + 12 hex digits. */
const networkChainPattern = /^BERTH-(PR|DN|PO|FW)-[0-9a-f]{12}$/;

export function networkChains(networkId: string): { raw: string; dnat: string; postrouting: string; forward: string } {
  if (!/^[0-9a-f]{12,64}$/.test(networkId)) throw invalid(`invalid network id ${JSON.stringify(networkId)}: want hex digits`);
  const id12 = networkId.slice(0, 12);
  return { raw: `BERTH-PR-${id12}`, dnat: `BERTH-DN-${id12}`, postrouting: `BERTH-PO-${id12}`, forward: `BERTH-FW-${id12}` };
}

interface Jump {
  /** The rule as iptables-save prints it. */
  readonly saved: string;
  /** The restore line that adds it (`-I … 1` where it must come first). */
  readonly add: string;
}

interface BaseTable {
  readonly chains: readonly string[];
  readonly jumps: readonly Jump[];
}

/** The shared chains and the jumps into them from built-in chains, for one family. */
function baseRules(family: Family): ReadonlyMap<Table, BaseTable> {
  const dnatJump = (builtin: string): Jump => {
    const rule = `${builtin} -m addrtype --dst-type LOCAL -j ${sharedChain.dnat}`;
    return { saved: `-A ${rule}`, add: `-A ${rule}` };
  };
  const entries: [Table, BaseTable][] = [
    [
      "nat",
      {
        chains: [sharedChain.dnat, sharedChain.postrouting],
        jumps: [
          dnatJump("PREROUTING"),
          dnatJump("OUTPUT"),
          { saved: `-A POSTROUTING -j ${sharedChain.postrouting}`, add: `-A POSTROUTING -j ${sharedChain.postrouting}` },
        ],
      },
    ],
    ["filter", { chains: [sharedChain.forward], jumps: [{ saved: `-A FORWARD -j ${sharedChain.forward}`, add: `-I FORWARD 1 -j ${sharedChain.forward}` }] }],
  ];
  if (family === 4) {
    entries.unshift(["raw", { chains: [sharedChain.raw], jumps: [{ saved: `-A PREROUTING -j ${sharedChain.raw}`, add: `-I PREROUTING 1 -j ${sharedChain.raw}` }] }]);
  }
  return new Map(entries);
}

interface NetworkTable {
  readonly chains: readonly string[];
  readonly rules: readonly string[];
  readonly jumps: readonly Jump[];
}

const safeInterface = /^[A-Za-z0-9_.-]{1,15}$/;

function destination(family: Family, ip: string, port: number): string {
  return family === 4 ? `${ip}:${port}` : `[${ip}]:${port}`;
}

interface CheckedPort {
  readonly family: Family;
  readonly hostIp: string;
  readonly containerIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly loopback: boolean;
  readonly any: boolean;
}

function checkPort(port: PublishedPort, subnets: readonly Prefix[]): CheckedPort {
  const host = parseAddress(port.hostIp);
  const container = parseAddress(port.containerIp);
  const what = `published port ${port.hostIp}:${port.hostPort} -> ${port.containerIp}:${port.containerPort}/${port.protocol}`;
  if (host === undefined || container === undefined) throw invalid(`${what}: invalid address`);
  if (host.family !== container.family) throw invalid(`${what}: host and container addresses are of different IP families`);
  if (!subnets.some((subnet) => prefixContains(subnet, container))) throw invalid(`${what}: the container address is in none of the network's subnets`);
  for (const value of [port.hostPort, port.containerPort]) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw invalid(`${what}: invalid port`);
  }
  if (!["tcp", "udp", "sctp"].includes(port.protocol)) throw invalid(`${what}: invalid protocol`);
  // The kernel never routes a packet from ::1 out of lo, NAT or not (there is no IPv6
  // route_localnet): such a port needs a userland proxy, which berth does not have.
  if (host.family === 6 && isLoopback(host)) throw invalid(`${what}: publishing on ::1 is not supported (IPv6 loopback traffic cannot be forwarded to a container)`);
  return {
    family: host.family,
    hostIp: formatAddress(host.family, host.value),
    containerIp: formatAddress(container.family, container.value),
    hostPort: port.hostPort,
    containerPort: port.containerPort,
    protocol: port.protocol,
    loopback: isLoopback(host),
    any: isUnspecified(host),
  };
}

/** The network's own chains, rules and jumps for one family, as iptables-save prints them. */
function networkTables(network: FirewallNetwork, family: Family): ReadonlyMap<Table, NetworkTable> {
  const chains = networkChains(network.id);
  const bridge = network.bridge;
  if (!safeInterface.test(bridge)) throw invalid(`invalid bridge name ${JSON.stringify(bridge)}`);
  const allSubnets = network.subnets.map(requirePrefix);
  const ports = network.ports.map((port) => checkPort(port, allSubnets));
  const subnets = allSubnets.filter((subnet) => subnet.family === family).map(formatPrefix);
  const result = new Map<Table, NetworkTable>();
  if (subnets.length === 0) return result;
  // Docker ignores published ports on internal networks; so does berth.
  const published = network.internal ? [] : ports.filter((port) => port.family === family);
  const jump = (shared: string, chain: string, first = false): Jump => ({
    saved: `-A ${shared} -j ${chain}`,
    add: first ? `-I ${shared} 1 -j ${chain}` : `-A ${shared} -j ${chain}`,
  });
  const match = (port: CheckedPort): string => `-p ${port.protocol} -m ${port.protocol} --dport ${port.hostPort}`;

  if (family === 4) {
    // route_localnet=1 on the bridge (needed for 127.0.0.1 ports) also lets a container with
    // CAP_NET_RAW reach the host's 127.0.0.1 services; and PREROUTING DNATs before the martian
    // check, so a neighbour on any link could reach a port published on 127.0.0.1. Put the
    // kernel's rule back for all but berth's NAT: replies to the host come back addressed to
    // the gateway (MASQUERADE), so they never match.
    const loopbackPorts = new Map<string, string>();
    for (const port of published) {
      if (port.loopback) loopbackPorts.set(`${port.hostIp} ${match(port)}`, `-A ${chains.raw} -d ${port.hostIp}/32 ! -i lo ${match(port)} -j DROP`);
    }
    result.set("raw", {
      chains: [chains.raw],
      rules: [`-A ${chains.raw} -s 127.0.0.0/8 -i ${bridge} -j DROP`, `-A ${chains.raw} -d 127.0.0.0/8 -i ${bridge} -j DROP`, ...loopbackPorts.values()],
      jumps: [jump(sharedChain.raw, chains.raw)],
    });
  }

  if (!network.internal) {
    const postrouting = chains.postrouting;
    result.set("nat", {
      chains: [chains.dnat, postrouting],
      rules: [
        ...published.map(
          (port) =>
            `-A ${chains.dnat} ${port.any ? "" : `-d ${port.hostIp}/${bitsOf(family)} `}${match(port)} -j DNAT --to-destination ${destination(family, port.containerIp, port.containerPort)}`,
        ),
        ...(network.masquerade ? subnets.map((subnet) => `-A ${postrouting} -s ${subnet} ! -o ${bridge} -j MASQUERADE`) : []),
        // The host reaching a published port (from 127.0.0.1 too): the container must answer the gateway.
        `-A ${postrouting} -o ${bridge} -m addrtype --src-type LOCAL -j MASQUERADE`,
        // Hairpin: a container reaching a published port on its own network (its own, even),
        // whether the bridge hands the DNATed frame back at L2 (br_netfilter) or it is routed.
        ...subnets.map((subnet) => `-A ${postrouting} -s ${subnet} -o ${bridge} -m conntrack --ctstate DNAT -j MASQUERADE`),
      ],
      jumps: [jump(sharedChain.dnat, chains.dnat), jump(sharedChain.postrouting, postrouting)],
    });
  }

  const forward = chains.forward;
  const filterRules = network.internal
    ? [`-A ${forward} -i ${bridge} -o ${bridge} -j ACCEPT`, `-A ${forward} -i ${bridge} -j DROP`, `-A ${forward} -o ${bridge} -j DROP`]
    : [
        `-A ${forward} -i ${bridge} -o ${bridge} -j ACCEPT`,
        // Replies to egress, and published ports.
        `-A ${forward} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        `-A ${forward} -o ${bridge} -m conntrack --ctstate DNAT -j ACCEPT`,
        // Out of the bridge: replies, and connections to published ports (of other networks too).
        `-A ${forward} -i ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`,
        // Isolation: nothing else to another bridge; everything else out; nothing else in.
        `-A ${forward} -i ${bridge} -o br-+ -j DROP`,
        `-A ${forward} -i ${bridge} -j ACCEPT`,
        `-A ${forward} -o ${bridge} -j DROP`,
      ];
  result.set("filter", { chains: [forward], rules: filterRules, jumps: [jump(sharedChain.forward, forward, network.internal)] });
  return result;
}

/** The families a network needs rules for: those of its subnets. */
export function networkFamilies(network: Pick<FirewallNetwork, "subnets">): Family[] {
  return [...new Set(network.subnets.map((text) => requirePrefix(text).family))].sort();
}

function ruleSet(network: FirewallNetwork, family: Family): RuleSet {
  const set: RuleSet = { raw: [], nat: [], filter: [] };
  for (const [table, plan] of networkTables(network, family)) {
    set[table].push(...plan.chains.map((chain) => `:${chain} - [0:0]`), ...plan.rules, ...plan.jumps.map((jump) => jump.saved));
  }
  return set;
}

/** Every line iptables-save (v4) and ip6tables-save (v6) should show for this network. */
export function networkRules(network: FirewallNetwork): { v4: RuleSet; v6: RuleSet } {
  return { v4: ruleSet(network, 4), v6: ruleSet(network, 6) };
}

function hasChain(state: SaveState, table: Table, chain: string): boolean {
  return state.get(table)?.chains.has(chain) ?? false;
}

function hasRule(state: SaveState, table: Table, line: string): boolean {
  return state.get(table)?.rules.includes(line) ?? false;
}

/** A rule line's chain: `-A CHAIN …` → CHAIN. */
function chainOf(rule: string): string {
  return rule.split(" ")[1] ?? "";
}

/** A rule line's target: `… -j TARGET` (last) → TARGET. */
function targetOf(rule: string): string | undefined {
  return / -j (\S+)$/.exec(rule)?.[1];
}

/** Whether the kernel already holds exactly this table's part: shared chains and jumps, the network's chains with these rules in this order, its jumps. */
function tableUpToDate(table: Table, plan: NetworkTable, shared: BaseTable | undefined, present: SaveState): boolean {
  const state = present.get(table);
  if (state === undefined) return false;
  if (!(shared?.chains ?? []).every((chain) => state.chains.has(chain))) return false;
  if (![...(shared?.jumps ?? []), ...plan.jumps].every((jump) => state.rules.includes(jump.saved))) return false;
  return plan.chains.every((chain) => {
    if (!state.chains.has(chain)) return false;
    const want = plan.rules.filter((rule) => chainOf(rule) === chain);
    const have = state.rules.filter((rule) => chainOf(rule) === chain);
    return want.length === have.length && want.every((rule, index) => rule === have[index]);
  });
}

/**
 * The lines that turn a chain's rules `have` into `want` without flushing it: inserts at their
 * places when `have` is a subsequence of `want` (a port published), deletes when `want` is one
 * of `have` (a port withdrawn); undefined for anything else. A flush deletes every rule, and
 * in nf_tables a commit that deletes waits for an RCU grace period (10-20 ms here) where one
 * that only adds does not: publishing a port then costs almost nothing in the kernel.
 */
function chainDelta(chain: string, have: readonly string[], want: readonly string[]): string[] | undefined {
  const prefix = `-A ${chain} `;
  const body = (rule: string): string => rule.slice(prefix.length);
  if (have.length <= want.length) {
    const lines: string[] = [];
    let next = 0;
    for (const [index, rule] of want.entries()) {
      if (next < have.length && have[next] === rule) next++;
      else lines.push(`-I ${chain} ${index + 1} ${body(rule)}`);
    }
    if (next === have.length) return lines;
  }
  if (want.length < have.length) {
    const lines: string[] = [];
    let next = 0;
    for (const rule of have) {
      if (next < want.length && want[next] === rule) next++;
      else lines.push(`-D ${chain} ${body(rule)}`);
    }
    if (next === want.length && new Set(have).size === have.length) return lines;
  }
  return undefined;
}

/**
 * The complete `iptables-restore --noflush` input for one family: per table, the shared chains
 * and jumps that `present` lacks, the network's chains brought to their rules (by inserts or
 * deletes where `present` holds them already and that suffices, else declared, and thereby
 * flushed, with all their rules), and the jumps into them that `present` lacks. A table
 * `present` already holds exactly is left out (each table is its own nf_tables transaction, ~15
 * ms here, so a port change touches nat alone). Empty when there is nothing to do.
 */
export function renderApply(network: FirewallNetwork, family: 4 | 6, present: SaveState = emptySaveState): string {
  const own = networkTables(network, family);
  const base = baseRules(family);
  const out: string[] = [];
  for (const table of tables) {
    const plan = own.get(table);
    if (plan === undefined) continue;
    const shared = base.get(table);
    if (tableUpToDate(table, plan, shared, present)) continue;
    out.push(`*${table}`);
    for (const chain of shared?.chains ?? []) if (!hasChain(present, table, chain)) out.push(`-N ${chain}`);
    const rewritten = new Set<string>();
    const changes: string[] = [];
    for (const chain of plan.chains) {
      const want = plan.rules.filter((rule) => chainOf(rule) === chain);
      const delta = hasChain(present, table, chain) ? chainDelta(chain, (present.get(table)?.rules ?? []).filter((rule) => chainOf(rule) === chain), want) : undefined;
      if (delta !== undefined) {
        changes.push(...delta);
        continue;
      }
      out.push(`:${chain} - [0:0]`);
      rewritten.add(chain);
    }
    for (const jump of shared?.jumps ?? []) if (!hasRule(present, table, jump.saved)) out.push(jump.add);
    out.push(...plan.rules.filter((rule) => rewritten.has(chainOf(rule))), ...changes);
    for (const jump of plan.jumps) if (!hasRule(present, table, jump.saved)) out.push(jump.add);
    out.push("COMMIT");
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/** What a successful apply leaves: `present` with the network's chains, rules and jumps as planned. */
export function stateAfterApply(network: FirewallNetwork, family: Family, present: SaveState): SaveState {
  const next = new Map(present);
  const own = networkTables(network, family);
  const base = baseRules(family);
  for (const [table, plan] of own) {
    const current = present.get(table);
    const chains = new Set(current?.chains ?? []);
    for (const chain of [...(base.get(table)?.chains ?? []), ...plan.chains]) chains.add(chain);
    const ownChains = new Set(plan.chains);
    const rules = (current?.rules ?? []).filter((rule) => !ownChains.has(chainOf(rule)));
    for (const saved of [...(base.get(table)?.jumps ?? []), ...plan.jumps].map((jump) => jump.saved)) if (!rules.includes(saved)) rules.push(saved);
    rules.push(...plan.rules);
    next.set(table, { chains, rules });
  }
  return next;
}

/** What a successful removal leaves, taken from `present`. */
export function stateAfterRemove(networkId: string, present: SaveState): SaveState {
  const own = new Set(Object.values(networkChains(networkId)));
  const next = new Map<Table, { chains: ReadonlySet<string>; rules: readonly string[] }>();
  for (const [table, state] of present) {
    next.set(table, {
      chains: new Set([...state.chains].filter((chain) => !own.has(chain))),
      rules: state.rules.filter((rule) => !own.has(chainOf(rule)) && !own.has(targetOf(rule) ?? "")),
    });
  }
  return next;
}

/** The restore input that removes a network's chains and every jump into them; empty when nothing is there. */
export function renderRemove(networkId: string, present: SaveState): string {
  const chains = networkChains(networkId);
  const own = new Set(Object.values(chains));
  const out: string[] = [];
  for (const table of tables) {
    const state = present.get(table);
    if (state === undefined) continue;
    const lines: string[] = [];
    for (const rule of state.rules) {
      if (own.has(targetOf(rule) ?? "") && !own.has(chainOf(rule))) lines.push(rule.replace(/^-A /, "-D "));
    }
    for (const chain of own) if (state.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
    if (lines.length > 0) out.push(`*${table}`, ...lines, "COMMIT");
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/** Whether any network's chain is left in this family. */
function networkChainsPresent(present: SaveState): boolean {
  for (const state of present.values()) for (const chain of state.chains) if (networkChainPattern.test(chain)) return true;
  return false;
}

/**
 * The restore input that removes the shared chains and the jumps into them, or "" when a
 * network's chain remains (or nothing is there). `-X` without `-F`: if another process added a
 * network's jump since `present` was read, the chain is not empty and the batch fails instead
 * of cutting that network off.
 */
export function renderRemoveBase(family: Family, present: SaveState): string {
  if (networkChainsPresent(present)) return "";
  const out: string[] = [];
  for (const [table, base] of baseRules(family)) {
    const state = present.get(table);
    if (state === undefined) continue;
    const lines: string[] = [];
    for (const jump of base.jumps) for (const rule of state.rules) if (rule === jump.saved) lines.push(rule.replace(/^-A /, "-D "));
    for (const chain of base.chains) if (state.chains.has(chain)) lines.push(`-X ${chain}`);
    if (lines.length > 0) out.push(`*${table}`, ...lines, "COMMIT");
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/** Parses iptables-save output (comments and counters ignored). */
export function parseSave(text: string): SaveState {
  const state = new Map<Table, { chains: Set<string>; rules: string[] }>();
  let current: { chains: Set<string>; rules: string[] } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\[\d+:\d+\] /, "").trimEnd(); // iptables-save -c puts counters first
    if (line.startsWith("*")) {
      const table = line.slice(1).trim() as Table;
      current = { chains: new Set(), rules: [] };
      state.set(table, current);
    } else if (current !== undefined && line.startsWith(":")) {
      current.chains.add(line.slice(1).split(" ")[0] ?? "");
    } else if (current !== undefined && line.startsWith("-A ")) {
      current.rules.push(line);
    } else if (line === "COMMIT") {
      current = undefined;
    }
  }
  return state;
}
