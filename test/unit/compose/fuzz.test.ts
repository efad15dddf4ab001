// Fuzzing the loader: whatever text arrives, `loadProject` either returns a project or throws a
// BerthError with a stable code and a sane position, never a TypeError, RangeError or the like.
//
// Three sources, ~300 runs in all by default (a few seconds): random strings, YAML-ish documents
// (token soup for the parser, generated compose trees for the later passes, several files for
// merge, extends and include), and mutated real compose files from the corpus (test/fixtures/compose-corpus).
//
// Longer runs: `node scripts/fuzz-loader.mjs [RUNS] [SECONDS]` (random seed, printed).
// The same knobs as environment variables: BERTH_FUZZ_RUNS (total, split over the three sources),
// BERTH_FUZZ_SECONDS (total time budget), BERTH_FUZZ_SEED (replay a reported seed).

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadProject, projectToConfig, type LoadOptions } from "../../../src/compose/index.js";
import type { FileReader } from "../../../src/compose/context.js";
import { AggregateComposeError, BerthError, ComposeError, ErrorCode } from "../../../src/errors.js";
import { corpusDirectory } from "../../support/corpus.js";


const defaultRuns = 300;
const totalRuns = positiveNumber(process.env["BERTH_FUZZ_RUNS"]) ?? defaultRuns;
const totalSeconds = positiveNumber(process.env["BERTH_FUZZ_SECONDS"]);
const longRun = totalRuns !== defaultRuns || totalSeconds !== undefined;
const seed = positiveNumber(process.env["BERTH_FUZZ_SEED"]) ?? 20240518;
const sources = 3;
const runsPerSource = Math.max(1, Math.floor(totalRuns / sources));
const millisecondsPerSource = totalSeconds === undefined ? undefined : (totalSeconds * 1000) / sources;
const testTimeoutMs = millisecondsPerSource === undefined ? Math.max(30_000, runsPerSource * 200) : millisecondsPerSource + 60_000;

function positiveNumber(text: string | undefined): number | undefined {
  const value = Number(text);
  return text === undefined || text === "" || !Number.isFinite(value) || value <= 0 ? undefined : value;
}

// ---------------------------------------------------------------------------------------------
// The system under test, over an in-memory file table.

/** Files by absolute path; a path is a directory when some file lies below it. */
function memoryFileReader(files: ReadonlyMap<string, string>): FileReader {
  const isDirectory = (file: string): boolean => {
    const prefix = file.endsWith("/") ? file : `${file}/`;
    for (const key of files.keys()) if (key.startsWith(prefix)) return true;
    return false;
  };
  return {
    readText(file) {
      const text = files.get(file);
      if (text !== undefined) return text;
      const reason = isDirectory(file) ? "is a directory" : "no such file or directory";
      throw new ComposeError(ErrorCode.composeIo, `open ${file}: ${reason}`, { file });
    },
    exists: (file) => files.has(file) || isDirectory(file),
    isDirectory,
  };
}

interface LoadInput {
  readonly workingDirectory: string;
  /** The -f files, in order. */
  readonly composeFiles: readonly string[];
  readonly files: ReadonlyMap<string, string>;
}

const osEnvironment = { HOME: "/home/fuzz", TAG: "1.25", PORT: "8080", EMPTY: "" };

function loadOptions(input: LoadInput): LoadOptions {
  return {
    workingDirectory: input.workingDirectory,
    files: input.composeFiles,
    osEnvironment,
    fileReader: memoryFileReader(input.files),
    readStdin: () => "",
    warn: () => undefined,
  };
}

/** Load as `berth config` does (load, then serialize), and check the failure if there is one. */
function loadAndCheck(input: LoadInput): void {
  try {
    const loaded = loadProject(loadOptions(input));
    JSON.stringify(loaded.project === undefined ? loaded.document.data : projectToConfig(loaded.project));
  } catch (error) {
    checkFailure(error);
  }
}

