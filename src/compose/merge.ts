// Merging compose files (and a service with the one it extends) by the Compose
// Specification's merge rules, as compose-go's override package implements them: mappings
// merge recursively, sequences append, and the attributes that differ are rows of one ordered
// path table, applied by a generic walker. `!reset` removes a value, `!override` replaces it.
// Every value in the result keeps the origin of the file that supplied it.

import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import type { Pass } from "./context.js";
import {
  deferredOrigins,
  isMapping,
  isTagFree,
  joinPath,
  markTagFree,
  positionOf,
  TaggedValue,
  type ComposeDocument,
  type Mapping,
  type Origins,
  type Path,
  type PathSegment,
} from "./document.js";
import {
  compilePathTable,
  cursorRule,
  splitVolumeSpec,
  stepCursor,
  type PathTableRow,
  type TableCursor,
} from "./paths.js";

/** A value and where its positions are recorded: `origins`, keyed from `path`. */
export interface LocatedValue {
  readonly value: unknown;
  readonly origins: Origins;
  readonly path: string;
  /** Known to hold no tags (see isTagFree), for a value that is not itself a registered tree. */
  readonly tagFree?: boolean;
}

/** A merge result and the positions of all its parts, keyed from the path it was merged at. */
export interface MergedValue {
  readonly value: unknown;
  readonly origins: Map<string, SourcePosition>;
}

/**
 * Where a merge writes: the result's path, its place in the rule table, and the origins being
 * built. Without `out` only the value is wanted: paths are not built (`path` is ""), no origins
 * are kept, and any error is raised again by the same merge with origins (see mergeValue).
 */
export interface MergeTarget {
  readonly path: string;
  readonly cursor: TableCursor<MergeRule>;
  readonly out: Map<string, SourcePosition> | undefined;
  /** Both sides are known to hold no tags (see isTagFree): values are taken as they are. */
  readonly tagFree?: boolean;
}

/** Merge an overriding value into a base value; both are present (either may be null). */
export type MergeRule = (base: LocatedValue, override: LocatedValue, target: MergeTarget) => unknown;

/** A value that `!reset` removed: the key or element is left out of the result. */
const removed: unique symbol = Symbol("removed");
/** A merged value, or `removed`. */
type Merged = unknown;

// ---------------------------------------------------------------------------------------
// Entry points

/**
 * Merge documents in order, later files overriding earlier ones. One document comes back unchanged.
 * The merged data is computed now and its origins when first read (the same merges, with origins).
 */
export function mergeDocuments(documents: readonly ComposeDocument[]): ComposeDocument {
  const [first, ...rest] = documents;
  if (first === undefined) throw new ComposeError(ErrorCode.internal, "mergeDocuments: no documents");
  if (rest.length === 0) return first;
  let data: Mapping = first.data;
  let origins: Origins = first.origins;
  for (const next of rest) {
    const base: LocatedValue = { value: data, origins, path: "" };
    const merged = mergeValue(base, { value: next.data, origins: next.origins, path: "" }, []);
    // Merging resolves every tag.
    data = markTagFree(isMapping(merged) ? merged : {});
    origins = deferredOrigins(() => mergeValuesAt(base, { value: next.data, origins: next.origins, path: "" }, [], { reuseBase: true }).origins);
  }
  return { file: first.file, data, origins };
}

function knownTagFree(located: LocatedValue): boolean {
  return located.tagFree === true || isTagFree(located.value);
}

/**
 * The value mergeValuesAt gives, without building paths or origins. A merge that fails is run
 * again with origins, which raises the same error with its positions.
 */
export function mergeValue(base: LocatedValue, override: LocatedValue, at: Path): unknown {
  let cursor = table.root;
  for (const segment of at) cursor = stepCursor(cursor, segment);
  const tagFree = knownTagFree(base) && knownTagFree(override);
  try {
    const value = mergeEntry(base, override, { path: "", cursor, out: undefined, tagFree });
    return value === removed ? null : value;
  } catch (error) {
    if (!(error instanceof ComposeError)) throw error;
    return mergeValuesAt(base, override, at).value;
  }
}

/**
 * Merge two values as if they stood at `at` in a document (the path picks the rules).
 * A `!reset` override gives `null`.
 */
