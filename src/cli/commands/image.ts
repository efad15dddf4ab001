// `berth image ls|rm|tag|inspect|prune|load|save`: thin layers over the image store that print
// what Docker's CLI prints (tables through a tabwriter like Docker's, `--format json` as one
// object per line, Go-style templates for the common cases).

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isatty } from "node:tty";
import { BerthError } from "../../errors.js";
import {
  familiarString,
  createEngine,
  parseReference,
  runtimePaths,
  type ImageStore,
  type ImageSummary,
} from "../../runtime/index.js";
import { printResult } from "../output.js";
import { compareText } from "../../compare.js";

/**
 * The engine's view of the store: `image rm` refuses (without -f) and `image prune` keeps images
 * that containers use.
 */
function openStore(): ImageStore {
  return createEngine({ paths: runtimePaths(process.env) }).images;
}

// ---------------------------------------------------------------- Docker's formatting helpers

/** Go's `%.<precision>g`. */
export function formatGeneral(value: number, precision: number): string {
  if (value === 0) return "0";
  const [mantissa = "0", exponentText = "0"] = value.toExponential(precision - 1).split("e");
  const exponent = Number(exponentText);
  const strip = (text: string): string => (text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
  if (exponent < -4 || exponent >= precision) {
    return `${strip(mantissa)}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return strip(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

/** go-units HumanSizeWithPrecision: decimal units (kB, MB, …). */
export function humanSize(bytes: number, precision = 3): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${formatGeneral(size, precision)}${units[unit]}`;
}

/** go-units HumanDuration. */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.trunc(milliseconds / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(milliseconds / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(milliseconds / 3_600_000 / 24 / 365)} years`;
}

/** Go's time.Time.String() in local time: `2023-07-18 23:19:33 +0000 UTC`. */
function goTimeString(seconds: number): string {
  const date = new Date(seconds * 1000);
  const pad = (value: number): string => String(value).padStart(2, "0");
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? "-" : "+";
  const offset = `${sign}${pad(Math.trunc(Math.abs(offsetMinutes) / 60))}${pad(Math.abs(offsetMinutes) % 60)}`;
  const zone =
    new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date).find((part) => part.type === "timeZoneName")?.value ??
    "UTC";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(
    date.getSeconds(),
  )} ${offset} ${zone}`;
}

/** JSON as Go's encoding/json writes it: `<`, `>` and `&` escaped. */
function goJson(value: unknown, indent?: string): string {
  return JSON.stringify(value, null, indent).replace(/[<>&]/g, (character) => `\\u00${character.charCodeAt(0).toString(16)}`);
}

/** Docker's tabwriter (minwidth 10, padding 3): every cell but a line's last is padded. */
function renderTable(lines: readonly string[]): string {
  const rows = lines.map((line) => line.split("\t"));
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 10, [...cell].length + 3);
    });
  }
  return rows.map((row) => row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column] ?? 10) : cell)).join("")).join("\n");
}

// ---------------------------------------------------------------- Go-style templates (a subset)

function goValueString(value: unknown): string {
  if (value === undefined || value === null) return "<no value>";
  if (Array.isArray(value)) return `[${value.map(goValueString).join(" ")}]`;
  if (typeof value === "object") {
    return `map[${Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => compareText(a, b))
      .map(([key, entry]) => `${key}:${goValueString(entry)}`)
      .join(" ")}]`;
  }
  return String(value);
}

function templateError(message: string): BerthError {
  return new BerthError("E_CLI_USAGE", `template: ${message}`);
}

