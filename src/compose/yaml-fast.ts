// Fast path for pass 1: a hand-written, single-pass reader for the YAML that compose files
// actually use. The `yaml` package needs ~200 ms cold just to lex a 1,000-service file and
// ~400 ms to parse and walk it; this reads it about seven times faster. Cold code runs in
// V8's interpreter, so hot loops lean on native string searches (indexOf) over char loops.
//
// Contract: on input it accepts it returns exactly what parse-yaml.ts's walker over the
// `yaml` package returns (equal data, same origins, same key order; where the walker copies an
// alias's value, this shares it, as nothing mutates values). On anything outside
// the subset, or anything that is or might be an error, it returns undefined and the
// caller falls back to the `yaml` package, which produces the positioned error messages.
// Every rule below mirrors the `yaml` 2.x lexer/composer (cited by function name) or is
// stricter than it; when in doubt, fall back.

import type { SourcePosition } from "../errors.js";
import { markTagFree, TaggedValue, type ComposeDocument, type Mapping } from "./document.js";

export interface FastParseOptions {
  /** The same limit the slow path enforces; above it we fall back and let it report. */
  readonly maxAliasExpansions: number;
  /** Told why the fast path gave up (for tests and debug logging). */
  readonly onFallback?: (reason: string, line: number) => void;
  /**
   * Record origins (the default). Without them the parser builds no path strings and no
   * positions, which is most of its allocation; the result's origins are then empty, and
   * everything else (data, and whether it falls back) is the same.
   */
  readonly positions?: boolean;
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const PERCENT = 37;
const AMP = 38;
const SQUOTE = 39;
const STAR = 42;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const GT = 62;
const QUESTION = 63;
const AT = 64;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const BACKTICK = 96;
const LBRACE = 123;
const PIPE = 124;
const RBRACE = 125;
const END = -1; // what `at()` returns past the end of the text

// nextContentLine() results that are not indents.
const EOF_LINE = -1;
const MARKER_LINE = -2; // `---` or `...` at column 0
const BLANK_LINE = -3; // internal to scanLineStart()

const TAG_NONE = 0;
const TAG_RESET = 1;
const TAG_OVERRIDE = 2;
const TAG_STR = 3;

/** Thrown inside the parser when the input leaves the subset; never escapes. */
class Fallback {
  constructor(
    readonly reason: string,
    readonly line: number,
  ) {}
}

/** An `&name` just read: `order` is its rank among anchor definitions in document order. */
interface AnchorProp {
  readonly name: string;
  readonly order: number;
}

interface Anchor {
  readonly value: unknown;
  /** Formatted path where the anchored node was read; origins below it are replayed per alias. */
  readonly path: string;
  readonly logStart: number;
  readonly logEnd: number;
  /** Alias expansions the slow walker performs when it walks this node once. */
  readonly aliasCount: number;
  /** For mappings: key → [start, end) of its origins in the log, for merge keys. */
  readonly keyRanges: Map<string, readonly [number, number]> | undefined;
  /** Object.keys of the value, listed on its first merge (`<<: *defaults` in every service). */
  keys: readonly string[] | undefined;
}

export function parseComposeYamlFast(file: string, text: string, options: FastParseOptions): ComposeDocument | undefined {
  let source = text;
  if (source.includes("\r")) {
    // CRLF only ever ends a line, so dropping the CR keeps every line and column. A lone CR
    // is not a line break in YAML 1.2: leave that to the yaml package.
    source = source.replaceAll("\r\n", "\n");
    if (source.includes("\r")) {
      options.onFallback?.("lone carriage return", 1);
      return undefined;
    }
  }
  const parser = new FastParser(file, source, options.maxAliasExpansions, options.positions ?? true);
  try {
    return parser.parseDocument();
  } catch (error) {
    // Bad input, or something we did not expect (a stack overflow on deep nesting): either
    // way the yaml package is the authority.
    if (error instanceof Fallback) options.onFallback?.(error.reason, error.line);
    else options.onFallback?.(`internal: ${String(error)}`, parser.lineNo);
    return undefined;
  }
}

class FastParser {
  private readonly len: number;
  private pos = 0;
  lineNo = 1;
  private lineStart = 0;
  private readonly origins = new Map<string, SourcePosition>();
  /** Origins recorded inside anchored nodes, in order, so that aliases can replay them. */
  private readonly logPaths: string[] = [];
  private readonly logPositions: SourcePosition[] = [];
  /** null while the anchored node is still being read (an alias to it would recurse). */
  private readonly anchors = new Map<string, Anchor | null>();
  /** Name → order of its latest-starting definition, which is the one an alias refers to. */
  private readonly anchorOrder = new Map<string, number>();
  private anchorCount = 0;
  private aliasCount = 0;
  /** How many anchored nodes are being read; origins are logged only inside one. */
  private anchorDepth = 0;
  // nextColon/nextHash/nextBackslash: where the last search started and what it found.
  private readonly colons: ForwardSearch;
  private readonly hashes: ForwardSearch;
  private readonly backslashes: ForwardSearch;
  private readonly newlines: ForwardSearch;
  // Node properties just read by readProps().
  private propAnchor: AnchorProp | undefined = undefined;
  private propTag = TAG_NONE;
  /** Whether a `!reset` or `!override` was read: without one, the result holds no TaggedValue. */
  private tagged = false;

  constructor(
    private readonly file: string,
    private readonly src: string,
    private readonly maxAliasExpansions: number,
    /** Whether origins are recorded; without them paths are "" throughout (see FastParseOptions). */
    private readonly positions: boolean,
  ) {
    this.len = src.length;
    this.colons = new ForwardSearch(src, ":");
    this.hashes = new ForwardSearch(src, "#");
    this.backslashes = new ForwardSearch(src, "\\");
    this.newlines = new ForwardSearch(src, "\n");
  }

  private fail(reason: string): never {
    throw new Fallback(reason, this.lineNo);
  }

  private at(index: number): number {
    return index < this.len ? this.src.charCodeAt(index) : END;
  }

  /** Position of `index`, which must lie on the current line. */
  private position(index: number): SourcePosition {
    return { file: this.file, line: this.lineNo, column: index - this.lineStart + 1 };
  }

  private record(path: string, position: SourcePosition): void {
    if (!this.positions) return;
    this.origins.set(path, position);
    if (this.anchorDepth > 0) {
      this.logPaths.push(path);
      this.logPositions.push(position);
    }
  }

  // Without positions, paths are "" throughout: call sites test `this.positions` before building
  // one (inline, as these run once per key and item, in cold code).

  /** record() at `index` on the current line, building the position only when it is kept. */
  private recordAt(path: string, index: number): void {
    if (this.positions) this.record(path, this.position(index));
  }

  // ---------------------------------------------------------------------------------------
  // Document and lines.

  parseDocument(): ComposeDocument {
    if (this.at(0) === 0xfeff) this.fail("byte order mark");
    let indent = this.scanLineStart();
    if (indent === BLANK_LINE) indent = this.nextContentLine();
    if (indent === MARKER_LINE) {
      if (this.at(this.pos) !== DASH) this.fail("document end marker before content");
      this.pos += 3;
      this.finishLine();
      indent = this.nextContentLine();
    }
    // Empty documents, `%` directives, top-level scalars and sequences, and indented roots
    // all fall back: the slow path owns those errors.
    if (indent !== 0) this.fail("no mapping at column 1");
    this.recordAt("", this.pos);
    let data: Mapping;
    if (this.at(this.pos) === LBRACE) {
      // A flow mapping as the whole document: no block indentation applies (indentNext 0).
      data = this.parseFlowMap(-1, "", 1, undefined);
      this.finishLine();
    } else {
      data = this.parseBlockMap(0, "", undefined);
    }
    let next = this.nextContentLine();
    if (next === MARKER_LINE && this.at(this.pos) === DOT) {
      this.pos += 3;
      this.finishLine();
      next = this.nextContentLine();
    }
    if (next !== EOF_LINE) this.fail("content after the top-level mapping");
    if (!this.tagged) markTagFree(data);
    return { file: this.file, data, origins: this.origins };
  }

