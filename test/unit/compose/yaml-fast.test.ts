// The YAML fast path (src/compose/yaml-fast.ts) against the `yaml`-package path it shortcuts.
// Whatever the fast path accepts must come out exactly as the slow path makes it: the same data
// (key order, -0 and tags included) and the same origins (same paths, positions and order).
// Whatever it does not accept it must leave to the slow path (undefined), which then reports
// the same errors as before.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify, type CreateNodeOptions, type DocumentOptions, type SchemaOptions, type ToStringOptions } from "yaml";
import { joinPath, TaggedValue, type ComposeDocument } from "../../../src/compose/document.js";
import { parseComposeYaml, parseComposeYamlSlow } from "../../../src/compose/parse-yaml.js";
import { childPathForTest, parseComposeYamlFast } from "../../../src/compose/yaml-fast.js";
import { ComposeError } from "../../../src/errors.js";
import { corpusDirectory } from "../../support/corpus.js";

const file = "compose.yaml";
const limits = { maxAliasExpansions: 100_000 };

interface FastResult {
  readonly document: ComposeDocument | undefined;
  readonly reason: string | undefined;
}

function fast(text: string, maxAliasExpansions = limits.maxAliasExpansions): FastResult {
  let reason: string | undefined;
  const document = parseComposeYamlFast(file, text, {
    maxAliasExpansions,
    onFallback: (why, line) => (reason = `${why} (line ${line})`),
  });
  return { document, reason };
}

function slow(text: string): ComposeDocument | ComposeError {
  try {
    return parseComposeYamlSlow(file, text);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
}

/** Data spelled out with key order, -0, NaN and tags, which toEqual would gloss over. */
function canonical(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value instanceof TaggedValue) return `!${value.tag}(${canonical(value.value)})`;
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value) === Object.prototype ? "" : "(odd prototype)";
    return `${prototype}{${Object.keys(value)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(",")}}`;
  }
  return `?${typeof value}`;
}

function originList(document: ComposeDocument): string[] {
  return [...document.origins].map(([key, position]) => `${key} @${position.file}:${position.line}:${position.column}`);
}

function expectSameDocument(actual: ComposeDocument, expected: ComposeDocument): void {
  expect(canonical(actual.data)).toBe(canonical(expected.data));
  expect(actual.data).toEqual(expected.data);
  expect(originList(actual)).toEqual(originList(expected));
  expect(actual.file).toBe(expected.file);
}

/** The fast path must accept `text` and agree with the slow path. */
function expectAcceptedAndSame(text: string): void {
  const result = fast(text);
  expect(result.reason, `fast path fell back on ${JSON.stringify(text)}`).toBeUndefined();
  const expected = slow(text);
  if (expected instanceof ComposeError) throw new Error(`slow path rejects ${JSON.stringify(text)}: ${expected.message}`);
  expectSameDocument(result.document as ComposeDocument, expected);
}

/** The fast path may fall back, but when it answers it must agree with the slow path. */
function expectSameOrFallback(text: string): boolean {
  const { document } = fast(text);
  if (document === undefined) return false;
  const expected = slow(text);
  if (expected instanceof ComposeError) {
    throw new Error(`fast path accepted what the slow path rejects (${expected.message}): ${JSON.stringify(text)}`);
  }
  expectSameDocument(document, expected);
  return true;
}

const lines = (...parts: string[]): string => `${parts.join("\n")}\n`;

// ---------------------------------------------------------------------------------------------