export function mergeValuesAt(
  base: LocatedValue,
  override: LocatedValue,
  at: Path,
  options: { readonly reuseBase?: boolean } = {},
): MergedValue {
  let cursor = table.root;
  let path = "";
  for (const segment of at) {
    cursor = stepCursor(cursor, segment);
    path = joinPath(path, segment);
  }
  // Merging whole documents: most of the base is untouched by the override. Start from the
  // base's origins and reuse its untouched subtrees as they are, instead of copying them.
  const reuse = options.reuseBase === true && at.length === 0 && base.path === "";
  const out = reuse ? new Map<string, SourcePosition>(base.origins) : new Map<string, SourcePosition>();
  if (reuse) reusableOrigins.set(out, { origins: base.origins, tagFree: !containsTag(base.value) });
  const value = mergeEntry(base, override, { path, cursor, out });
  return { value: value === removed ? null : value, origins: out };
}

/** `extends`: the referenced service is the base, the extending one overrides it. */
export function mergeServices(base: LocatedValue, override: LocatedValue, serviceName: string): MergedValue {
  return mergeValuesAt(base, override, ["services", serviceName]);
}

/** mergeServices' value alone (see mergeValue). */
export function mergeServiceValues(base: LocatedValue, override: LocatedValue, serviceName: string): unknown {
  return mergeValue(base, override, ["services", serviceName]);
}

/**
 * Drop the tags left after merging: a `!reset` in a single file means the key is absent (as
 * compose-go's reset processor leaves it), `!override` just unwraps.
 */
export const resetTagsPass: Pass = {
  name: "reset-tags",
  run(document) {
    if (isTagFree(document.data) || !containsTag(document.data)) return document;
    const out = new Map<string, SourcePosition>();
    const data = adopt({ value: document.data, origins: document.origins, path: "" }, "", { path: "", cursor: [], out });
    return { file: document.file, data: isMapping(data) ? data : {}, origins: out };
  },
};

function containsTag(value: unknown): boolean {
  if (value instanceof TaggedValue) return true;
  if (Array.isArray(value)) return value.some(containsTag);
  if (isMapping(value)) {
    for (const key in value) if (containsTag(value[key])) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// The walker

/** The child of a located container; its path is built only when the merge keeps origins. */
function child(located: LocatedValue, segment: PathSegment, target: MergeTarget): LocatedValue {
  const container = located.value as Record<string | number, unknown>;
  return { value: container[segment], origins: located.origins, path: target.out === undefined ? "" : joinPath(located.path, segment) };
}

function descend(target: MergeTarget, segment: PathSegment): MergeTarget {
  return { path: pathBelow(target, segment), cursor: stepCursor(target.cursor, segment), out: target.out, tagFree: target.tagFree === true };
}

/** The path of a child of the target, or "" when the merge keeps no origins. */
function pathBelow(target: MergeTarget, segment: PathSegment): string {
  return target.out === undefined ? "" : joinPath(target.path, segment);
}

/** Take a value as it is into the result at `to`: tags resolved, origins copied (when kept). */
function adopt(from: LocatedValue, to: string, target: MergeTarget): Merged {
  const out = target.out;
  if (out !== undefined) return adoptValue(from.value, from.origins, from.path, to, out);
  return target.tagFree === true ? from.value : withoutTags(from.value);
}

/** adopt() for a child of a located mapping; without origins, nothing is located (most keys of a merge land here). */
function adoptChild(located: LocatedValue, key: string, target: MergeTarget): Merged {
  if (target.out !== undefined) return adopt(child(located, key, target), joinPath(target.path, key), target);
  const value = (located.value as Mapping)[key];
  return target.tagFree === true ? value : withoutTags(value);
}

/**
 * adoptValue's value: `!reset` removes, `!override` unwraps. The rest is shared rather than
 * copied (values are never mutated), so a value without tags comes back as it is.
 */
function withoutTags(value: unknown): Merged {
  if (value instanceof TaggedValue) return value.tag === "reset" ? removed : withoutTags(value.value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let result: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const resolved = withoutTags(item);
      if (resolved !== item && result === undefined) result = value.slice(0, index);
      if (result !== undefined && resolved !== removed) result.push(resolved);
    }
    return result ?? value;
  }
  const mapping = value as Mapping;
  const keys = Object.keys(mapping);
  let result: Mapping | undefined;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const item = mapping[key];
    const resolved = withoutTags(item);
    if (resolved !== item && result === undefined) {
      result = {};
      for (let before = 0; before < index; before++) {
        const earlier = keys[before] as string;
        result[earlier] = mapping[earlier];
      }
    }
    if (result !== undefined && resolved !== removed) result[key] = resolved;
  }
  return result ?? value;
}

