// `berth network create|ls|inspect|rm|prune|connect|disconnect` and `berth container port`,
// printing what `docker network …` and `docker port` print and exiting as they exit (1 on errors).

import { isIP } from "node:net";
import { BerthError } from "../../errors.js";
import { NetworkStoreErrorCode, type NetworkCreateRequest, type NetworkInspect } from "../../runtime/index.js";
import { printResult, printWarning } from "../output.js";
import { CommandError, confirm, forEachTarget, openEngine, silentExit, withExitStatus } from "./container-common.js";
import { joinHostPort, naturalCompare, parseFormat, renderRows, renderTemplate } from "./container-format.js";
import { parseFilters } from "./container-arguments.js";

type IpamPoolRequest = NonNullable<NonNullable<NetworkCreateRequest["ipam"]>["config"]>[number];

const usage = (message: string): CommandError => new CommandError("E_CLI_USAGE", message, 1);

/** docker's map options (`--label k=v`, `-o k=v`): a bare key maps to "". */
function keyValueMap(entries: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    result[equals < 0 ? entry : entry.slice(0, equals)] = equals < 0 ? "" : entry.slice(equals + 1);
  }
  return result;
}

/** An address as [family, value], or undefined. */
function parseAddress(text: string): { readonly family: 4 | 6; readonly value: bigint } | undefined {
  const family = isIP(text);
  if (family === 4) return { family, value: text.split(".").reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n) };
  if (family !== 6) return undefined;
  let address = text;
  // An IPv4 tail (`::ffff:1.2.3.4`) as two hex groups.
  const v4Tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4Tail !== null) {
    const [a, b, c, d] = v4Tail.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, v4Tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = address.split("::");
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { family, value: all.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16)), 0n) };
}

/** `10.1.0.0/16` → its base address and prefix length; a usage error otherwise. */
function parseSubnet(subnet: string): { readonly family: 4 | 6; readonly value: bigint; readonly prefix: number } {
  const slash = subnet.indexOf("/");
  const base = slash < 0 ? undefined : parseAddress(subnet.slice(0, slash));
  const prefixText = slash < 0 ? "" : subnet.slice(slash + 1);
  if (base === undefined || !/^\d+$/.test(prefixText) || Number(prefixText) > (base.family === 6 ? 128 : 32)) throw usage(`invalid subnet: invalid CIDR address: ${subnet}`);
  return { ...base, prefix: Number(prefixText) };
}

/** Whether `data` (an address, or the address part of a CIDR) lies in `subnet` (docker's subnetMatches). */
function subnetMatches(subnet: string, data: string): boolean {
  const base = parseSubnet(subnet);
  const bits = base.family === 6 ? 128 : 32;
  const addressText = data.includes("/") ? data.slice(0, data.indexOf("/")) : data;
  const address = parseAddress(addressText);
  if (address === undefined) {
    if (data.includes("/")) throw usage(`invalid CIDR address: ${data}`);
    return false;
  }
  if (address.family !== base.family) return false;
  const shift = BigInt(bits - base.prefix);
  return address.value >> shift === base.value >> shift;
}

/** `--subnet`, `--ip-range`, `--gateway`, `--aux-address` → IPAM pools, checked as docker's createIPAMConfig does. */
export function ipamPools(options: { readonly subnets: readonly string[]; readonly ipRanges: readonly string[]; readonly gateways: readonly string[]; readonly auxAddresses: readonly string[] }): IpamPoolRequest[] {
  const { subnets, ipRanges, gateways } = options;
  if (subnets.length < ipRanges.length || subnets.length < gateways.length) throw usage("every ip-range or gateway must have a corresponding subnet");
  const pools = new Map<string, { subnet: string; ipRange?: string; gateway?: string; auxAddresses: Record<string, string> }>();
  for (const subnet of subnets) {
    for (const other of pools.keys()) {
      if (subnetMatches(subnet, other) || subnetMatches(other, subnet)) throw usage("multiple overlapping subnet configuration is not supported");
    }
    parseSubnet(subnet);
    pools.set(subnet, { subnet, auxAddresses: {} });
  }
  const place = (value: string, what: string, assign: (pool: { subnet: string; ipRange?: string; gateway?: string; auxAddresses: Record<string, string> }) => void): void => {
    let matched = false;
    for (const subnet of subnets) {
      const pool = pools.get(subnet);
      if (pool === undefined || !subnetMatches(subnet, value)) continue;
      assign(pool);
      matched = true;
    }
    if (!matched) throw usage(`no matching subnet for ${what} ${value}`);
  };
  for (const ipRange of ipRanges) {
    place(ipRange, "range", (pool) => {
      if (pool.ipRange !== undefined) throw usage(`cannot configure multiple ranges (${ipRange}, ${pool.ipRange}) on the same subnet (${pool.subnet})`);
      pool.ipRange = ipRange;
    });
  }
  for (const gateway of gateways) {
    place(gateway, "gateway", (pool) => {
      if (pool.gateway !== undefined) throw usage(`cannot configure multiple gateways (${gateway}, ${pool.gateway}) for the same subnet (${pool.subnet})`);
      pool.gateway = gateway;
    });
  }
  for (const [name, address] of Object.entries(keyValueMap(options.auxAddresses))) {
    place(address, "aux-address", (pool) => {
      pool.auxAddresses[name] = address;
    });
  }
  return [...pools.values()].map((pool) => ({
    subnet: pool.subnet,
    ...(pool.ipRange !== undefined ? { ipRange: pool.ipRange } : {}),
    ...(pool.gateway !== undefined ? { gateway: pool.gateway } : {}),
    ...(Object.keys(pool.auxAddresses).length > 0 ? { auxAddresses: pool.auxAddresses } : {}),
  }));
}