function checkFailure(error: unknown): void {
  if (!(error instanceof BerthError)) {
    const kind = error instanceof Error ? error.name : typeof error;
    throw new Error(`loadProject failed with a ${kind}, not a BerthError: ${String(error)}`, { cause: error });
  }
  expect(error.code).toMatch(/^E_[A-Z0-9_]+$/);
  const problems = error instanceof AggregateComposeError ? error.problems : error instanceof ComposeError ? [error] : [];
  if (error instanceof AggregateComposeError) expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems) {
    expect(problem).toBeInstanceOf(ComposeError);
    expect(problem.code).toMatch(/^E_[A-Z0-9_]+$/);
    if (problem.line !== undefined) {
      expect(Number.isInteger(problem.line) && problem.line >= 1, `line ${problem.line}`).toBe(true);
      expect(problem.file, "a line needs a file").toBeTypeOf("string");
    }
    if (problem.column !== undefined) {
      expect(Number.isInteger(problem.column) && problem.column >= 1, `column ${problem.column}`).toBe(true);
    }
  }
}

function runProperty(inputs: fc.Arbitrary<LoadInput>): void {
  const details = fc.check(
    fc.property(inputs, (input) => loadAndCheck(input)),
    {
      seed,
      numRuns: runsPerSource,
      ...(millisecondsPerSource === undefined ? {} : { plugins: [fc.interruptAfterTimeLimit(millisecondsPerSource)] }),
    },
  );
  if (longRun) console.log(`seed ${seed}: ${details.numRuns} runs`);
  if (details.failed) {
    const failure = details.errorInstance;
    const cause = failure instanceof Error && failure.cause instanceof Error ? failure.cause : failure;
    const where = cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause);
    throw new Error(`${fc.defaultReportMessage(details) ?? `failed with seed ${seed}`}\n${String(failure)}\n${where}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs.

const workingDirectory = "/fuzz";
const single = (text: string): LoadInput => ({
  workingDirectory,
  composeFiles: ["compose.yaml"],
  files: new Map([["/fuzz/compose.yaml", text]]),
});

/** Characters that mean something to YAML or to interpolation, plus a few ordinary ones. */
const yamlCharacter = fc.constantFrom(..."\n\n\n  \t:-[]{},#&*!|>'\"%@`?$\\~=.0123456789abcxyz_/\r\u00a0\u2028\ufeff");

const randomText = fc
  .oneof(
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.string({ unit: yamlCharacter, maxLength: 300 }),
    fc.string({ unit: yamlCharacter, maxLength: 200 }).map((tail) => `services:\n  web:\n    image: nginx\n${tail}`),
  )
  .map(single);

const topLevelKeys = ["services", "volumes", "networks", "secrets", "configs", "include", "name", "version", "x-common", "models"];
const serviceKeys = [
  "image", "build", "ports", "expose", "depends_on", "extends", "environment", "env_file", "volumes", "networks",
  "profiles", "command", "entrypoint", "healthcheck", "deploy", "restart", "labels", "secrets", "configs",
  "container_name", "network_mode", "links", "ulimits", "tmpfs", "extra_hosts", "scale", "develop", "x-note",
];
/** Ordinary names, plus names that are also properties of every JavaScript object. */
const serviceNames = ["web", "db", "api", "cache", "worker", "__proto__", "constructor"];

const validInterpolations = ["${TAG}", "${TAG:-latest}", "${TAG-latest}", "${TAG:+set}", "$TAG", "$$TAG", "$${TAG}", "${UNSET:-${TAG:-x}}"];
const failingInterpolations = ["${UNSET:?needs UNSET}", "${UNSET?}", "${", "${}", "${TAG", "$", "${EMPTY:?empty}", "${TAG:-${}", "${9}", "${A B}"];
const interpolations = [...validInterpolations, ...failingInterpolations];
const plausibleScalars = [
  "nginx", "nginx:${TAG}", "80", "8080:80", "127.0.0.1:8080:80/udp", "8000-8002:8000-8002", "./data:/data",
  "data:/var/lib/data:ro", "/abs:/abs", "~/cache:/cache", "web", "db", "default", "service_healthy", "host", "service:db",
  "container:x", "always", "no", "on-failure:3", "10s", "1.5", "0.5g", "-1", "true", "", " ", "~", "null", "{}", "[]",
];
const scalar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...plausibleScalars, ...validInterpolations) },
  fc.constantFrom(...failingInterpolations),
  fc.integer({ min: -70000, max: 70000 }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
);
const { value: anyValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...serviceKeys, ...serviceNames), fc.string({ maxLength: 6 })), tie("value"), {
      maxKeys: 3,
    }),
  ),
}));

