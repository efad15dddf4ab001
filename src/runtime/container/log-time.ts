// Times in container logs: the RFC 3339 nanosecond stamps the shim writes, Docker's fixed-width
// form for `logs -t`, and `--since`/`--until` arguments. Small and pure, for the CLI to import
// without the log reader.

import { BerthError } from "../../errors.js";
import { parseDurationMs } from "./units.js";

export const LogsErrorCode = "E_CONTAINER_LOGS";


/** RFC 3339 (any fraction) → nanoseconds since the epoch. */
export function timeToNanoseconds(time: string): bigint {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (match === null) {
    const ms = Date.parse(time);
    if (Number.isNaN(ms)) throw new BerthError(LogsErrorCode, `invalid time: ${time}`);
    return BigInt(ms) * 1_000_000n;
  }
  const seconds = BigInt(Date.parse(`${match[1]}${match[3]}`) / 1000);
  const fraction = BigInt((match[2] ?? "").padEnd(9, "0").slice(0, 9) || "0");
  return seconds * 1_000_000_000n + fraction;
}

/** Docker's fixed-width form: `2014-09-16T06:17:46.000000000Z`. */
export function formatLogTime(time: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(time);
  if (match === null) return time;
  return `${match[1]}.${(match[2] ?? "").padEnd(9, "0").slice(0, 9)}Z`;
}

/**
 * `--since`/`--until` as the docker CLI takes them: Unix seconds with a fraction, a Go duration
 * before now (`10m`), or a date/time (RFC 3339, `2006-01-02T15:04:05`, `2006-01-02`; local time
 * when no zone is given).
 */
export function parseTimestampArgument(value: string, nowMs: number = Date.now()): bigint {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const [seconds = "0", fraction = ""] = text.split(".");
    return BigInt(seconds) * 1_000_000_000n + BigInt(fraction.padEnd(9, "0").slice(0, 9) || "0");
  }
  if (/^[\d.]+(ns|us|µs|ms|s|m|h)/.test(text)) {
    return BigInt(Math.round(nowMs - parseDurationMs(text))) * 1_000_000n;
  }
  if (/(Z|[+-]\d{2}:\d{2})$/.test(text)) return timeToNanoseconds(text);
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00` : text);
  if (Number.isNaN(ms)) throw new BerthError(LogsErrorCode, `invalid value for "since"/"until": ${value}`);
  return BigInt(ms) * 1_000_000n;
}

