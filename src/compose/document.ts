// The loader's working value: a plain JSON-like tree plus a side table of where each
// value came from. Every pass takes and returns a ComposeDocument, so any later pass
// can put a real file:line:col on an error, even after merge, extends and include.

import type { SourcePosition } from "../errors.js";

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export type Mapping = Record<string, unknown>;

/** `!reset` and `!override` from the YAML, kept until the merge pass consumes them. */
export class TaggedValue {
  constructor(
    readonly tag: "reset" | "override",
    readonly value: unknown,
  ) {}
}

/** Path → source position. Keys are formatted paths (`services.web.ports[0]`). */
export type Origins = ReadonlyMap<string, SourcePosition>;

export interface ComposeDocument {
  /** The file this document was read from (the first file once several are merged). */
  readonly file: string;
  readonly data: Mapping;
  readonly origins: Origins;
}

const plainKey = /^[A-Za-z0-9_\-/]+$/;

export function formatPath(path: Path): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (plainKey.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += text === "" ? JSON.stringify(segment) : `[${JSON.stringify(segment)}]`;
  }
  return text;
}

export function joinPath(parent: string, segment: PathSegment): string {
  if (typeof segment === "number") return `${parent}[${segment}]`;
  const formatted = plainKey.test(segment) ? segment : `[${JSON.stringify(segment)}]`;
  if (parent === "") return plainKey.test(segment) ? segment : formatted;
  return plainKey.test(segment) ? `${parent}.${segment}` : `${parent}${formatted}`;
}

/** True when `path` is `prefix` or lies below it. */
export function isUnder(path: string, prefix: string): boolean {
  if (prefix === "") return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === "" || next === "." || next === "[";
}

/** The position of `path`, or of its nearest ancestor that has one. */
export function positionOf(origins: Origins, path: string): SourcePosition | undefined {
  let current = path;
  for (;;) {
    const found = origins.get(current);
    if (found !== undefined) return found;
    const parent = parentPath(current);
    if (parent === undefined) return undefined;
    current = parent;
  }
}

export function parentPath(path: string): string | undefined {
  if (path === "") return undefined;
  let depth = 0;
  for (let index = path.length - 1; index >= 0; index--) {
    const char = path.charAt(index);
    if (char === "]") depth++;
    else if (char === "[") {
      depth--;
      if (depth === 0) return path.slice(0, index);
    } else if (char === "." && depth === 0) return path.slice(0, index);
  }
  return "";
}

/**
 * Copy the origins under `fromPrefix` in `source` to the same relative paths under
 * `toPrefix` in `target`. Used when a value moves (extends, include, merge winners).
 */
export function copyOrigins(
  target: Map<string, SourcePosition>,
  source: Origins,
  fromPrefix: string,
  toPrefix: string,
): void {
  for (const [key, position] of source) {
    if (isUnder(key, fromPrefix)) target.set(toPrefix + key.slice(fromPrefix.length), position);
  }
}

/** Drop every origin under `prefix` (the value there was replaced or removed). */
export function dropOrigins(target: Map<string, SourcePosition>, prefix: string): void {
  for (const key of [...target.keys()]) if (isUnder(key, prefix)) target.delete(key);
}

export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof TaggedValue);
}