  /**
   * At the start of a line: skip its indentation. Returns the indent of a content line (pos at
   * its first character), BLANK_LINE for a blank or comment-only line (pos at its end),
   * MARKER_LINE or EOF_LINE.
   */
  private scanLineStart(): number {
    const src = this.src;
    let index = this.pos;
    let char = src.charCodeAt(index);
    while (char === SPACE) char = src.charCodeAt(++index);
    this.pos = index;
    if (char === LF) return BLANK_LINE;
    if (char === HASH) {
      const newline = src.indexOf("\n", index);
      this.pos = newline === -1 ? this.len : newline;
      return BLANK_LINE;
    }
    if (index >= this.len) return EOF_LINE;
    if (char === TAB) this.fail("tab in indentation");
    const indent = index - this.lineStart;
    if (indent === 0 && (char === DASH || char === DOT) && this.isDocumentMarker(index)) return MARKER_LINE;
    return indent;
  }

  /**
   * The indent of the next content line, with pos at its first character. Called either at
   * the end of a finished line or when already positioned on a content line (then a no-op).
   */
  private nextContentLine(): number {
    if (this.pos < this.len && this.src.charCodeAt(this.pos) !== LF) {
      const indent = this.pos - this.lineStart;
      return indent === 0 && this.isDocumentMarker(this.pos) ? MARKER_LINE : indent;
    }
    const src = this.src;
    for (;;) {
      if (this.pos >= this.len) return EOF_LINE;
      const lineStart = ++this.pos;
      this.lineNo++;
      this.lineStart = lineStart;
      // The common case inline: an indented line that starts with a letter.
      let index = lineStart;
      while (src.charCodeAt(index) === SPACE) index++;
      if (index > lineStart && startsAsString(src.charCodeAt(index))) {
        this.pos = index;
        return index - lineStart;
      }
      const result = this.scanLineStart();
      if (result !== BLANK_LINE) return result;
    }
  }

  private isDocumentMarker(index: number): boolean {
    const char = this.at(index);
    if (char !== DASH && char !== DOT) return false;
    if (this.at(index + 1) !== char || this.at(index + 2) !== char) return false;
    const after = this.at(index + 3);
    return after === SPACE || after === LF || after === END || after === TAB;
  }

  /** The rest of the line must be spaces and an optional comment; leaves pos at its end. */
  private finishLine(): void {
    const src = this.src;
    const start = this.pos;
    let index = start;
    let char = src.charCodeAt(index);
    while (char === SPACE) char = src.charCodeAt(++index);
    this.pos = index;
    if (char === LF || index >= this.len) return;
    // A comment must be separated from the token before it (strict mode errors otherwise).
    if (char === HASH && (index > start || src.charCodeAt(index - 1) === SPACE)) {
      const newline = src.indexOf("\n", index);
      this.pos = newline === -1 ? this.len : newline;
      return;
    }
    this.fail(char === TAB ? "tab after a value" : "unexpected text after a value");
  }

  /** Space, newline or end: what must follow `-`, `:` (block) and props. */
  private isBlankAt(index: number): boolean {
    if (index >= this.len) return true;
    const char = this.src.charCodeAt(index);
    if (char === TAB) this.fail("tab after an indicator");
    return char === SPACE || char === LF;
  }

  // ---------------------------------------------------------------------------------------
  // Block collections.

  /** A block mapping whose entries start at column `indent`; pos is at the first key. */
  private parseBlockMap(indent: number, path: string, ranges: Map<string, readonly [number, number]> | undefined): Mapping {
    const src = this.src;
    const result: Mapping = {};
    let merges: Anchor[] | undefined;
    for (;;) {
      const keyStart = this.pos;
      const keyPosition = this.positions ? this.position(keyStart) : undefined;
      const char = src.charCodeAt(keyStart);
      let key: string;
      let isMergeKey = false;
      if (char === DQUOTE || char === SQUOTE) {
        key = this.scanQuoted(char, indent, true);
        while (src.charCodeAt(this.pos) === SPACE) this.pos++;
        if (src.charCodeAt(this.pos) !== COLON || !this.isBlankAt(this.pos + 1)) this.fail("quoted scalar where a key was expected");
      } else {
        if (!startsAsString(char) && !this.canStartPlain(char, src.charCodeAt(keyStart + 1), false)) this.fail("not a mapping key");
        const end = this.scanBlockPlainLine();
        if (src.charCodeAt(this.pos) !== COLON) this.fail("mapping key without `:`");
        const raw = src.slice(keyStart, end);
        if (raw === "<<") {
          isMergeKey = true;
          key = raw;
        } else {
          key = startsAsString(char) ? raw : keyString(resolvePlain(raw));
        }
      }
      // KEY_OVER_1024_CHARS in the yaml package.
      if (this.pos - keyStart > 1000) this.fail("very long key");
      this.pos++; // past `:`
      if (isMergeKey) {
        // Two `<<` (or `<<` and `"<<"`) are duplicate keys for the yaml package.
        if (merges !== undefined || Object.hasOwn(result, "<<")) this.fail("duplicate merge key");
        merges = this.parseMergeValue(indent);
      } else {
        if (Object.hasOwn(result, key) || (key === "<<" && merges !== undefined)) this.fail("duplicate key");
        const keyPath = this.positions ? childPath(path, key) : "";
        const rangeStart = this.logPaths.length;
        if (keyPosition !== undefined) this.record(keyPath, keyPosition);
        const value = this.parseBlockValue(indent, keyPath, true, false);
        if (key === "__proto__") setOwn(result, key, value);
        else result[key] = value;
        if (ranges !== undefined) ranges.set(key, [rangeStart, this.logPaths.length]);
      }
      const next = this.nextContentLine();
      if (next === indent) continue;
      if (next > indent) this.fail("bad indentation of a mapping entry");
      break;
    }
    if (merges !== undefined) this.applyMerges(result, path, merges, ranges);
    return result;
  }

  /** A block sequence whose `-` indicators stand at column `indent`; pos is at the first `-`. */
  private parseBlockSeq(indent: number, path: string): unknown[] {
    const src = this.src;
    const result: unknown[] = [];
    for (let index = 0; ; index++) {
      this.pos++; // past `-`
      result.push(this.parseBlockValue(indent, this.positions ? `${path}[${index}]` : "", false, true));
      const next = this.nextContentLine();
      if (next === indent && src.charCodeAt(this.pos) === DASH && this.isBlankAt(this.pos + 1)) continue;
      if (next > indent) this.fail("bad indentation of a sequence item");
      return result;
    }
  }