/** Result origins seeded from a base: subtrees of that base adopted in place need no copy. */
const reusableOrigins = new WeakMap<Map<string, SourcePosition>, { origins: Origins; tagFree: boolean }>();

function adoptValue(value: unknown, origins: Origins, from: string, to: string, out: Map<string, SourcePosition>): Merged {
  if (from === to) {
    const seed = reusableOrigins.get(out);
    if (seed !== undefined && seed.origins === origins && (seed.tagFree || !containsTag(value))) return value;
  }
  if (value instanceof TaggedValue) {
    return value.tag === "reset" ? removed : adoptValue(value.value, origins, from, to, out);
  }
  const position = origins.get(from);
  if (position !== undefined) out.set(to, position);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const result: unknown[] = [];
    for (let index = 0; index < value.length; index++) {
      const adopted = adoptValue(value[index], origins, joinPath(from, index), joinPath(to, result.length), out);
      if (adopted !== removed) result.push(adopted);
    }
    return result;
  }
  const result: Mapping = {};
  for (const key of Object.keys(value)) {
    const adopted = adoptValue((value as Mapping)[key], origins, joinPath(from, key), joinPath(to, key), out);
    if (adopted !== removed) result[key] = adopted;
  }
  return result;
}

function adoptAt(from: LocatedValue, target: MergeTarget): Merged {
  return adopt(from, target.path, target);
}

function mergeEntry(base: LocatedValue, override: LocatedValue, target: MergeTarget): Merged {
  if (override.value instanceof TaggedValue) {
    return override.value.tag === "reset" ? removed : adoptAt(override, target);
  }
  let effectiveBase = base;
  if (base.value instanceof TaggedValue) {
    if (base.value.tag === "reset") return adoptAt(override, target);
    effectiveBase = { ...base, value: base.value.value };
  }
  const rule = cursorRule(target.cursor);
  return rule === undefined ? mergeGeneric(effectiveBase, override, target) : rule(effectiveBase, override, target);
}

/** compose-go's MergeYaml default: a null override keeps the base, mappings merge, sequences append, scalars are replaced. */
function mergeGeneric(base: LocatedValue, override: LocatedValue, target: MergeTarget): Merged {
  if (override.value === null || override.value === undefined) return adoptAt(base, target);
  if (isMapping(base.value)) {
    if (!isMapping(override.value)) throw cannotMerge(base, override, target);
    return mergeMappings(base, override, target);
  }
  if (Array.isArray(base.value)) {
    if (!Array.isArray(override.value)) throw cannotMerge(base, override, target);
    placeMerged(base, override, target);
    return [...sequenceItems(base, target), ...sequenceItems(override, target)].map((item, index) => adopt(item, pathBelow(target, index), target));
  }
  return adoptAt(override, target);
}

/** A merged container stands where the base first defined it (or the override, if the base has no position). */
function placeMerged(base: LocatedValue, override: LocatedValue, target: MergeTarget): void {
  if (target.out === undefined) return;
  const position = base.origins.get(base.path) ?? override.origins.get(override.path);
  if (position !== undefined) target.out.set(target.path, position);
}

function mergeMappings(base: LocatedValue, override: LocatedValue, target: MergeTarget): Mapping {
  const baseMap = base.value as Mapping;
  const overrideMap = override.value as Mapping;
  placeMerged(base, override, target);
  const result: Mapping = {};
  // for-in: no key list per mapping (this runs for every service that extends or is overridden).
  for (const key in baseMap) {
    const merged = Object.hasOwn(overrideMap, key)
      ? mergeEntry(child(base, key, target), child(override, key, target), descend(target, key))
      : adoptChild(base, key, target);
    if (merged !== removed) result[key] = merged;
  }
  for (const key in overrideMap) {
    if (Object.hasOwn(baseMap, key)) continue;
    const adopted = adoptChild(override, key, target);
    if (adopted !== removed) result[key] = adopted;
  }
  return result;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a sequence";
  if (isMapping(value)) return "a mapping";
  if (value === null || value === undefined) return "null";
  return `a ${typeof value}`;
}

