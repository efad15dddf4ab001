// Paths, in both senses the loader needs.
//
// 1. Tree paths: an ordered path table (`["services.*.ports", rule]`) compiled into a small
//    trie, walked alongside a document so each node finds its row in O(depth). merge.ts and
//    this file's resolver both use it; a unit test asserts that no two rows of a table can
//    match the same concrete path.
// 2. Filesystem paths: `resolveRelativePaths` makes every path-bearing attribute absolute
//    against a base directory (compose-go's paths.ResolveRelativePaths, but on the raw,
//    not yet canonical syntax, so short volume specs and `build: ./dir` are handled too).

import path from "node:path";
import { copyMapping, isMapping, TaggedValue, type Mapping, type PathSegment } from "./document.js";

// ---------------------------------------------------------------------------------------
// Path tables

/** One row: a dotted pattern where `*` stands for any one key or list index, and its rule. */
export type PathTableRow<Rule> = readonly [pattern: string, rule: Rule];

interface TableNode<Rule> {
  readonly literal: Map<string, TableNode<Rule>>;
  wildcard: TableNode<Rule> | undefined;
  /** The row that ends here (the lowest index wins, so the table's order decides). */
  row: { readonly index: number; readonly rule: Rule } | undefined;
  /** The cursor that stands on this node alone: most steps end on one node, and need not allocate one. */
  readonly alone: TableCursor<Rule>;
  /** The keys of `literal`, listed on first use (the table is complete by then). */
  literalKeys: readonly string[] | undefined;
}

/** Where a walk stands in a table: every trie node the path so far can still match. Empty: no row below. */
export type TableCursor<Rule> = readonly TableNode<Rule>[];

export interface PathTable<Rule> {
  readonly rows: readonly PathTableRow<Rule>[];
  readonly root: TableCursor<Rule>;
}

function newNode<Rule>(): TableNode<Rule> {
  const alone: TableNode<Rule>[] = [];
  const node: TableNode<Rule> = { literal: new Map(), wildcard: undefined, row: undefined, alone, literalKeys: undefined };
  alone.push(node);
  Object.freeze(alone);
  return node;
}

export function compilePathTable<Rule>(rows: readonly PathTableRow<Rule>[]): PathTable<Rule> {
  const root = newNode<Rule>();
  rows.forEach(([pattern, rule], index) => {
    let node = root;
    for (const segment of pattern.split(".")) {
      if (segment === "*") {
        node.wildcard ??= newNode();
        node = node.wildcard;
      } else {
        let next = node.literal.get(segment);
        if (next === undefined) {
          next = newNode();
          node.literal.set(segment, next);
        }
        node = next;
      }
    }
    if (node.row === undefined) node.row = { index, rule };
  });
  return { rows, root: [root] };
}

const noMatch: TableCursor<never> = Object.freeze([]);

// stepCursor and cursorRule run for every node a walk visits, mostly in cold code: indexed loops,
// and no allocation when the step ends on a single node.
export function stepCursor<Rule>(cursor: TableCursor<Rule>, segment: PathSegment): TableCursor<Rule> {
  let first: TableNode<Rule> | undefined;
  let more: TableNode<Rule>[] | undefined;
  for (let index = 0; index < cursor.length; index++) {
    const node = cursor[index] as TableNode<Rule>;
    const literal = typeof segment === "string" ? node.literal.get(segment) : undefined;
    if (literal !== undefined) {
      if (first === undefined) first = literal;
      else (more ??= [first]).push(literal);
    }
    const wildcard = node.wildcard;
    if (wildcard !== undefined) {
      if (first === undefined) first = wildcard;
      else (more ??= [first]).push(wildcard);
    }
  }
  return more ?? first?.alone ?? noMatch;
}

/** The rule of the first row (in table order) that matches exactly where the cursor stands. */
export function cursorRule<Rule>(cursor: TableCursor<Rule>): Rule | undefined {
  let best: { readonly index: number; readonly rule: Rule } | undefined;
  for (let index = 0; index < cursor.length; index++) {
    const row = (cursor[index] as TableNode<Rule>).row;
    if (row !== undefined && (best === undefined || row.index < best.index)) best = row;
  }
  return best?.rule;
}

export function ruleForPath<Rule>(table: PathTable<Rule>, segments: readonly PathSegment[]): Rule | undefined {
  let cursor = table.root;
  for (const segment of segments) cursor = stepCursor(cursor, segment);
  return cursorRule(cursor);
}

/** True when some concrete path matches both patterns. */
export function patternsOverlap(first: string, second: string): boolean {
  const a = first.split(".");
  const b = second.split(".");
  if (a.length !== b.length) return false;
  return a.every((segment, index) => segment === "*" || b[index] === "*" || segment === b[index]);
}