const serviceName = fc.constantFrom(...serviceNames);
const otherFile = fc.constantFrom("other.yaml", "./other.yaml", "sub/other.yaml");
/** Well-formed values for the attributes whose passes do the most work. */
const wellFormed: Record<string, fc.Arbitrary<unknown>> = {
  image: fc.constantFrom("nginx", "nginx:${TAG}", "redis:7", "${TAG:-none}"),
  ports: fc.uniqueArray(
    fc.oneof(
      fc.constantFrom("80", "8080:80", "${PORT}:80", "9000-9001:9000-9001", "127.0.0.1::53/udp"),
      fc.record({ target: fc.integer({ min: 1, max: 65535 }), published: fc.constantFrom("8081", 8082, "8083-8084") }),
    ),
    { maxLength: 3, selector: (port) => JSON.stringify(port) },
  ),
  depends_on: fc.oneof(
    fc.array(serviceName, { maxLength: 3 }),
    fc.dictionary(serviceName, fc.record({ condition: fc.constantFrom("service_started", "service_healthy") }), { maxKeys: 2 }),
  ),
  extends: fc.oneof(serviceName, fc.record({ service: serviceName }), fc.record({ service: serviceName, file: otherFile })),
  environment: fc.oneof(
    fc.uniqueArray(fc.constantFrom("A=1", "B", "C=${TAG}", "D="), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("A", "B", "C"), fc.constantFrom("1", "", "${TAG}", 2, true, null)),
  ),
  volumes: fc.uniqueArray(
    fc.oneof(
      fc.constantFrom("./data:/data", "data:/data", "/tmp", "~/cache:/cache:ro"),
      fc.record({ type: fc.constantFrom("bind", "volume", "tmpfs"), source: fc.constantFrom("data", "./x"), target: fc.constantFrom("/data", "/x") }),
    ),
    { maxLength: 2, selector: (volume) => (typeof volume === "string" ? volume.split(":")[1] ?? volume : volume.target) },
  ),
  profiles: fc.uniqueArray(fc.constantFrom("debug", "tools"), { maxLength: 2 }),
  build: fc.oneof(
    fc.constantFrom(".", "./sub"),
    fc.record({ context: fc.constantFrom(".", "sub"), dockerfile: fc.constantFrom("Dockerfile", "../Dockerfile") }),
  ),
  networks: fc.oneof(
    fc.uniqueArray(fc.constantFrom("default", "front"), { maxLength: 2 }),
    fc.dictionary(fc.constantFrom("front", "default"), fc.constant(null)),
  ),
};
const serviceArbitrary = fc.record(wellFormed, { requiredKeys: [] });

/** The second file (extends `file:` and `include` name it): its own service names, `base` always among them. */
const otherServiceNames = ["base", "other-a", "other-b"];

interface TreeShape {
  readonly names: readonly string[];
  /** Names of top-level volumes and networks; a file that is included needs its own, or they conflict. */
  readonly volumeNames: readonly string[];
  readonly networkNames: readonly string[];
  /** Whether `include` and `extends: {file}` may appear (only in the main file, which has another file to name). */
  readonly fileReferences: boolean;
}

/**
 * A well-formed compose tree whose references hold: depends_on names services of the file,
 * `extends` names an earlier service (so no cycle) or `base` in the other file.
 */