function cannotMerge(base: LocatedValue, override: LocatedValue, target: MergeTarget): ComposeError {
  const basePosition = positionOf(base.origins, base.path);
  return new ComposeError(
    ErrorCode.composeMerge,
    `cannot merge ${target.path}: ${describe(base.value)} cannot be overridden by ${describe(override.value)}`,
    {
      position: positionOf(override.origins, override.path),
      path: target.path,
      ...(basePosition === undefined
        ? {}
        : { hint: `the value it overrides is at ${basePosition.file}:${basePosition.line}:${basePosition.column}` }),
    },
  );
}

// ---------------------------------------------------------------------------------------
// Sequences

/** The elements of a sequence (a string counts as a one-element sequence), tags resolved. */
function sequenceItems(located: LocatedValue, target: MergeTarget): LocatedValue[] {
  const value = located.value;
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return [located];
  const items: LocatedValue[] = [];
  value.forEach((item, index) => {
    let inner: unknown = item;
    if (inner instanceof TaggedValue) {
      if (inner.tag === "reset") return;
      inner = inner.value;
    }
    items.push({ value: inner, origins: located.origins, path: target.out === undefined ? "" : joinPath(located.path, index) });
  });
  return items;
}

function expectSequence(located: LocatedValue, other: LocatedValue, target: MergeTarget, allowString: boolean): void {
  const value = located.value;
  if (value === null || value === undefined || Array.isArray(value)) return;
  if (allowString && typeof value === "string") return;
  throw cannotMerge(located, other, target);
}

/** What makes two elements the same one (the later replaces the earlier, in its place); undefined: never the same. */
export type ElementKey = (value: unknown) => string | undefined;

/**
 * Append, then keep one element per key, in the position it first appeared, with the last
 * value (compose-go's EnforceUnicity). `combine` merges two elements instead of replacing.
 */
function uniqueSequence(
  keyOf: ElementKey,
  options: { readonly acceptString?: boolean; readonly combine?: MergeRule } = {},
): MergeRule {
  return (base, override, target) => {
    if (override.value === null || override.value === undefined) return adoptAt(base, target);
    expectSequence(base, override, target, options.acceptString ?? false);
    expectSequence(override, base, target, options.acceptString ?? false);
    placeMerged(base, override, target);
    const kept: LocatedValue[] = [];
    const indexByKey = new Map<string, number>();
    for (const item of [...sequenceItems(base, target), ...sequenceItems(override, target)]) {
      const key = keyOf(item.value);
      const existing = key === undefined ? undefined : indexByKey.get(key);
      if (existing === undefined) {
        if (key !== undefined) indexByKey.set(key, kept.length);
        kept.push(item);
        continue;
      }
      const previous = kept[existing];
      if (options.combine === undefined || previous === undefined) {
        kept[existing] = item;
        continue;
      }
      const scratch = target.out === undefined ? undefined : new Map<string, SourcePosition>();
      const combined = options.combine(previous, item, { path: "", cursor: [], out: scratch, tagFree: target.tagFree === true });
      kept[existing] = { value: combined, origins: scratch ?? previous.origins, path: "" };
    }
    return kept.map((item, index) => adopt(item, pathBelow(target, index), target));
  };
}

const appendSequence: MergeRule = uniqueSequence(() => undefined, { acceptString: true });

function scalarText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** compose-go's keyValueIndexer: the part before `=`. */
const keyBeforeEquals: ElementKey = (value) => {
  const text = scalarText(value);
  const separator = text.indexOf("=");
  return separator < 0 ? text : text.slice(0, separator);
};

const wholeValue: ElementKey = (value) => scalarText(value);