function evaluateArgument(argument: string, data: unknown): unknown {
  if (argument === ".") return data;
  if (argument.startsWith(".")) {
    let value: unknown = data;
    for (const key of argument.slice(1).split(".")) {
      value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value;
  }
  if (/^".*"$/.test(argument)) return JSON.parse(argument) as string;
  if (/^-?\d+$/.test(argument)) return Number(argument);
  throw templateError(`unsupported argument ${argument}`);
}

function evaluateAction(action: string, data: unknown): string {
  const words = action.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  const [head, ...rest] = words;
  const args = rest.map((word) => evaluateArgument(word, data));
  switch (head) {
    case undefined:
      return "";
    case "json":
      return goJson(args[0]);
    case "upper":
      return goValueString(args[0]).toUpperCase();
    case "lower":
      return goValueString(args[0]).toLowerCase();
    case "len":
      return String(Array.isArray(args[0]) || typeof args[0] === "string" ? args[0].length : Object.keys((args[0] as object) ?? {}).length);
    case "join":
      return (Array.isArray(args[0]) ? args[0] : []).map(goValueString).join(String(args[1] ?? ""));
    case "index": {
      const container = args[0];
      const key = args[1];
      const value = Array.isArray(container) ? container[Number(key)] : (container as Record<string, unknown> | undefined)?.[String(key)];
      return goValueString(value);
    }
    default:
      if (rest.length > 0) throw templateError(`function ${JSON.stringify(head)} not defined`);
      return goValueString(evaluateArgument(head, data));
  }
}

/** Renders `{{…}}` actions; `\t` and `\n` escapes are expanded as Docker does. */
export function renderTemplate(template: string, data: unknown): string {
  const expanded = template.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
  return expanded.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_match, action: string) => evaluateAction(action, data));
}

// ---------------------------------------------------------------- image ls

interface ImageRow {
  readonly summary: ImageSummary;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}

function rowsOf(summary: ImageSummary, showDigests: boolean): ImageRow[] {
  if (summary.RepoTags.length === 0 && summary.RepoDigests.length === 0) {
    return [{ summary, repository: "<none>", tag: "<none>", digest: "<none>" }];
  }
  const tagsByRepository = new Map<string, string[]>();
  for (const repoTag of summary.RepoTags) {
    const reference = parseReference(repoTag);
    const repository = familiarString({ ...reference, tag: undefined, digest: undefined });
    if (reference.tag !== undefined) tagsByRepository.set(repository, [...(tagsByRepository.get(repository) ?? []), reference.tag]);
  }
  const digestsByRepository = new Map<string, string[]>();
  for (const repoDigest of summary.RepoDigests) {
    const reference = parseReference(repoDigest);
    const repository = familiarString({ ...reference, tag: undefined, digest: undefined });
    if (reference.digest !== undefined) digestsByRepository.set(repository, [...(digestsByRepository.get(repository) ?? []), reference.digest]);
  }
  const rows: ImageRow[] = [];
  for (const [repository, tags] of [...tagsByRepository].sort(([a], [b]) => compareText(a, b))) {
    const digests = showDigests ? (digestsByRepository.get(repository) ?? []) : [];
    digestsByRepository.delete(repository);
    for (const tag of tags.sort()) {
      if (digests.length === 0) rows.push({ summary, repository, tag, digest: "<none>" });
      for (const digest of digests) rows.push({ summary, repository, tag, digest });
    }
  }
  for (const [repository, digests] of [...digestsByRepository].sort(([a], [b]) => compareText(a, b))) {
    if (showDigests) for (const digest of digests) rows.push({ summary, repository, tag: "<none>", digest });
    else rows.push({ summary, repository, tag: "<none>", digest: "" });
  }
  return rows;
}

function rowContext(row: ImageRow, truncate: boolean, now: number): Record<string, string> {
  const { summary } = row;
  return {
    Containers: summary.Containers === -1 ? "N/A" : String(summary.Containers),
    CreatedAt: goTimeString(summary.Created),
    CreatedSince: `${humanDuration(now - summary.Created * 1000)} ago`,
    Digest: row.digest,
    ID: truncate ? summary.Id.replace(/^sha256:/, "").slice(0, 12) : summary.Id,
    Repository: row.repository,
    SharedSize: summary.SharedSize === -1 ? "N/A" : humanSize(summary.SharedSize, 4),
    Size: humanSize(summary.Size),
    Tag: row.tag,
    UniqueSize: summary.SharedSize === -1 ? "N/A" : humanSize(summary.Size - summary.SharedSize, 4),
    VirtualSize: humanSize(summary.Size, 4),
  };
}