function wellFormedTree(shape: TreeShape): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record(
      {
        services: fc.dictionary(fc.constantFrom(...shape.names), serviceArbitrary, { minKeys: 1, maxKeys: 4 }),
        volumes: fc.dictionary(fc.constantFrom(...shape.volumeNames), fc.constantFrom(null, {}, { driver: "local" })),
        networks: fc.dictionary(fc.constantFrom(...shape.networkNames), fc.constantFrom(null, {}, { driver: "bridge" })),
        include: shape.fileReferences ? fc.array(fc.oneof(otherFile, fc.record({ path: otherFile })), { maxLength: 1 }) : fc.constant([]),
        name: fc.constantFrom("demo", "other-name"),
      },
      { requiredKeys: ["services", "include"] },
    )
    .map(({ include, ...tree }) => {
      const defined = Object.keys(tree.services);
      const services = Object.fromEntries(
        Object.entries(tree.services).map(([name, service]) => [name, withValidReferences(name, service, defined, shape)]),
      );
      return include.length === 0 ? { ...tree, services } : { ...tree, include, services };
    });
}

function withValidReferences(
  name: string,
  service: Readonly<Record<string, unknown>>,
  defined: readonly string[],
  shape: TreeShape,
): Record<string, unknown> {
  const others = defined.filter((other) => other !== name);
  const fixed: Record<string, unknown> = { ...service };
  const dependsOn = service["depends_on"];
  if (Array.isArray(dependsOn)) fixed["depends_on"] = [...new Set(dependsOn.filter((entry) => others.includes(String(entry))))];
  else if (typeof dependsOn === "object" && dependsOn !== null) {
    fixed["depends_on"] = Object.fromEntries(Object.entries(dependsOn).filter(([other]) => others.includes(other)));
  }
  const extended = service["extends"];
  const earlier = defined[0] === name ? undefined : defined[0];
  if (typeof extended === "object" && extended !== null && "file" in extended && shape.fileReferences) {
    fixed["extends"] = { ...extended, service: "base" };
  } else if (extended !== undefined && earlier !== undefined) {
    fixed["extends"] = typeof extended === "string" ? earlier : { service: earlier };
  } else {
    delete fixed["extends"];
  }
  return fixed;
}

const mainResources = { volumeNames: ["data", "cache"], networkNames: ["front", "default"] };
const mainTree = wellFormedTree({ names: serviceNames, fileReferences: true, ...mainResources });
const otherTree = wellFormedTree({
  names: otherServiceNames,
  fileReferences: false,
  volumeNames: ["other-data"],
  networkNames: ["other-net"],
}).map((tree) => ({
  ...tree,
  services: { base: { image: "busybox" }, ...(tree["services"] as Record<string, unknown>) },
}));
const overrideTree = wellFormedTree({ names: serviceNames, fileReferences: false, ...mainResources });

/** What a corruption puts in place of one node: anything, or an interpolation that must fail. */
const corruptValue = fc.oneof(anyValue, fc.constantFrom(...failingInterpolations), fc.constantFrom("My App", "missing.yaml", "/fuzz"));

/** Replace the node at `pick` (modulo the node count, in walk order) with `value`. */
function corrupt(tree: unknown, pick: number, value: unknown): unknown {
  const count = countNodes(tree);
  let remaining = pick % count;
  const visit = (node: unknown): unknown => {
    if (remaining-- === 0) return value;
    if (Array.isArray(node)) return node.map(visit);
    if (typeof node === "object" && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, visit(child)]));
    }
    return node;
  };
  return visit(tree);
}

function countNodes(node: unknown): number {
  if (Array.isArray(node)) return 1 + node.reduce((sum: number, child) => sum + countNodes(child), 0);
  if (typeof node === "object" && node !== null) return 1 + Object.values(node).reduce((sum: number, child) => sum + countNodes(child), 0);
  return 1;
}

