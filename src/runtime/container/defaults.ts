// Docker's defaults that both the OCI config builder and the inspect view need: the masked and
// read-only /proc paths, /dev/shm's size, and how HostConfig.MemorySwap defaults. Kept apart so
// that listing and inspecting containers load no builder code.

import type { ResourcesSpec } from "./spec.js";

/** Docker's masked /proc and /sys paths (moby oci/defaults.go). */
export const maskedPaths: readonly string[] = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

export const readonlyPaths: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export const defaultShmSize = 64 * 1024 * 1024;

/** Docker's HostConfig.MemorySwap: as given, else twice the memory limit when one is set. */
export function memorySwap(resources: ResourcesSpec): number | undefined {
  if (resources.memorySwap !== undefined && resources.memorySwap !== 0) return resources.memorySwap;
  if (resources.memory !== undefined && resources.memory > 0) return resources.memory * 2;
  return undefined;
}