describe("yaml fast path: constructs", () => {
  const cases: [string, string][] = [
    ["nested block mappings", lines("services:", "  web:", "    image: nginx", "    restart: always", "  db:", "    image: postgres")],
    ["block sequences, indented and not", lines("a:", "  - 1", "  - two", "b:", "- x", "- y", "c: end")],
    ["compact nested mappings in sequences", lines("ports:", "  - target: 80", "    published: 8080", "  -   mode: host", "      protocol: tcp", "  - \"q\": 1")],
    ["nested compact sequences", lines("a:", "- - x", "  - - y", "    - z", "- []")],
    ["sequence items on their own lines", lines("a:", "  -", "    k: v", "  -", "    - nested", "  -", "    plain", "  -", "    [flow]")],
    ["values on their own lines", lines("a:", "  plain value", "b:", "  \"quoted\"", "c:", "  [1, 2]", "d:", "  {e: f}")],
    ["flow collections", lines("a: [1, \"two\", 'three', [4, [5]], {six: 6}]", "b: {x: 1, \"y\": [2], 'z': {w: v}, empty: {}, none: []}", "c: {\"adjacent\":1}", "d: {spaced : 1}")],
    ["multi-line flow collections with comments", lines("a: [", "  1, # one", "  2,", "]", "b: {", "    x: 1,", "    y: [a,", "      b],", "  }", "c:", "  - [", "    deep", "  ]")],
    ["flow empty values and trailing commas", lines("a: {x: , y:, z: 1,}", "b: [x, y, ]")],
    ["multi-line plain scalars", lines("a: one", "  two", "", "  three", "b:", "  - four", "    five", "c: [six", "  seven, eight]")],
    ["plain scalar characters", lines("a: http://x:80/y", "b: a#b", "c: x # comment", "d: -c", "e: :x", "f: ?q", "g: ${HOME:-/root}", "h: a: b".replace("a: b", "a:b"), "i: 'it''s'")],
    ["single-quoted scalars", lines("a: 'it''s'", "b: 'fold", "  ed", "", "  para '' graph   '", "c: ''")],
    [
      "double-quoted scalars and escapes",
      lines(
        'a: "tab\\there\\nnew \\"q\\" \\\\ \\/ \\0\\a\\b\\e\\f\\r\\v\\N\\_\\L\\P\\ "',
        'b: "\\x41\\u00e9\\U0001F600"',
        'c: "fold',
        "   ed   ",
        "",
        '  line \\',
        '   joined"',
        'd: ""',
      ),
    ],
    ["literal block scalars", lines("a: |", "  line 1", "    more", "", "  line 3", "b: |-", "  strip", "", "c: |+", "  keep", "", "", "d: end")],
    ["folded block scalars", lines("a: >", "  folded", "  text", "", "    indented", "  back", "", "b: >-", "  x", "c: >+", "  y", "", "d: end")],
    ["explicit indentation indicators", lines("a: |2", "   x", "  y", "b:", "  - |1", "    z", "  - k: >2-", "       w", "c: |-2", "    v")],
    ["block scalar edge cases", lines("a: |", "", "  after blank", "b: |", "  x", "     ", "c: |", "d: >", "e: 1")],
    ["comments everywhere", lines("# head", "a: 1 # trailing", "  # indented", "# between", "b: # on key", "  - x # item", "  # inside", "  - y", "c: [1, # in flow", "  2]")],
    ["document markers", lines("--- # start", "a: 1", "...", "# after")],
    ["anchors and aliases", lines("x: &s scalar", "y: &m {k: v, l: [1]}", "z: &q", "  - a", "  - b: c", "u: *s", "v: *m", "w: [*q, *s]", "t:", "  - *m")],
    ["anchor on an empty value", lines("x: &e", "y: *e", "z:", "  - &f", "  - *f")],
    ["redefined anchors", lines("a: &x 1", "b: *x", "c: &x {k: &x 2}", "d: *x", "e: &y [&y 3, *y]", "f: *y")],
    [
      "merge keys",
      lines(
        "x-a: &a",
        "  image: a",
        "  ports: [1]",
        "  env: {A: 1}",
        "x-b: &b {image: b, restart: always, extra: {deep: [x]}}",
        "x-c: &c",
        "  <<: *a",
        "  own: c",
        "services:",
        "  one:",
        "    <<: *a",
        "    image: mine",
        "  two:",
        "    image: mine",
        "    <<: [*b, *a]",
        "  three:",
        "    <<:",
        "      - *a",
        "      - *b",
        "  four: {<<: *b, image: flow}",
        "  five:",
        "    <<: *c",
      ),
    ],
    ["merge at the top level", lines("x: &base {a: 1, \"odd key\": 2}", "<<: *base", "b: 3")],
    ["tags", lines("a: !reset 80", "b: !override", "c: !reset \"q\"", "d: !reset null", "e: !!str 5", "f: !!str", "g: !reset []", "h: !override", "  k: v", "i:", "  - !reset", "  - !override [1]", "  - !reset |", "    block", "j: !reset ''", "k: &t !reset [x]", "l: *t")],
    [
      "core schema scalars",
      lines(
        "a: [~, null, Null, NULL, nULL, true, True, TRUE, tRUE, false, False, FALSE]",
        "b: [0, -0, +12, 007, 0o17, 0o8, 0x1F, 0xg, 1_000, 12345678901234567890]",
        "c: [1.5, -.5, 5., +1e3, 2E-2, .inf, -.Inf, +.INF, .nan, .NaN, .NAN, 1.2.3, 3.8]",
        "d: [\"3.8\", '1', ./data, -x, +x, .x, v1.0]",
        "e:",
      ),
    ],
    ["odd keys", lines("\"a.b\": 1", "'c d': 2", "e/f: 3", "\"\": 4", "1.0: 5", "0x10: 6", "true: 7", "~: 8", "-0: 9", "é: 10", "\"[0]\": 11", "x-y_z: 12", "\"quo\\\"te\": 13")],
    ["__proto__ stays a key", lines("__proto__: {a: 1}", "b:", "  __proto__: [1]", "c: {\"__proto__\": x}")],
    ["CRLF line endings", "a:\r\n  b: \"x\r\n   y\"\r\n  c: |\r\n    l1\r\n    l2\r\n  d: [1,\r\n    2]\r\n"],
    ["empty items and values", lines("a:", "b: # nothing", "c:", "  -", "  -   # comment", "  - !reset", "  - &n", "  - x", "d: {}")],
    ["a flow mapping as the document", lines("{services: {web: {image: nginx,", "  ports: [\"80:80\"]}},", "  volumes: {}}")],
    ["no trailing newline", "a: 1\nb: [2]"],
  ];
  it.each(cases)("%s", (_name, text) => expectAcceptedAndSame(text));

  it("reads a generated 1,000-service-style file", () => {
    let text = 'x-base: &base\n  restart: always\n  labels:\n    a: b\nservices:\n';
    for (let index = 0; index < 60; index++) {
      text += `  svc${index}:\n    <<: *base\n    image: "busybox:1.35"\n    command: ["sh","-c","echo ${index}"]\n    ports:\n      - "${10000 + index}:80"\n`;
      text += `    environment:\n      A: "1"\n      B: "\${HOME}"\n    volumes:\n      - ./data${index}:/data\n    depends_on:\n      - svc${Math.max(0, index - 1)}\n`;
    }
    expectAcceptedAndSame(text);
  });

  it("builds paths exactly as joinPath does", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_/-]{0,8}$/)), fc.constantFrom("", "services", "a[0]", 'x["y z"]'), (key, parent) => {
        expect(childPathForTest(parent, key)).toBe(joinPath(parent, key));
      }),
      { numRuns: 300 },
    );
  });
});

