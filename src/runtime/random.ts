// Random bytes and integers from the kernel's CSPRNG (/dev/urandom, the source node:crypto's
// randomBytes uses too), without loading node:crypto: that module and its ~15 internal modules
// cost ~4-5 ms of start-up, which `berth container run` (an id and a name per container) should
// not pay for a few dozen random bytes.

import { closeSync, openSync, readSync } from "node:fs";

/** `size` cryptographically random bytes. */
export function randomBytes(size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  if (size === 0) return buffer;
  const fd = openSync("/dev/urandom", "r");
  try {
    let filled = 0;
    while (filled < size) {
      const count = readSync(fd, buffer, filled, size - filled, null);
      if (count <= 0) throw new Error("short read from /dev/urandom");
      filled += count;
    }
  } finally {
    closeSync(fd);
  }
  return buffer;
}

/** A uniformly distributed integer in [0, max), max at most 2^32 (rejection sampling, no modulo bias). */
export function randomInt(max: number): number {
  if (!Number.isInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError(`randomInt: invalid bound ${max}`);
  const limit = 2 ** 32 - (2 ** 32 % max);
  for (;;) {
    const value = randomBytes(4).readUInt32LE(0);
    if (value < limit) return value % max;
  }
}
