// Sizes and durations written the way Docker's flags take them: `512m`, `1g`, `64k`
// (go-units RAMInBytes, binary multiples), `10s`, `1m30s` (Go durations).

import { BerthError } from "../../errors.js";

export const UnitsErrorCode = "E_CONTAINER_INVALID_VALUE";

const binaryMultipliers: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `512m` → 536870912. Docker's RAMInBytes: a decimal number, an optional k/m/g/t/p, an optional b. */
export function parseBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(value);
  if (match === null) throw new BerthError(UnitsErrorCode, `invalid size: '${value}'`);
  const multiplier = binaryMultipliers[(match[2] ?? "").toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * multiplier);
}

const durationUnits: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds: `1m30s` → 90000, `500ms` → 500, `0` → 0. */
export function parseDurationMs(value: string): number {
  const text = value.trim();
  if (text === "0") return 0;
  const pattern = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    total += Number(match[1]) * (durationUnits[match[2] ?? "s"] ?? 0);
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length) throw new BerthError(UnitsErrorCode, `invalid duration: '${value}'`);
  return total;
}

/** go-units HumanDuration: `Less than a second`, `3 seconds`, `About a minute`, `2 hours`, `3 weeks`. */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(milliseconds / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(milliseconds / 3_600_000 / 24 / 365)} years`;
}

/** go-units HumanSize (decimal, 4 significant digits): `0B`, `1.5kB`, `23.45MB`. */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let index = 0;
  while (value >= 1000 && index < units.length - 1) {
    value /= 1000;
    index++;
  }
  return `${Number(value.toPrecision(4))}${units[index]}`;
}
