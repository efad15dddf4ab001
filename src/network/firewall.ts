// Applying firewall-rules.ts to the kernel: one `iptables-restore --noflush` per family per
// change, plus one iptables-save per family the first time this process touches the firewall
// (to learn which shared chains and jumps exist; afterwards this process's own batches keep
// that knowledge current). When a batch fails on knowledge gone stale (another berth process
// created or removed the shared chains), the state is read again and the batch retried once.

import type { Family } from "./address.js";
import { serialize, type Context } from "./context.js";
import {
  networkChains,
  networkFamilies,
  parseSave,
  renderApply,
  renderRemove,
  renderRemoveBase,
  stateAfterApply,
  stateAfterRemove,
  type FirewallNetwork,
  type SaveState,
} from "./firewall-rules.js";
import { NetworkError, NetworkErrorCode, kernelError } from "./network-error.js";

const tools: Record<Family, { save: string; restore: string }> = {
  4: { save: "iptables-save", restore: "iptables-restore" },
  6: { save: "ip6tables-save", restore: "ip6tables-restore" },
};

function available(context: Context, family: Family): boolean {
  return context.system.hasTool(tools[family].restore) && context.system.hasTool(tools[family].save);
}

async function readState(context: Context, family: Family): Promise<SaveState> {
  const result = await context.system.run([tools[family].save]);
  if (result.status !== 0) throw kernelError(tools[family].save, result.stderr.trim() || `exit status ${result.status}`);
  const state = parseSave(result.stdout);
  context.firewallState.set(family, state);
  return state;
}

async function knownState(context: Context, family: Family): Promise<SaveState> {
  return context.firewallState.get(family) ?? (await readState(context, family));
}

async function restore(context: Context, family: Family, input: string): Promise<{ ok: true } | { ok: false; detail: string }> {
  // --wait: the legacy backend takes the xtables lock; nf_tables ignores it.
  const result = await context.system.run([tools[family].restore, "--noflush", "--wait"], { input });
  if (result.status === 0) return { ok: true };
  return { ok: false, detail: result.stderr.trim() || `exit status ${result.status}` };
}

/**
 * Renders from what is known, restores, and on failure renders again from a fresh
 * iptables-save and retries once (only if the knowledge was not fresh already).
 */
async function applyWithRetry(
  context: Context,
  family: Family,
  object: string,
  render: (present: SaveState) => string,
  after: (present: SaveState) => SaveState | undefined,
): Promise<void> {
  const hadState = context.firewallState.has(family);
  let present = await knownState(context, family);
  for (let attempt = 0; ; attempt++) {
    const input = render(present);
    if (input === "") return;
    const outcome = await restore(context, family, input);
    if (outcome.ok) {
      const next = after(present);
      if (next === undefined) context.firewallState.delete(family);
      else context.firewallState.set(family, next);
      return;
    }
    context.firewallState.delete(family);
    if (attempt > 0 || !hadState) throw kernelError(object, `${tools[family].restore}: ${outcome.detail}`);
    present = await readState(context, family);
  }
}

function chainsObject(networkId: string): string {
  return `iptables chains BERTH-*-${networkId.slice(0, 12)}`;
}

/** Writes the network's chains (rewriting them if they exist) and the shared chains and jumps they need. */
export function applyNetworkRules(context: Context, network: FirewallNetwork): Promise<void> {
  const families = networkFamilies(network);
  // Render once up front so that invalid input fails before anything is applied.
  for (const family of families) renderApply(network, family);
  const object = chainsObject(network.id);
  return serialize(context, async () => {
    for (const family of families) {
      if (!available(context, family)) {
        if (family === 4) throw new NetworkError(NetworkErrorCode.toolMissing, "iptables-restore is not installed", { hint: "apt-get install iptables" });
        continue; // no ip6tables: IPv6 networks work without NAT and isolation rules
      }
      await applyWithRetry(
        context,
        family,
        object,
        (present) => renderApply(network, family, present),
        (present) => stateAfterApply(network, family, present),
      );
    }
  });
}

/** Deletes the network's jumps and chains in every family; what is already gone is skipped. */
export function removeNetworkRules(context: Context, networkId: string): Promise<void> {
  networkChains(networkId); // validates the id before anything runs
  return serialize(context, async () => {
    for (const family of [4, 6] as const) {
      if (!available(context, family)) continue;
      // Another process may have made these chains after this one last read the kernel.
      context.firewallState.delete(family);
      await applyWithRetry(
        context,
        family,
        chainsObject(networkId),
        (present) => renderRemove(networkId, present),
        (present) => stateAfterRemove(networkId, present),
      );
    }
  });
}

/** Removes the shared chains and their jumps, in each family where no network's chains remain. */
export function removeBaseChains(context: Context): Promise<void> {
  return serialize(context, async () => {
    for (const family of [4, 6] as const) {
      if (!available(context, family)) continue;
      context.firewallState.delete(family); // decide from live state, never from memory
      await applyWithRetry(context, family, "berth's shared iptables chains", (present) => renderRemoveBase(family, present), () => undefined);
    }
  });
}

/** berth's chains in every family, read fresh from the kernel (system check's view). */
export async function berthChains(context: Context): Promise<{ family: Family; table: string; chain: string }[]> {
  const found: { family: Family; table: string; chain: string }[] = [];
  for (const family of [4, 6] as const) {
    if (!available(context, family)) continue;
    const state = await readState(context, family);
    for (const [table, { chains }] of state) for (const chain of chains) if (chain.startsWith("BERTH-")) found.push({ family, table, chain });
  }
  return found;
}

/** Every line naming BERTH in iptables-save and ip6tables-save (for system check and leak checks). */
export function berthRulesPresent(context: Context): { family: 4 | 6; line: string }[] {
  const lines: { family: 4 | 6; line: string }[] = [];
  for (const family of [4, 6] as const) {
    if (!context.system.hasTool(tools[family].save)) continue;
    const result = context.system.runSync([tools[family].save]);
    if (result.status !== 0) continue;
    for (const line of result.stdout.split("\n")) if (line.includes("BERTH") && !line.startsWith("#")) lines.push({ family, line });
  }
  return lines;
}

/**
 * Forget the kernel's UDP flows to these host ports (conntrack -D), as Docker does when it
 * publishes or withdraws a UDP port: a client that kept sending before the DNAT rule existed
 * (or while it pointed at a container now gone) has a flow that every packet refreshes, and its
 * packets would never reach the new container. One spawn per port; none without the tool.
 */
export async function forgetUdpFlows(context: Context, hostPorts: readonly number[]): Promise<void> {
  if (hostPorts.length === 0 || !context.system.hasTool("conntrack")) return;
  for (const port of new Set(hostPorts)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    // Exit status 1 with "0 flow entries have been deleted" is the usual, nothing-to-forget case.
    await context.system.run(["conntrack", "-D", "-p", "udp", "--orig-port-dst", String(port)]);
  }
}