/** `[[ip:]published:]target[/protocol]` or the long syntax; ip 0.0.0.0 and tcp by default. */
export const portKey: ElementKey = (value) => {
  if (typeof value === "number") return `0.0.0.0||${value}/tcp`;
  if (isMapping(value)) {
    const hostIp = value["host_ip"];
    const published = value["published"];
    const protocol = value["protocol"];
    return `${hostIp === undefined || hostIp === "" ? "0.0.0.0" : scalarText(hostIp)}|${
      published === undefined || published === null ? "" : scalarText(published)
    }|${scalarText(value["target"])}/${protocol === undefined || protocol === "" ? "tcp" : scalarText(protocol)}`;
  }
  if (typeof value !== "string") return scalarText(value);
  const slash = value.lastIndexOf("/");
  const protocol = slash < 0 ? "tcp" : value.slice(slash + 1);
  let rest = slash < 0 ? value : value.slice(0, slash);
  let hostIp = "";
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(":");
  const target = parts.pop() ?? "";
  const published = parts.pop() ?? "";
  if (parts.length > 0) hostIp = parts.join(":");
  return `${hostIp === "" ? "0.0.0.0" : hostIp}|${published}|${target}/${protocol}`;
};

/** Volumes are unique by their target inside the container. */
export const volumeTarget: ElementKey = (value) => {
  if (isMapping(value)) return value["target"] === undefined ? undefined : scalarText(value["target"]);
  if (typeof value !== "string") return undefined;
  return splitVolumeSpec(value)?.target ?? value;
};

/** Secrets and configs: by target, a bare name mounting at `<directory>/<name>`. */
function mountTarget(directory: string): ElementKey {
  const under = (name: string): string => (name.startsWith("/") ? name : `${directory}/${name}`);
  return (value) => {
    if (typeof value === "string") return under(value);
    if (isMapping(value)) {
      const targetPath = value["target"];
      if (typeof targetPath === "string" && targetPath !== "") return under(targetPath);
      return under(scalarText(value["source"]));
    }
    return undefined;
  };
}

/** `source:target[:permissions]`, or the long syntax's target. */
const deviceTarget: ElementKey = (value) => {
  if (isMapping(value)) return value["target"] === undefined ? undefined : scalarText(value["target"]);
  if (typeof value !== "string") return undefined;
  const parts = value.split(":");
  return parts.length === 1 ? parts[0] : parts[1];
};

const envFilePath: ElementKey = (value) => {
  if (isMapping(value)) return value["path"] === undefined ? undefined : scalarText(value["path"]);
  return typeof value === "string" ? value : undefined;
};

function fieldKey(field: string): ElementKey {
  return (value) => (isMapping(value) && value[field] !== undefined ? scalarText(value[field]) : undefined);
}

const ipamSubnet: ElementKey = (value) => (isMapping(value) ? scalarText(value["subnet"] ?? null) : undefined);

// ---------------------------------------------------------------------------------------
// Key/value attributes (environment, labels, …) in list or mapping syntax

interface KeyValueEntry {
  readonly key: string;
  /** The `KEY=VALUE` (or bare `KEY`) form, for a list result; see textOf (mapping entries leave it to be written then). */
  readonly text: string | undefined;
  /** Where the entry's own value lives (a list element, or a mapping value). */
  readonly located: LocatedValue;
  /** `KEY: !reset` in mapping syntax: remove the key. */
  readonly removes: boolean;
}

interface KeyValueSide {
  readonly syntax: "mapping" | "sequence";
  readonly entries: readonly KeyValueEntry[];
}

/** An entry's `KEY=VALUE` (or bare `KEY`) form. */
function textOf(entry: KeyValueEntry): string {
  if (entry.text !== undefined) return entry.text;
  const inner = entry.located.value;
  return inner === null || inner === undefined ? entry.key : `${entry.key}=${scalarText(inner)}`;
}