/** Pairs of rows that some concrete path would match both of (a table must have none). */
export function overlappingRows<Rule>(rows: readonly PathTableRow<Rule>[]): (readonly [string, string])[] {
  const pairs: (readonly [string, string])[] = [];
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      const a = rows[i]?.[0] ?? "";
      const b = rows[j]?.[0] ?? "";
      if (patternsOverlap(a, b)) pairs.push([a, b]);
    }
  }
  return pairs;
}

/**
 * The first `limit` segments of a path formatted by document.ts's joinPath
 * (`services.web.ports[0]`, `services["my.app"].image`).
 */
export function leadingSegments(formatted: string, limit: number): PathSegment[] {
  const segments: PathSegment[] = [];
  let index = 0;
  while (index < formatted.length && segments.length < limit) {
    const char = formatted.charAt(index);
    if (char === ".") {
      index++;
    } else if (char === "[") {
      if (formatted.charAt(index + 1) === '"') {
        let end = index + 2;
        while (end < formatted.length && formatted.charAt(end) !== '"') end += formatted.charAt(end) === "\\" ? 2 : 1;
        segments.push(JSON.parse(formatted.slice(index + 1, end + 1)) as string);
        index = end + 2;
      } else {
        const end = formatted.indexOf("]", index);
        segments.push(Number(formatted.slice(index + 1, end)));
        index = end + 1;
      }
    } else {
      let end = index;
      while (end < formatted.length && formatted.charAt(end) !== "." && formatted.charAt(end) !== "[") end++;
      segments.push(formatted.slice(index, end));
      index = end;
    }
  }
  return segments;
}

/** The service a formatted path lies under (`services.web.image` → `web`), if any. */
export function serviceNameOf(key: string): string | undefined {
  if (!key.startsWith("services")) return undefined;
  if (key.charAt(8) === ".") {
    let end = 9;
    while (end < key.length) {
      const char = key.charCodeAt(end);
      if (char === 46 /* . */ || char === 91 /* [ */) break;
      end++;
    }
    return key.slice(9, end);
  }
  if (key.charAt(8) !== "[") return undefined;
  const [, name] = leadingSegments(key, 2);
  return typeof name === "string" ? name : undefined;
}

// ---------------------------------------------------------------------------------------
// Short volume syntax

export interface VolumeSpecParts {
  /** Bind path or volume name; undefined for an anonymous volume (`/data`). */
  readonly source: string | undefined;
  readonly target: string;
  readonly options: string | undefined;
}

/**
 * Split `[source:]target[:options]` as compose-go's format.ParseVolume does: a Windows drive
 * (`C:`) is not a separator, nor is a colon inside `${…}`. Undefined when it is not a valid spec.
 */
export function splitVolumeSpec(spec: string): VolumeSpecParts | undefined {
  if (spec.length === 0) return undefined;
  if (spec.length <= 2) return { source: undefined, target: spec, options: undefined };
  const parts: string[] = [];
  let buffer = "";
  let substitutionDepth = 0;
  for (let index = 0; index < spec.length; index++) {
    const char = spec.charAt(index);
    if (char === "$" && spec.charAt(index + 1) === "{") substitutionDepth++;
    else if (char === "}" && substitutionDepth > 0) substitutionDepth--;
    const windowsDrive = char === ":" && buffer.length === 1 && /^[A-Za-z]$/.test(buffer);
    if (char === ":" && substitutionDepth === 0 && !windowsDrive) {
      parts.push(buffer);
      buffer = "";
    } else {
      buffer += char;
    }
  }
  parts.push(buffer);
  if (parts.some((part) => part === "") || parts.length > 3) return undefined;
  if (parts.length === 1) return { source: undefined, target: parts[0] ?? spec, options: undefined };
  return { source: parts[0], target: parts[1] ?? "", options: parts[2] };
}

/** compose-go's isFilePath: a short-syntax volume source that is a host path, not a volume name. */
export function isHostPath(source: string): boolean {
  if (source === "") return false;
  const first = source.charAt(0);
  if (first === "." || first === "/" || first === "~") return true;
  return source.startsWith("\\\\") || isWindowsAbsolute(source);
}

function isWindowsAbsolute(value: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(value) || value.startsWith("\\\\");
}

// ---------------------------------------------------------------------------------------
// Relative filesystem paths

interface PathResolver {
  readonly baseDirectory: string;
  readonly homeDirectory: string;
}

/** Rewrites one value found at a row's path; `key` is the last segment (a name or a list index). */
type PathRule = (value: unknown, key: PathSegment, resolver: PathResolver) => unknown;