const listHeaders: Record<string, string> = {
  Containers: "CONTAINERS",
  CreatedAt: "CREATED AT",
  CreatedSince: "CREATED",
  Digest: "DIGEST",
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE",
  Size: "SIZE",
  Tag: "TAG",
  UniqueSize: "UNIQUE SIZE",
  VirtualSize: "SIZE",
};

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*").replaceAll("?", "[^/]");
  return new RegExp(`^${body}$`);
}

type SummaryFilter = (summary: ImageSummary, rows: ImageRow[]) => ImageRow[];

function parseFilters(filters: readonly string[], summaries: readonly ImageSummary[], store: ImageStore): Promise<SummaryFilter[]> {
  return Promise.all(
    filters.map(async (filter): Promise<SummaryFilter> => {
      const equals = filter.indexOf("=");
      if (equals === -1) throw new BerthError("E_CLI_USAGE", `bad format of filter (expected name=value): ${filter}`);
      const key = filter.slice(0, equals).toLowerCase();
      const value = filter.slice(equals + 1);
      switch (key) {
        case "dangling": {
          if (value !== "true" && value !== "false" && value !== "1" && value !== "0") {
            throw new BerthError("E_CLI_USAGE", `invalid filter 'dangling=${value}'`);
          }
          const wanted = value === "true" || value === "1";
          return (summary, rows) => ((summary.RepoTags.length === 0) === wanted ? rows : []);
        }
        case "label": {
          const [labelKey = "", labelValue] = value.split(/=(.*)/s);
          return (summary, rows) =>
            labelKey in summary.Labels && (labelValue === undefined || summary.Labels[labelKey] === labelValue) ? rows : [];
        }
        case "reference": {
          const pattern = globToRegExp(value);
          return (_summary, rows) =>
            rows.filter((row) => row.repository !== "<none>" && (pattern.test(row.repository) || pattern.test(`${row.repository}:${row.tag}`)));
        }
        case "before":
        case "since": {
          const reference = (await store.inspect(value)).Id;
          const pivot = summaries.find((summary) => summary.Id === reference)?.Created ?? 0;
          return (summary, rows) => ((key === "before" ? summary.Created < pivot : summary.Created > pivot) ? rows : []);
        }
        default:
          throw new BerthError("E_CLI_USAGE", `invalid filter '${key}'`);
      }
    }),
  );
}

export async function runImageList(repository: string | undefined, raw: Record<string, unknown>): Promise<void> {
  const options = raw as { all: boolean; digests: boolean; filter: string[]; format?: string; trunc: boolean; quiet: boolean };
  const store = openStore();
  const summaries = await store.list();
  const filters = await parseFilters(options.filter, summaries, store);
  if (repository !== undefined) filters.push(...(await parseFilters([`reference=${repository}`], summaries, store)));
  const format = options.format ?? "table";
  const showDigests = options.digests || format.includes("{{.Digest}}");
  const rows = summaries.flatMap((summary) => filters.reduce((current, filter) => filter(summary, current), rowsOf(summary, showDigests)));
  const now = Date.now();
  const contexts = rows.map((row) => rowContext(row, options.trunc, now));
  if (options.quiet) {
    printResult(contexts.map((context) => context["ID"]).join("\n"));
    return;
  }
  if (format === "json") {
    printResult(contexts.map((context) => goJson(context)).join("\n"));
    return;
  }
  if (format.startsWith("table")) {
    const template =
      format.slice("table".length).trim() ||
      (options.digests
        ? "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        : "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}");
    const lines = [renderTemplate(template, listHeaders), ...contexts.map((context) => renderTemplate(template, context))];
    printResult(renderTable(lines));
    return;
  }
  printResult(contexts.map((context) => renderTemplate(format, context)).join("\n"));
}

// ---------------------------------------------------------------- rm, tag, inspect, prune