function keyValueSide(located: LocatedValue, other: LocatedValue, target: MergeTarget): KeyValueSide {
  const value = located.value;
  if (value === null || value === undefined) return { syntax: "mapping", entries: [] };
  if (isMapping(value)) {
    const entries = Object.keys(value).map((key): KeyValueEntry => {
      const path = target.out === undefined ? "" : joinPath(located.path, key);
      const raw = value[key];
      if (raw instanceof TaggedValue && raw.tag === "reset") return { key, text: key, located: { value: raw, origins: located.origins, path }, removes: true };
      const inner = raw instanceof TaggedValue ? raw.value : raw;
      return { key, text: undefined, located: { value: inner, origins: located.origins, path }, removes: false };
    });
    return { syntax: "mapping", entries };
  }
  if (Array.isArray(value) || typeof value === "string") {
    const entries = sequenceItems(located, target).map((item): KeyValueEntry => {
      const text = scalarText(item.value);
      return { key: keyBeforeEquals(text) ?? text, text, located: { ...item, value: text }, removes: false };
    });
    return { syntax: "sequence", entries };
  }
  throw cannotMerge(located, other, target);
}

/**
 * Merged by key, the override winning. Two mappings give a mapping; otherwise a list (a mapping
 * side becomes `KEY=VALUE` strings sorted by key, as compose-go's convertIntoSequence does),
 * each key kept where it first appeared.
 */
const mergeKeyValues: MergeRule = (base, override, target) => {
  if (override.value === null || override.value === undefined) return adoptAt(base, target);
  if (
    target.out === undefined &&
    target.tagFree === true &&
    isMapping(base.value) &&
    isMapping(override.value) &&
    !Object.hasOwn(base.value, "__proto__") &&
    !Object.hasOwn(override.value, "__proto__")
  ) {
    // The value alone, without tags: what the general case below computes, without an entry per key
    // (a `__proto__` key takes the general case, which keeps it a key).
    // Keys keep the place they first took, as the Map of winners keeps them; the override's values win.
    const result: Mapping = {};
    for (const key in base.value) result[key] = base.value[key];
    for (const key in override.value) result[key] = override.value[key];
    return result;
  }
  const baseSide = keyValueSide(base, override, target);
  const overrideSide = keyValueSide(override, base, target);
  placeMerged(base, override, target);
  if (baseSide.syntax === "mapping" && overrideSide.syntax === "mapping") {
    const winners = new Map<string, KeyValueEntry>();
    for (const entry of [...baseSide.entries, ...overrideSide.entries]) {
      if (entry.removes) winners.delete(entry.key);
      else winners.set(entry.key, entry);
    }
    const result: Mapping = {};
    for (const [key, entry] of winners) {
      const adopted = adopt(entry.located, pathBelow(target, key), target);
      if (adopted !== removed) result[key] = adopted;
    }
    return result;
  }
  const ordered = (side: KeyValueSide): readonly KeyValueEntry[] =>
    side.syntax === "mapping" ? [...side.entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) : side.entries;
  const winners = new Map<string, KeyValueEntry>();
  for (const entry of [...ordered(baseSide), ...ordered(overrideSide)]) {
    // Map.set keeps an existing key where it first appeared, as EnforceUnicity does.
    if (entry.removes) winners.delete(entry.key);
    else winners.set(entry.key, entry);
  }
  const out = target.out;
  return [...winners.values()].map((entry, index) => {
    if (out !== undefined) {
      const entryPosition = positionOf(entry.located.origins, entry.located.path);
      if (entryPosition !== undefined) out.set(joinPath(target.path, index), entryPosition);
    }
    return textOf(entry);
  });
};

/**
 * extra_hosts: compose-go keeps every address (a host may have several), dropping only
 * override entries already present verbatim. Always a list of `host=address`.
 */
const mergeExtraHosts: MergeRule = (base, override, target) => {
  if (override.value === null || override.value === undefined) return adoptAt(base, target);
  const entries = (located: LocatedValue, other: LocatedValue): { text: string; located: LocatedValue }[] => {
    const value = located.value;
    if (value === null || value === undefined) return [];
    if (isMapping(value)) {
      return Object.keys(value)
        .sort()
        .flatMap((host) => {
          const entryLocated = child(located, host, target);
          const addresses = value[host];
          if (addresses === null || addresses === undefined) return [{ text: host, located: entryLocated }];
          const list = Array.isArray(addresses) ? addresses : [addresses];
          return list.map((address) => ({ text: `${host}=${scalarText(address)}`, located: entryLocated }));
        });
    }
    if (Array.isArray(value) || typeof value === "string") {
      return sequenceItems(located, target).map((item) => ({ text: scalarText(item.value), located: item }));
    }
    throw cannotMerge(located, other, target);
  };
  const baseEntries = entries(base, override);
  placeMerged(base, override, target);
  const present = new Set(baseEntries.map((entry) => entry.text));
  const kept = [...baseEntries, ...entries(override, base).filter((entry) => !present.has(entry.text))];
  const out = target.out;
  return kept.map((entry, index) => {
    if (out !== undefined) {
      const entryPosition = positionOf(entry.located.origins, entry.located.path);
      if (entryPosition !== undefined) out.set(joinPath(target.path, index), entryPosition);
    }
    return entry.text;
  });
};

