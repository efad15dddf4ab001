// The machinery the normalize pass runs its path tables with: a rule table walker (rows like
// `["services.*.ports", canonicalPorts]`), a scope that turns problems into positioned
// ComposeErrors, and origin bookkeeping for values that move (a short port that expands into
// two entries, a list that becomes a map) so later errors still point at the right line.

import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import type { LoadContext } from "./context.js";
import { copyMapping, indexSuffix, isMapping, joinPath, positionOf, type Mapping, type Origins, type PathSegment } from "./document.js";

/** What every rule may use. */
export interface NormalizeScope {
  readonly context: LoadContext;
  /**
   * The origins of the tree as it is now: the input document's origins, which rules keep in step
   * when they move values (see `relocate`).
   */
  readonly origins: OriginsLog;
}

/** The moves of a relocation (see `relocate`), listed from the old container and what the rule kept for it. */
export type Moves<State> = (oldContainer: unknown, state: State) => Iterable<Relocation>;

/** A change to a table of origins: a relocation, as data (there is one per rebuilt container), or any step. */
type OriginsChange =
  | { readonly path: string; readonly oldContainer: unknown; readonly moves: Moves<unknown>; readonly state: unknown }
  | ((origins: Map<string, SourcePosition>) => void);

/**
 * A table of origins kept as the list of changes made to it. Applying a change costs a walk of
 * the moved container, and the table itself is a copy with an entry per value; positions are
 * read only for an error, so the changes are applied when the table is read: `current()` is the
 * table as the changes so far leave it (an error sees it as it stands when the error is raised).
 */
export class OriginsLog {
  private readonly changes: OriginsChange[] = [];
  private applied = 0;
  private table: Map<string, SourcePosition> | undefined;

  constructor(private readonly initial: Origins) {}

  change(step: OriginsChange): void {
    this.changes.push(step);
  }

  current(): Map<string, SourcePosition> {
    const table = (this.table ??= new Map(this.initial));
    while (this.applied < this.changes.length) {
      const change = this.changes[this.applied++] as OriginsChange;
      if (typeof change === "function") change(table);
      else relocateIn(table, change.path, change.oldContainer, [...change.moves(change.oldContainer, change.state)]);
    }
    return table;
  }
}

/** A rule: the value found at `path` → its replacement. Never mutates `value`. */
export type Rule = (value: unknown, path: string, scope: NormalizeScope) => unknown;

/** One row of a path table: a dotted pattern (`*` matches any key or index) and its rule. */
export type RuleRow = readonly [pattern: string, rule: Rule];

export function normalizeError(scope: NormalizeScope, path: string, message: string, code: string = ErrorCode.composeNormalize): ComposeError {
  return new ComposeError(code, message, { path, position: positionOf(scope.origins.current(), path) });
}

interface TrieNode {
  rule?: Rule;
  readonly children: Map<string, TrieNode>;
}

/** A compiled path table. Throws if two rows name the same pattern. */
export class RuleTable {
  private readonly root: TrieNode = { children: new Map() };

  constructor(readonly rows: readonly RuleRow[]) {
    for (const [pattern, rule] of rows) {
      let node = this.root;
      for (const segment of pattern.split(".")) {
        let next = node.children.get(segment);
        if (next === undefined) {
          next = { children: new Map() };
          node.children.set(segment, next);
        }
        node = next;
      }
      if (node.rule !== undefined) throw new Error(`path table: ${pattern} appears twice`);
      node.rule = rule;
    }
  }

  /** Apply every row to the tree, outer rows first, and return a new tree (unchanged parts shared). */
  apply(data: Mapping, scope: NormalizeScope): Mapping {
    return this.visit(data, "", this.root, scope) as Mapping;
  }

  private visit(value: unknown, path: string, node: TrieNode, scope: NormalizeScope): unknown {
    const current = node.rule === undefined ? value : node.rule(value, path, scope);
    if (node.children.size === 0) return current;
    const wildcard = node.children.get("*");
    if (Array.isArray(current)) {
      if (wildcard === undefined) return current;
      // Copied only once an item changes.
      let result: unknown[] | undefined;
      for (let index = 0; index < current.length; index++) {
        const item: unknown = current[index];
        const next = this.visit(item, path + indexSuffix(index), wildcard, scope);
        if (next !== item) {
          result ??= [...current];
          result[index] = next;
        }
      }
      return result ?? current;
    }
    if (!isMapping(current)) return current;
    let result: Mapping | undefined;
    for (const key in current) {
      const childNode = node.children.get(key) ?? wildcard;
      if (childNode === undefined) continue;
      const child = current[key];
      const next = this.visit(child, childPathOf(path, key), childNode, scope);
      if (next !== child) {
        // A wildcard child means names chosen by the user (services, volumes): possibly many.
        result ??= wildcard === undefined ? { ...current } : copyMapping(current);
        result[key] = next;
      }
    }
    return result ?? current;
  }