export interface NetworkCreateFlags {
  readonly driver?: string;
  readonly subnet?: readonly string[];
  readonly ipRange?: readonly string[];
  readonly gateway?: readonly string[];
  readonly auxAddress?: readonly string[];
  readonly ipv6?: boolean;
  readonly internal?: boolean;
  readonly attachable?: boolean;
  readonly label?: readonly string[];
  readonly opt?: readonly string[];
  readonly ipamDriver?: string;
  readonly ipamOpt?: readonly string[];
}

/** The engine's create request from `network create` flags (pure). */
export function networkCreateRequest(name: string, flags: NetworkCreateFlags): NetworkCreateRequest {
  const config = ipamPools({ subnets: flags.subnet ?? [], ipRanges: flags.ipRange ?? [], gateways: flags.gateway ?? [], auxAddresses: flags.auxAddress ?? [] });
  const ipamOptions = keyValueMap(flags.ipamOpt ?? []);
  const ipamDriver = flags.ipamDriver !== undefined && flags.ipamDriver !== "default" ? flags.ipamDriver : undefined;
  const hasIpam = config.length > 0 || Object.keys(ipamOptions).length > 0 || ipamDriver !== undefined;
  return {
    name,
    driver: flags.driver ?? "bridge",
    ...(flags.internal ? { internal: true } : {}),
    ...(flags.attachable ? { attachable: true } : {}),
    ...(flags.ipv6 ? { enableIPv6: true } : {}),
    ...(hasIpam
      ? {
          ipam: {
            ...(ipamDriver !== undefined ? { driver: ipamDriver } : {}),
            ...(Object.keys(ipamOptions).length > 0 ? { options: ipamOptions } : {}),
            ...(config.length > 0 ? { config } : {}),
          },
        }
      : {}),
    options: keyValueMap(flags.opt ?? []),
    labels: keyValueMap(flags.label ?? []),
  };
}

export async function runNetworkCreate(name: string, flags: NetworkCreateFlags): Promise<void> {
  const request = networkCreateRequest(name, flags);
  const created = await withExitStatus(1, () => openEngine().networks.create(request));
  if (created.Warning !== "") printWarning(created.Warning);
  printResult(created.Id);
}

/** Go's time.Time.String() for an RFC 3339 time: `2024-05-02 12:21:53.123456789 +0000 UTC` (trailing zeros of the fraction dropped). */
function goTimeString(rfc3339: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(rfc3339);
  if (match === null) return rfc3339;
  const fraction = (match[3] ?? "").replace(/0+$/, "");
  return `${match[1]} ${match[2]}${fraction === "" ? "" : `.${fraction}`} +0000 UTC`;
}