// ---------------------------------------------------------------------------------------
// Attributes with two syntaxes that merge as mappings

/**
 * A value in its mapping form, for merging: a short syntax becomes a mapping whose parts all
 * carry the short value's position.
 */
function asMapping(
  located: LocatedValue,
  other: LocatedValue,
  target: MergeTarget,
  expand: (value: unknown) => Mapping | undefined,
): LocatedValue {
  if (isMapping(located.value)) return located;
  const expanded = expand(located.value);
  if (expanded === undefined) throw cannotMerge(located, other, target);
  if (target.out === undefined) return { value: expanded, origins: located.origins, path: "" };
  const origins = new Map<string, SourcePosition>();
  const own = located.origins.get(located.path);
  if (own !== undefined) origins.set(located.path, own);
  const record = (path: string, value: unknown, position: SourcePosition | undefined): void => {
    if (position !== undefined) origins.set(path, position);
    if (isMapping(value)) for (const key of Object.keys(value)) record(joinPath(path, key), value[key], position);
  };
  if (Array.isArray(located.value)) {
    located.value.forEach((item, index) => {
      const name = item instanceof TaggedValue ? item.value : item;
      if (typeof name !== "string" || !Object.hasOwn(expanded, name)) return;
      record(joinPath(located.path, name), expanded[name], positionOf(located.origins, joinPath(located.path, index)));
    });
  } else {
    for (const key of Object.keys(expanded)) record(joinPath(located.path, key), expanded[key], own);
  }
  return { value: expanded, origins, path: located.path };
}

function mappingRule(expand: (value: unknown) => Mapping | undefined): MergeRule {
  return (base, override, target) => {
    if (override.value === null || override.value === undefined) return adoptAt(base, target);
    if (base.value === null || base.value === undefined) return adoptAt(override, target);
    return mergeMappings(
      asMapping(base, override, target, expand),
      asMapping(override, base, target, expand),
      target,
    );
  };
}

function namesToMapping(entry: (name: string) => unknown): (value: unknown) => Mapping | undefined {
  return (value) => {
    if (!Array.isArray(value)) return undefined;
    const result: Mapping = {};
    for (const item of value) {
      if (item instanceof TaggedValue && item.tag === "reset") continue;
      const name = item instanceof TaggedValue ? item.value : item;
      if (typeof name !== "string") return undefined;
      result[name] = entry(name);
    }
    return result;
  };
}

/** `build: ./dir` is `build: {context: ./dir}`. */
const mergeBuild = mappingRule((value) => (typeof value === "string" ? { context: value } : undefined));

/** `depends_on: [db]` is `{db: {condition: service_started, required: true}}`. */
const mergeDependsOn = mappingRule(namesToMapping(() => ({ condition: "service_started", required: true })));

/** Service `networks: [front]` and `models: [llm]` are `{front: null}`. */
const mergeNamedMapping = mappingRule(namesToMapping(() => null));

/** Options merge only when the driver stays the same (or either side leaves it out). */
const mergeLogging: MergeRule = (base, override, target) => {
  if (override.value === null || override.value === undefined) return adoptAt(base, target);
  if (!isMapping(base.value) || !isMapping(override.value)) return mergeGeneric(base, override, target);
  const baseDriver = base.value["driver"];
  const overrideDriver = override.value["driver"];
  if (baseDriver !== undefined && overrideDriver !== undefined && baseDriver !== overrideDriver) {
    return adoptAt(override, target);
  }
  return mergeMappings(base, override, target);
};

/** command, entrypoint, healthcheck.test, ulimits.*: the later value replaces, even null. */
const replaceValue: MergeRule = (_base, override, target) => adoptAt(override, target);

