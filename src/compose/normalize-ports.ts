// `ports`: every short form becomes Compose's long form, one entry per container port
// (compose-go transform/ports.go + types.ParsePortConfig over docker/go-connections nat 0.4.0),
// long entries get `protocol: tcp` and `mode: ingress` (transform/defaults.go portDefaults),
// `host_ip` must be an IP (validation/validation.go), and duplicates revealed by the expansion
// are dropped, the later entry taking the earlier one's place (override/uncity.go portIndexer).

import { isMapping, joinPath, type Mapping } from "./document.js";
import { normalizeError, relocate, type Moves, type NormalizeScope } from "./normalize-tree.js";
import { isIpAddress } from "./units.js";

/** `services.*.ports`: expand short syntax, then drop duplicates. */
export function canonicalPorts(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (!Array.isArray(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for port`);
  const expanded: Mapping[] = [];
  const sources: number[] = [];
  for (let index = 0; index < value.length; index++) {
    const entry: unknown = value[index];
    if (isMapping(entry)) {
      expanded.push(entry);
      sources.push(index);
      continue;
    }
    let spec: string;
    if (typeof entry === "string") spec = entry;
    else if (typeof entry === "number" && Number.isInteger(entry)) spec = String(entry);
    else throw normalizeError(scope, joinPath(path, index), `${path}: invalid type ${typeName(entry)} for port`);
    let parsed: Mapping[];
    try {
      parsed = parsePortSpec(spec);
    } catch (error) {
      throw normalizeError(scope, joinPath(path, index), (error as Error).message);
    }
    for (let item = 0; item < parsed.length; item++) {
      expanded.push(parsed[item] as Mapping);
      sources.push(index);
    }
  }
  // Later duplicates replace earlier ones in place.
  if (expanded.length <= 1) {
    relocate(scope, path, value, portMoves, { ports: expanded, sources });
    return expanded;
  }
  const unique: Mapping[] = [];
  const uniqueSources: number[] = [];
  const seen = new Map<string, number>();
  expanded.forEach((port, index) => {
    const key = portKey(port);
    const existing = seen.get(key);
    if (existing === undefined) {
      seen.set(key, unique.length);
      unique.push(port);
      uniqueSources.push(sources[index] ?? index);
    } else {
      unique[existing] = port;
      uniqueSources[existing] = sources[index] ?? index;
    }
  });
  relocate(scope, path, value, portMoves, { ports: unique, sources: uniqueSources });
  return unique;
}

/** Each port to its index, from the entry it was read from. */
const portMoves: Moves<{ readonly ports: readonly Mapping[]; readonly sources: readonly number[] }> = (_list, { ports, sources }) =>
  ports.map((port, index) => [index, sources[index] ?? index, port] as const);

/** `services.*.ports.*`: defaults and the host_ip check. */
export function portDefaults(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (!isMapping(value)) return value;
  const hostIp = value["host_ip"];
  if (hostIp !== undefined && (typeof hostIp !== "string" || !isIpAddress(hostIp))) {
    throw normalizeError(scope, joinPath(path, "host_ip"), `${path}: invalid ip address: ${String(hostIp)}`);
  }
  if (value["protocol"] !== undefined && value["mode"] !== undefined) return value;
  return { ...value, protocol: value["protocol"] ?? "tcp", mode: value["mode"] ?? "ingress" };
}

function portKey(port: Mapping): string {
  const host = port["host_ip"] ?? "0.0.0.0";
  const published = port["published"] ?? "";
  const protocol = port["protocol"] ?? "tcp";
  return `${String(host)}:${String(published)}:${String(port["target"])}/${String(protocol)}`;
}

/**
 * One short port spec (`[ip:][host[-host]:]container[-container][/proto]`) → long entries,
 * sorted by `<port>/<proto>` as text, as Compose orders them.
 */
export function parsePortSpec(raw: string): Mapping[] {
  // Most specs are `published:target` or `target` in plain digits: the general path below gives
  // this, one entry (it costs a dozen splits, tests and arrays, once per port, in cold code).
  const simple = simplePort.exec(raw);
  if (simple !== null) {
    const target = Number(simple[2]);
    const published = simple[1] === undefined ? undefined : Number(simple[1]);
    if (target <= 65535 && (published === undefined || published <= 65535)) {
      return [published === undefined ? { mode: "ingress", target, protocol: "tcp" } : { mode: "ingress", target, published: String(published), protocol: "tcp" }];
    }
  }
  const parts = raw.split(":");
  const count = parts.length;
  let rawIp = "";
  let hostPort = "";
  const containerSpec = parts[count - 1] ?? "";
  if (count === 2) hostPort = parts[0] ?? "";
  else if (count === 3) {
    rawIp = parts[0] ?? "";
    hostPort = parts[1] ?? "";
  } else if (count > 3) {
    rawIp = parts.slice(0, count - 2).join(":");
    hostPort = parts[count - 2] ?? "";
  }
  const [protocolText, containerPort] = splitProtocol(containerSpec);
  const ip = stripIpBrackets(rawIp);
  if (ip !== "" && !isIpAddress(ip)) throw new Error(`Invalid ip address: ${ip}`);
  if (containerPort === "") throw new Error(`No port specified: ${raw}<empty>`);
  const container = parsePortRange(containerPort, `Invalid containerPort: ${containerPort}`);
  let host: readonly [number, number] = [0, 0];
  if (hostPort !== "") host = parsePortRange(hostPort, `Invalid hostPort: ${hostPort}`);
  const containerSpan = container[1] - container[0];
  if (hostPort !== "" && containerSpan !== host[1] - host[0] && containerSpan !== 0) {
    throw new Error(`Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const protocol = protocolText.toLowerCase();
  if (protocol !== "tcp" && protocol !== "udp" && protocol !== "sctp") throw new Error(`Invalid proto: ${protocolText}`);
  const ports: { key: string; entry: Mapping }[] = [];
  for (let offset = 0; offset <= containerSpan; offset++) {
    const target = container[0] + offset;
    let published = hostPort === "" ? "" : String(host[0] + offset);
    // A single container port with a host range: the range is where Docker picks from.
    if (containerSpan === 0 && host[0] !== host[1]) published = `${published}-${host[1]}`;
    const entry: Mapping = { mode: "ingress" };
    if (ip !== "") entry["host_ip"] = ip;
    entry["target"] = target;
    if (published !== "") entry["published"] = published;
    entry["protocol"] = protocol;
    ports.push({ key: `${target}/${protocol}`, entry });
  }
  ports.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return ports.map((port) => port.entry);
}

const simplePort = /^(?:([0-9]+):)?([0-9]+)$/;

function splitProtocol(spec: string): [protocol: string, port: string] {
  const parts = spec.split("/");
  const port = parts[0] ?? "";
  if (spec === "" || port === "") return ["", ""];
  if (parts.length === 1) return ["tcp", spec];
  const protocol = parts[1] ?? "";
  return [protocol === "" ? "tcp" : protocol, port];
}

/** `[::1]` → `::1`, as Go's net.SplitHostPort does for `<ip>:`. */
function stripIpBrackets(rawIp: string): string {
  if (!rawIp.startsWith("[")) {
    if (rawIp.includes(":")) throw new Error(`Invalid ip address ${rawIp}: address ${rawIp}:: too many colons in address`);
    return rawIp;
  }
  const end = rawIp.indexOf("]");
  if (end !== rawIp.length - 1 || rawIp.indexOf("[", 1) >= 0) {
    throw new Error(`Invalid ip address ${rawIp}: address ${rawIp}: missing ']' in address`);
  }
  return rawIp.slice(1, end);
}

function parsePortRange(text: string, message: string): readonly [number, number] {
  const parse = (part: string): number => {
    if (!/^[0-9]+$/.test(part)) throw new Error(message);
    const number = Number(part);
    if (number > 65535) throw new Error(message);
    return number;
  };
  if (!text.includes("-")) {
    const port = parse(text);
    return [port, port];
  }
  const [first = "", second = ""] = text.split("-");
  const start = parse(first);
  const end = parse(second);
  if (end < start) throw new Error(message);
  return [start, end];
}

export function typeName(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return "[]interface {}";
  if (isMapping(value)) return "map[string]interface {}";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float64";
  if (typeof value === "boolean") return "bool";
  return typeof value;
}
