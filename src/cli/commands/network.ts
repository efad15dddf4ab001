// `berth network create|ls|inspect|rm|prune|connect|disconnect` and `berth container port`,
// printing what `docker network …` and `docker port` print and exiting as they exit (1 on errors).

import { BerthError } from "../../errors.js";
import { containsAddress, NetworkError, overlaps, parseCidr } from "../../network/index.js";
import { NetworkStoreErrorCode, type NetworkCreateRequest, type NetworkInspect } from "../../runtime/index.js";
import { printResult, printWarning } from "../output.js";
import { CommandError, confirm, forEachTarget, inspectEach, openEngine, withExitStatus } from "./container-common.js";
import { joinHostPort, naturalCompare, parseFormat, renderRows } from "./container-format.js";
import { keyValueMap, parseFilters } from "./container-arguments.js";

type IpamPoolRequest = NonNullable<NonNullable<NetworkCreateRequest["ipam"]>["config"]>[number];

const usage = (message: string): CommandError => new CommandError("E_CLI_USAGE", message, 1);

type IpamPool = { subnet: string; ipRange?: string; gateway?: string; auxAddresses: Record<string, string> };

/** src/network's CIDR check, failing as a usage error with the docker CLI's message. */
function requireCidr(text: string, message: string): void {
  try {
    parseCidr(text);
  } catch (error) {
    if (error instanceof NetworkError) throw usage(message);
    throw error;
  }
}

/** docker's subnetMatches: whether `data` (an address, or the address part of a CIDR) lies in the valid CIDR `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  const slash = data.indexOf("/");
  if (slash >= 0) requireCidr(data, `invalid CIDR address: ${data}`);
  try {
    return containsAddress(subnet, slash < 0 ? data : data.slice(0, slash));
  } catch (error) {
    // Not an address: Go's net.ParseIP gives nil, which no subnet contains.
    if (error instanceof NetworkError) return false;
    throw error;
  }
}

/** `--subnet`, `--ip-range`, `--gateway`, `--aux-address` → IPAM pools, checked as docker's createIPAMConfig does. */
export function ipamPools(options: { readonly subnets: readonly string[]; readonly ipRanges: readonly string[]; readonly gateways: readonly string[]; readonly auxAddresses: readonly string[] }): IpamPoolRequest[] {
  const { subnets, ipRanges, gateways } = options;
  if (subnets.length < ipRanges.length || subnets.length < gateways.length) throw usage("every ip-range or gateway must have a corresponding subnet");
  const pools: IpamPool[] = [];
  for (const subnet of subnets) {
    requireCidr(subnet, `invalid subnet: invalid CIDR address: ${subnet}`);
    if (pools.some((pool) => overlaps(pool.subnet, subnet))) throw usage("multiple overlapping subnet configuration is not supported");
    pools.push({ subnet, auxAddresses: {} });
  }
  // Subnets do not overlap, so at most one holds a value.
  const poolHolding = (value: string, what: string): IpamPool => {
    const pool = pools.find((candidate) => subnetMatches(candidate.subnet, value));
    if (pool === undefined) throw usage(`no matching subnet for ${what} ${value}`);
    return pool;
  };
  for (const ipRange of ipRanges) {
    const pool = poolHolding(ipRange, "range");
    if (pool.ipRange !== undefined) throw usage(`cannot configure multiple ranges (${ipRange}, ${pool.ipRange}) on the same subnet (${pool.subnet})`);
    pool.ipRange = ipRange;
  }
  for (const gateway of gateways) {
    const pool = poolHolding(gateway, "gateway");
    if (pool.gateway !== undefined) throw usage(`cannot configure multiple gateways (${gateway}, ${pool.gateway}) for the same subnet (${pool.subnet})`);
    pool.gateway = gateway;
  }
  for (const [name, address] of Object.entries(keyValueMap(options.auxAddresses))) poolHolding(address, "aux-address").auxAddresses[name] = address;
  return pools.map((pool) => ({
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
  await inspectEach(names, (name) => engine.networks.inspect(name), options.format);
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
