// The `until` filter of Docker's prune commands (containers, networks): a Unix timestamp, a Go
// duration before now (`24h`, `90m`), or a date, as milliseconds since the epoch.

import { BerthError } from "../errors.js";

export function untilTime(value: string, now: number, errorCode: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const match = /^(\d+)(s|m|h)$/.exec(value);
  if (match !== null) return now - Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new BerthError(errorCode, `invalid filter 'until=${value}'`);
  return parsed;
}