  /**
   * The value after a block `key:` or `-` (pos just after the indicator). `parentIndent` is the
   * indent of the collection the value belongs to: continuation lines must be indented more
   * (the lexer's indentNext). A seq item (`recordSelf`) records its own position; a map value's
   * position is its key's, already recorded.
   */
  private parseBlockValue(parentIndent: number, path: string, inMap: boolean, recordSelf: boolean): unknown {
    const src = this.src;
    let index = this.pos;
    let char = src.charCodeAt(index);
    while (char === SPACE) char = src.charCodeAt(++index);
    this.pos = index;
    if (char === TAB) this.fail("tab after an indicator");
    let anchor: AnchorProp | undefined;
    let tag = TAG_NONE;
    if (char === AMP || char === BANG) {
      this.readProps(false);
      anchor = this.propAnchor;
      tag = this.propTag;
      char = src.charCodeAt(this.pos);
    }
    if (char === LF || char === HASH || this.pos >= this.len) {
      // An empty scalar sits after the indicator, props and spaces (emptyScalarPosition).
      const emptyPosition = this.positions ? this.position(this.pos) : undefined;
      this.finishLine();
      const next = this.nextContentLine();
      if (next > parentIndent) return this.parseNodeAtLineStart(parentIndent, path, recordSelf, anchor, tag);
      if (inMap && next === parentIndent && src.charCodeAt(this.pos) === DASH && this.isBlankAt(this.pos + 1)) {
        // A sequence not indented under its key.
        const logStart = this.logPaths.length;
        const countStart = this.aliasCount;
        const value = this.withCollectionTag(this.parseBlockSeq(parentIndent, path), tag);
        return this.defineAnchor(anchor, value, path, logStart, countStart, undefined);
      }
      if (recordSelf && emptyPosition !== undefined) this.record(path, emptyPosition);
      const value = emptyValue(tag);
      return this.defineAnchor(anchor, value, path, this.logPaths.length, this.aliasCount, undefined);
    }
    return this.parseInlineNode(parentIndent, path, inMap, recordSelf, anchor, tag);
  }

  /** A node that starts on the indicator's line (`key: node`, `- node`). */
  private parseInlineNode(
    parentIndent: number,
    path: string,
    inMap: boolean,
    recordSelf: boolean,
    anchor: AnchorProp | undefined,
    tag: number,
  ): unknown {
    const start = this.pos;
    const char = this.src.charCodeAt(start);
    if (recordSelf && this.positions) this.recordAt(path, start);
    const logStart = this.logPaths.length;
    const countStart = this.aliasCount;
    let value: unknown;
    let ranges: Map<string, readonly [number, number]> | undefined;
    if (char === DASH && this.isBlankAt(start + 1)) {
      // `- - a`: a compact nested sequence. `key: - a` is an error.
      if (inMap || anchor !== undefined || tag !== TAG_NONE) this.fail("block sequence on a key line");
      value = this.parseBlockSeq(start - this.lineStart, path);
    } else if (char === LBRACKET || char === LBRACE) {
      if (anchor !== undefined && char === LBRACE) ranges = new Map();
      value = this.withCollectionTag(this.parseFlowCollection(parentIndent, path, 1, ranges), tag);
      this.finishLine();
    } else if (char === STAR) {
      if (anchor !== undefined || tag !== TAG_NONE) this.fail("properties on an alias");
      value = this.expandAlias(path, false);
      this.finishLine();
      return value;
    } else if (char === PIPE || char === GT) {
      value = scalarValue(this.parseBlockScalar(parentIndent), false, tag);
    } else if (char === DQUOTE || char === SQUOTE) {
      const line = this.lineNo;
      const text = this.scanQuoted(char, parentIndent, false);
      if (this.isKeyIndicatorAhead()) {
        // `- "key": value`: a compact mapping in a sequence item.
        if (inMap || anchor !== undefined || tag !== TAG_NONE || line !== this.lineNo) this.fail("compact mapping here");
        this.pos = start;
        if (anchor !== undefined) ranges = new Map();
        value = this.parseBlockMap(start - this.lineStart, path, ranges);
      } else {
        this.finishLine();
        value = tag === TAG_NONE ? text : scalarValue(text, false, tag);
      }
    } else {
      if (!this.canStartPlain(char, this.src.charCodeAt(start + 1), false)) this.fail("unsupported node start");
      const end = this.scanBlockPlainLine();
      if (this.src.charCodeAt(this.pos) === COLON) {
        if (inMap) this.fail("nested mapping on a key line");
        if (anchor !== undefined || tag !== TAG_NONE) this.fail("properties on an implicit key");
        this.pos = start;
        value = this.parseBlockMap(start - this.lineStart, path, undefined);
      } else {
        const text = this.scanPlainRest(start, end, parentIndent, false);
        this.finishLine();
        value = tag === TAG_NONE ? resolvePlain(text) : scalarValue(text, true, tag);
      }
    }
    return anchor === undefined ? value : this.defineAnchor(anchor, value, path, logStart, countStart, ranges);
  }

  /** A node on its own line below `key:` / `-` (pos at its first character). */
  private parseNodeAtLineStart(
    parentIndent: number,
    path: string,
    recordSelf: boolean,
    anchor: AnchorProp | undefined,
    tag: number,
  ): unknown {
    const start = this.pos;
    const column = start - this.lineStart;
    const char = this.at(start);
    if (recordSelf && this.positions) this.recordAt(path, start);
    const logStart = this.logPaths.length;
    const countStart = this.aliasCount;
    let value: unknown;
    let ranges: Map<string, readonly [number, number]> | undefined;
    if (char === DASH && this.isBlankAt(start + 1)) {
      value = this.withCollectionTag(this.parseBlockSeq(column, path), tag);
    } else if (char === LBRACKET || char === LBRACE) {
      if (anchor !== undefined && char === LBRACE) ranges = new Map();
      value = this.withCollectionTag(this.parseFlowCollection(parentIndent, path, 1, ranges), tag);
      this.finishLine();
    } else if (char === STAR) {
      if (anchor !== undefined || tag !== TAG_NONE) this.fail("properties on an alias");
      value = this.expandAlias(path, false);
      this.finishLine();
      return value;
    } else if (char === DQUOTE || char === SQUOTE) {
      const line = this.lineNo;
      const text = this.scanQuoted(char, parentIndent, false);
      if (this.isKeyIndicatorAhead()) {
        if (line !== this.lineNo) this.fail("multi-line implicit key");
        this.pos = start;
        if (anchor !== undefined) ranges = new Map();
        value = this.withCollectionTag(this.parseBlockMap(column, path, ranges), tag);
      } else {
        this.finishLine();
        value = scalarValue(text, false, tag);
      }
    } else {
      // Props and block scalars at a line start are legal but rare: fall back.
      if (!this.canStartPlain(char, this.at(start + 1), false)) this.fail("unsupported node start");
      const end = this.scanPlainLine(false);
      if (this.at(this.pos) === COLON) {
        this.pos = start;
        if (anchor !== undefined) ranges = new Map();
        value = this.withCollectionTag(this.parseBlockMap(column, path, ranges), tag);
      } else {
        const text = this.scanPlainRest(start, end, parentIndent, false);
        this.finishLine();
        value = scalarValue(text, true, tag);
      }
    }
    return this.defineAnchor(anchor, value, path, logStart, countStart, ranges);
  }

  /** After a quoted scalar: is it an implicit key (`"a": ...`)? Leaves pos after the spaces. */
  private isKeyIndicatorAhead(): boolean {
    const src = this.src;
    while (src.charCodeAt(this.pos) === SPACE) this.pos++;
    return src.charCodeAt(this.pos) === COLON && this.isBlankAt(this.pos + 1);
  }

  // ---------------------------------------------------------------------------------------
  // Properties, anchors, aliases, merge keys.