  /** True when some row's pattern matches `path` (segments; numbers match `*`). Used by tests. */
  matches(segments: readonly (string | number)[]): number {
    let count = 0;
    const walk = (node: TrieNode, index: number): void => {
      if (index === segments.length) {
        if (node.rule !== undefined) count++;
        return;
      }
      const segment = segments[index];
      const exact = typeof segment === "string" ? node.children.get(segment) : undefined;
      if (exact !== undefined) walk(exact, index + 1);
      const wildcard = node.children.get("*");
      if (wildcard !== undefined && exact !== wildcard) walk(wildcard, index + 1);
    };
    walk(this.root, 0);
    return count;
  }
}

/** document.ts joinPath for a key. */
export function childPathOf(parent: string, key: string): string {
  return joinPath(parent, key);
}

function segmentPath(parent: string, segment: PathSegment): string {
  return typeof segment === "number" ? `${parent}[${segment}]` : childPathOf(parent, segment);
}

/** One entry of a rebuilt container: where it is now, where it came from, and its new value. */
export type Relocation = readonly [newKey: PathSegment, oldKey: PathSegment, newValue: unknown];

/**
 * Keep origins in step with a container (list or map) at `path` that a rule rebuilt: the
 * origins of the old entries are dropped, and every new entry (and whatever below it has the
 * same relative path as before) takes the positions of the old entry it came from. One old
 * entry may feed several new ones (a port range). Costs only the size of the container.
 * `moves(oldContainer, state)` lists the moves; it is called only when the origins are read
 * (a function and its state rather than a closure: this runs for most containers rules rebuild).
 */
export function relocate<State>(scope: NormalizeScope, path: string, oldContainer: unknown, moves: Moves<State>, state: State): void {
  scope.origins.change({ path, oldContainer, moves: moves as Moves<unknown>, state });
}

/** Moves kept by the rule as they are. */
export const listedMoves: Moves<readonly Relocation[]> = (_oldContainer, moves) => moves;

function relocateIn(origins: Map<string, SourcePosition>, path: string, oldContainer: unknown, moved: readonly Relocation[]): void {
  // A list rebuilt as a list reuses paths (`[1]`), so its old origins must go; a list turned
  // into a map leaves old paths (`[1]`) that no longer exist, which may stay.
  const dropOld = moved.some(([newKey]) => typeof newKey === "number");
  // Per old entry: its position (a scalar entry), or the positions of its subtree by relative path.
  const snapshots = new Map<PathSegment, SourcePosition | Map<string, SourcePosition>>();
  const snapshotOf = (value: unknown, absolute: string): SourcePosition | Map<string, SourcePosition> | undefined => {
    if (typeof value !== "object" || value === null) {
      const position = origins.get(absolute);
      if (position !== undefined && dropOld) origins.delete(absolute);
      return position;
    }
    const snapshot = new Map<string, SourcePosition>();
    take(value, absolute, "", snapshot);
    return snapshot;
  };
  const take = (value: unknown, absolute: string, relative: string, into: Map<string, SourcePosition>): void => {
    const position = origins.get(absolute);
    if (position !== undefined) {
      into.set(relative, position);
      if (dropOld) origins.delete(absolute);
    }
    if (Array.isArray(value)) value.forEach((item, index) => take(item, `${absolute}[${index}]`, `${relative}[${index}]`, into));
    else if (isMapping(value)) for (const key in value) take(value[key], childPathOf(absolute, key), childPathOf(relative, key), into);
  };
  if (Array.isArray(oldContainer)) {
    oldContainer.forEach((item, index) => {
      const snapshot = snapshotOf(item, `${path}[${index}]`);
      if (snapshot !== undefined) snapshots.set(index, snapshot);
    });
  } else if (isMapping(oldContainer)) {
    for (const key in oldContainer) {
      const snapshot = snapshotOf(oldContainer[key], childPathOf(path, key));
      if (snapshot !== undefined) snapshots.set(key, snapshot);
    }
  }
  const place = (value: unknown, absolute: string, relative: string, from: Map<string, SourcePosition>): void => {
    const position = from.get(relative);
    if (position !== undefined) origins.set(absolute, position);
    if (Array.isArray(value)) value.forEach((item, index) => place(item, `${absolute}[${index}]`, `${relative}[${index}]`, from));
    else if (isMapping(value)) for (const key in value) place(value[key], childPathOf(absolute, key), childPathOf(relative, key), from);
  };
  for (const [newKey, oldKey, newValue] of moved) {
    const snapshot = snapshots.get(oldKey);
    if (snapshot === undefined) continue;
    if (snapshot instanceof Map) place(newValue, segmentPath(path, newKey), "", snapshot);
    else origins.set(segmentPath(path, newKey), snapshot);
  }
}

/** A value added at `path` because of what is at `fromPath` (an implied dependency) takes its position. */
export function originFrom(scope: NormalizeScope, path: string, fromPath: string): void {
  scope.origins.change((origins) => {
    const position = positionOf(origins, fromPath);
    if (position !== undefined) origins.set(path, position);
  });
}

export function asMapping(value: unknown): Mapping | undefined {
  return isMapping(value) ? value : undefined;
}

/** The services mapping, or an empty one. */
export function servicesOf(data: Mapping): Mapping {
  return asMapping(data["services"]) ?? {};
}
