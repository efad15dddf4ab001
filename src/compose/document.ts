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

/**
 * A side table computed on first use. Positions are read only when something goes wrong (an
 * error, or a test asking), while keeping the table in step costs every pass that moves values
 * a walk and a copy with an entry per value: on a 1,000-service project that was most of the
 * loader's time. So a pass may hand on the recipe of its table instead of the table. The recipe
 * must depend only on values that never change (documents are immutable), and must compute what
 * the pass would have computed eagerly; its inputs' tables are computed, in turn, when it reads them.
 */
export function deferredOrigins(compute: () => Origins): Origins {
  return new DeferredOrigins(compute);
}

class DeferredOrigins implements ReadonlyMap<string, SourcePosition> {
  private compute: (() => Origins) | undefined;
  private computed: Origins | undefined;

  constructor(compute: () => Origins) {
    this.compute = compute;
  }

  private table(): Origins {
    if (this.computed === undefined) {
      this.computed = (this.compute as () => Origins)();
      this.compute = undefined; // let the inputs go
    }
    return this.computed;
  }

  get size(): number {
    return this.table().size;
  }
  get(key: string): SourcePosition | undefined {
    return this.table().get(key);
  }
  has(key: string): boolean {
    return this.table().has(key);
  }
  forEach(callback: (value: SourcePosition, key: string, map: ReadonlyMap<string, SourcePosition>) => void, thisArg?: unknown): void {
    this.table().forEach((value, key) => callback.call(thisArg, value, key, this));
  }
  entries(): MapIterator<[string, SourcePosition]> {
    return this.table().entries();
  }
  keys(): MapIterator<string> {
    return this.table().keys();
  }
  values(): MapIterator<SourcePosition> {
    return this.table().values();
  }
  [Symbol.iterator](): MapIterator<[string, SourcePosition]> {
    return this.table()[Symbol.iterator]();
  }
}

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
  // Loaders build paths by the thousand: one concatenation each, with a remembered suffix.
  if (typeof segment === "number") return parent + indexSuffix(segment);
  const suffix = plainKeySuffix(segment);
  if (suffix === "") return `${parent}[${JSON.stringify(segment)}]`;
  return parent === "" ? segment : parent + suffix;
}

/** `[index]`, remembered for the first indexes. */
export function indexSuffix(index: number): string {
  if (index >= indexSuffixes.length) return `[${index}]`;
  return (indexSuffixes[index] ??= `[${index}]`);
}

const indexSuffixes: (string | undefined)[] = new Array<string | undefined>(64);

/**
 * Keys repeat a lot (every service has `image`), so the plain-key test is remembered per key,
 * as the key's path suffix (`.image`), or "" for a key that is not plain.
 */
const plainKeySuffixes = new Map<string, string>();

function plainKeySuffix(key: string): string {
  let suffix = plainKeySuffixes.get(key);
  if (suffix === undefined) {
    suffix = plainKey.test(key) ? `.${key}` : "";
    if (plainKeySuffixes.size < 50_000) plainKeySuffixes.set(key, suffix);
  }
  return suffix;
}

export function isPlainKey(key: string): boolean {
  return plainKeySuffix(key) !== "";
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

/**
 * Data trees known to hold no TaggedValue at any depth. The parser registers the trees it reads
 * without a `!reset` or `!override`, and a pass that derives a tree from one without adding
 * tags says so (passTagFree), so that merging and the reset-tags pass need not walk every
 * service of a large file to find no tag. Membership is only ever a promise: absence means
 * "unknown", never "has tags".
 */
const tagFreeTrees = new WeakSet<object>();

export function markTagFree<T extends object>(tree: T): T {
  tagFreeTrees.add(tree);
  return tree;
}

export function isTagFree(tree: unknown): boolean {
  return typeof tree === "object" && tree !== null && tagFreeTrees.has(tree);
}

/** `derived`, registered as tag-free when `source` is (for passes that add no tags). */
export function passTagFree<T extends object>(source: unknown, derived: T): T {
  if (isTagFree(source)) tagFreeTrees.add(derived);
  return derived;
}

/**
 * A shallow copy of a mapping keyed by user-chosen names (the services, the volumes), made to
 * change a few of its entries. Not `{...mapping}`: V8 builds the spread copy of a large mapping as
 * an object with fast properties, adding them one at a time (quadratic in their number), and every
 * later write to it searches them all, some 15 ms for 1,000 services. Copied key by key, the copy
 * stays a hash table, as the original is. (For small fixed-schema mappings the spread is faster.)
 */
export function copyMapping(mapping: Mapping): Mapping {
  const copy: Mapping = {};
  for (const key in mapping) {
    // defineProperty for `__proto__`: such a key must stay a key, not become the prototype.
    if (key === "__proto__") Object.defineProperty(copy, key, { value: mapping[key], enumerable: true, writable: true, configurable: true });
    else copy[key] = mapping[key];
  }
  return copy;
}

export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof TaggedValue);
}
