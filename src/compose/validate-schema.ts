// Schema validation: the merged document against schemas/compose.schema.json. The schema is
// compiled ahead of time (scripts/build-schema.mjs → generated/schema-validator.js), so a
// CLI verb pays for parsing the generated code, never for ajv's compiler. Every problem is
// reported at once, one human message per location, with the file:line:col of the value.

import { AggregateComposeError, ComposeError, ErrorCode } from "../errors.js";
import type { Pass } from "./context.js";
import { isUnder, joinPath, positionOf, type ComposeDocument, type PathSegment } from "./document.js";
import {
  createSchemaValidator,
  schemaTree,
  type FormatCheck,
  type SchemaNode,
  type SchemaValidationError,
  type SchemaValidator,
} from "./generated/schema-validator.js";

export const schemaPass: Pass = {
  name: "validate-schema",
  run(document) {
    const problems = schemaProblems(document);
    if (problems.length > 0) throw new AggregateComposeError(ErrorCode.composeSchema, problems);
    return document;
  },
};

/** Every schema problem of the document, one per location (unsorted; the aggregate sorts). */
export function schemaProblems(document: ComposeDocument): ComposeError[] {
  const validate = schemaValidator();
  if (validate(document.data)) return [];
  return problemsFromErrors(validate.errors ?? [], document);
}

/** ajv's raw errors → one ComposeError per location, in words a user can act on. */
export function problemsFromErrors(errors: readonly SchemaValidationError[], document: ComposeDocument): ComposeError[] {
  const located = errors
    .map((error) => describe(error, document.data))
    .filter((problem): problem is Problem => problem !== undefined);
  return collapse(located).map(
    (problem) =>
      new ComposeError(ErrorCode.composeSchema, problem.message, {
        path: problem.path,
        position: positionOf(document.origins, problem.path),
        file: document.file,
        ...(problem.hint === undefined ? {} : { hint: problem.hint }),
      }),
  );
}

let compiled: SchemaValidator | undefined;

function schemaValidator(): SchemaValidator {
  compiled ??= createSchemaValidator(formatChecks);
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// Formats: what Compose itself refuses later (while loading, or when creating the container).

const portRangePattern = /^(\d+)(?:-(\d+))?$/;

function parsePortRange(text: string): readonly [number, number] | undefined {
  const match = portRangePattern.exec(text);
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  return start <= 65535 && end <= 65535 && start <= end ? [start, end] : undefined;
}

const protocols = new Set(["tcp", "udp", "sctp"]);

/** Splits `port[/protocol]` the way Docker does: the protocol defaults to tcp. */
function splitProtocol(text: string): { port: string; protocolOk: boolean } {
  const slash = text.indexOf("/");
  if (slash < 0) return { port: text, protocolOk: true };
  const protocol = text.slice(slash + 1).toLowerCase();
  return { port: text.slice(0, slash), protocolOk: protocol === "" || protocols.has(protocol) };
}

function isHostAddress(text: string): boolean {
  const bare = text.startsWith("[") ? (text.endsWith("]") ? text.slice(1, -1) : "") : text;
  return isIPv4(bare) || isIPv6(bare);
}

// Address checks by hand: src/compose may not import node:net. Go's net.ParseIP rules:
// no leading zeros in IPv4 parts, no zone in IPv6.
const ipv4Part = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const ipv6Group = /^[0-9a-fA-F]{1,4}$/;

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => ipv4Part.test(part));
}

