// Pass 1: YAML text → plain tree + origins. Anchors, aliases and merge keys are
// resolved here; `!reset` / `!override` survive as TaggedValue for the merge pass.
// Most files take the hand-written fast path (yaml-fast.ts); anything it does not accept,
// including every malformed file, goes through the `yaml` package below, which owns the
// positioned error messages.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Node } from "yaml";
import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import { copyOrigins, deferredOrigins, joinPath, TaggedValue, type ComposeDocument, type Mapping, type Origins } from "./document.js";
import { parseComposeYamlFast } from "./yaml-fast.js";

/** Files larger than this are refused before parsing: no compose file is this big. */
export const maxComposeFileBytes = 32 * 1024 * 1024;
const maxAliasExpansions = 100_000;

export function parseComposeYaml(file: string, text: string): ComposeDocument {
  checkComposeText(file, text);
  // The fast path reads the data alone; its origins are read again from the text only when
  // something asks for a position (an error, mostly). Reading them costs a third of parsing.
  const fast = parseComposeYamlFast(file, text, { maxAliasExpansions, positions: false });
  const document: ComposeDocument =
    fast === undefined
      ? parseWithYamlPackage(file, text)
      : { file, data: fast.data, origins: deferredOrigins(() => parseOrigins(file, text)) };
  return refuseProtoKeys(document, text);
}

/** The origins of a text the fast path accepts: the same parse, recording them this time. */
function parseOrigins(file: string, text: string): Origins {
  // The fast path accepted this text once, so it accepts it again; the package's walker, which
  // records the same origins, stands behind it should it not (a deeper stack, say).
  return (parseComposeYamlFast(file, text, { maxAliasExpansions }) ?? parseWithYamlPackage(file, text)).origins;
}

const protoSegment = /(?:^|\.)__proto__(?:$|[.[])/;

/**
 * A key named `__proto__` would be silently lost by any later pass that builds plain objects,
 * so it is refused here, where its position is known. No Compose attribute or sane name uses it.
 * A key can only contain `__proto__` when the text does, or spells it with escapes.
 */
function refuseProtoKeys(document: ComposeDocument, text: string): ComposeDocument {
  if (!text.includes("__proto__") && !text.includes("\\")) return document;
  for (const [path, position] of document.origins) {
    if (path.includes("__proto__") && protoSegment.test(path)) {
      throw new ComposeError(ErrorCode.composeYaml, 'the key "__proto__" is not supported', { position, path });
    }
  }
  return document;
}

/** The `yaml`-package path alone, without the fast path (the reference the fast path is tested against). */
export function parseComposeYamlSlow(file: string, text: string): ComposeDocument {
  checkComposeText(file, text);
  return parseWithYamlPackage(file, text);
}

/** Refusals that come before any parsing. */
function checkComposeText(file: string, text: string): void {
  if (text.length > maxComposeFileBytes) {
    throw new ComposeError(ErrorCode.composeYaml, `file is larger than ${maxComposeFileBytes / 1024 / 1024} MiB`, {
      file,
    });
  }
  if (text.includes("\u0000")) {
    throw new ComposeError(ErrorCode.composeYaml, "file contains NUL bytes: not a YAML text file", {
      position: positionAt(file, undefined, text.indexOf("\u0000"), text),
    });
  }
}

function parseWithYamlPackage(file: string, text: string): ComposeDocument {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    merge: false, // merge keys are applied by the walker below, which also keeps positions
    prettyErrors: false,
    strict: true,
    version: "1.2",
    schema: "core",
  });
  const firstError = document.errors[0];
  if (firstError !== undefined) {
    throw new ComposeError(ErrorCode.composeYaml, yamlMessage(firstError.message), {
      position: positionAt(file, lineCounter, errorOffset(firstError, text), text),
    });
  }
  const origins = new Map<string, SourcePosition>();
  const walker = new Walker({ file, lineCounter, text, anchors: collectAnchors(document), active: new Set() }, origins);
  const root = document.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) {
    throw new ComposeError(ErrorCode.composeEmpty, "empty compose file", { file });
  }
  const data = walker.toValue(root as Node, "");
  if (typeof data !== "object" || data === null || Array.isArray(data) || data instanceof TaggedValue) {
    throw new ComposeError(ErrorCode.composeYaml, "top-level object must be a mapping", {
      position: walker.position(root as Node),
    });
  }
  return { file, data: data as Mapping, origins };
}

/** Where a user should look: an unclosed quote is reported at its opening quote, not at the end of the file. */
function errorOffset(error: { code: string; message: string; pos: [number, number] }, text: string): number {
  if (error.code === "MISSING_CHAR") {
    const quote = error.message.includes('"') ? '"' : error.message.includes("'") ? "'" : undefined;
    if (quote !== undefined) {
      const opening = text.lastIndexOf(quote, Math.min(error.pos[0], text.length - 1));
      if (opening >= 0) return opening;
    }
  }
  return error.pos[0];
}

function yamlMessage(message: string): string {
  // The yaml package appends a code frame and position; keep only the first line, in our words.
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "").replace(/\.$/, "");
}

function positionAt(file: string, lineCounter: LineCounter | undefined, offset: number, text: string): SourcePosition {
  const clamped = Math.max(0, offset);
  if (lineCounter !== undefined && lineCounter.lineStarts.length > 0) {
    const { line, col } = lineCounter.linePos(clamped);
    return { file, line, column: col };
  }
  const before = text.slice(0, clamped);
  const line = before.split("\n").length;
  return { file, line, column: clamped - before.lastIndexOf("\n") };
}

