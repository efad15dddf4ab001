// `berth container run|create` flags → the engine's ContainerCreateSpec, parsed the way the
// docker CLI parses them (-v and --mount syntaxes, --tmpfs, --env-file, --ulimit, --restart,
// --health-*, --log-opt, -p/--publish, --network and its per-network options, --add-host,
// sizes and durations). Pure apart from the two readers it is given.

import { isIP } from "node:net";
import path from "node:path";
import { BerthError } from "../../errors.js";
import {
  parseBytes,
  parseDurationMs,
  type ContainerCreateSpec,
  type HealthcheckSpec,
  type MountSpec,
  type NetworkAttachmentSpec,
  type PortBindingSpec,
  type Propagation,
  type ResourcesSpec,
  type RestartPolicy,
  type Ulimit,
} from "../../runtime/index.js";

import { OptionErrorCode, parseEnvEntry, parseEnvFile } from "./container-arguments.js";

export { OptionErrorCode, parseEnvEntry, parseEnvFile, parseFilters } from "./container-arguments.js";

/** The options commander hands over for run/create (kebab-case flags in camelCase). */
export interface RunFlags {
  readonly detach?: boolean;
  readonly rm?: boolean;
  readonly name?: string;
  readonly env?: readonly string[];
  readonly envFile?: readonly string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly volume?: readonly string[];
  readonly mount?: readonly string[];
  readonly tmpfs?: readonly string[];
  readonly readOnly?: boolean;
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  readonly privileged?: boolean;
  readonly memory?: string;
  readonly memorySwap?: string;
  readonly memoryReservation?: string;
  readonly cpus?: string;
  readonly cpuShares?: string;
  readonly cpuPeriod?: string;
  readonly cpuQuota?: string;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
  readonly pidsLimit?: string;
  readonly restart?: string;
  readonly healthCmd?: string;
  readonly healthInterval?: string;
  readonly healthTimeout?: string;
  readonly healthRetries?: string;
  readonly healthStartPeriod?: string;
  readonly healthStartInterval?: string;
  readonly healthcheck?: boolean; // --no-healthcheck sets false
  readonly init?: boolean;
  readonly entrypoint?: string;
  readonly label?: readonly string[];
  readonly labelFile?: readonly string[];
  /** Repeatable (one string is taken too). */
  readonly network?: string | readonly string[];
  readonly networkAlias?: readonly string[];
  readonly ip?: string;
  readonly ip6?: string;
  readonly macAddress?: string;
  readonly publish?: readonly string[];
  readonly publishAll?: boolean;
  readonly expose?: readonly string[];
  readonly dns?: readonly string[];
  readonly dnsSearch?: readonly string[];
  readonly dnsOption?: readonly string[];
  /** docker's hidden spellings of --network, --dns-option and --network-alias. */
  readonly net?: readonly string[];
  readonly dnsOpt?: readonly string[];
  readonly netAlias?: readonly string[];
  readonly addHost?: readonly string[];
  readonly hostname?: string;
  readonly domainname?: string;
  readonly groupAdd?: readonly string[];
  readonly ulimit?: readonly string[];
  readonly sysctl?: readonly string[];
  readonly shmSize?: string;
  readonly stopSignal?: string;
  readonly stopTimeout?: string;
  readonly securityOpt?: readonly string[];
  readonly tty?: boolean;
  readonly interactive?: boolean;
  readonly logOpt?: readonly string[];
  readonly logDriver?: string;
}

export interface ParseContext {
  /** The CLI's environment, for `-e NAME` and `--env-file` lines without `=`. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Reads an env or label file (relative to the working directory). */
  readonly readFile: (file: string) => string;
  readonly workingDirectory: string;
}

const usage = (message: string): BerthError => new BerthError(OptionErrorCode, message);