function isIPv6(text: string): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (half: string | undefined): string[] => (half === undefined || half === "" ? [] : half.split(":"));
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const groups = [...head, ...tail];
  // An embedded IPv4 address may only end the text, and counts as two groups.
  const last = text.endsWith("::") ? undefined : groups[groups.length - 1];
  let count = groups.length;
  if (last !== undefined && last.includes(".")) {
    if (!isIPv4(last)) return false;
    groups.pop();
    count += 1;
  }
  if (!groups.every((group) => ipv6Group.test(group))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** `published:target` or `target` in plain digits: what most ports look like. */
const simplePortSpec = /^(?:([0-9]+):)?([0-9]+)$/;

/** `[[host_ip:]published[-range]:]target[-range][/protocol]`, as Docker's port-spec parser reads it. */
function isPortSpec(text: string): boolean {
  // The common case without the splits below (the check runs once per port).
  const simple = simplePortSpec.exec(text);
  if (simple !== null) return Number(simple[2]) <= 65535 && (simple[1] === undefined || Number(simple[1]) <= 65535);
  const parts = text.split(":");
  const containerPart = parts[parts.length - 1] ?? "";
  const hostPort = parts.length >= 2 ? (parts[parts.length - 2] ?? "") : "";
  const hostIp = parts.length >= 3 ? parts.slice(0, -2).join(":") : "";
  const { port, protocolOk } = splitProtocol(containerPart);
  if (!protocolOk) return false;
  if (hostIp !== "" && !isHostAddress(hostIp)) return false;
  const target = parsePortRange(port);
  if (target === undefined) return false;
  if (hostPort === "") return true;
  const published = parsePortRange(hostPort);
  if (published === undefined) return false;
  // A host range may differ in size only when it is a pool for a single container port.
  return published[1] - published[0] === target[1] - target[0] || target[0] === target[1];
}

const durationPattern = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d|w))+)$/;
const byteSizePattern = /^(?:-?\d+|\d+(?:\.\d+)* ?[kKmMgGtTpP]?[iI]?[bB]?)$/;
const restartPattern = /^(?:|no|none|always|any|unless-stopped|on-failure(?::\d+)?)$/;
const pullPolicyPattern = /^(?:always|never|missing|if_not_present|build|refresh|daily|weekly|every_(?:\d+[wdhms])+)$/;
const containerNamePattern = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const exposePattern = /^(\d+(?:-\d+)?)(?:\/(\w*))?$/;

export const formatChecks: Readonly<Record<string, FormatCheck>> = {
  ports: isPortSpec,
  expose: (text) => {
    const match = exposePattern.exec(text);
    if (match === null || parsePortRange(match[1] ?? "") === undefined) return false;
    return match[2] === undefined || match[2] === "" || protocols.has(match[2].toLowerCase());
  },
  "port-number": (text) => /^\d+$/.test(text) && Number(text) <= 65535,
  "port-range": (text) => text === "" || parsePortRange(text) !== undefined,
  duration: (text) => durationPattern.test(text),
  "byte-size": (text) => byteSizePattern.test(text),
  restart: (text) => restartPattern.test(text),
  "pull-policy": (text) => pullPolicyPattern.test(text),
  "container-name": (text) => containerNamePattern.test(text),
};

interface FormatWording {
  readonly message: (shown: string) => string;
  readonly hint?: string;
}

const formatWording: Readonly<Record<string, FormatWording>> = {
  ports: {
    message: (shown) => `invalid port ${shown}`,
    hint: 'use [[host_ip:]published:]target[/protocol] with ports 0-65535, e.g. "8080:80" or "127.0.0.1:5353:53/udp"',
  },
  expose: {
    message: (shown) => `invalid exposed port ${shown}`,
    hint: 'use port[-port][/protocol] with ports 0-65535, e.g. "3000" or "8000-8010/udp"',
  },
  "port-number": { message: (shown) => `invalid port ${shown}`, hint: "a port is an integer from 0 to 65535" },
  "port-range": {
    message: (shown) => `invalid published port ${shown}`,
    hint: 'use a port or a range of ports 0-65535, e.g. "8080" or "8000-8010"',
  },
  duration: {
    message: (shown) => `invalid duration ${shown}`,
    hint: "use numbers with units, e.g. 10s, 1m30s or 500ms (units: ns, us, ms, s, m, h, d, w)",
  },
  "byte-size": { message: (shown) => `invalid size ${shown}`, hint: "use bytes or a number with a unit, e.g. 512m, 1.5g or 2gb" },
  restart: {
    message: (shown) => `invalid restart policy ${shown}: must be one of: no, always, on-failure[:max-retries], unless-stopped`,
  },
  "pull-policy": {
    message: (shown) =>
      `invalid pull policy ${shown}: must be one of: always, never, missing, build, daily, weekly, every_<duration>`,
  },
  "container-name": {
    message: (shown) => `invalid container name ${shown}`,
    hint: 'use letters, digits, "_", "." and "-", starting with a letter or a digit',
  },
};

