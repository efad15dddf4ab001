// Output shapes of the container and volume commands, as the docker CLI prints them: tables
// through a tabwriter (min width 10, padding 3), `--format json` as one object per line, and the
// Go-template subset scripts use (`{{.Field}}`, `{{.A.B}}`, `{{json .}}`, `{{json .X}}`,
// `{{index .Labels "k"}}`, `{{.Label "k"}}`, `table` prefixes, `\t` and `\n`).

import { BerthError } from "../../errors.js";
import { humanDuration, humanSize, type ContainerSummary, type MountView } from "../../runtime/index.js";

export const FormatErrorCode = "E_CLI_FORMAT";

/** Go's text/tabwriter as the docker CLI configures it: cell = text + padding, at least minWidth; no padding after the last column. */
export function renderTable(rows: readonly (readonly string[])[], minWidth = 10, padding = 3): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      if (index < row.length - 1) widths[index] = Math.max(widths[index] ?? 0, Math.max(minWidth, cell.length + padding));
    });
  }
  return rows.map((row) => row.map((cell, index) => (index < row.length - 1 ? cell.padEnd(widths[index] ?? 0) : cell)).join("").trimEnd()).map((line) => `${line}\n`).join("");
}

/** Go's fmt of a template value: strings bare, arrays `[a b]`, maps `map[k:v]`, missing `<no value>`. */
export function goValue(value: unknown): string {
  if (value === undefined) return "<no value>";
  if (value === null) return "<nil>";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return `[${value.map(goValue).join(" ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `map[${entries.map(([key, item]) => `${key}:${goValue(item)}`).join(" ")}]`;
  }
  return String(value);
}

function lookup(data: unknown, pathText: string): unknown {
  if (pathText === ".") return data;
  let current: unknown = data;
  for (const part of pathText.replace(/^\./, "").split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function evaluate(action: string, data: unknown): string {
  const trimmed = action.trim();
  const words = trimmed.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  const literal = (word: string | undefined): string => (word !== undefined && word.startsWith('"') ? (JSON.parse(word) as string) : "");
  const [head, ...rest] = words;
  if (head === "json") return JSON.stringify(lookup(data, rest[0] ?? ".")) ?? "null";
  if (head === "index") {
    const container = lookup(data, rest[0] ?? ".");
    const key = literal(rest[1]);
    return goValue(container !== null && typeof container === "object" ? (container as Record<string, unknown>)[key] : undefined);
  }
  if (head === "upper") return goValue(lookup(data, rest[0] ?? ".")).toUpperCase();
  if (head === "lower") return goValue(lookup(data, rest[0] ?? ".")).toLowerCase();
  if (head === "join") {
    const list = lookup(data, rest[0] ?? ".");
    return Array.isArray(list) ? list.map(goValue).join(literal(rest[1])) : goValue(list);
  }
  if (head !== undefined && head.startsWith(".")) {
    // `.Label "key"`: a method of the row context.
    if (rest.length === 1 && head === ".Label") {
      const labels = lookup(data, ".LabelMap");
      return goValue(labels !== null && typeof labels === "object" ? ((labels as Record<string, unknown>)[literal(rest[0])] ?? "") : "");
    }
    return goValue(lookup(data, head));
  }
  throw new BerthError(FormatErrorCode, `template: unsupported action {{${trimmed}}}`);
}

/** Render a Go-template subset against `data`. */
export function renderTemplate(template: string, data: unknown): string {
  const text = template.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
  return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, action: string) => evaluate(action, data));
}

export type OutputFormat = { readonly kind: "table"; readonly template?: string } | { readonly kind: "json" } | { readonly kind: "template"; readonly template: string };

export function parseFormat(format: string | undefined): OutputFormat {
  if (format === undefined || format === "" || format === "table") return { kind: "table" };
  if (format === "json") return { kind: "json" };
  if (format.startsWith("table ")) return { kind: "table", template: format.slice(6) };
  return { kind: "template", template: format };
}

/** A table whose columns come from a template (`table {{.ID}}\t{{.Names}}`): headers are the field names upper-cased as docker does. */
export function renderTemplateTable(template: string, rows: readonly Record<string, unknown>[], headers: Readonly<Record<string, string>>): string {
  const cells = template.replaceAll("\\t", "\t").split("\t");
  const headerRow = cells.map((cell) => cell.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, name: string) => headers[name] ?? name.toUpperCase()));
  return renderTable([headerRow, ...rows.map((row) => cells.map((cell) => renderTemplate(cell, row)))]);
}

/** Go's time.Time.String() for a Unix time, in UTC: `2024-05-02 12:21:53 +0000 UTC`. */
export function goTime(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}

/** The docker CLI's Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis(text: string, max: number): string {
  const characters = [...text];
  return characters.length <= max ? text : `${characters.slice(0, max - 1).join("")}…`;
}

/** One entry of the Engine API's container list `Ports`. */
export interface PortSummary {
  readonly IP?: string;
  readonly PrivatePort: number;
  readonly PublicPort?: number;
  readonly Type: string;
}

/** Go's net.JoinHostPort: IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: string | number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** netip.Addr ordering: no address, then IPv4, then IPv6, each by value. */
function addressKey(ip: string | undefined): [number, bigint] {
  if (ip === undefined || ip === "") return [0, 0n];
  if (!ip.includes(":")) return [1, ip.split(".").reduce((value, octet) => (value << 8n) | BigInt(Number(octet) || 0), 0n)];
  const [head = "", tail] = ip.split("::");
  const groups = (text: string): string[] => (text === "" ? [] : text.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return [2, all.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16) || 0), 0n)];
}

function comparePorts(a: PortSummary, b: PortSummary): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  if ((a.IP ?? "") !== (b.IP ?? "")) {
    const [familyA, valueA] = addressKey(a.IP);
    const [familyB, valueB] = addressKey(b.IP);
    if (familyA !== familyB) return familyA - familyB;
    if (valueA !== valueB) return valueA < valueB ? -1 : 1;
  }
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

/**
 * docker ps's PORTS column (the CLI's DisplayablePorts): ports published on the same number and
 * exposed-only ports are grouped into consecutive ranges per address and protocol
 * (`0.0.0.0:8080-8081->8080-8081/tcp`, `80-81/tcp`); a port published on another number is
 * listed on its own after the groups (`127.0.0.1:9000->90/udp`), as docker lists it.
 */
export function displayablePorts(ports: readonly PortSummary[]): string {
  const sorted = [...ports].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, first: number, last: number): string => {
    const slash = key.lastIndexOf("/");
    const ip = slash < 0 ? "" : key.slice(0, slash);
    const type = slash < 0 ? key : key.slice(slash + 1);
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip !== "") group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const port of sorted) {
    const current = port.PrivatePort;
    let key = port.Type;
    if (port.IP !== undefined && port.IP !== "") {
      if (port.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(port.IP, port.PublicPort ?? 0)}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    groups.set(key, { first: current, last: current });
  }
  // A Map keeps its first insertion order when a key is set again, as docker's key list does.
  for (const [key, group] of groups) result.push(formGroup(key, group.first, group.last));
  return [...result, ...hostMappings].join(", ");
}

/** fvbommel/sortorder's NaturalLess as a comparator: digit runs compare as numbers, digits sort before other characters. */
export function naturalCompare(a: string, b: string): number {
  const isDigit = (text: string, index: number): boolean => {
    const code = text.charCodeAt(index);
    return code >= 48 && code <= 57;
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const digitA = isDigit(a, i);
    const digitB = isDigit(b, j);
    if (digitA !== digitB) return digitA ? -1 : 1;
    if (!digitA) {
      if (a[i] !== b[j]) return (a[i] ?? "") < (b[j] ?? "") ? -1 : 1;
      i++;
      j++;
      continue;
    }
    while (i < a.length && a[i] === "0") i++;
    while (j < b.length && b[j] === "0") j++;
    const startA = i;
    const startB = j;
    while (i < a.length && isDigit(a, i)) i++;
    while (j < b.length && isDigit(b, j)) j++;
    if (i - startA !== j - startB) return i - startA - (j - startB);
    const numberA = a.slice(startA, i);
    const numberB = b.slice(startB, j);
    if (numberA !== numberB) return numberA < numberB ? -1 : 1;
    if (startA !== startB) return startA - startB;
  }
  // Identical so far and one has ended: the shorter sorts first.
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** docker ps's row context (the fields its table and `--format json` use). */
export function containerRow(summary: ContainerSummary, options: { readonly truncate: boolean; readonly nowMs: number }): Record<string, unknown> {
  const { truncate, nowMs } = options;
  const mountNames = summary.Mounts.map((mount: MountView) => {
    const name = mount.Name !== undefined && mount.Name !== "" ? mount.Name : mount.Source;
    return truncate ? ellipsis(name, 15) : name;
  });
  const labels = Object.entries(summary.Labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return {
    Command: JSON.stringify(truncate ? ellipsis(summary.Command, 20) : summary.Command),
    CreatedAt: goTime(summary.Created),
    ID: truncate ? summary.Id.slice(0, 12) : summary.Id,
    Image: summary.Image,
    Labels: labels,
    LocalVolumes: String(summary.Mounts.filter((mount) => mount.Driver === "local").length),
    Mounts: mountNames.join(","),
    Names: summary.Names.map((name) => name.replace(/^\//, "")).join(","),
    Networks: Object.keys(summary.NetworkSettings.Networks).sort().join(","),
    Ports: displayablePorts(summary.Ports as readonly PortSummary[]),
    RunningFor: `${humanDuration(Math.max(0, nowMs - summary.Created * 1000))} ago`,
    Size: "0B",
    State: summary.State,
    Status: summary.Status,
    LabelMap: summary.Labels,
  };
}

export const containerHeaders: Readonly<Record<string, string>> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Status: "STATUS",
  Ports: "PORTS",
  Names: "NAMES",
  State: "STATE",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
  LocalVolumes: "LOCAL VOLUMES",
  Size: "SIZE",
};

/** Rows in the requested format; `json` drops the helper fields. */
export function renderRows(
  rows: readonly Record<string, unknown>[],
  format: OutputFormat,
  table: { readonly columns: readonly string[]; readonly headers: Readonly<Record<string, string>> },
): string {
  const publicRow = (row: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(row).filter(([key]) => key !== "LabelMap").sort(([a], [b]) => (a < b ? -1 : 1)));
  switch (format.kind) {
    case "json":
      return rows.map((row) => `${JSON.stringify(publicRow(row))}\n`).join("");
    case "template":
      return rows.map((row) => `${renderTemplate(format.template, row)}\n`).join("");
    case "table":
      if (format.template !== undefined) return renderTemplateTable(format.template, rows, table.headers);
      return renderTable([table.columns.map((column) => table.headers[column] ?? column), ...rows.map((row) => table.columns.map((column) => goValue(row[column])))]);
  }
}

export { humanSize };