describe("yaml fast path: the alias-expansion limit", () => {
  // b walks 2 aliases; c expands *b twice (1 + 2 each): the slow walker counts 8 in all.
  const text = lines("a: &a [1]", "b: &b [*a, *a]", "c: [*b, *b]");

  it("counts expansions as the slow walker does", () => {
    expect(fast(text, 8).document).toBeDefined();
    expect(fast(text, 7).document).toBeUndefined();
  });

  it("leaves a YAML bomb to the slow path", () => {
    // 10^6 expansions; the fast path stops at the limit, as the slow path does. (The slow path
    // then needs seconds to reach its limit and report it, so that is not repeated here: it is
    // the unchanged old code, and test/e2e/bad-input.test.ts covers it end to end.)
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let level = 1; level <= 6; level++) {
      const name = String.fromCharCode(97 + level);
      const previous = String.fromCharCode(96 + level);
      bomb.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(", ")}]`);
    }
    expect(fast(lines(...bomb)).document).toBeUndefined();
    expect(fast(lines(...bomb), 1000).reason).toMatch(/too many alias expansions/);
  });
});

describe("yaml fast path: falls back", () => {
  const cases: [string, string][] = [
    ["a duplicate key", lines("services:", "  web:", "    image: a", "    image: b")],
    ["a duplicate key written differently", lines("a: 1", "\"a\": 2")],
    ["tab indentation", lines("services:", "\tweb:")],
    ["an unclosed double quote", lines("services:", "  web:", '    image: "nginx')],
    ["an unclosed single quote", lines("a: 'x")],
    ["a complex key", lines("? a", ": b")],
    ["a directive", lines("%YAML 1.2", "---", "a: 1")],
    ["two documents", lines("a: 1", "---", "b: 2")],
    ["an unknown tag", lines("a: !foo x")],
    ["bad indentation", lines("a:", "    b: 1", "  c: 2")],
    ["an empty file", ""],
    ["a comment-only file", "# only a comment\n"],
    ["a top-level sequence", lines("- a", "- b")],
    ["an unknown anchor", lines("a: *nope")],
    ["a merge of a non-mapping", lines("x: &x [1]", "y:", "  <<: *x")],
    ["a nested mapping on a key line", lines("a: b: c")],
    ["an invalid escape", lines('a: "\\q"')],
    ["a comment without a space", lines('a: "x"#c')],
    ["a multi-line implicit key", lines('"a', ' b": 1')],
    ["a flow sequence pair", lines("a: [b: c]")],
    ["a missing space after a tag", lines("a: !reset[]")],
    // The end of the text as look-ahead: charCodeAt gives NaN there.
    ["an empty key at the very end", "a: 1\n:"],
    ["a dash at the very end", "a: [1]\n-"],
    ["a sequence indicator at the very end of a key line", "a: -"],
  ];
  it.each(cases)("on %s, and the public parser reports what the slow path reports", (_name, text) => {
    expect(fast(text).document).toBeUndefined();
    const expected = slow(text);
    let actual: ComposeDocument | ComposeError;
    try {
      actual = parseComposeYaml(file, text);
    } catch (error) {
      if (!(error instanceof ComposeError)) throw error;
      actual = error;
    }
    if (expected instanceof ComposeError) {
      expect(actual).toBeInstanceOf(ComposeError);
      const error = actual as ComposeError;
      expect([error.code, error.file, error.line, error.column, error.message]).toEqual([
        expected.code,
        expected.file,
        expected.line,
        expected.column,
        expected.message,
      ]);
    } else {
      expectSameDocument(actual as ComposeDocument, expected);
    }
  });

  it("on an alias inside its own anchor", () => {
    // The slow walker's own handling of this (it recurses until the stack runs out) is unchanged.
    expect(fast(lines("a: &a [*a]")).document).toBeUndefined();
    expect(fast(lines("a: &a", "  b: *a")).document).toBeUndefined();
  });

  it("still reports the errors parse-yaml.test.ts pins down", () => {
    const code = (text: string): string | undefined => {
      try {
        parseComposeYaml(file, text);
      } catch (error) {
        if (error instanceof ComposeError) return `${error.code} ${error.line}:${error.column}`;
      }
      return undefined;
    };
    expect(code("")).toBe("E_COMPOSE_EMPTY undefined:undefined");
    expect(code('services:\n  web:\n    image: "nginx\n')).toBe("E_COMPOSE_YAML 3:12");
    expect(code("services:\n  web:\n    image: a\n    image: b\n")).toMatch(/^E_COMPOSE_YAML 4:/);
  });
});

// ---------------------------------------------------------------------------------------------

describe("yaml fast path: real compose files", () => {
  const files = existsSync(corpusDirectory)
    ? readdirSync(corpusDirectory, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .flatMap((entry) => ["compose.yaml", "compose.yml"].map((name) => path.join(corpusDirectory, entry.name, name)))
        .filter((candidate) => existsSync(candidate))
        .sort()
    : [];

  if (files.length === 0) it.skip(`corpus (skipped: no compose files under ${corpusDirectory})`, () => undefined);

  it.runIf(files.length > 0)(`accepts every corpus file and agrees with the slow path (${files.length} files)`, () => {
    for (const corpusFile of files) {
      const text = readFileSync(corpusFile, "utf8");
      const result = fast(text);
      expect(result.reason, corpusFile).toBeUndefined();
      const expected = slow(text);
      if (expected instanceof ComposeError) throw new Error(`${corpusFile}: ${expected.message}`);
      expectSameDocument(result.document as ComposeDocument, expected);
    }
  });

  it.runIf(files.length > 0)("agrees or falls back on mutated corpus files", () => {
    const texts = files.map((corpusFile) => readFileSync(corpusFile, "utf8"));
    const pieces = [" ", "  ", "\n", "\n  ", "- ", ": ", ":", "#", " #", '"', "'", "[", "]", "{", "}", ",", "&a ", "*a", "!reset ", "|", ">-", "\t", "\\", "<<: ", "---", "...", "?", "\r\n", "x", "1"];
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: texts.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...pieces), fc.nat({ max: 3 })), { minLength: 1, maxLength: 3 }),
        fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 1 }),
        (which, edits, truncate) => {
          let text = texts[which] as string;
          for (const [where, piece, removed] of edits) {
            const at = Math.floor(where * text.length);
            text = text.slice(0, at) + piece + text.slice(at + removed);
          }
          // Cut it short too, sometimes: the end of the text is where look-ahead goes wrong.
          if (truncate !== null) text = text.slice(0, Math.floor(truncate * text.length));
          if (expectSameOrFallback(text)) accepted++;
        },
      ),
      { numRuns: 300, seed: 20240611 },
    );
    expect(accepted).toBeGreaterThan(30);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated documents, rendered by the yaml package in several styles.

type StringifyOptions = DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions;

/** Styles real files use; the fast path must accept all of these. */
const typicalStyles: StringifyOptions[] = [
  {},
  { defaultStringType: "QUOTE_DOUBLE" },
  { defaultStringType: "QUOTE_SINGLE" },
  { defaultStringType: "BLOCK_LITERAL" },
  { defaultStringType: "BLOCK_FOLDED" },
  { collectionStyle: "flow" },
  { indentSeq: false },
  { indent: 4 },
  { defaultKeyType: "QUOTE_DOUBLE" },
  { directives: true },
  { lineWidth: 20, minContentWidth: 0 },
];
/** Stranger renderings: the fast path may fall back on these, but must never disagree. */
const oddStyles: StringifyOptions[] = [
  { collectionStyle: "flow", lineWidth: 20, minContentWidth: 0 },
  { collectionStyle: "flow", flowCollectionPadding: false },
  { doubleQuotedAsJSON: true, defaultStringType: "QUOTE_DOUBLE" },
  { indent: 1, indentSeq: false, lineWidth: 10, minContentWidth: 0 },
];

const typicalKey = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,12}$/);
const typicalText = fc.oneof(
  fc.stringMatching(/^[ -~]{0,40}$/),
  fc.stringMatching(/^[a-z0-9 :/.${}=-]{0,80}$/),
  fc.constantFrom("", " lead", "trail ", "a\nb", "a\n\nb\n", "line1\nline2\n", "  indented\nx", "123", "true", "null", "1.5", "0x1F", "- x", "a: b", "#x", "@x"),
);
const oddKey = fc.oneof(
  typicalKey,
  fc.string({ maxLength: 8 }),
  fc.constantFrom("a b", "a.b", "__proto__", "1", "1.0", "true", "null", "~", "x: y", "- x", "#c", "'q'", '"d"', "é", "\t", "a\nb", "<<"),
);
const oddText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom(" ", "\n", "\t", "a", ":", "#", "-", "'", '"', "\\", "|", ">", "\r", "\u0085", "\u2028", "\ufeff", "é", "😀", "{", "["),
    maxLength: 25,
  }),
);

function documentArbitrary(key: fc.Arbitrary<string>, text: fc.Arbitrary<string>, odd: boolean): fc.Arbitrary<Record<string, unknown>> {
  const scalar = fc.oneof(
    text,
    fc.integer(),
    fc.double({ noNaN: !odd }),
    fc.boolean(),
    fc.constant(null),
    odd ? fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(Number) : fc.nat(),
  );
  const { tree } = fc.letrec<{ tree: unknown; seq: unknown[]; map: Record<string, unknown> }>((tie) => ({
    tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("seq"), tie("map")),
    seq: fc.array(tie("tree"), { maxLength: 5 }),
    map: fc.dictionary(key, tie("tree"), { maxKeys: 5 }),
  }));
  return fc.dictionary(key, tree, { minKeys: 1, maxKeys: 6 });
}

/** Reuse one value under a second key, so that stringify writes an anchor and an alias. */
function withSharedValue(value: Record<string, unknown>, share: boolean): Record<string, unknown> {
  const keys = Object.keys(value);
  const first = keys[0];
  const second = keys[1];
  if (!share || first === undefined || second === undefined) return value;
  const shared = value[first];
  if (typeof shared !== "object" || shared === null) return value;
  return { ...value, [second]: shared };
}

describe("yaml fast path: generated documents", () => {
  it("accepts typical documents in every common style, and agrees with the slow path", () => {
    fc.assert(
      fc.property(documentArbitrary(typicalKey, typicalText, false), fc.constantFrom(...typicalStyles), fc.boolean(), (value, style, share) => {
        expectAcceptedAndSame(stringify(withSharedValue(value, share), { ...style, version: "1.2" }));
      }),
      { numRuns: 250, seed: 1 },
    );
  });

  it("agrees or falls back on odd documents and renderings", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        documentArbitrary(oddKey, oddText, true),
        fc.constantFrom(...typicalStyles, ...oddStyles),
        fc.boolean(),
        fc.constantFrom("\n", "\r\n"),
        (value, style, share, newline) => {
          const text = stringify(withSharedValue(value, share), { ...style, version: "1.2" });
          if (expectSameOrFallback(newline === "\n" ? text : text.replaceAll("\n", newline))) accepted++;
        },
      ),
      { numRuns: 300, seed: 2 },
    );
    // Not pointless: most of these are still read by the fast path.
    expect(accepted).toBeGreaterThan(150);
  });
});