function integer(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw usage(`invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  return Number(value);
}

const propagations = new Set<string>(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);

/** `-v`: `DEST` (anonymous), `NAME:DEST[:OPTS]` (named volume), `/HOST:DEST[:OPTS]` (bind). */
export function parseVolumeFlag(value: string, workingDirectory: string): MountSpec {
  const parts = value.split(":");
  if (parts.length === 1) return { type: "volume", target: value };
  if (parts.length > 3 || parts.some((part) => part === "")) throw usage(`invalid spec: ${value}: empty section between colons`);
  const [source = "", target = "", optionText = ""] = parts;
  const options = optionText === "" ? [] : optionText.split(",");
  let readOnly = false;
  let propagation: Propagation | undefined;
  let noCopy = false;
  for (const option of options) {
    if (option === "ro") readOnly = true;
    else if (option === "rw") readOnly = false;
    else if (option === "nocopy") noCopy = true;
    else if (propagations.has(option)) propagation = option as Propagation;
    else if (option === "z" || option === "Z" || option === "consistent" || option === "cached" || option === "delegated") continue;
    else throw usage(`invalid mode: ${optionText}`);
  }
  if (!target.startsWith("/")) throw usage(`invalid volume specification: '${value}': invalid mount config for type "volume": invalid mount path: '${target}' mount path must be absolute`);
  const isPath = source.startsWith("/") || source.startsWith(".") || source.startsWith("~");
  if (isPath) {
    if (noCopy) throw usage(`invalid mode: ${optionText}`);
    return {
      type: "bind",
      source: path.resolve(workingDirectory, source),
      target,
      createHostPath: true,
      ...(readOnly ? { readOnly } : {}),
      ...(propagation !== undefined ? { propagation } : {}),
    };
  }
  if (propagation !== undefined) throw usage(`invalid mode: ${optionText}`);
  return { type: "volume", source, target, ...(readOnly ? { readOnly } : {}), ...(noCopy ? { noCopy } : {}) };
}

/** A CSV field list (`a=b,"c=d,e"`), as --mount takes it. */
function csvFields(value: string): string[] {
  const fields: string[] = [];
  let current = "";
  let quoted = false;
  for (const character of value) {
    if (character === '"') quoted = !quoted;
    else if (character === "," && !quoted) {
      fields.push(current);
      current = "";
    } else current += character;
  }
  fields.push(current);
  return fields.filter((field) => field !== "");
}

const truthy = (value: string | undefined): boolean => {
  if (value === undefined) return true;
  const lower = value.toLowerCase();
  if (["1", "true", "t", "yes"].includes(lower)) return true;
  if (["0", "false", "f", "no"].includes(lower)) return false;
  throw usage(`invalid value for boolean: ${value}`);
};

/** `--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…` */
export function parseMountFlag(value: string, workingDirectory: string): MountSpec {
  let type = "volume";
  let source: string | undefined;
  let target: string | undefined;
  let readOnly = false;
  let propagation: Propagation | undefined;
  let noCopy = false;
  const labels: Record<string, string> = {};
  let sizeBytes: number | undefined;
  let mode: number | undefined;
  for (const field of csvFields(value)) {
    const equals = field.indexOf("=");
    const key = (equals < 0 ? field : field.slice(0, equals)).toLowerCase();
    const fieldValue = equals < 0 ? undefined : field.slice(equals + 1);
    const need = (): string => {
      if (fieldValue === undefined) throw usage(`invalid field '${field}' must be a key=value pair`);
      return fieldValue;
    };
    switch (key) {
      case "type":
        type = need();
        break;
      case "source":
      case "src":
        source = need();
        break;
      case "target":
      case "dst":
      case "destination":
        target = need();
        break;
      case "readonly":
      case "ro":
        readOnly = truthy(fieldValue);
        break;
      case "bind-propagation":
        if (!propagations.has(need())) throw usage(`invalid propagation mode: ${fieldValue}`);
        propagation = need() as Propagation;
        break;
      case "volume-nocopy":
        noCopy = truthy(fieldValue);
        break;
      case "volume-label": {
        const label = need();
        const split = label.indexOf("=");
        labels[split < 0 ? label : label.slice(0, split)] = split < 0 ? "" : label.slice(split + 1);
        break;
      }
      case "tmpfs-size":
        sizeBytes = parseBytes(need());
        break;
      case "tmpfs-mode":
        mode = Number.parseInt(need(), 8);
        if (Number.isNaN(mode)) throw usage(`invalid value for tmpfs-mode: ${fieldValue}`);
        break;
      case "consistency":
      case "bind-nonrecursive":
        break;
      default:
        throw usage(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (target === undefined || target === "") throw usage("target is required");
  switch (type) {
    case "bind":
      if (source === undefined || source === "") throw usage(`invalid mount config for type "bind": field Source must not be empty`);
      return { type: "bind", source: path.resolve(workingDirectory, source), target, ...(readOnly ? { readOnly } : {}), ...(propagation !== undefined ? { propagation } : {}) };
    case "volume":
      return {
        type: "volume",
        ...(source !== undefined && source !== "" ? { source } : {}),
        target,
        ...(readOnly ? { readOnly } : {}),
        ...(noCopy ? { noCopy } : {}),
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
      };
    case "tmpfs":
      if (source !== undefined && source !== "") throw usage(`invalid mount config for type "tmpfs": field Source must not be specified`);
      return { type: "tmpfs", target, ...(sizeBytes !== undefined ? { sizeBytes } : {}), ...(mode !== undefined ? { mode } : {}), ...(readOnly ? { options: ["ro"] } : {}) };
    default:
      throw usage(`invalid mount type: ${type} (berth supports bind, volume and tmpfs)`);
  }
}

/** `--tmpfs /run:rw,size=64m`. */
export function parseTmpfsFlag(value: string): MountSpec {
  const colon = value.indexOf(":");
  const target = colon < 0 ? value : value.slice(0, colon);
  const options = colon < 0 ? [] : value.slice(colon + 1).split(",").filter((option) => option !== "");
  return { type: "tmpfs", target, ...(options.length > 0 ? { options } : {}) };
}

/** `--ulimit nofile=1024:2048` (soft:hard; one number sets both). */
export function parseUlimit(value: string): Ulimit {
  const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value);
  if (match === null) throw usage(`invalid ulimit argument: ${value}`);
  const soft = Number(match[2]);
  const hard = match[3] === undefined ? soft : Number(match[3]);
  if (soft > hard) throw usage(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name: match[1] ?? "", soft, hard };
}

/** `--restart no|always|unless-stopped|on-failure[:N]`. */
export function parseRestartPolicy(value: string): RestartPolicy {
  const [name = "", count] = value.split(":");
  if (name === "no" || name === "always" || name === "unless-stopped") {
    if (count !== undefined) throw usage(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
    return { name };
  }
  if (name === "on-failure") {
    if (count === undefined) return { name };
    const maximumRetryCount = integer(count, "--restart");
    if (maximumRetryCount < 0) throw usage("invalid restart policy format: maximum retry count cannot be negative");
    return { name, maximumRetryCount };
  }
  throw usage(`invalid restart policy format: ${value}`);
}

function keyValues(entries: readonly string[], flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0 && flag !== "label") throw usage(`invalid argument "${entry}" for "--${flag}": must be key=value`);
    if (equals < 0) result[entry] = "";
    else result[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return result;
}

function healthcheck(flags: RunFlags): HealthcheckSpec | undefined {
  const tuning = flags.healthInterval ?? flags.healthTimeout ?? flags.healthRetries ?? flags.healthStartPeriod ?? flags.healthStartInterval;
  if (flags.healthcheck === false) {
    if (flags.healthCmd !== undefined || tuning !== undefined) throw usage("--no-healthcheck conflicts with --health-* options");
    return { test: ["NONE"] };
  }
  if (flags.healthCmd === undefined && tuning === undefined) return undefined;
  const duration = (value: string | undefined, flag: string): number | undefined => {
    if (value === undefined) return undefined;
    const ms = parseDurationMs(value);
    if (ms < 0) throw usage(`--${flag} cannot be negative`);
    return ms;
  };
  const spec: { -readonly [K in keyof HealthcheckSpec]: HealthcheckSpec[K] } = {};
  if (flags.healthCmd !== undefined) spec.test = ["CMD-SHELL", flags.healthCmd];
  const interval = duration(flags.healthInterval, "health-interval");
  const timeout = duration(flags.healthTimeout, "health-timeout");
  const startPeriod = duration(flags.healthStartPeriod, "health-start-period");
  const startInterval = duration(flags.healthStartInterval, "health-start-interval");
  if (interval !== undefined) spec.intervalMs = interval;
  if (timeout !== undefined) spec.timeoutMs = timeout;
  if (startPeriod !== undefined) spec.startPeriodMs = startPeriod;
  if (startInterval !== undefined) spec.startIntervalMs = startInterval;
  if (flags.healthRetries !== undefined) {
    const retries = integer(flags.healthRetries, "--health-retries");
    if (retries < 0) throw usage("--health-retries cannot be negative");
    spec.retries = retries;
  }
  return spec;
}

function resources(flags: RunFlags): ResourcesSpec | undefined {
  const result: { -readonly [K in keyof ResourcesSpec]: ResourcesSpec[K] } = {};
  if (flags.memory !== undefined) result.memory = parseBytes(flags.memory);
  if (flags.memorySwap !== undefined) result.memorySwap = flags.memorySwap.trim() === "-1" ? -1 : parseBytes(flags.memorySwap);
  if (flags.memoryReservation !== undefined) result.memoryReservation = parseBytes(flags.memoryReservation);
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!Number.isFinite(cpus) || cpus < 0) throw usage(`invalid argument "${flags.cpus}" for "--cpus" flag: failed to parse ${flags.cpus} as a rational number`);
    result.nanoCpus = Math.round(cpus * 1e9);
  }
  if (flags.cpuShares !== undefined) result.cpuShares = integer(flags.cpuShares, "--cpu-shares");
  if (flags.cpuPeriod !== undefined) result.cpuPeriod = integer(flags.cpuPeriod, "--cpu-period");
  if (flags.cpuQuota !== undefined) result.cpuQuota = integer(flags.cpuQuota, "--cpu-quota");
  if (flags.cpusetCpus !== undefined) result.cpusetCpus = flags.cpusetCpus;
  if (flags.cpusetMems !== undefined) result.cpusetMems = flags.cpusetMems;
  if (flags.pidsLimit !== undefined) result.pidsLimit = integer(flags.pidsLimit, "--pids-limit");
  return Object.keys(result).length > 0 ? result : undefined;
}

function logConfig(flags: RunFlags): ContainerCreateSpec["logConfig"] {
  if (flags.logDriver !== undefined && flags.logDriver !== "json-file") {
    throw usage(`log driver ${flags.logDriver} is not supported (berth writes json-file logs)`);
  }
  let maxSize: string | undefined;
  let maxFile: number | undefined;
  for (const option of flags.logOpt ?? []) {
    const equals = option.indexOf("=");
    const key = equals < 0 ? option : option.slice(0, equals);
    const value = equals < 0 ? "" : option.slice(equals + 1);
    if (key === "max-size") {
      parseBytes(value);
      maxSize = value;
    } else if (key === "max-file") maxFile = integer(value, "--log-opt max-file");
    else throw usage(`unknown log opt '${key}' for json-file log driver`);
  }
  if (maxSize === undefined && maxFile === undefined) return undefined;
  return { ...(maxSize !== undefined ? { maxSize } : {}), ...(maxFile !== undefined ? { maxFile } : {}) };
}

// --- ports and networks --------------------------------------------------------------------

const protocols = new Set<string>(["tcp", "udp", "sctp"]);

/** Go's strconv.ParseUint(text, 10, 16), or undefined. */
function portNumber(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** `80` or `8000-8010` (go-connections' ParsePortRange), or undefined. */
function portRange(text: string): { readonly start: number; readonly end: number } | undefined {
  const dash = text.indexOf("-");
  const start = portNumber(dash < 0 ? text : text.slice(0, dash));
  const end = dash < 0 ? start : portNumber(text.slice(dash + 1));
  if (start === undefined || end === undefined || end < start) return undefined;
  return { start, end };
}

/** docker's `published=8080,target=80,protocol=udp` long form → `8080:80/udp` (convertToStandardNotation). */
function standardPublishNotation(value: string): string {
  if (!value.includes("=")) return value;
  const fields: Record<string, string> = { protocol: "tcp" };
  for (const field of value.split(",")) {
    const equals = field.indexOf("=");
    if (equals <= 0) throw usage(`invalid publish opts format (should be name=value but got '${field}')`);
    fields[field.slice(0, equals)] = field.slice(equals + 1);
  }
  if (fields["target"] === undefined) throw usage(`missing required field 'target' in publish option: ${value}`);
  return `${fields["published"] ?? ""}:${fields["target"]}/${fields["protocol"]}`;
}

/**
 * One `-p`/`--publish` value, every form docker takes (go-connections' ParsePortSpec):
 * `80`, `80-81`, `8080:80`, `8080-8081:80-81`, `8080-8090:80` (a host range to pick from),
 * `127.0.0.1:8080:80`, `127.0.0.1::80`, `[::1]:8080:80`, `/udp` and `/sctp` suffixes, and the
 * long form `published=8080,target=80,protocol=udp`. Host port absent = any free one.
 */
export function parsePublishFlag(value: string): PortBindingSpec {
  const raw = standardPublishNotation(value);
  const parts = raw.split(":");
  const last = parts.length - 1;
  const containerPart = parts[last] ?? "";
  const hostPortText = parts.length >= 2 ? (parts[last - 1] ?? "") : "";
  let hostIp = parts.length >= 3 ? parts.slice(0, last - 1).join(":") : "";
  const slash = containerPart.indexOf("/");
  const containerText = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const protocolText = slash < 0 || containerPart.slice(slash + 1) === "" ? "tcp" : containerPart.slice(slash + 1);
  if (hostIp.startsWith("[")) {
    if (!hostIp.endsWith("]")) throw usage(`invalid IP address ${hostIp}: missing ']' in address`);
    hostIp = hostIp.slice(1, -1);
  }
  if (hostIp !== "" && isIP(hostIp) === 0) throw usage(`invalid IP address: ${hostIp}`);
  if (containerText === "") throw usage(`no port specified: ${value}<empty>`);
  const container = portRange(containerText);
  if (container === undefined || container.start === 0) throw usage(`invalid containerPort: ${containerText}`);
  const host = hostPortText === "" ? undefined : portRange(hostPortText);
  if (hostPortText !== "" && host === undefined) throw usage(`invalid hostPort: ${hostPortText}`);
  if (host !== undefined && container.end !== container.start && host.end - host.start !== container.end - container.start) {
    throw usage(`invalid ranges specified for container and host Ports: ${containerText} and ${hostPortText}`);
  }
  const protocol = protocolText.toLowerCase();
  if (!protocols.has(protocol)) throw usage(`invalid proto: ${protocolText}`);
  return {
    containerPort: container.start,
    ...(container.end !== container.start ? { containerPortEnd: container.end } : {}),
    protocol: protocol as NonNullable<PortBindingSpec["protocol"]>,
    ...(hostIp !== "" ? { hostIp } : {}),
    ...(host !== undefined && host.start !== 0 ? { hostPort: host.start } : {}),
    ...(host !== undefined && host.start !== 0 && host.end !== host.start ? { hostPortEnd: host.end } : {}),
  };
}

/** `--add-host name:addr` or `name=addr` (`[v6]` brackets allowed, `host-gateway` kept) → `name:addr` (opts.ValidateExtraHost). */
export function parseExtraHost(value: string): string {
  let separator = value.indexOf("=");
  if (separator < 0) separator = value.indexOf(":");
  const name = separator < 0 ? "" : value.slice(0, separator);
  let address = separator < 0 ? "" : value.slice(separator + 1);
  if (separator < 0 || name === "" || name.includes(":")) throw usage(`bad format for add-host: "${value}"`);
  if (address !== "host-gateway") {
    if (address.length > 2 && address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
    if (isIP(address) === 0) throw usage(`invalid IP address in add-host: "${address}"`);
  }
  return `${name}:${address}`;
}

const macAddress = /^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$/;

/** `--network NAME` or docker's advanced `--network name=NET,alias=A,ip=…,ip6=…,mac-address=…`. */
function parseNetworkFlag(value: string): NetworkAttachmentSpec {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return { network: value };
  let network = "";
  const aliases: string[] = [];
  let ipv4Address: string | undefined;
  let ipv6Address: string | undefined;
  let mac: string | undefined;
  for (const field of csvFields(value)) {
    const equals = field.indexOf("=");
    if (equals <= 0) throw usage(`invalid field ${field}`);
    const key = field.slice(0, equals).trim().toLowerCase();
    const fieldValue = field.slice(equals + 1);
    switch (key) {
      case "name":
        network = fieldValue;
        break;
      case "alias":
        aliases.push(fieldValue);
        break;
      case "ip":
        ipv4Address = fieldValue;
        break;
      case "ip6":
        ipv6Address = fieldValue;
        break;
      case "mac-address":
        mac = fieldValue;
        break;
      default:
        throw usage(`invalid field key ${key} in --network ${value} (berth takes name, alias, ip, ip6 and mac-address)`);
    }
  }
  if (network === "") throw usage("network name not specified");
  return {
    network,
    ...(aliases.length > 0 ? { aliases } : {}),
    ...(ipv4Address !== undefined ? { ipv4Address } : {}),
    ...(ipv6Address !== undefined ? { ipv6Address } : {}),
    ...(mac !== undefined ? { macAddress: mac } : {}),
  };
}

/** docker's IsUserDefined: anything but the default bridge, host, none and container:<x>. */
const userDefinedNetwork = (mode: string): boolean => !["default", "bridge", "host", "none"].includes(mode) && !mode.startsWith("container:");

/**
 * `--network` (repeatable) with `--network-alias`, `--ip`, `--ip6`, `--mac-address` applied to
 * the first network, as docker's parseNetworkOpts does: the first network is the network mode;
 * on a bridge-type mode every network is also an attachment, in interface order.
 */
export function networkSettings(flags: RunFlags): Pick<ContainerCreateSpec, "networkMode" | "networks"> {
  const networks = typeof flags.network === "string" ? [flags.network] : (flags.network ?? []);
  const attachments = [...networks, ...(flags.net ?? [])].map(parseNetworkFlag);
  const aliases = [...(flags.networkAlias ?? []), ...(flags.netAlias ?? [])];
  if (flags.ip !== undefined && isIP(flags.ip) !== 4) throw usage(`invalid IPv4 address: ${flags.ip}`);
  if (flags.ip6 !== undefined && isIP(flags.ip6) !== 6) throw usage(`invalid IPv6 address: ${flags.ip6}`);
  if (flags.macAddress !== undefined && !macAddress.test(flags.macAddress)) throw usage(`${flags.macAddress} is not a valid mac address`);
  const firstOptions = aliases.length > 0 || flags.ip !== undefined || flags.ip6 !== undefined || flags.macAddress !== undefined;
  if (attachments.length === 0) {
    // docker applies the first-network flags to the default network (which then refuses aliases and addresses).
    if (!firstOptions) return {};
    attachments.push({ network: "default" });
  }
  const seen = new Set<string>();
  for (const attachment of attachments) {
    if (seen.has(attachment.network)) throw usage(`network "${attachment.network}" is specified multiple times`);
    seen.add(attachment.network);
    if (attachment.ipv4Address !== undefined && isIP(attachment.ipv4Address) !== 4) throw usage(`invalid IPv4 address: ${attachment.ipv4Address}`);
    if (attachment.ipv6Address !== undefined && isIP(attachment.ipv6Address) !== 6) throw usage(`invalid IPv6 address: ${attachment.ipv6Address}`);
    if (attachment.macAddress !== undefined && !macAddress.test(attachment.macAddress)) throw usage(`${attachment.macAddress} is not a valid mac address`);
  }
  const modes = attachments.map((attachment) => attachment.network);
  if (modes.some(userDefinedNetwork) && !modes.every(userDefinedNetwork)) {
    throw usage("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
  }
  const [first, ...rest] = attachments;
  if (first === undefined) return {};
  if (first.aliases !== undefined && aliases.length > 0) throw usage("conflicting options: cannot specify both --network-alias and per-network alias");
  if (first.ipv4Address !== undefined && flags.ip !== undefined) throw usage("conflicting options: cannot specify both --ip and per-network IPv4 address");
  if (first.ipv6Address !== undefined && flags.ip6 !== undefined) throw usage("conflicting options: cannot specify both --ip6 and per-network IPv6 address");
  if (first.macAddress !== undefined && flags.macAddress !== undefined) throw usage("conflicting options: cannot specify both --mac-address and per-network MAC address");
  const head: NetworkAttachmentSpec = {
    ...first,
    ...(aliases.length > 0 ? { aliases } : {}),
    ...(flags.ip !== undefined ? { ipv4Address: flags.ip } : {}),
    ...(flags.ip6 !== undefined ? { ipv6Address: flags.ip6 } : {}),
    ...(flags.macAddress !== undefined ? { macAddress: flags.macAddress } : {}),
  };
  const mode = first.network;
  if (mode === "host" || mode === "none" || mode.startsWith("container:")) {
    if (head.aliases !== undefined || head.ipv4Address !== undefined || head.ipv6Address !== undefined || head.macAddress !== undefined) {
      throw usage(`conflicting options: --network-alias, --ip, --ip6 and --mac-address need a bridge or user-defined network, not --network ${mode}`);
    }
    return { networkMode: mode };
  }
  return { networkMode: mode, networks: [head, ...rest] };
}

/** The whole create spec from run/create flags, the image and the command after it. */
export function parseRunFlags(flags: RunFlags, image: string, command: readonly string[], context: ParseContext): ContainerCreateSpec {
  const env = [
    ...(flags.envFile ?? []).flatMap((file) => parseEnvFile(context.readFile(file), context.environment)),
    ...(flags.env ?? []).map((entry) => parseEnvEntry(entry, context.environment)),
  ];
  const labels = {
    ...keyValues((flags.labelFile ?? []).flatMap((file) => context.readFile(file).split(/\r?\n/).filter((line) => line.trim() !== "" && !line.startsWith("#"))), "label"),
    ...keyValues(flags.label ?? [], "label"),
  };
  const mounts: MountSpec[] = [
    ...(flags.volume ?? []).map((value) => parseVolumeFlag(value, context.workingDirectory)),
    ...(flags.mount ?? []).map((value) => parseMountFlag(value, context.workingDirectory)),
    ...(flags.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const health = healthcheck(flags);
  const limits = resources(flags);
  const logs = logConfig(flags);
  const spec: { -readonly [K in keyof ContainerCreateSpec]: ContainerCreateSpec[K] } = { image };
  if (flags.name !== undefined) spec.name = flags.name;
  if (command.length > 0) spec.cmd = [...command];
  if (flags.entrypoint !== undefined) spec.entrypoint = flags.entrypoint === "" ? [] : [flags.entrypoint];
  if (env.length > 0) spec.env = env;
  if (flags.workdir !== undefined) spec.workingDir = flags.workdir;
  if (flags.user !== undefined) spec.user = flags.user;
  if (flags.groupAdd !== undefined && flags.groupAdd.length > 0) spec.groupAdd = [...flags.groupAdd];
  if (Object.keys(labels).length > 0) spec.labels = labels;
  if (flags.hostname !== undefined) spec.hostname = flags.hostname;
  if (flags.domainname !== undefined) spec.domainname = flags.domainname;
  if (mounts.length > 0) spec.mounts = mounts;
  if (flags.readOnly) spec.readOnly = true;
  if (flags.capAdd !== undefined && flags.capAdd.length > 0) spec.capAdd = [...flags.capAdd];
  if (flags.capDrop !== undefined && flags.capDrop.length > 0) spec.capDrop = [...flags.capDrop];
  if (flags.privileged) spec.privileged = true;
  if (flags.securityOpt !== undefined && flags.securityOpt.length > 0) spec.securityOpt = [...flags.securityOpt];
  if (flags.ulimit !== undefined && flags.ulimit.length > 0) spec.ulimits = flags.ulimit.map(parseUlimit);
  if (flags.sysctl !== undefined && flags.sysctl.length > 0) spec.sysctls = keyValues(flags.sysctl, "sysctl");
  if (flags.shmSize !== undefined) spec.shmSize = parseBytes(flags.shmSize);
  if (flags.init) spec.init = true;
  if (flags.stopSignal !== undefined) spec.stopSignal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) spec.stopTimeout = integer(flags.stopTimeout, "--stop-timeout");
  if (flags.restart !== undefined) spec.restartPolicy = parseRestartPolicy(flags.restart);
  if (health !== undefined) spec.healthcheck = health;
  if (limits !== undefined) spec.resources = limits;
  const network = networkSettings(flags);
  if (network.networkMode !== undefined) spec.networkMode = network.networkMode;
  if (network.networks !== undefined) spec.networks = network.networks;
  if (flags.publish !== undefined && flags.publish.length > 0) spec.portBindings = flags.publish.map(parsePublishFlag);
  if (flags.publishAll) spec.publishAllPorts = true;
  if (flags.expose !== undefined && flags.expose.length > 0) spec.exposedPorts = [...flags.expose];
  if (flags.dns !== undefined && flags.dns.length > 0) {
    for (const server of flags.dns) if (isIP(server) === 0) throw usage(`IP address is not correctly formatted: ${server}`);
    spec.dns = [...flags.dns];
  }
  if (flags.dnsSearch !== undefined && flags.dnsSearch.length > 0) spec.dnsSearch = [...flags.dnsSearch];
  const dnsOptions = [...(flags.dnsOption ?? []), ...(flags.dnsOpt ?? [])];
  if (dnsOptions.length > 0) spec.dnsOptions = dnsOptions;
  if (flags.addHost !== undefined && flags.addHost.length > 0) spec.extraHosts = flags.addHost.map(parseExtraHost);
  if (logs !== undefined) spec.logConfig = logs;
  if (flags.tty) spec.tty = true;
  if (flags.interactive) spec.openStdin = true;
  if (flags.rm) spec.autoRemove = true;
  return spec;
}
