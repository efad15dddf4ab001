// Linux capabilities as Docker grants them: its default set, `--cap-add`/`--cap-drop` (with or
// without the CAP_ prefix, any case, `ALL`), and `--privileged` (every capability the kernel knows).

import { BerthError } from "../../errors.js";

export const CapabilityErrorCode = "E_CONTAINER_CAPABILITY";

/** moby's oci/caps DefaultCapabilities, in its order. */
export const defaultCapabilities: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Every capability up to CAP_CHECKPOINT_RESTORE (40), by number. */
export const allCapabilities: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/** `net_raw` → `CAP_NET_RAW`; `all` → `ALL`; a name the host does not know is an error, as in Docker. */
export function normalizeCapability(name: string, known: readonly string[] = allCapabilities): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!known.includes(full)) throw new BerthError(CapabilityErrorCode, `unknown capability: "${name}"`);
  return full;
}

/** Capability names of a `CapBnd:` mask from /proc/<pid>/status (Docker's "all" is the host's bounding set). */
export function capabilitiesOfMask(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim() || "0"}`);
  return allCapabilities.filter((_name, bit) => (mask >> BigInt(bit)) & 1n);
}

export interface CapabilityInput {
  readonly capAdd?: readonly string[] | undefined;
  readonly capDrop?: readonly string[] | undefined;
  readonly privileged?: boolean | undefined;
  /** What "all" means here: the capabilities in the host's bounding set (default: every known one). */
  readonly available?: readonly string[] | undefined;
}

/** moby's TweakCapabilities (duplicates removed, first occurrence kept). */
export function containerCapabilities({ capAdd = [], capDrop = [], privileged = false, available = allCapabilities }: CapabilityInput): string[] {
  if (privileged) return [...available];
  if (capAdd.length === 0 && capDrop.length === 0) return defaultCapabilities.filter((capability) => available.includes(capability));
  const adds = capAdd.map((name) => normalizeCapability(name, available));
  const drops = capDrop.map((name) => normalizeCapability(name, available));
  const addAll = adds.includes("ALL");
  const dropAll = drops.includes("ALL");
  let result: string[];
  if (addAll) result = available.filter((capability) => !drops.includes(capability));
  else if (dropAll) result = adds.filter((capability) => capability !== "ALL");
  else result = [...defaultCapabilities.filter((capability) => available.includes(capability) && !drops.includes(capability)), ...adds];
  return [...new Set(result)];
}
