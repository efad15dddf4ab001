// Bad input must fail cleanly: `berth config` on a hostile or broken project exits 1, prints nothing
// on stdout, and puts one line per problem on stderr, each naming `file:line:col` where the problem
// has a position. Never a stack trace, never an "internal error" (an untyped exception).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { ensureBuilt, makeTempDirectory, removeTempDirectory, runBerth, writeFiles } from "./run-berth.js";

/** What one stderr line must show. */
type ExpectedProblem =
  /** A position in compose.yaml on one of these lines (several when more than one place is a fair answer). */
  | { readonly lines: readonly number[]; readonly path?: string }
  /** A position in compose.yaml, any line (the input has no single right place). */
  | { readonly anyLine: true }
  /** No position exists; the line must name this (a file, a directory, the offending value). */
  | { readonly names: (directory: string) => string };

interface BadInput {
  readonly name: string;
  /** Files written into the case's own directory. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
  /** Arguments before and including `config` (default `-f compose.yaml config`). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly problems: readonly ExpectedProblem[];
}

const service = "services:\n  web:\n    image: nginx\n";

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function junkBytes(length: number, seed: number, transform: (byte: number) => number = (byte) => byte): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = transform(state & 0xff);
  }
  return bytes;
}

/** A valid compose file padded with comments to `bytes`: only its size is wrong. */
function hugeFile(bytes: number): string {
  const comment = `# ${"x".repeat(1021)}\n`;
  return service + comment.repeat(Math.ceil(bytes / comment.length));
}

const billionLaughs = [
  'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  "x-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "x-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "x-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "x-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  "x-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
  "x-g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
  "x-h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]",
  service,
].join("\n");

const cases: readonly BadInput[] = [
  {
    name: "malformed YAML (a sequence entry inside a mapping)",
    files: { "compose.yaml": `${service}  - 80\n` },
    problems: [{ lines: [4] }],
  },
  {
    name: "ports given as a string where a list is needed",
    files: { "compose.yaml": `${service}    ports: "80"\n` },
    problems: [{ lines: [4], path: "services.web.ports" }],
  },
  {
    name: "services given as a list",
    files: { "compose.yaml": "services: []\n" },
    problems: [{ lines: [1], path: "services" }],
  },
  {
    name: "tab indentation",
    files: { "compose.yaml": "services:\n\tweb:\n\t\timage: nginx\n" },
    problems: [{ lines: [2] }],
  },
  {
    name: "an unclosed quote (reported where it opens)",
    files: { "compose.yaml": 'services:\n  web:\n    image: "nginx\n    ports:\n      - "80:80"\n' },
    problems: [{ lines: [3] }],
  },
  {
    name: "an unknown service key and an unknown top-level key, both reported in one round",
    files: { "compose.yaml": `${service}    colour: blue\nvolumez:\n  data: {}\n` },
    problems: [{ lines: [4] }, { lines: [5] }],
  },
  {
    name: "a 40 MB file",
    files: { "compose.yaml": hugeFile(40 * 1024 * 1024) },
    problems: [{ names: () => "compose.yaml" }],
  },
  {
    name: "binary junk (random bytes)",
    files: { "compose.yaml": junkBytes(4096, 0x2545f491) },
    problems: [{ anyLine: true }],
  },
  {
    name: "binary junk without NUL bytes (invalid UTF-8 and control characters)",
    files: { "compose.yaml": junkBytes(4096, 0x9e3779b9, (byte) => (byte === 0 ? 0xff : byte)) },
    problems: [{ anyLine: true }],
  },
  {
    name: "a directory passed to -f",
    files: { "not-a-file/compose.yaml": service },
    args: ["-f", "not-a-file", "config"],
    problems: [{ names: (directory) => path.join(directory, "not-a-file") }],
  },
  {
    name: "a missing file passed to -f",
    files: {},
    args: ["-f", "missing.yaml", "config"],
    problems: [{ names: (directory) => path.join(directory, "missing.yaml") }],
  },
  {
    name: "an undefined required variable ${X:?need X}",
    files: { "compose.yaml": "services:\n  web:\n    image: ${X:?need X}\n" },
    env: { X: undefined },
    problems: [{ lines: [3], path: "services.web.image" }],
  },
  {
    name: "an invalid interpolation ${",
    files: { "compose.yaml": "services:\n  web:\n    image: nginx:${\n" },
    problems: [{ lines: [3], path: "services.web.image" }],
  },
  {
    name: 'an invalid project name -p "My App"',
    files: { "compose.yaml": service },
    args: ["-f", "compose.yaml", "-p", "My App", "config"],
    problems: [{ names: () => "My App" }],
  },
  {
    name: "a dependency on an undefined service",
    files: { "compose.yaml": `${service}    depends_on:\n      - db\n` },
    // The `- db` entry is the best answer; the depends_on key is a fair one.
    problems: [{ lines: [5, 4] }],
  },
  {
    name: "a dependency cycle",
    files: {
      "compose.yaml": [
        "services:",
        "  web:",
        "    image: nginx",
        "    depends_on: [api]",
        "  api:",
        "    image: nginx",
        "    depends_on: [web]",
        "",
      ].join("\n"),
    },
    // Anywhere on the cycle: a depends_on (best) or one of the two services.
    problems: [{ lines: [4, 7, 2, 5] }],
  },
  {
    name: "an empty file",
    files: { "compose.yaml": "" },
    problems: [{ names: () => "compose.yaml" }],
  },
  {
    name: "a file holding only a comment",
    files: { "compose.yaml": "# nothing here\n" },
    problems: [{ names: () => "compose.yaml" }],
  },
  {
    name: "a duplicate key",
    files: { "compose.yaml": `${service}    image: redis\n` },
    problems: [{ lines: [4] }],
  },
  {
    name: "a top-level sequence",
    files: { "compose.yaml": "- web\n- db\n" },
    problems: [{ lines: [1] }],
  },
  {
    name: "a YAML alias bomb (billion laughs)",
    files: { "compose.yaml": billionLaughs },
    problems: [{ anyLine: true }],
  },
  {
    name: "a missing --env-file",
    files: { "compose.yaml": service },
    args: ["-f", "compose.yaml", "--env-file", "missing.env", "config"],
    problems: [{ names: (directory) => path.join(directory, "missing.env") }],
  },
];

const positioned = /compose\.yaml:(\d+):(\d+): (.*)$/;

/** stderr lines that report a problem: not hints under them, not warnings. */
function problemLines(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => !/^\s+hint:/.test(line))
    .filter((line) => !/^(WARN\[\d+\]|time="[^"]*" level=warning)/.test(line));
}

function clip(text: string): string {
  return text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} chars)` : text;
}

describe("berth config on bad input fails cleanly", () => {
  let root = "";

  beforeAll(() => {
    ensureBuilt();
    root = makeTempDirectory("bad-input");
  }, 120_000);

  afterAll(() => {
    if (root !== "") removeTempDirectory(root);
  });

  it.each(cases.map((badInput, index) => [badInput.name, index, badInput] as const))("%s", (_name, index, badInput) => {
    const directory = path.join(root, `case-${index}`);
    mkdirSync(directory);
    writeFiles(directory, badInput.files);
    const result = runBerth(badInput.args ?? ["-f", "compose.yaml", "config"], { cwd: directory, env: badInput.env ?? {} });
    const context = `stderr:\n${clip(result.stderr)}\nstdout:\n${clip(result.stdout)}`;

    expect(result.signal, `killed or timed out\n${context}`).toBeNull();
    expect(result.status, context).toBe(1);
    expect(result.stdout, "nothing on stdout").toBe("");
    expect(result.stderr, "no stack trace").not.toMatch(/^\s+at /m);
    expect(result.stderr, "no untyped exception").not.toMatch(/^internal error/m);

    const lines = problemLines(result.stderr);
    expect(lines, `one line per problem\n${context}`).toHaveLength(badInput.problems.length);
    badInput.problems.forEach((problem, problemIndex) => {
      const line = lines[problemIndex] ?? "";
      if ("names" in problem) {
        expect(line, context).toContain(problem.names(directory));
        return;
      }
      const match = positioned.exec(line);
      expect(match, `expected compose.yaml:line:col in ${JSON.stringify(line)}`).not.toBeNull();
      const [, lineNumber, column] = match ?? [];
      expect(Number(column)).toBeGreaterThanOrEqual(1);
      if ("lines" in problem) {
        expect(problem.lines, `line ${lineNumber} in ${JSON.stringify(line)}`).toContain(Number(lineNumber));
        if (problem.path !== undefined) expect(match?.[3] ?? "", "names the path").toMatch(new RegExp(`^${escape(problem.path)}: `));
      } else {
        expect(Number(lineNumber)).toBeGreaterThanOrEqual(1);
      }
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