  /** `&anchor` and/or `!tag` before a node; leaves pos after them and their spaces. */
  private readProps(inFlow: boolean): void {
    let anchorName: string | undefined;
    let tag = TAG_NONE;
    for (;;) {
      const char = this.at(this.pos);
      if (char === AMP) {
        if (anchorName !== undefined) this.fail("two anchors");
        this.pos++;
        anchorName = this.scanAnchorName();
      } else if (char === BANG) {
        if (tag !== TAG_NONE) this.fail("two tags");
        const start = this.pos;
        let index = start + 1;
        for (;;) {
          const c = this.at(index);
          if (c === END || c === SPACE || c === LF || c === TAB || c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE) break;
          index++;
        }
        const name = this.src.slice(start, index);
        if (name === "!reset") tag = TAG_RESET;
        else if (name === "!override") tag = TAG_OVERRIDE;
        else if (name === "!!str") tag = TAG_STR;
        else this.fail(`unsupported tag ${name}`);
        if (tag === TAG_RESET || tag === TAG_OVERRIDE) this.tagged = true;
        this.pos = index;
      } else break;
      // Props must be separated from what follows by white space.
      const after = this.at(this.pos);
      if (after === SPACE) {
        while (this.at(this.pos) === SPACE) this.pos++;
      } else if (after !== LF && after !== END) {
        this.fail("properties not followed by a space");
      }
      if (this.at(this.pos) === TAB) this.fail("tab after properties");
    }
    if (inFlow) {
      const char = this.at(this.pos);
      // Props on an empty flow node, or before a line break: rare, fall back.
      if (char === LF || char === END || char === COMMA || char === RBRACKET || char === RBRACE || char === HASH) {
        this.fail("properties without a node in a flow collection");
      }
    }
    let prop: AnchorProp | undefined;
    if (anchorName !== undefined) {
      prop = { name: anchorName, order: ++this.anchorCount };
      this.anchorDepth++;
      this.anchorOrder.set(anchorName, prop.order);
      // An alias inside the node it refers to would expand forever: mark the anchor open.
      this.anchors.set(anchorName, null);
    }
    this.propAnchor = prop;
    this.propTag = tag;
  }