/** Half the time untouched; otherwise one node replaced, so each check meets its problem on its own. */
const corruptible = <T>(tree: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc
    .tuple(tree, fc.option(fc.tuple(fc.nat(), corruptValue), { freq: 2, nil: undefined }))
    .map(([value, corruption]) => (corruption === undefined ? value : corrupt(value, corruption[0], corruption[1])));

/** Lines from YAML-significant fragments: anchors, aliases, merge keys, tags, flow collections. */
const yamlLine = fc
  .tuple(
    fc.constantFrom("", "  ", "    ", "      ", "\t", " "),
    fc.constantFrom("", "- ", "? "),
    fc.constantFrom(...topLevelKeys, ...serviceKeys, ...serviceNames, "<<", "x-base", "'quoted'", '"dq"', ""),
    fc.constantFrom(":", ": ", ":  ", " :", ""),
    fc.oneof(
      fc.constantFrom(
        "&base", "*base", "&base {image: nginx}", "*nope", "!reset", "!override", "!reset []", "!!str 1", "!!binary aGk=",
        "[a, b", "[a, *base]", "{a: 1, a: 2}", "|", ">-", "'it''s'", '"\\x"', '"\\u00"', "#comment", "---", "...",
        "%YAML 1.1", "0x1F", "1e400", "-.inf", ".nan", "2001-12-14", "yes", "off", "<<: *base",
      ),
      fc.constantFrom(...plausibleScalars, ...interpolations),
    ),
  )
  .map((parts) => parts.join(""));
const tokenSoup = fc.array(yamlLine, { minLength: 1, maxLength: 25 }).map((lines) => lines.join("\n"));

const yamlishInput = fc.oneof(
  tokenSoup.map(single),
  fc
    .tuple(corruptible(mainTree), corruptible(otherTree), fc.option(corruptible(overrideTree), { nil: undefined }))
    .map(([main, other, override]): LoadInput => {
      const files = new Map([
        ["/fuzz/compose.yaml", stringify(main)],
        ["/fuzz/other.yaml", stringify(other)],
        ["/fuzz/sub/other.yaml", stringify(other)],
      ]);
      if (override !== undefined) files.set("/fuzz/compose.override.yaml", stringify(override));
      return {
        workingDirectory,
        composeFiles: override === undefined ? ["compose.yaml"] : ["compose.yaml", "compose.override.yaml"],
        files,
      };
    }),
);

// ---------------------------------------------------------------------------------------------
// The corpus, and mutations of it.

interface CorpusSample {
  readonly name: string;
  readonly directory: string;
  readonly composeFile: string;
  readonly files: ReadonlyMap<string, string>;
}

/** Each sample folder mounted at /corpus/<name>/, with every file it holds (.env, secrets, contexts). */
function readCorpus(): CorpusSample[] {
  if (!existsSync(corpusDirectory)) return [];
  const samples: CorpusSample[] = [];
  for (const entry of readdirSync(corpusDirectory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const directory = `/corpus/${entry.name}`;
    const files = new Map<string, string>();
    for (const relative of readdirSync(path.join(corpusDirectory, entry.name), { recursive: true, encoding: "utf8" })) {
      const absolute = path.join(corpusDirectory, entry.name, relative);
      if (statSync(absolute).isFile()) files.set(`${directory}/${relative}`, readFileSync(absolute, "utf8"));
    }
    const composeFile = ["compose.yaml", "compose.yml"].map((name) => `${directory}/${name}`).find((file) => files.has(file));
    if (composeFile !== undefined) samples.push({ name: entry.name, directory, composeFile, files });
  }
  return samples.sort((a, b) => a.name.localeCompare(b.name));
}

const corpus = readCorpus();
const corpusSkipReason = corpus.length === 0 ? `corpus not found at ${corpusDirectory}` : undefined;

type Mutation =
  | { readonly kind: "delete-line" | "duplicate-line" | "truncate" | "tab-indent"; readonly at: number }
  | { readonly kind: "swap-lines"; readonly at: number; readonly other: number }
  | { readonly kind: "insert"; readonly at: number; readonly text: string }
  | { readonly kind: "replace-char"; readonly at: number; readonly text: string }
  | { readonly kind: "indent"; readonly at: number; readonly delta: number };

const position = fc.nat({ max: 1_000_000 });
const fragment = fc.oneof(
  fc.constantFrom(...interpolations, "&a ", "*a", "<<: *a", "!reset ", ": ", "- ", "\n  ", "'", '"', "[", "{", "#"),
  fc.string({ unit: yamlCharacter, maxLength: 8 }),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom("delete-line", "duplicate-line", "truncate", "tab-indent"), at: position }),
  fc.record({ kind: fc.constant("swap-lines"), at: position, other: position }),
  fc.record({ kind: fc.constant("insert"), at: position, text: fragment }),
  fc.record({ kind: fc.constant("replace-char"), at: position, text: fc.constantFrom(..."\t:-[]{}\"'&*!|>%@$#\n ") }),
  fc.record({ kind: fc.constant("indent"), at: position, delta: fc.integer({ min: -4, max: 4 }) }),
);