/** A path (`~` expanded) made absolute against the base directory; absolute paths untouched. */
export function absolutePath(value: string, baseDirectory: string, homeDirectory: string): string {
  if (value === "") return value;
  if (value === "~" || value.startsWith("~/")) return joinClean(homeDirectory, value.slice(1));
  if (path.isAbsolute(value) || isWindowsAbsolute(value)) return value;
  return joinClean(baseDirectory, value);
}

/** Go's filepath.Join: joined and cleaned, so no trailing separator survives (`./app/` → `/p/app`). */
function joinClean(directory: string, relative: string): string {
  const simple = simpleJoin(directory, relative);
  if (simple !== undefined) return simple;
  const joined = path.join(directory, relative);
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}

/** Segments separated by single slashes, without a leading or trailing one. */
const slashSeparated = /^(?:[^/]+\/)*[^/]+$/;
/** A `.` or `..` segment. */
const dotSegment = /(?:^|\/)\.\.?(?:\/|$)/;
/** Directories known to be clean absolute paths other than `/` (path.join leaves them as they are). */
const cleanDirectories = new Map<string, boolean>();

/**
 * path.join for the common case, a clean directory and a relative path with nothing to clean
 * (`./data/web`): plain concatenation. path.join walks the text character by character in
 * JavaScript, which in cold code costs microseconds per path, once per bind mount.
 */
function simpleJoin(directory: string, relative: string): string | undefined {
  let clean = cleanDirectories.get(directory);
  if (clean === undefined) {
    clean = directory !== "/" && path.isAbsolute(directory) && path.normalize(directory) === directory && !directory.endsWith("/");
    if (cleanDirectories.size < 1000) cleanDirectories.set(directory, clean);
  }
  if (!clean) return undefined;
  const rest = relative.startsWith("./") ? relative.slice(2) : relative;
  if (!slashSeparated.test(rest) || dotSegment.test(rest)) return undefined;
  return `${directory}/${rest}`;
}

const onString =
  (transform: (value: string, resolver: PathResolver) => string): PathRule =>
  (value, _key, resolver) =>
    typeof value === "string" ? transform(value, resolver) : value;

const fileSystemPath = onString((value, resolver) => absolutePath(value, resolver.baseDirectory, resolver.homeDirectory));

/** Build contexts may be URLs, git references or other builders' contexts: only local paths move. */
export function isRemoteContext(value: string): boolean {
  return (
    value.includes("://") ||
    value.startsWith("service:") ||
    value.startsWith("target:") ||
    ["github.com/", "git@"].some((prefix) => value.startsWith(prefix))
  );
}

const buildContext = onString((value, resolver) =>
  isRemoteContext(value) ? value : absolutePath(value, resolver.baseDirectory, resolver.homeDirectory),
);

/** `name=path` in list syntax, `name: path` in mapping syntax. */
const namedContext: PathRule = (value, key, resolver) => {
  if (typeof value !== "string") return value;
  if (typeof key === "string") return buildContext(value, key, resolver);
  const separator = value.indexOf("=");
  if (separator < 0) return value;
  return `${value.slice(0, separator + 1)}${buildContext(value.slice(separator + 1), key, resolver) as string}`;
};

/** `id=path` / `id: path`; a bare `default` names the agent socket and stays. */
const sshKey: PathRule = (value, key, resolver) => {
  if (typeof value !== "string") return value;
  if (typeof key === "string") return value === "" ? value : fileSystemPath(value, key, resolver);
  const separator = value.indexOf("=");
  if (separator < 0 || separator === value.length - 1) return value;
  return `${value.slice(0, separator + 1)}${fileSystemPath(value.slice(separator + 1), key, resolver) as string}`;
};

/** extends.file may name a remote resource (not supported by berth, but left as written). */
const extendsFile = onString((value, resolver) =>
  value.includes("://") ? value : absolutePath(value, resolver.baseDirectory, resolver.homeDirectory),
);

/** Short syntax `./data:/data:ro` or long syntax `{type: bind, source: ./data}`; named volumes stay. */
const serviceVolume: PathRule = (value, key, resolver) => {
  if (typeof value === "string") {
    const parts = splitVolumeSpec(value);
    if (parts?.source === undefined || !isHostPath(parts.source)) return value;
    const source = absolutePath(parts.source, resolver.baseDirectory, resolver.homeDirectory);
    return `${source}${value.slice(parts.source.length)}`;
  }
  if (isMapping(value) && value["type"] === "bind" && typeof value["source"] === "string") {
    const source = fileSystemPath(value["source"], key, resolver);
    return source === value["source"] ? value : { ...value, source };
  }
  return value;
};

