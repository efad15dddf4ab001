// Small argument parsers the container, volume and network verbs share (environment entries and
// files, `--filter key=value`, `--label`/`-o` maps), apart from the run/create flag parser so that
// `ls` loads little.

import { BerthError } from "../../errors.js";

export const OptionErrorCode = "E_CLI_USAGE";

const usage = (message: string): BerthError => new BerthError(OptionErrorCode, message);

export interface EnvironmentSource {
  readonly [name: string]: string | undefined;
}

/** `-e NAME=value`, or `-e NAME` taking NAME's value from the CLI's environment (left bare, which unsets it, when absent). */
export function parseEnvEntry(entry: string, environment: EnvironmentSource): string {
  if (entry.includes("=")) {
    if (entry.startsWith("=")) throw usage(`invalid environment variable: ${entry}`);
    return entry;
  }
  const value = environment[entry];
  return value === undefined ? entry : `${entry}=${value}`;
}

/** docker's env-file format: `KEY=VALUE` lines, `#` comments, bare `KEY` from the environment; no quoting. */
export function parseEnvFile(text: string, environment: EnvironmentSource): string[] {
  const entries: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const equals = line.indexOf("=");
    const key = equals < 0 ? line.trimEnd() : line.slice(0, equals);
    if (/\s/.test(key)) throw usage(`variable '${key}' contains whitespaces`);
    if (equals < 0) {
      const value = environment[key];
      if (value !== undefined) entries.push(`${key}=${value}`);
      continue;
    }
    entries.push(line);
  }
  return entries;
}


/** `--filter key=value` (repeatable) → Docker's filter map. */
export function parseFilters(entries: readonly string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0) throw usage(`bad format of filter (expected name=value)`);
    const key = entry.slice(0, equals).toLowerCase();
    (filters[key] ??= []).push(entry.slice(equals + 1));
  }
  return filters;
}

/** docker's map options (`--label k=v`, `-o k=v`): a bare key maps to "". */
export function keyValueMap(entries: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    result[equals < 0 ? entry : entry.slice(0, equals)] = equals < 0 ? "" : entry.slice(equals + 1);
  }
  return result;
}