function mutate(text: string, change: Mutation): string {
  const lines = text.split("\n");
  const line = change.at % lines.length;
  const offset = text.length === 0 ? 0 : change.at % text.length;
  switch (change.kind) {
    case "delete-line":
      return lines.filter((_, index) => index !== line).join("\n");
    case "duplicate-line":
      return lines.flatMap((entry, index) => (index === line ? [entry, entry] : [entry])).join("\n");
    case "swap-lines": {
      const other = change.other % lines.length;
      const swapped = [...lines];
      [swapped[line], swapped[other]] = [lines[other] ?? "", lines[line] ?? ""];
      return swapped.join("\n");
    }
    case "truncate":
      return text.slice(0, offset);
    case "tab-indent":
      return lines.map((entry, index) => (index === line ? entry.replace(/^ {1,2}/, "\t") : entry)).join("\n");
    case "insert":
      return text.slice(0, offset) + change.text + text.slice(offset);
    case "replace-char":
      return text.slice(0, offset) + change.text + text.slice(offset + 1);
    case "indent":
      return lines
        .map((entry, index) => (index !== line ? entry : change.delta >= 0 ? " ".repeat(change.delta) + entry : entry.slice(-change.delta)))
        .join("\n");
    default: {
      const unreachable: never = change;
      return unreachable;
    }
  }
}

function sampleInput(sample: CorpusSample, text: string): LoadInput {
  const files = new Map(sample.files);
  files.set(sample.composeFile, text);
  return { workingDirectory: sample.directory, composeFiles: [sample.composeFile], files };
}

const mutatedCorpus = fc
  .record({ sample: fc.nat({ max: Math.max(0, corpus.length - 1) }), changes: fc.array(mutation, { minLength: 1, maxLength: 5 }) })
  .map(({ sample: index, changes }) => {
    const sample = corpus[index % corpus.length] as CorpusSample;
    const original = sample.files.get(sample.composeFile) ?? "";
    return sampleInput(sample, changes.reduce(mutate, original));
  });

// ---------------------------------------------------------------------------------------------

describe("loadProject under fuzzing: every failure is a BerthError", () => {
  const corpusNote = corpusSkipReason === undefined ? "" : `: skipped, ${corpusSkipReason}`;

  it(`random strings (${runsPerSource} runs)`, () => runProperty(randomText), testTimeoutMs);

  it(
    `YAML-ish documents: token soup and generated compose trees over several files (${runsPerSource} runs)`,
    () => runProperty(yamlishInput),
    testTimeoutMs,
  );

  it.skipIf(corpusSkipReason !== undefined)(
    `mutated corpus files (${runsPerSource} runs)${corpusNote}`,
    () => runProperty(mutatedCorpus),
    testTimeoutMs,
  );

  it.skipIf(corpusSkipReason !== undefined)(`the unmutated corpus loads (the fuzzer's seeds are valid)${corpusNote}`, () => {
    for (const sample of corpus) {
      const text = sample.files.get(sample.composeFile) ?? "";
      expect(() => loadProject(loadOptions(sampleInput(sample, text))), sample.name).not.toThrow();
    }
  });
});