/** IPAM pools with the same subnet merge (aux_addresses and all); new subnets are appended. */
const mergeIpamConfig = uniqueSequence(ipamSubnet, {
  combine: (base, override, target) =>
    isMapping(base.value) && isMapping(override.value) ? mergeMappings(base, override, target) : adoptAt(override, target),
});

const uniqueNames = uniqueSequence(keyBeforeEquals, { acceptString: true });

// ---------------------------------------------------------------------------------------
// The table. Order matters only for readability: a test asserts no concrete path matches two rows.

export const mergeRules: readonly PathTableRow<MergeRule>[] = [
  // Shell commands are replaced, not appended.
  ["services.*.command", replaceValue],
  ["services.*.entrypoint", replaceValue],
  ["services.*.healthcheck.test", replaceValue],
  ["services.*.ulimits.*", replaceValue],
  // Two syntaxes, merged as mappings.
  ["services.*.build", mergeBuild],
  ["services.*.depends_on", mergeDependsOn],
  ["services.*.networks", mergeNamedMapping],
  ["services.*.models", mergeNamedMapping],
  ["services.*.logging", mergeLogging],
  // Key/value attributes, list or mapping syntax.
  ["services.*.environment", mergeKeyValues],
  ["services.*.labels", mergeKeyValues],
  ["services.*.annotations", mergeKeyValues],
  ["services.*.sysctls", mergeKeyValues],
  ["services.*.deploy.labels", mergeKeyValues],
  ["services.*.build.args", mergeKeyValues],
  ["services.*.build.labels", mergeKeyValues],
  ["services.*.build.additional_contexts", mergeKeyValues],
  ["services.*.build.ssh", mergeKeyValues],
  ["networks.*.labels", mergeKeyValues],
  ["volumes.*.labels", mergeKeyValues],
  ["secrets.*.labels", mergeKeyValues],
  ["configs.*.labels", mergeKeyValues],
  ["services.*.extra_hosts", mergeExtraHosts],
  ["services.*.build.extra_hosts", mergeExtraHosts],
  // Unique resources.
  ["services.*.ports", uniqueSequence(portKey)],
  ["services.*.volumes", uniqueSequence(volumeTarget)],
  ["services.*.secrets", uniqueSequence(mountTarget("/run/secrets"))],
  ["services.*.configs", uniqueSequence(mountTarget(""))],
  ["services.*.devices", uniqueSequence(deviceTarget)],
  ["services.*.expose", uniqueSequence(wholeValue)],
  ["services.*.env_file", uniqueSequence(envFilePath, { acceptString: true })],
  ["services.*.blkio_config.device_read_bps", uniqueSequence(fieldKey("path"))],
  ["services.*.blkio_config.device_read_iops", uniqueSequence(fieldKey("path"))],
  ["services.*.blkio_config.device_write_bps", uniqueSequence(fieldKey("path"))],
  ["services.*.blkio_config.device_write_iops", uniqueSequence(fieldKey("path"))],
  ["networks.*.ipam.config", mergeIpamConfig],
  // Sequences without duplicates.
  ["services.*.dns", uniqueNames],
  ["services.*.dns_opt", uniqueNames],
  ["services.*.dns_search", uniqueNames],
  ["services.*.tmpfs", uniqueNames],
  ["services.*.cap_add", uniqueNames],
  ["services.*.cap_drop", uniqueNames],
  ["services.*.links", uniqueNames],
  ["services.*.external_links", uniqueNames],
  ["services.*.security_opt", uniqueNames],
  ["services.*.device_cgroup_rules", uniqueNames],
  ["services.*.profiles", uniqueNames],
  ["services.*.build.tags", uniqueNames],
  ["services.*.build.platforms", uniqueNames],
  ["services.*.networks.*.aliases", uniqueNames],
  ["services.*.networks.*.link_local_ips", uniqueNames],
  ["services.*.deploy.placement.constraints", uniqueNames],
  ["services.*.deploy.placement.preferences", uniqueSequence(wholeValue)],
  // Plain sequences that may be written as one string.
  ["services.*.label_file", appendSequence],
];

const table = compilePathTable(mergeRules);