// ---------------------------------------------------------------------------------------------
// From ajv errors to one human message per location.

interface Problem {
  readonly path: string;
  readonly keyword: string;
  readonly message: string;
  readonly hint?: string | undefined;
  /** For type problems: the allowed types, merged when several checks disagree. */
  readonly types?: readonly string[];
  readonly actual?: unknown;
  readonly missing?: readonly string[];
}

/** Text with ${VAR} or $VAR left in it: it may be a valid value once interpolated. */
const variableReference = /\$(?:\{|[A-Za-z_])/;
const lenientKeywords = new Set(["enum", "format", "pattern"]);

function describe(error: SchemaValidationError, root: unknown): Problem | undefined {
  const { segments, value } = locate(root, error.instancePath);
  const at = segments.reduce<string>((path, segment) => joinPath(path, segment), "");
  const params = error.params;
  // A propertyNames sub-check: the propertyNames error itself says it better.
  if (error.propertyName !== undefined) return undefined;
  if (lenientKeywords.has(error.keyword) && typeof value === "string" && variableReference.test(value)) return undefined;
  switch (error.keyword) {
    case "type": {
      const types = toList(params["type"]);
      const hint = typeHint(types, segments, value);
      return { path: at, keyword: "type", message: typeMessage(types, value), hint, types, actual: value };
    }
    case "additionalProperties": {
      const name = String(params["additionalProperty"]);
      const suggestion = closest(name, allowedProperties(segments));
      return {
        path: joinPath(at, name),
        keyword: "additionalProperties",
        message: `additional property ${JSON.stringify(name)} is not allowed`,
        hint: suggestion === undefined ? undefined : `did you mean ${JSON.stringify(suggestion)}?`,
      };
    }
    case "propertyNames": {
      const name = String(params["propertyName"]);
      const kind = resourceKinds[String(segments[segments.length - 1])] ?? "";
      return {
        path: joinPath(at, name),
        keyword: "propertyNames",
        message: `invalid ${kind}name ${JSON.stringify(name)}`,
        hint: 'use only letters, digits, ".", "_" and "-"',
      };
    }
    case "required": {
      const missing = [String(params["missingProperty"])];
      return { path: at, keyword: "required", message: requiredMessage(missing), missing };
    }
    case "enum":
      return { path: at, keyword: "enum", message: `must be one of: ${toList(params["allowedValues"]).join(", ")}` };
    case "pattern": {
      const choices = /^\^\(([\w|+-]+)\)\$$/.exec(String(params["pattern"]));
      // `^(a|b)$` is an enum that only applies to strings: word it like one.
      const listed = choices?.[1]?.split("|").join(", ");
      const message = listed === undefined ? `must match ${String(params["pattern"])}` : `must be one of: ${listed}`;
      return { path: at, keyword: "pattern", message };
    }
    case "format":
      return formatProblem(at, String(params["format"]), value);
    case "minimum":
    case "maximum": {
      // A number outside a formatted range (a port) reads best in the format's words.
      const format = nodeAt(segments)?.format;
      if (format !== undefined) return formatProblem(at, format, value);
      const relation = error.keyword === "minimum" ? "greater" : "less";
      return { path: at, keyword: error.keyword, message: `must be ${relation} than or equal to ${String(params["limit"])}` };
    }
    case "uniqueItems": {
      const first = Math.min(Number(params["i"]), Number(params["j"]));
      const second = Math.max(Number(params["i"]), Number(params["j"]));
      const item = Array.isArray(value) ? value[second] : undefined;
      return {
        path: joinPath(at, second),
        keyword: "uniqueItems",
        message: `duplicate entry ${shownValue(item)} (same as ${joinPath("", first)})`,
      };
    }
    case "if":
      return undefined; // its then/else branch reports the real problem
    case "anyOf":
    case "oneOf":
      return { path: at, keyword: error.keyword, message: "does not match any of the allowed forms" };
    default:
      return { path: at, keyword: error.keyword, message: `fails the ${error.keyword} check` };
  }
}

const resourceKinds: Readonly<Record<string, string>> = {
  services: "service ",
  volumes: "volume ",
  secrets: "secret ",
  configs: "config ",
};

function formatProblem(path: string, format: string, value: unknown): Problem {
  const wording = formatWording[format];
  const shown = shownValue(value);
  if (wording === undefined) return { path, keyword: "format", message: `invalid value ${shown}: must be a ${format}` };
  return { path, keyword: "format", message: wording.message(shown), hint: wording.hint };
}

/** Always quoted, as the user would search for it: `invalid port "80800"`. */
function shownValue(value: unknown): string {
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return JSON.stringify(typeof value === "string" ? value : String(value));
}

/** Keyword order when one location fails several checks: the first explains the rest. */
const keywordRank: readonly string[] = ["type", "required", "format", "enum", "pattern", "minimum", "maximum"];

function rankOf(problem: Problem): number {
  const rank = keywordRank.indexOf(problem.keyword);
  return rank < 0 ? keywordRank.length : rank;
}

/** One problem per location; combinator noise dropped when a precise problem explains it. */
function collapse(problems: readonly Problem[]): Problem[] {
  const byPath = new Map<string, Problem[]>();
  for (const problem of problems) {
    const group = byPath.get(problem.path);
    if (group === undefined) byPath.set(problem.path, [problem]);
    else group.push(problem);
  }
  const precisePaths = problems.filter((problem) => !isCombinator(problem)).map((problem) => problem.path);
  const result: Problem[] = [];
  for (const [path, group] of byPath) {
    const union = group.some(isCombinator);
    const deeper = union && precisePaths.some((other) => other !== path && isUnder(other, path));
    // In a union, a branch that spoke about a child had the right type: the others' type complaints are noise.
    const precise = group.filter((problem) => !isCombinator(problem) && !(deeper && problem.keyword === "type"));
    const merged = merge(precise, union);
    if (merged !== undefined) result.push(merged);
    // "No branch matched" is worth saying only when no branch told us more.
    else if (union && !deeper && group[0] !== undefined) result.push(group[0]);
  }
  return result;
}

function isCombinator(problem: Problem): boolean {
  return problem.keyword === "anyOf" || problem.keyword === "oneOf";
}

/**
 * The single most useful problem of one location. A wrong type explains everything else,
 * unless the location is a union (anyOf/oneOf) where another branch had the right type:
 * then that branch's complaint is the useful one.
 */
function merge(group: readonly Problem[], union: boolean): Problem | undefined {
  const types = group.filter((problem) => problem.keyword === "type");
  const firstType = types[0];
  const others = group.filter((problem) => problem.keyword !== "type");
  if (firstType !== undefined && !(union && others.length > 0)) {
    // A value of the wrong kind: nothing else about it matters.
    const allowed = [...new Set(types.flatMap((problem) => problem.types ?? []))];
    return { ...firstType, types: allowed, message: typeMessage(allowed, firstType.actual) };
  }
  const required = others.filter((problem) => problem.keyword === "required");
  const firstRequired = required[0];
  if (firstRequired !== undefined) {
    const missing = [...new Set(required.flatMap((problem) => problem.missing ?? []))];
    return { ...firstRequired, missing, message: requiredMessage(missing) };
  }
  return [...others].sort((a, b) => rankOf(a) - rankOf(b))[0];
}

function requiredMessage(missing: readonly string[]): string {
  const names = missing.map((name) => JSON.stringify(name)).join(", ");
  return missing.length === 1 ? `missing required property ${names}` : `missing required properties ${names}`;
}

const typeNames: Readonly<Record<string, string>> = {
  object: "mapping",
  array: "list",
  string: "string",
  integer: "integer",
  number: "number",
  boolean: "boolean",
  null: "null",
};

function typeMessage(types: readonly string[], actual: unknown): string {
  // null reads best last ("a string, list or null"), and without an article.
  const names = [...types].sort((a, b) => Number(a === "null") - Number(b === "null")).map((type) => typeNames[type] ?? type);
  const head = names.slice(0, -1).join(", ");
  const last = names[names.length - 1] ?? "";
  const listed = head === "" ? last : `${head} or ${last}`;
  const article = names[0] === "null" ? "" : /^[aeiou]/.test(listed) ? "an " : "a ";
  return `must be ${article}${listed}, not ${describeValue(actual)}`;
}

/** `stop_grace_period: 10` needs a unit; `version: 3.8` needs quotes. */
function typeHint(types: readonly string[], segments: readonly PathSegment[], value: unknown): string | undefined {
  const format = nodeAt(segments)?.format;
  const formatHint = format === undefined ? undefined : formatWording[format]?.hint;
  if (formatHint !== undefined) return formatHint;
  const scalar = typeof value === "number" || typeof value === "boolean";
  return scalar && types.includes("string") ? "quote the value to make it a string" : undefined;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  if (typeof value === "boolean") return "a boolean";
  return "a string";
}

function toList(value: unknown): string[] {
  return Array.isArray(value) ? value.map((item) => String(item)) : [String(value)];
}

/** Instance path (JSON pointer) → path segments, telling list indexes from mapping keys by the data. */
function locate(root: unknown, pointer: string): { segments: PathSegment[]; value: unknown } {
  const segments: PathSegment[] = [];
  let value: unknown = root;
  if (pointer === "") return { segments, value };
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value)) {
      const index = Number(key);
      segments.push(index);
      value = value[index];
    } else {
      segments.push(key);
      value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    }
  }
  return { segments, value };
}