/** A `local` volume with `o: bind` mounts `device`, a host path. */
const localBindVolume: PathRule = (value, key, resolver) => {
  if (!isMapping(value) || value["driver"] !== "local") return value;
  const options = value["driver_opts"];
  if (!isMapping(options) || options["o"] !== "bind" || typeof options["device"] !== "string") return value;
  return { ...value, driver_opts: { ...options, device: fileSystemPath(options["device"], key, resolver) } };
};

/** `path: a.yaml` or `path: [a.yaml, b.yaml]`; env_file likewise. */
const pathOrPaths: PathRule = (value, key, resolver) =>
  Array.isArray(value) ? value.map((entry) => fileSystemPath(entry, key, resolver)) : fileSystemPath(value, key, resolver);

/**
 * Every path-bearing attribute. Rules see the raw syntax (a string, a list or a mapping);
 * the walker goes on below a row, so `build` (string) and `build.context` are separate rows.
 */
export const pathRules: readonly PathTableRow<PathRule>[] = [
  ["services.*.build", buildContext],
  ["services.*.build.context", buildContext],
  ["services.*.build.additional_contexts.*", namedContext],
  ["services.*.build.ssh.*", sshKey],
  ["services.*.env_file", fileSystemPath],
  ["services.*.env_file.*", fileSystemPath],
  ["services.*.env_file.*.path", fileSystemPath],
  ["services.*.label_file", fileSystemPath],
  ["services.*.label_file.*", fileSystemPath],
  ["services.*.extends.file", extendsFile],
  ["services.*.volumes.*", serviceVolume],
  ["services.*.develop.watch.*.path", fileSystemPath],
  ["configs.*.file", fileSystemPath],
  ["secrets.*.file", fileSystemPath],
  ["volumes.*", localBindVolume],
  ["include.*", fileSystemPath],
  ["include.*.path", pathOrPaths],
  ["include.*.project_directory", fileSystemPath],
  ["include.*.env_file", pathOrPaths],
];

const pathTable = compilePathTable(pathRules);

/**
 * Make every path-bearing value in a compose document (build contexts, bind-mount sources in
 * short and long syntax, env_file, secrets/configs `file`, extends.file, label_file, …)
 * absolute against `baseDirectory`, expanding `~` from `homeDirectory`. Returns a new tree;
 * subtrees that hold no path are shared with the input, which is never mutated.
 */
export function resolveRelativePaths(data: Mapping, baseDirectory: string, homeDirectory: string): Mapping {
  const resolver: PathResolver = { baseDirectory, homeDirectory };
  return resolveNode(data, "", pathTable.root, resolver) as Mapping;
}

function resolveNode(value: unknown, key: PathSegment, cursor: TableCursor<PathRule>, resolver: PathResolver): unknown {
  if (value instanceof TaggedValue) {
    const inner = resolveNode(value.value, key, cursor, resolver);
    return inner === value.value ? value : new TaggedValue(value.tag, inner);
  }
  const rule = cursorRule(cursor);
  const current = rule === undefined ? value : rule(value, key, resolver);
  if (Array.isArray(current)) {
    // Copied only once an item changes.
    let result: unknown[] | undefined;
    for (let index = 0; index < current.length; index++) {
      const next = stepCursor(cursor, index);
      if (next.length === 0) continue;
      const item: unknown = current[index];
      const resolved = resolveNode(item, index, next, resolver);
      if (resolved !== item) {
        result ??= [...current];
        result[index] = resolved;
      }
    }
    return result ?? current;
  }
  if (isMapping(current)) {
    let result: Mapping | undefined = current === value ? undefined : current;
    // Only the keys some row names can lead to a path (a service has a dozen keys, and at most a
    // few of them hold paths): look those up, rather than trying every key of the mapping.
    const only = cursor.length === 1 && cursor[0]?.wildcard === undefined ? cursor[0] : undefined;
    const keys = only === undefined ? Object.keys(current) : (only.literalKeys ??= [...only.literal.keys()]);
    for (let index = 0; index < keys.length; index++) {
      const childKey = keys[index] as string;
      if (only !== undefined && !Object.hasOwn(current, childKey)) continue;
      const next = stepCursor(cursor, childKey);
      if (next.length === 0) continue;
      const child = current[childKey];
      const resolved = resolveNode(child, childKey, next, resolver);
      if (resolved !== child) {
        // Not on a single literal node: a wildcard, so names chosen by the user (services), possibly many.
        result ??= only === undefined ? copyMapping(current) : { ...current };
        result[childKey] = resolved;
      }
    }
    return result ?? value;
  }
  return current;
}