interface WalkSource {
  readonly file: string;
  readonly lineCounter: LineCounter;
  readonly text: string;
  /** Anchor name → anchored nodes in document order (an anchor may be redefined). */
  readonly anchors: ReadonlyMap<string, readonly Node[]>;
  aliasExpansions?: number;
  /** Collections on the walk's current path: an alias to one of them would recurse forever. */
  readonly active: Set<Node>;
}

/**
 * One walk to index anchors. yaml's Alias.resolve() searches the whole document on every
 * call, which made files with many aliases quadratic.
 */
function collectAnchors(document: Parameters<typeof visit>[0]): Map<string, Node[]> {
  const anchors = new Map<string, Node[]>();
  visit(document, (_key, node) => {
    if (node === null || typeof node !== "object") return;
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor === undefined || isAlias(node) || isPair(node)) return;
    const list = anchors.get(anchor);
    if (list === undefined) anchors.set(anchor, [node as Node]);
    else list.push(node as Node);
  });
  return anchors;
}

/** The node an alias refers to: the latest definition of its anchor before the alias. */
function resolveAlias(alias: Alias, anchors: ReadonlyMap<string, readonly Node[]>): Node | undefined {
  const start = alias.range?.[0] ?? Number.MAX_SAFE_INTEGER;
  let found: Node | undefined;
  for (const node of anchors.get(alias.source) ?? []) if ((node.range?.[0] ?? 0) < start) found = node;
  return found;
}

class Walker {
  constructor(
    private readonly source: WalkSource,
    private readonly origins: Map<string, SourcePosition>,
  ) {}

  position(node: Node): SourcePosition {
    return positionAt(this.source.file, this.source.lineCounter, node.range?.[0] ?? 0, this.source.text);
  }

  toValue(node: Node | null, path: string): unknown {
    if (node === null) return null;
    if (!this.origins.has(path)) this.origins.set(path, this.position(node));
    if (isAlias(node)) {
      this.source.aliasExpansions = (this.source.aliasExpansions ?? 0) + 1;
      if (this.source.aliasExpansions > maxAliasExpansions) {
        throw new ComposeError(ErrorCode.composeYaml, "too many alias expansions (a YAML bomb?)", {
          position: this.position(node),
        });
      }
      const target = resolveAlias(node, this.source.anchors);
      if (target === undefined) {
        throw new ComposeError(ErrorCode.composeYaml, `unknown anchor "${node.source}"`, { position: this.position(node) });
      }
      if (this.source.active.has(target)) {
        throw new ComposeError(ErrorCode.composeYaml, `alias "*${node.source}" refers to a node that contains it`, {
          position: this.position(node),
        });
      }
      return this.toValue(target as Node, path);
    }
    const tag = node.tag === "!reset" ? "reset" : node.tag === "!override" ? "override" : undefined;
    const value = this.untagged(node, path);
    return tag === undefined ? value : new TaggedValue(tag, value);
  }

  private untagged(node: Node, path: string): unknown {
    if (isScalar(node)) {
      if (node.tag === "!reset" || node.tag === "!override") return node.source === "" ? null : (node.source ?? node.value);
      const value = node.value;
      if (typeof value === "bigint") return Number(value);
      return value;
    }
    if (!isSeq(node) && !isMap(node)) return null;
    this.source.active.add(node);
    try {
      return isSeq(node)
        ? node.items.map((item, index) => this.toValue(item as Node, joinPath(path, index)))
        : this.mapping(node, path);
    } finally {
      this.source.active.delete(node);
    }
  }

  private mapping(node: Node & { items: unknown[] }, path: string): Mapping {
    const result: Mapping = {};
    const mergeValues: (Node | null)[] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const key = this.keyOf(keyNode);
      if (key === "<<" && isScalar(keyNode) && keyNode.type === "PLAIN") {
        mergeValues.push(pair.value as Node | null);
        continue;
      }
      const childPath = joinPath(path, key);
      if (keyNode !== null) this.origins.set(childPath, this.position(keyNode));
      setOwn(result, key, this.toValue(pair.value as Node | null, childPath));
      if (pair.value === null) this.origins.set(childPath, keyNode === null ? this.position(node) : this.position(keyNode));
    }
    // Merge keys: explicit keys win; among merged maps, the first listed wins.
    for (const valueNode of mergeValues) this.applyMerge(valueNode, path, result);
    return result;
  }

  private applyMerge(valueNode: Node | null, path: string, result: Mapping): void {
    if (valueNode === null) return;
    const nodes = isSeq(valueNode) ? (valueNode.items as Node[]) : [valueNode];
    for (const item of nodes) {
      const sourceOrigins = new Map<string, SourcePosition>();
      const value = new Walker(this.source, sourceOrigins).toValue(item, path);
      if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof TaggedValue) {
        throw new ComposeError(ErrorCode.composeYaml, "merge key << must refer to a mapping", {
          position: this.position(item),
        });
      }
      for (const [key, child] of Object.entries(value)) {
        if (Object.hasOwn(result, key)) continue;
        setOwn(result, key, child);
        const keyPath = joinPath(path, key);
        copyOrigins(this.origins, sourceOrigins, keyPath, keyPath);
      }
    }
  }

  private keyOf(keyNode: Node | null): string {
    if (keyNode === null) return "";
    if (isScalar(keyNode)) {
      const value = keyNode.value;
      return value === null ? "null" : String(value);
    }
    if (isAlias(keyNode)) {
      const target = resolveAlias(keyNode, this.source.anchors);
      if (target !== undefined) return this.keyOf(target);
    }
    throw new ComposeError(ErrorCode.composeYaml, "mapping keys must be scalars", { position: this.position(keyNode) });
  }
}

/** Assign as an own property, so a YAML key `__proto__` stays a key and never becomes a prototype. */
function setOwn(target: Mapping, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