/** Runs `action` per item, printing what succeeded; failures are reported together at the end (exit 1). */
async function eachReporting(items: readonly string[], action: (item: string) => Promise<void>): Promise<void> {
  const failures: BerthError[] = [];
  for (const item of items) {
    try {
      await action(item);
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    const first = failures[0] as BerthError;
    throw new BerthError(first.code, failures.map((failure) => failure.message).join("\n"), { cause: first });
  }
}

export async function runImageRemove(images: readonly string[], options: { force: boolean }): Promise<void> {
  const store = openStore();
  await eachReporting(images, async (image) => {
    const lines = await store.remove(image, { force: options.force });
    printResult(lines.join("\n"));
  });
}

export async function runImageTag(source: string, target: string): Promise<void> {
  await openStore().tag(source, target);
}

export async function runImageInspect(images: readonly string[], options: { format?: string }): Promise<void> {
  const store = openStore();
  const found: unknown[] = [];
  try {
    await eachReporting(images, async (image) => {
      found.push(await store.inspect(image));
    });
  } finally {
    if (options.format === undefined) printResult(goJson(found, "    "));
    else if (options.format === "json") printResult(found.map((value) => goJson(value)).join("\n"));
    else printResult(found.map((value) => renderTemplate(options.format ?? "", value)).join("\n"));
  }
}

function confirm(question: string): boolean {
  process.stdout.write(`${question} [y/N] `);
  const buffer = Buffer.alloc(1024);
  let answer = "";
  try {
    for (;;) {
      const count = readSync(0, buffer, 0, buffer.length, null);
      if (count === 0) break;
      answer += buffer.subarray(0, count).toString("utf8");
      if (answer.includes("\n")) break;
    }
  } catch {
    return false;
  }
  return /^\s*y(es)?\s*$/i.test(answer.split("\n")[0] ?? "");
}

export async function runImagePrune(options: { all: boolean; force: boolean }): Promise<void> {
  const warning = options.all
    ? "WARNING! This will remove all images without at least one container associated to them."
    : "WARNING! This will remove all dangling images.";
  if (!options.force && !confirm(`${warning}\nAre you sure you want to continue?`)) return;
  const report = await openStore().pruneWithReport({ all: options.all });
  const lines = report.lines.map((line) => line.replace(/^Untagged:/, "untagged:").replace(/^Deleted:/, "deleted:"));
  const deleted = lines.length > 0 ? `Deleted Images:\n${lines.join("\n")}\n\n` : "";
  printResult(`${deleted}Total reclaimed space: ${humanSize(report.reclaimedBytes)}`);
}

// ---------------------------------------------------------------- load, save

export async function runImageLoad(options: { input?: string; quiet: boolean }): Promise<void> {
  let input = options.input;
  let temporary: string | undefined;
  if (input === undefined) {
    if (isatty(0)) {
      throw new BerthError("E_CLI_USAGE", "requested load from stdin, but stdin is empty", { hint: "use -i FILE" });
    }
    temporary = mkdtempSync(path.join(tmpdir(), "berth-load-"));
    input = path.join(temporary, "stdin.tar");
    const output = openSync(input, "w", 0o600);
    try {
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      for (;;) {
        let count: number;
        try {
          count = readSync(0, buffer, 0, buffer.length, null);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
            continue;
          }
          if ((error as NodeJS.ErrnoException).code === "EOF") break;
          throw error;
        }
        if (count === 0) break;
        let written = 0;
        while (written < count) written += writeSync(output, buffer, written, count - written);
      }
    } finally {
      closeSync(output);
    }
  }
  try {
    const loaded = await openStore().load(input);
    printResult(
      loaded
        .map((name) => (name.startsWith("sha256:") ? `Loaded image ID: ${name}` : `Loaded image: ${familiarString(parseReference(name))}`))
        .join("\n"),
    );
  } finally {
    if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true });
  }
}

export async function runImageSave(images: readonly string[], options: { output?: string }): Promise<void> {
  // isatty, not process.stdout.isTTY: creating the stream would make a stdout pipe non-blocking.
  if (options.output === undefined && isatty(1)) {
    throw new BerthError("E_CLI_USAGE", "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  }
  await openStore().save(images, options.output ?? "-");
}
