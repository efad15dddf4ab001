// What the kernel-facing functions share for one host netns: the system edge, and the little
// this process remembers about the kernel so that it need not ask again (iptables state seen,
// bridges already ensured, notices about sysctls it changed).

import type { Family } from "./address.js";
import type { SaveState } from "./firewall-rules.js";
import { createSystem, type System, type SystemOptions } from "./system.js";

export interface Context {
  readonly system: System;
  /** iptables-save as last seen (and then updated by what this process applied), per family. */
  readonly firewallState: Map<Family, SaveState>;
  /** Firewall batches run one at a time: a batch is computed from the state the previous left. */
  firewallQueue: Promise<unknown>;
  /** Bridges this process created or checked, with the spec they were checked against. */
  readonly ensuredBridges: Map<string, string>;
  readonly notices: string[];
}

export function createContext(options: SystemOptions = {}): Context {
  return { system: createSystem(options), firewallState: new Map(), firewallQueue: Promise.resolve(), ensuredBridges: new Map(), notices: [] };
}

/** Runs task after every task queued before it, whatever their outcome. */
export function serialize<T>(context: Context, task: () => Promise<T>): Promise<T> {
  const next = context.firewallQueue.then(task, task);
  context.firewallQueue = next.catch(() => undefined);
  return next;
}