// ---------------------------------------------------------------------------------------------
// The schema node that governs a value, for hints (ajv's schemaPath restarts inside each $ref).

function resolve(node: SchemaNode | boolean | undefined): SchemaNode | undefined {
  let current = typeof node === "object" ? node : undefined;
  for (let depth = 0; current?.$ref !== undefined && depth < 16; depth++) {
    const name = current.$ref.replace(/^#\/definitions\//, "");
    current = schemaTree.definitions?.[name];
  }
  return current;
}

/** Unions are type lists, never oneOf, so the path alone picks the node: indexes go to items. */
function nodeAt(segments: readonly PathSegment[]): SchemaNode | undefined {
  let node = resolve(schemaTree);
  for (const segment of segments) {
    if (node === undefined) return undefined;
    node = resolve(typeof segment === "number" ? node.items : childSchema(node, segment));
  }
  return node;
}

function childSchema(node: SchemaNode, key: string): SchemaNode | boolean | undefined {
  const declared = node.properties?.[key];
  if (declared !== undefined) return declared;
  for (const [pattern, child] of Object.entries(node.patternProperties ?? {})) {
    if (new RegExp(pattern).test(key)) return child;
  }
  return node.additionalProperties;
}

function allowedProperties(segments: readonly PathSegment[]): readonly string[] {
  return Object.keys(nodeAt(segments)?.properties ?? {});
}

/** The allowed name a typo most likely meant, if any is close enough. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