/** docker network ls's row context. */
function networkRow(network: NetworkInspect, truncate: boolean): Record<string, unknown> {
  return {
    CreatedAt: goTimeString(network.Created),
    Driver: network.Driver,
    ID: truncate ? network.Id.slice(0, 12) : network.Id,
    IPv4: String(network.EnableIPv4),
    IPv6: String(network.EnableIPv6),
    Internal: String(network.Internal),
    Labels: Object.entries(network.Labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(","),
    Name: network.Name,
    Scope: network.Scope,
    LabelMap: network.Labels,
  };
}

const networkHeaders: Readonly<Record<string, string>> = {
  ID: "NETWORK ID",
  Name: "NAME",
  Driver: "DRIVER",
  Scope: "SCOPE",
  IPv4: "IPV4",
  IPv6: "IPV6",
  Internal: "INTERNAL",
  Labels: "LABELS",
  CreatedAt: "CREATED AT",
};

export async function runNetworkList(options: { quiet?: boolean; noTrunc?: boolean; filter?: string[]; format?: string }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  const networks = await withExitStatus(1, () => openEngine().networks.list({ filters }));
  networks.sort((a, b) => naturalCompare(a.Name, b.Name));
  const truncate = !(options.noTrunc ?? false);
  if (options.quiet) {
    printResult(networks.map((network) => `${truncate ? network.Id.slice(0, 12) : network.Id}\n`).join(""));
    return;
  }
  process.stdout.write(
    renderRows(
      networks.map((network) => networkRow(network, truncate)),
      parseFormat(options.format),
      { columns: ["ID", "Name", "Driver", "Scope"], headers: networkHeaders },
    ),
  );
}

export async function runNetworkInspect(names: string[], options: { format?: string; verbose?: boolean }): Promise<void> {
  const engine = openEngine();
  const found: NetworkInspect[] = [];
  let failed = false;
  for (const name of names) {
    try {
      found.push(await engine.networks.inspect(name));
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      failed = true;
      process.stderr.write(`Error: ${error.message}\n`);
    }
  }
  if (options.format !== undefined && options.format !== "" && options.format !== "json") {
    process.stdout.write(found.map((network) => `${renderTemplate(options.format ?? "", network)}\n`).join(""));
  } else {
    process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  }
  if (failed) throw silentExit(1);
}

export async function runNetworkRemove(names: string[], options: { force?: boolean }): Promise<void> {
  const engine = openEngine();
  await forEachTarget(names, async (name) => {
    try {
      await engine.networks.remove(name);
    } catch (error) {
      // `docker network rm -f` of a missing network is not a failure (and prints nothing).
      if (options.force && error instanceof BerthError && error.code === NetworkStoreErrorCode.notFound) return "";
      throw error;
    }
    return name;
  });
}

export async function runNetworkPrune(options: { force?: boolean; filter?: string[] }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  if (!options.force && !confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?")) return;
  const removed = await withExitStatus(1, () => openEngine().networks.prune({ filters }));
  if (removed.length > 0) process.stdout.write(`Deleted Networks:\n${removed.map((name) => `${name}\n`).join("")}\n`);
}

export async function runNetworkConnect(network: string, container: string, options: { alias?: string[]; ip?: string; ip6?: string }): Promise<void> {
  await withExitStatus(1, () =>
    openEngine().containers.connect(container, network, {
      ...(options.alias !== undefined && options.alias.length > 0 ? { aliases: options.alias } : {}),
      ...(options.ip !== undefined && options.ip !== "" ? { ipv4Address: options.ip } : {}),
      ...(options.ip6 !== undefined && options.ip6 !== "" ? { ipv6Address: options.ip6 } : {}),
    }),
  );
}

export async function runNetworkDisconnect(network: string, container: string, _options: { force?: boolean }): Promise<void> {
  await withExitStatus(1, () => openEngine().containers.disconnect(container, network));
}

/** `docker port`: every published binding (`80/tcp -> 0.0.0.0:32768`), or one port's (`0.0.0.0:32768`), naturally sorted. */
export async function runContainerPort(container: string, port: string | undefined): Promise<void> {
  const inspect = await withExitStatus(1, () => openEngine().containers.inspect(container));
  const ports = (inspect.NetworkSettings["Ports"] ?? {}) as Readonly<Record<string, readonly { HostIp: string; HostPort: string }[] | null>>;
  const lines: string[] = [];
  if (port !== undefined) {
    const slash = port.indexOf("/");
    const number = slash < 0 ? port : port.slice(0, slash);
    const protocol = slash < 0 || port.slice(slash + 1) === "" ? "tcp" : port.slice(slash + 1);
    if (!/^\d+$/.test(number) || Number(number) > 65535) {
      throw new CommandError("E_CLI_USAGE", `Error: invalid port (${number}): strconv.ParseUint: parsing ${JSON.stringify(number)}: invalid syntax`, 1);
    }
    const frontends = ports[`${number}/${protocol}`];
    if (frontends === undefined || frontends === null || frontends.length === 0) {
      throw new CommandError("E_CLI_USAGE", `Error: No public port '${port}' published for ${container}`, 1);
    }
    for (const frontend of frontends) lines.push(joinHostPort(frontend.HostIp, frontend.HostPort));
  } else {
    for (const [key, frontends] of Object.entries(ports)) {
      for (const frontend of frontends ?? []) lines.push(`${key} -> ${joinHostPort(frontend.HostIp, frontend.HostPort)}`);
    }
  }
  if (lines.length > 0) printResult(lines.sort(naturalCompare).join("\n"));
}