  /** Anchor and alias names: a conservative character set; anything else falls back. */
  private scanAnchorName(): string {
    const start = this.pos;
    let index = start;
    for (;;) {
      const c = this.at(index);
      const ok =
        (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === DASH || c === DOT || c === 0x2f;
      if (!ok) break;
      index++;
    }
    if (index === start) this.fail("empty or unusual anchor name");
    this.pos = index;
    return this.src.slice(start, index);
  }

  private defineAnchor(
    anchor: AnchorProp | undefined,
    value: unknown,
    path: string,
    logStart: number,
    countStart: number,
    keyRanges: Map<string, readonly [number, number]> | undefined,
  ): unknown {
    // The slow walker resolves an alias to the definition that starts last before it, so an
    // outer node that finishes after a same-named inner one must not replace it.
    if (anchor !== undefined) this.anchorDepth--;
    if (anchor !== undefined && this.anchorOrder.get(anchor.name) === anchor.order) {
      this.anchors.set(anchor.name, {
        value,
        path,
        logStart,
        logEnd: this.logPaths.length,
        aliasCount: this.aliasCount - countStart,
        keyRanges,
        keys: undefined,
      });
    }
    return value;
  }

  private withCollectionTag(value: unknown, tag: number): unknown {
    if (tag === TAG_NONE) return value;
    if (tag === TAG_STR) this.fail("!!str on a collection");
    return new TaggedValue(tag === TAG_RESET ? "reset" : "override", value);
  }

  /** The anchor an alias at pos (`*name`) refers to, counted as the slow walker counts it. */
  private resolveAlias(inFlow: boolean): Anchor {
    this.pos++; // past `*`
    const name = this.scanAnchorName();
    const after = this.at(this.pos);
    const separated =
      after === SPACE || after === LF || after === END || (inFlow && (after === COMMA || after === RBRACKET || after === RBRACE));
    if (!separated) this.fail("alias not followed by a separator");
    const anchor = this.anchors.get(name);
    if (anchor === undefined) this.fail(`unknown anchor ${name}`);
    if (anchor === null) this.fail(`alias ${name} inside its own anchor`);
    this.aliasCount += 1 + anchor.aliasCount;
    if (this.aliasCount > this.maxAliasExpansions) this.fail("too many alias expansions");
    return anchor;
  }

  /**
   * An alias as a value, with the anchored node's origins replayed under `path`. The slow walker
   * builds a new copy per alias; here every alias shares the anchored value (equal, and no pass
   * ever mutates a value), which spares a copy of `<<: *defaults` in each of 1,000 services.
   */
  private expandAlias(path: string, inFlow: boolean): unknown {
    const anchor = this.resolveAlias(inFlow);
    this.replayOrigins(anchor, anchor.logStart, anchor.logEnd, path);
    return anchor.value;
  }

  private replayOrigins(anchor: Anchor, start: number, end: number, path: string): void {
    const prefixLength = anchor.path.length;
    for (let index = start; index < end; index++) {
      const rest = (this.logPaths[index] as string).slice(prefixLength);
      // joinPath("", key) has no leading dot.
      const rebased = path === "" ? (rest.charCodeAt(0) === DOT ? rest.slice(1) : rest) : path + rest;
      this.record(rebased, this.logPositions[index] as SourcePosition);
    }
  }

  /** The value of `<<:`: an alias, a flow sequence of aliases or a block sequence of aliases. */
  private parseMergeValue(mapIndent: number): Anchor[] {
    while (this.at(this.pos) === SPACE) this.pos++;
    const char = this.at(this.pos);
    if (char === STAR) {
      const source = this.resolveAlias(false);
      this.finishLine();
      return [source];
    }
    const sources: Anchor[] = [];
    if (char === LBRACKET) {
      this.pos++;
      this.skipFlowSpace(mapIndent, 1);
      while (this.at(this.pos) !== RBRACKET) {
        if (this.at(this.pos) !== STAR) this.fail("merge value is not a list of aliases");
        sources.push(this.resolveAlias(true));
        this.skipFlowSpace(mapIndent, 1);
        const next = this.at(this.pos);
        if (next === COMMA) {
          this.pos++;
          this.skipFlowSpace(mapIndent, 1);
        } else if (next !== RBRACKET) this.fail("bad merge list");
      }
      if (sources.length === 0) this.fail("empty merge list");
      this.pos++;
      this.finishLine();
      return sources;
    }
    if (char !== LF && char !== END && char !== HASH) this.fail("unsupported merge value");
    this.finishLine();
    const indent = this.nextContentLine();
    if (indent < mapIndent || this.at(this.pos) !== DASH || !this.isBlankAt(this.pos + 1)) this.fail("unsupported merge value");
    for (;;) {
      this.pos++;
      while (this.at(this.pos) === SPACE) this.pos++;
      if (this.at(this.pos) !== STAR) this.fail("merge list item is not an alias");
      sources.push(this.resolveAlias(false));
      this.finishLine();
      const next = this.nextContentLine();
      if (next === indent && this.at(this.pos) === DASH && this.isBlankAt(this.pos + 1)) continue;
      if (next > indent) this.fail("bad indentation in a merge list");
      return sources;
    }
  }

  /** Merge keys as the slow walker applies them: explicit keys win, then the first listed map. */
  private applyMerges(result: Mapping, path: string, sources: readonly Anchor[], ranges: Map<string, readonly [number, number]> | undefined): void {
    for (let sourceIndex = 0; sourceIndex < sources.length; sourceIndex++) {
      const source = sources[sourceIndex] as Anchor;
      const value = source.value;
      if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof TaggedValue) {
        this.fail("merge key refers to a non-mapping");
      }
      const sourceMap = value as Mapping;
      const keys = (source.keys ??= Object.keys(sourceMap));
      for (let keyIndex = 0; keyIndex < keys.length; keyIndex++) {
        const key = keys[keyIndex] as string;
        if (Object.hasOwn(result, key)) continue;
        const range = source.keyRanges?.get(key);
        if (range === undefined) this.fail("merged mapping without key origins");
        setOwn(result, key, sourceMap[key]);
        const start = this.logPaths.length;
        this.replayOrigins(source, range[0], range[1], path);
        ranges?.set(key, [start, this.logPaths.length]);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Flow collections.

  /** `[...]` or `{...}` at pos; `depth` is 1 for the outermost. */
  private parseFlowCollection(
    parentIndent: number,
    path: string,
    depth: number,
    ranges: Map<string, readonly [number, number]> | undefined,
  ): unknown {
    if (this.at(this.pos) === LBRACKET) return this.parseFlowSeq(parentIndent, path, depth);
    return this.parseFlowMap(parentIndent, path, depth, ranges);
  }

  private parseFlowSeq(parentIndent: number, path: string, depth: number): unknown[] {
    this.pos++; // past `[`
    const result: unknown[] = [];
    this.skipFlowSpace(parentIndent, depth);
    for (;;) {
      const char = this.at(this.pos);
      if (char === RBRACKET) break;
      if (char === COMMA) this.fail("empty flow sequence item");
      result.push(this.parseFlowNode(parentIndent, this.positions ? `${path}[${result.length}]` : "", depth, true));
      this.skipFlowSpace(parentIndent, depth);
      const next = this.at(this.pos);
      if (next === COMMA) {
        this.pos++;
        this.skipFlowSpace(parentIndent, depth);
      } else if (next !== RBRACKET) {
        // `[a: b]` (a single-pair mapping) and everything else.
        this.fail("unexpected character in a flow sequence");
      }
    }
    this.pos++; // past `]`
    return result;
  }

  private parseFlowMap(parentIndent: number, path: string, depth: number, ranges: Map<string, readonly [number, number]> | undefined): Mapping {
    this.pos++; // past `{`
    const result: Mapping = {};
    let merges: Anchor[] | undefined;
    this.skipFlowSpace(parentIndent, depth);
    for (;;) {
      const char = this.at(this.pos);
      if (char === RBRACE) break;
      if (char === COMMA) this.fail("empty flow mapping entry");
      const keyStart = this.pos;
      const keyPosition = this.positions ? this.position(keyStart) : undefined;
      let key: string;
      let isMergeKey = false;
      if (char === DQUOTE || char === SQUOTE) {
        key = this.scanQuoted(char, parentIndent, true);
        while (this.at(this.pos) === SPACE) this.pos++;
        // After a quoted key, `:` may touch the value (`{"a":1}`).
        if (this.at(this.pos) !== COLON) this.fail("flow mapping key without `:`");
        this.pos++;
      } else {
        if (!this.canStartPlain(char, this.at(keyStart + 1), true)) this.fail("unsupported flow mapping key");
        const end = this.scanPlainLine(true);
        while (this.at(this.pos) === SPACE) this.pos++;
        if (this.at(this.pos) !== COLON) this.fail("flow mapping key without `:`");
        const after = this.at(this.pos + 1);
        if (!(after === SPACE || after === LF || after === END || after === COMMA || after === RBRACE || after === RBRACKET || after === LBRACE || after === LBRACKET)) {
          this.fail("`:` not followed by a separator");
        }
        this.pos++;
        const raw = this.src.slice(keyStart, end);
        if (raw === "<<") {
          isMergeKey = true;
          key = raw;
        } else {
          key = keyString(resolvePlain(raw));
        }
      }
      this.skipFlowSpace(parentIndent, depth);
      if (isMergeKey) {
        if (merges !== undefined || Object.hasOwn(result, "<<")) this.fail("duplicate merge key");
        merges = this.parseFlowMergeValue(parentIndent, depth);
      } else {
        if (Object.hasOwn(result, key) || (key === "<<" && merges !== undefined)) this.fail("duplicate key");
        const keyPath = this.positions ? childPath(path, key) : "";
        const rangeStart = this.logPaths.length;
        if (keyPosition !== undefined) this.record(keyPath, keyPosition);
        const next = this.at(this.pos);
        setOwn(result, key, next === COMMA || next === RBRACE ? null : this.parseFlowNode(parentIndent, keyPath, depth, false));
        ranges?.set(key, [rangeStart, this.logPaths.length]);
      }
      this.skipFlowSpace(parentIndent, depth);
      const next = this.at(this.pos);
      if (next === COMMA) {
        this.pos++;
        this.skipFlowSpace(parentIndent, depth);
      } else if (next !== RBRACE) {
        this.fail("unexpected character in a flow mapping");
      }
    }
    this.pos++; // past `}`
    if (merges !== undefined) this.applyMerges(result, path, merges, ranges);
    return result;
  }

  private parseFlowMergeValue(parentIndent: number, depth: number): Anchor[] {
    const char = this.at(this.pos);
    if (char === STAR) return [this.resolveAlias(true)];
    if (char !== LBRACKET) this.fail("unsupported merge value");
    this.pos++;
    const sources: Anchor[] = [];
    this.skipFlowSpace(parentIndent, depth + 1);
    while (this.at(this.pos) !== RBRACKET) {
      if (this.at(this.pos) !== STAR) this.fail("merge value is not a list of aliases");
      sources.push(this.resolveAlias(true));
      this.skipFlowSpace(parentIndent, depth + 1);
      const next = this.at(this.pos);
      if (next === COMMA) {
        this.pos++;
        this.skipFlowSpace(parentIndent, depth + 1);
      } else if (next !== RBRACKET) this.fail("bad merge list");
    }
    if (sources.length === 0) this.fail("empty merge list");
    this.pos++;
    return sources;
  }

  /** A node inside a flow collection. */
  private parseFlowNode(parentIndent: number, path: string, depth: number, recordSelf: boolean): unknown {
    let anchor: AnchorProp | undefined;
    let tag = TAG_NONE;
    let char = this.at(this.pos);
    if (char === AMP || char === BANG) {
      this.readProps(true);
      anchor = this.propAnchor;
      tag = this.propTag;
      char = this.at(this.pos);
    }
    const start = this.pos;
    if (recordSelf && this.positions) this.recordAt(path, start);
    const logStart = this.logPaths.length;
    const countStart = this.aliasCount;
    let value: unknown;
    let ranges: Map<string, readonly [number, number]> | undefined;
    if (char === LBRACKET || char === LBRACE) {
      if (anchor !== undefined && char === LBRACE) ranges = new Map();
      value = this.withCollectionTag(this.parseFlowCollection(parentIndent, path, depth + 1, ranges), tag);
    } else if (char === STAR) {
      if (anchor !== undefined || tag !== TAG_NONE) this.fail("properties on an alias");
      return this.expandAlias(path, true);
    } else if (char === DQUOTE || char === SQUOTE) {
      value = scalarValue(this.scanQuoted(char, parentIndent, false), false, tag);
    } else {
      if (!this.canStartPlain(char, this.at(start + 1), true)) this.fail("unsupported flow node start");
      const end = this.scanPlainLine(true);
      value = scalarValue(this.scanPlainRest(start, end, parentIndent, true), true, tag);
    }
    return this.defineAnchor(anchor, value, path, logStart, countStart, ranges);
  }

  /**
   * Spaces, comments and line breaks between flow tokens. A new line must be indented more
   * than the enclosing block collection, except a closing bracket of the outermost flow
   * collection at that collection's indent (Lexer.parseFlowCollection).
   */
  private skipFlowSpace(parentIndent: number, depth: number): void {
    for (;;) {
      const char = this.at(this.pos);
      if (char === SPACE) {
        this.pos++;
      } else if (char === LF) {
        this.pos++;
        this.lineNo++;
        this.lineStart = this.pos;
        let index = this.pos;
        while (this.at(index) === SPACE) index++;
        const first = this.at(index);
        this.pos = index;
        if (first === LF || first === HASH) continue;
        if (first === END) this.fail("unclosed flow collection");
        if (first === TAB) this.fail("tab in a flow collection");
        const indent = index - this.lineStart;
        if (indent <= parentIndent) {
          const closesOutermost = depth === 1 && indent === parentIndent && (first === RBRACKET || first === RBRACE);
          if (!closesOutermost) this.fail("flow collection line not indented enough");
        }
        if (indent === 0 && this.isDocumentMarker(index)) this.fail("document marker in a flow collection");
      } else if (char === HASH) {
        // A comment must follow a space. At column 0 the yaml package sometimes (after a value in
        // a flow mapping) reports it as unseparated, so those fall back too.
        if (this.at(this.pos - 1) !== SPACE) this.fail("comment not separated by a space");
        const newline = this.src.indexOf("\n", this.pos);
        if (newline === -1) this.fail("unclosed flow collection");
        this.pos = newline;
      } else if (char === TAB) {
        this.fail("tab in a flow collection");
      } else {
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Scalars.

  /**
   * Can `char` (followed by `next`) start a plain scalar? Either may be END or NaN (what
   * charCodeAt gives past the end): both count as the end of the text.
   */
  private canStartPlain(char: number, next: number, inFlow: boolean): boolean {
    if (!(char >= 0)) return false;
    switch (char) {
      case LF:
      case SPACE:
      case TAB:
      case HASH:
      case COMMA:
      case LBRACKET:
      case RBRACKET:
      case LBRACE:
      case RBRACE:
      case PERCENT:
      case PIPE:
      case GT:
      case AT:
      case BACKTICK:
      case SQUOTE:
      case DQUOTE:
      case AMP:
      case STAR:
      case BANG:
        return false;
      case DASH:
      case QUESTION:
      case COLON:
        // Indicators only when followed by white space (or, in flow context, a flow indicator).
        if (!(next >= 0) || next === SPACE || next === TAB || next === LF) return false;
        return !(inFlow && (next === COMMA || next === LBRACKET || next === RBRACKET || next === LBRACE || next === RBRACE));
      default:
        return true;
    }
  }

  /**
   * One line of a plain scalar from pos (Lexer.parsePlainScalar): stops at `: `, ` #`, the end
   * of the line and, in flow context, at flow indicators. Returns the end of its text (trailing
   * white space excluded) and leaves pos at the stop.
   */
  private scanPlainLine(inFlow: boolean): number {
    if (!inFlow) return this.scanBlockPlainLine();
    const src = this.src;
    const len = this.len;
    let index = this.pos;
    let end = index;
    while (index < len) {
      const char = src.charCodeAt(index);
      if (char === LF || char === COMMA || char === LBRACKET || char === RBRACKET || char === LBRACE || char === RBRACE) break;
      if (char === COLON) {
        const next = index + 1 < len ? src.charCodeAt(index + 1) : END;
        if (next === SPACE || next === LF || next === END || next === TAB) break;
        if (next === COMMA || next === LBRACKET || next === RBRACKET || next === LBRACE || next === RBRACE) break;
        index++;
        end = index;
      } else if (char === SPACE || char === TAB) {
        if (src.charCodeAt(index + 1) === HASH) break;
        index++;
      } else {
        index++;
        end = index;
      }
    }
    this.pos = index;
    return end;
  }

  /**
   * The block-context case, with native searches: cold code runs in V8's interpreter, where a
   * loop per character costs far more than indexOf.
   */
  private scanBlockPlainLine(): number {
    const src = this.src;
    const start = this.pos;
    const lineEnd = this.lineEndFrom(start);
    // The scalar stops at the first `: ` (or `:` at the line end), or at the white space of the
    // first ` #`, whichever comes first.
    let stop = lineEnd;
    let colon = this.nextColon(start);
    while (colon < lineEnd) {
      const next = src.charCodeAt(colon + 1);
      if (colon + 1 === lineEnd || next === SPACE || next === TAB) {
        stop = colon;
        break;
      }
      colon = this.nextColon(colon + 1);
    }
    let hash = this.nextHash(start);
    while (hash < stop) {
      const before = src.charCodeAt(hash - 1);
      if (hash > start && (before === SPACE || before === TAB)) {
        stop = hash - 1;
        break;
      }
      hash = this.nextHash(hash + 1);
    }
    let end = stop;
    for (;;) {
      const last = src.charCodeAt(end - 1);
      if (end <= start || (last !== SPACE && last !== TAB)) break;
      end--;
    }
    this.pos = stop;
    return end;
  }

  // The first `:` / `#` / `\\` / newline at or after `from`, or the text length.
  private nextColon(from: number): number {
    return this.colons.next(from);
  }

  private nextHash(from: number): number {
    return this.hashes.next(from);
  }

  /** The end of the line `from` lies on (a key and its value share one search). */
  private lineEndFrom(from: number): number {
    return this.newlines.next(from);
  }

  private nextBackslash(from: number): number {
    return this.backslashes.next(from);
  }

  /**
   * Continue a plain scalar over following lines indented more than `parentIndent`
   * (Lexer.continueScalar), then fold it (unfoldLines). `end` is the end of the first line's text.
   */
  private scanPlainRest(start: number, end: number, parentIndent: number, inFlow: boolean): string {
    let multiline = false;
    // Past the end charCodeAt gives NaN, which equals no character: as at()'s END, in these tests.
    // (This runs after every plain scalar, in cold code, where a call saved counts.)
    const src = this.src;
    while (src.charCodeAt(this.pos) === LF) {
      // Look past blank lines to the next content line.
      let lineStart = this.pos + 1;
      let index = lineStart;
      for (;;) {
        while (src.charCodeAt(index) === SPACE) index++;
        if (src.charCodeAt(index) !== LF) break;
        index++;
        lineStart = index;
      }
      if (index >= this.len) break;
      const first = src.charCodeAt(index);
      if (first === TAB) this.fail("tab in a plain scalar continuation");
      if (index - lineStart <= parentIndent) break;
      if (index === lineStart && this.isDocumentMarker(index)) break;
      if (first === HASH) break;
      if (inFlow && (first === COMMA || first === LBRACKET || first === RBRACKET || first === LBRACE || first === RBRACE)) break;
      // Indicators that would start something else elsewhere: legal plain text here, but rare.
      if (!this.canStartPlain(first, this.at(index + 1), inFlow)) this.fail("plain scalar continues with an indicator");
      // Consume the line breaks up to the continuation line.
      for (let scan = this.pos; scan < index; scan++) {
        if (this.src.charCodeAt(scan) === LF) {
          this.lineNo++;
          this.lineStart = scan + 1;
        }
      }
      this.pos = index;
      end = this.scanPlainLine(inFlow);
      if (this.at(this.pos) === COLON) this.fail("implicit key in a plain scalar continuation");
      multiline = true;
    }
    const raw = this.src.slice(start, end);
    return multiline ? unfoldLines(raw) : raw;
  }

  /**
   * A quoted scalar at pos; leaves pos after the closing quote. Line breaks inside must be
   * followed by lines indented more than `parentIndent` (Lexer.parseQuotedScalar).
   */
  private scanQuoted(quote: number, parentIndent: number, singleLine: boolean): string {
    const start = this.pos;
    const src = this.src;
    // Common case first: closed on the same line, no escapes.
    const close = src.indexOf(quote === DQUOTE ? '"' : "'", start + 1);
    if (close !== -1 && src.charCodeAt(close + 1) !== SQUOTE) {
      if (close < this.lineEndFrom(start) && (quote === SQUOTE || this.nextBackslash(start) > close)) {
        this.pos = close + 1;
        return src.slice(start + 1, close);
      }
    }
    let index = start + 1;
    let escaped = false;
    let multiline = false;
    for (;;) {
      const char = this.at(index);
      if (char === END) this.fail("unclosed quote");
      if (char === quote) {
        if (quote === SQUOTE && this.at(index + 1) === SQUOTE) {
          escaped = true;
          index += 2;
          continue;
        }
        break;
      }
      if (char === BACKSLASH && quote === DQUOTE) {
        escaped = true;
        // An escaped line break still needs its line counted below.
        index += this.at(index + 1) === LF ? 1 : 2;
        continue;
      }
      if (char === LF) {
        if (singleLine) this.fail("multi-line key");
        multiline = true;
        this.lineNo++;
        this.lineStart = index + 1;
        let scan = index + 1;
        while (this.at(scan) === SPACE) scan++;
        const first = this.at(scan);
        if (first !== LF && scan - (index + 1) <= parentIndent) this.fail("quoted scalar line not indented enough");
        if (this.isDocumentMarker(index + 1)) this.fail("document marker in a quoted scalar");
      }
      index++;
    }
    this.pos = index + 1;
    const inner = this.src.slice(start + 1, index);
    if (quote === SQUOTE) {
      const unfolded = multiline ? unfoldLines(inner) : inner;
      return escaped ? unfolded.replaceAll("''", "'") : unfolded;
    }
    if (!escaped && !multiline) return inner;
    const value = doubleQuotedValue(this.src, start, index);
    if (value === undefined) this.fail("invalid escape in a double-quoted scalar");
    return value;
  }

  /**
   * A literal or folded block scalar with its header at pos (Lexer.parseBlockScalar for its
   * extent, resolveBlockScalar for its value). Leaves pos at the end of its last line.
   */
  private parseBlockScalar(parentIndent: number): string {
    const folded = this.at(this.pos) === GT;
    let chomp = 0; // 0 clip, 1 strip (-), 2 keep (+)
    let explicitIndent = 0;
    let index = this.pos + 1;
    for (;;) {
      const char = this.at(index);
      if (char === SPACE || char === LF || char === END) break;
      if (chomp === 0 && (char === DASH || char === 0x2b)) chomp = char === DASH ? 1 : 2;
      else if (explicitIndent === 0 && char >= 0x31 && char <= 0x39) explicitIndent = char - 0x30;
      else this.fail("bad block scalar header");
      index++;
    }
    this.pos = index;
    this.finishLine();
    const bodyStart = this.pos + 1; // after the header line's line break (or past the end)
    const minIndent = parentIndent + 1; // the lexer's indentNext
    // Lexer.parseBlockScalar: find the first content line's indent.
    let newline = bodyStart - 1;
    let indent = 0;
    let scan = bodyStart;
    for (;;) {
      const char = this.at(scan);
      if (char === SPACE) indent++;
      else if (char === LF) {
        newline = scan;
        indent = 0;
      } else break;
      scan++;
    }
    if (indent >= minIndent) {
      const contentIndent = explicitIndent === 0 ? indent : explicitIndent - 1 + minIndent;
      for (;;) {
        // continueScalar: blank lines and lines indented at least contentIndent continue.
        let lineIndex = newline + 1;
        let spaces = 0;
        while (this.at(lineIndex) === SPACE) {
          lineIndex++;
          spaces++;
        }
        const char = this.at(lineIndex);
        if (!(char === LF || spaces >= contentIndent)) break;
        const next = this.src.indexOf("\n", lineIndex);
        if (next === -1) {
          newline = this.len;
          break;
        }
        newline = next;
      }
    }
    // Insufficiently indented tabs after the scalar get folded into it by the lexer: fall back.
    let after = newline + 1;
    while (this.at(after) === SPACE) after++;
    if (this.at(after) === TAB) this.fail("tab after a block scalar");
    if (chomp !== 2) {
      // Drop trailing blank lines that are not more indented than the first content line.
      for (;;) {
        let back = newline - 1;
        const lastChar = back;
        while (this.at(back) === SPACE) back--;
        if (back >= bodyStart - 1 && this.at(back) === LF && back >= bodyStart && back + 1 + indent > lastChar) newline = back;
        else break;
      }
    }
    const bodyEnd = Math.min(newline + 1, this.len);
    const value = blockScalarValue(this.src, bodyStart, bodyEnd, {
      folded,
      chomp,
      trimIndent: parentIndent + explicitIndent,
      explicit: explicitIndent !== 0,
    });
    if (value === undefined) this.fail("block scalar indentation");
    // Move to the end of the scalar's last line, counting its lines.
    const stop = Math.min(newline, this.len);
    for (let cursor = this.pos; cursor < stop; cursor++) {
      if (this.src.charCodeAt(cursor) === LF) {
        this.lineNo++;
        this.lineStart = cursor + 1;
      }
    }
    this.pos = stop;
    return value;
  }
}

// -----------------------------------------------------------------------------------------
// Pure helpers (ports of the yaml package's scalar resolution).

interface BlockScalarHeader {
  readonly folded: boolean;
  readonly chomp: number;
  readonly trimIndent: number;
  readonly explicit: boolean;
}

/** resolveBlockScalar over src[start, end); undefined where the yaml package reports an error. */
function blockScalarValue(src: string, start: number, end: number, header: BlockScalarHeader): string | undefined {
  // Lines as [indent, content]; content keeps any tabs.
  const indents: number[] = [];
  const contents: string[] = [];
  if (end > start) {
    let lineStart = start;
    for (;;) {
      let index = lineStart;
      while (index < end && src.charCodeAt(index) === SPACE) index++;
      const newline = src.indexOf("\n", index);
      const lineEnd = newline === -1 || newline >= end ? end : newline;
      indents.push(index - lineStart);
      contents.push(src.slice(index, lineEnd));
      if (lineEnd >= end) break;
      lineStart = lineEnd + 1;
      if (lineStart >= end) {
        indents.push(0);
        contents.push("");
        break;
      }
    }
  }
  const lineCount = contents.length;
  let chompStart = lineCount;
  for (let index = lineCount - 1; index >= 0; --index) {
    if (contents[index] === "") chompStart = index;
    else break;
  }
  if (chompStart === 0) return header.chomp === 2 && lineCount > 0 ? "\n".repeat(Math.max(1, lineCount - 1)) : "";
  let trimIndent = header.trimIndent;
  let contentStart = 0;
  for (let index = 0; index < chompStart; ++index) {
    const indent = indents[index] as number;
    if (contents[index] === "") {
      if (!header.explicit && indent > trimIndent) trimIndent = indent;
    } else {
      if (indent < trimIndent) return undefined; // more-indented leading empty lines
      if (!header.explicit) trimIndent = indent;
      contentStart = index;
      if (trimIndent === 0) return undefined; // block scalars in collections must be indented
      break;
    }
  }
  for (let index = lineCount - 1; index >= chompStart; --index) {
    if ((indents[index] as number) > trimIndent) chompStart = index + 1;
  }
  const spaces = (count: number): string => (count > trimIndent ? " ".repeat(count - trimIndent) : "");
  let value = "";
  let separator = "";
  let previousMoreIndented = false;
  for (let index = 0; index < contentStart; ++index) value += spaces(indents[index] as number) + "\n";
  for (let index = contentStart; index < chompStart; ++index) {
    const indent = indents[index] as number;
    const content = contents[index] as string;
    if (content !== "" && indent < trimIndent) return undefined;
    if (!header.folded) {
      value += separator + spaces(indent) + content;
      separator = "\n";
    } else if (indent > trimIndent || content.charCodeAt(0) === TAB) {
      if (separator === " ") separator = "\n";
      else if (!previousMoreIndented && separator === "\n") separator = "\n\n";
      value += separator + spaces(indent) + content;
      separator = "\n";
      previousMoreIndented = true;
    } else if (content === "") {
      if (separator === "\n") value += "\n";
      else separator = "\n";
    } else {
      value += separator + content;
      separator = " ";
      previousMoreIndented = false;
    }
  }
  if (header.chomp === 2) {
    for (let index = chompStart; index < lineCount; ++index) value += "\n" + spaces(indents[index] as number);
    if (value.charCodeAt(value.length - 1) !== LF) value += "\n";
  } else if (header.chomp === 0) {
    value += "\n";
  }
  return value;
}

function isWhite(char: number): boolean {
  return char === SPACE || char === TAB;
}

/** Line folding for plain and single-quoted scalars (resolve-flow-scalar's unfoldLines). */
function unfoldLines(source: string): string {
  let newline = source.indexOf("\n");
  if (newline === -1) return source;
  let end = newline;
  while (end > 0 && isWhite(source.charCodeAt(end - 1))) end--;
  let result = source.slice(0, end);
  let separator = " ";
  let lineStart = newline + 1;
  for (;;) {
    newline = source.indexOf("\n", lineStart);
    if (newline === -1) break;
    let first = lineStart;
    let last = newline;
    while (first < last && isWhite(source.charCodeAt(first))) first++;
    while (last > first && isWhite(source.charCodeAt(last - 1))) last--;
    if (first === last) {
      if (separator === "\n") result += separator;
      else separator = "\n";
    } else {
      result += separator + source.slice(first, last);
      separator = " ";
    }
    lineStart = newline + 1;
  }
  let first = lineStart;
  while (first < source.length && isWhite(source.charCodeAt(first))) first++;
  return result + separator + source.slice(first);
}

/** doubleQuotedValue over src[open..close] (the quotes included); undefined on a bad escape. */
function doubleQuotedValue(src: string, open: number, close: number): string | undefined {
  let result = "";
  for (let index = open + 1; index < close; ++index) {
    const char = src.charCodeAt(index);
    if (char === LF) {
      // Fold: one line break is a space, each further one a newline; indentation is dropped.
      let fold = "";
      let next = src.charCodeAt(index + 1);
      while (next === SPACE || next === TAB || next === LF) {
        if (next === LF) fold += "\n";
        index += 1;
        next = src.charCodeAt(index + 1);
      }
      result += fold === "" ? " " : fold;
    } else if (char === BACKSLASH) {
      const next = src.charCodeAt(++index);
      const simple = escapeCode(next);
      if (simple !== undefined) {
        result += simple;
      } else if (next === LF) {
        // An escaped line break joins the lines; the next line's indentation is still dropped.
        let following = src.charCodeAt(index + 1);
        while (following === SPACE || following === TAB) following = src.charCodeAt(++index + 1);
      } else if (next === 0x78 || next === 0x75 || next === 0x55) {
        const length = next === 0x78 ? 2 : next === 0x75 ? 4 : 8;
        const hex = src.substr(index + 1, length);
        if (hex.length !== length || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) return undefined;
        result += String.fromCodePoint(code);
        index += length;
      } else {
        return undefined;
      }
    } else if (char === SPACE || char === TAB) {
      // White space before a line break is dropped.
      const whiteStart = index;
      let next = src.charCodeAt(index + 1);
      while (next === SPACE || next === TAB) next = src.charCodeAt(++index + 1);
      if (next !== LF) result += src.slice(whiteStart, index + 1);
    } else {
      result += src[index] as string;
    }
  }
  return result;
}

function escapeCode(char: number): string | undefined {
  switch (char) {
    case 0x30:
      return "\0";
    case 0x61:
      return "\x07";
    case 0x62:
      return "\b";
    case 0x65:
      return "\x1b";
    case 0x66:
      return "\f";
    case 0x6e:
      return "\n";
    case 0x72:
      return "\r";
    case 0x74:
      return "\t";
    case 0x76:
      return "\v";
    case 0x4e:
      return "\u0085";
    case 0x5f:
      return "\u00a0";
    case 0x4c:
      return "\u2028";
    case 0x50:
      return "\u2029";
    case SPACE:
      return " ";
    case DQUOTE:
      return '"';
    case 0x2f:
      return "/";
    case BACKSLASH:
      return "\\";
    case TAB:
      return "\t";
    default:
      return undefined;
  }
}

// The yaml package's YAML 1.2 core schema tests, in its order (schema/core).
const intOctPattern = /^0o[0-7]+$/;
const intPattern = /^[-+]?[0-9]+$/;
const intHexPattern = /^0x[0-9a-fA-F]+$/;
const floatNaNPattern = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const floatExpPattern = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const floatPattern = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** A plain scalar's value under the YAML 1.2 core schema, as the yaml package resolves it. */
export function resolvePlain(text: string): unknown {
  const first = text.charCodeAt(0);
  switch (first) {
    case 0x7e: // ~
      return text === "~" ? null : text;
    case 0x6e: // n
    case 0x4e: // N
      return text === "null" || text === "Null" || text === "NULL" ? null : text;
    case 0x74: // t
    case 0x54: // T
      return text === "true" || text === "True" || text === "TRUE" ? true : text;
    case 0x66: // f
    case 0x46: // F
      return text === "false" || text === "False" || text === "FALSE" ? false : text;
    default:
      if (text === "") return null;
      if (!((first >= 0x30 && first <= 0x39) || first === DOT || first === DASH || first === 0x2b)) return text;
      if (first !== DOT && (first < 0x30 || first > 0x39)) {
        // A sign must be followed by a digit or `.` to be a number (`./data`, `-c` are strings).
        const second = text.charCodeAt(1);
        if (!((second >= 0x30 && second <= 0x39) || second === DOT)) return text;
      } else if (first === DOT) {
        const second = text.charCodeAt(1) | 0x20;
        if (!((second >= 0x30 && second <= 0x39) || second === 0x69 || second === 0x6e)) return text;
      }
      if (intOctPattern.test(text)) return parseInt(text.substring(2), 8);
      if (intPattern.test(text)) return parseInt(text, 10);
      if (intHexPattern.test(text)) return parseInt(text.substring(2), 16);
      if (floatNaNPattern.test(text)) {
        if (text.slice(-3).toLowerCase() === "nan") return NaN;
        return text.charCodeAt(0) === DASH ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      }
      if (floatExpPattern.test(text) || floatPattern.test(text)) return parseFloat(text);
      return text;
  }
}

/**
 * True when a plain scalar starting with `char` resolves to itself: letters other than those
 * that begin null/true/false (n N t T f F). Saves resolvePlain() on almost every key.
 */
function startsAsString(char: number): boolean {
  const lower = char | 0x20;
  return lower >= 0x61 && lower <= 0x7a && lower !== 0x6e && lower !== 0x74 && lower !== 0x66;
}

/** parse-yaml.ts's keyOf for a scalar key. */
function keyString(value: unknown): string {
  return value === null ? "null" : String(value);
}

function scalarValue(text: string, plain: boolean, tag: number): unknown {
  // Tagged scalars keep their source text (parse-yaml.ts: node.source), "" meaning null.
  if (tag === TAG_RESET || tag === TAG_OVERRIDE) return new TaggedValue(tag === TAG_RESET ? "reset" : "override", text === "" ? null : text);
  if (tag === TAG_STR || !plain) return text;
  return resolvePlain(text);
}

function emptyValue(tag: number): unknown {
  if (tag === TAG_RESET || tag === TAG_OVERRIDE) return new TaggedValue(tag === TAG_RESET ? "reset" : "override", null);
  return tag === TAG_STR ? "" : null;
}

/** document.ts's plainKey. */
const plainPathKey = /^[A-Za-z0-9_\-/]+$/;

/** document.ts's joinPath for a key, testing the key once instead of up to three times. */
function childPath(parent: string, key: string): string {
  if (plainPathKey.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

function setOwn(target: Mapping, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** For tests: must build the same strings as document.ts's joinPath. */
export { childPath as childPathForTest };

/**
 * The first occurrence of one character at or after a position, remembering its last answer so
 * that scanning forward never searches the same stretch twice (a file without any `#` would
 * otherwise cost a search to its end per line).
 */
class ForwardSearch {
  private from = Number.MAX_SAFE_INTEGER;
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly character: string,
  ) {}

  next(from: number): number {
    if (from >= this.from && this.at >= from) return this.at;
    const found = this.text.indexOf(this.character, from);
    this.from = from;
    this.at = found === -1 ? this.text.length : found;
    return this.at;
  }
}
