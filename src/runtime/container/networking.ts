// Between a container and its networks: at create, which networks (in interface order) and
// which ports, decided and checked; at start, the sandbox made before the shim; at stop, its
// teardown. Network modes `none` and `host` need none of it; `container:<x>` joins x's namespace.

import { existsSync } from "node:fs";
import { BerthError } from "../../errors.js";
import {
  portClaimed,
  searchDomains,
  sandboxPath,
  setUpSandbox,
  tearDownSandbox,
  upstreamServers,
  type NetworkService,
  type PortRequest,
  type ResolvedAttachment,
} from "../network/index.js";
import type { HostSockets } from "../../network/index.js";
import { readHostFile } from "./rootfs.js";
import type { ContainerCreateSpec, PortBindingSpec } from "./spec.js";
import type { ContainerFiles, ContainerRecord } from "./store.js";
import { compareText } from "../../compare.js";

export const NetworkingErrorCode = { invalid: "E_CONTAINER_INVALID_CONFIG" } as const;

const invalid = (message: string): BerthError => new BerthError(NetworkingErrorCode.invalid, message);

/** `none`, `host`, `container:x`, or `bridge` (a network attachment list). */
export type NetworkModeKind = "none" | "host" | "container" | "bridge";

export function networkModeKind(mode: string | undefined): NetworkModeKind {
  if (mode === "none" || mode === "host") return mode;
  if (mode?.startsWith("container:") === true) return "container";
  return "bridge";
}

/** `80/tcp` keys of the exposed ports: the image's, `--expose`, and every published port (Docker adds them). */
export function exposedPortKeys(imageExposed: readonly string[], spec: Pick<ContainerCreateSpec, "exposedPorts" | "portBindings">): string[] {
  const keys = new Set(imageExposed.map((key) => (key.includes("/") ? key : `${key}/tcp`)));
  for (const entry of spec.exposedPorts ?? []) {
    const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(entry);
    if (match === null) throw invalid(`invalid range format for --expose: ${entry}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last > 65535) throw invalid(`invalid range format for --expose: ${entry}`);
    for (let port = first; port <= last; port++) keys.add(`${port}/${match[3] ?? "tcp"}`);
  }
  for (const binding of spec.portBindings ?? []) {
    for (let port = binding.containerPort; port <= (binding.containerPortEnd ?? binding.containerPort); port++) keys.add(`${port}/${binding.protocol ?? "tcp"}`);
  }
  return [...keys].sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || compareText(a, b));
}

/** `-p` ranges expanded to one request per container port; `-P` adds every exposed port not yet bound. */
export function expandPorts(bindings: readonly PortBindingSpec[], publishAll: boolean, exposed: readonly string[]): PortRequest[] {
  const requests: PortRequest[] = [];
  for (const binding of bindings) {
    const protocol = binding.protocol ?? "tcp";
    const count = (binding.containerPortEnd ?? binding.containerPort) - binding.containerPort + 1;
    const hostPort = binding.hostPort ?? 0;
    const hostCount = hostPort === 0 ? 0 : (binding.hostPortEnd ?? hostPort) - hostPort + 1;
    const valid = (port: number): boolean => Number.isInteger(port) && port >= 1 && port <= 65535;
    if (!valid(binding.containerPort) || count < 1 || !valid(binding.containerPort + count - 1)) throw invalid(`invalid containerPort: ${binding.containerPort}`);
    if (hostPort !== 0 && (!valid(hostPort) || hostCount < 1 || !valid(hostPort + hostCount - 1))) throw invalid(`invalid hostPort: ${hostPort}`);
    if (count > 1 && hostCount > 1 && hostCount !== count) throw invalid("Invalid ranges specified for container and host Ports");
    if (count > 1 && hostCount === 1) throw invalid("Invalid ranges specified for container and host Ports");
    for (let offset = 0; offset < count; offset++) {
      const single = count > 1 && hostCount > 1;
      requests.push({
        containerPort: binding.containerPort + offset,
        protocol,
        hostIp: binding.hostIp ?? "",
        hostPort: hostPort === 0 ? 0 : single ? hostPort + offset : hostPort,
        hostPortEnd: hostPort === 0 ? 0 : single ? hostPort + offset : hostPort + hostCount - 1,
      });
    }
  }
  if (publishAll) {
    for (const key of exposed) {
      const [port = "", protocol = "tcp"] = key.split("/");
      const containerPort = Number(port);
      if (requests.some((request) => request.containerPort === containerPort && request.protocol === protocol)) continue;
      requests.push({ containerPort, protocol: protocol as PortRequest["protocol"], hostIp: "", hostPort: 0, hostPortEnd: 0 });
    }
  }
  return requests;
}

export interface NetworkPlan {
  readonly attachments: readonly ResolvedAttachment[];
  readonly ports: readonly PortRequest[];
}

/** Create's half: resolve the networks, expand the ports, and refuse a fixed host port already taken. */
export async function planNetworking(networks: NetworkService, spec: ContainerCreateSpec, exposed: readonly string[], hostSockets: (protocols: readonly PortRequest["protocol"][]) => HostSockets): Promise<NetworkPlan> {
  const kind = networkModeKind(spec.networkMode);
  const extra = spec.networks ?? [];
  const bindings = spec.portBindings ?? [];
  if (kind !== "bridge") {
    if (extra.length > 0) throw invalid(`conflicting options: network mode ${spec.networkMode ?? ""} cannot be combined with other networks`);
    if (kind === "container" && (bindings.length > 0 || spec.publishAllPorts === true)) throw invalid("conflicting options: port publishing and the container type network mode");
    if (kind === "container" && ((spec.dns?.length ?? 0) > 0 || (spec.extraHosts?.length ?? 0) > 0)) throw invalid("conflicting options: dns and the network mode");
    // Docker warns and drops published ports in host mode; so does berth (nothing to publish).
    return { attachments: [], ports: [] };
  }
  const mode = spec.networkMode === undefined || spec.networkMode === "" || spec.networkMode === "default" ? "bridge" : spec.networkMode;
  const attachments: ResolvedAttachment[] = [];
  const wanted = extra.length > 0 && (await networks.find(extra[0]?.network ?? "")).id === (await networks.find(mode)).id ? extra : [{ network: mode }, ...extra];
  for (const entry of wanted) {
    const attachment = await networks.attachment(entry.network, {
      aliases: [...(entry.aliases ?? [])],
      ...(entry.ipv4Address ? { ipv4Address: entry.ipv4Address } : {}),
      ...(entry.ipv6Address ? { ipv6Address: entry.ipv6Address } : {}),
      ...(entry.macAddress ? { macAddress: entry.macAddress } : {}),
    });
    if (attachments.some((existing) => existing.networkId === attachment.networkId)) continue;
    attachments.push(attachment);
  }
  const ports = expandPorts(bindings, spec.publishAllPorts ?? false, exposed);
  const fixed = ports.filter((port) => port.hostPort !== 0 && port.hostPortEnd === port.hostPort);
  const host = fixed.length === 0 ? undefined : hostSockets(fixed.map((port) => port.protocol));
  for (const port of fixed) {
    const hostIp = port.hostIp === "" ? "0.0.0.0" : port.hostIp;
    const shown = hostIp.includes(":") ? `[${hostIp}]` : hostIp;
    if (portClaimed(networks.context, { protocol: port.protocol, hostIp, hostPort: port.hostPort })) {
      throw new BerthError("E_NET_PORT_IN_USE", `Bind for ${shown}:${port.hostPort} failed: port is already allocated`);
    }
    if (host?.busy(port.protocol, hostIp, port.hostPort) === true) {
      throw new BerthError("E_NET_PORT_IN_USE", `failed to bind host port ${shown}:${port.hostPort}/${port.protocol}: address already in use`);
    }
  }
  return { attachments, ports };
}

/** Start's half: the namespace, addresses, ports, names; the shim joins the namespace returned. */
export async function setUpNetworking(networks: NetworkService, record: ContainerRecord, files: ContainerFiles): Promise<string | undefined> {
  const attachments = record.networks ?? [];
  if (attachments.length === 0) return undefined;
  const hostResolvConf = readHostFile("/etc/resolv.conf");
  const spec = record.spec;
  const result = await setUpSandbox(networks.context, {
    containerId: record.id,
    containerName: record.name,
    hostname: record.config.hostname,
    domainname: record.config.domainname,
    attachments,
    ports: record.ports ?? [],
    extraHosts: spec.extraHosts ?? [],
    resolver: {
      upstreams: upstreamServers({ dns: spec.dns ?? [], hostResolvConf, resolvedUpstream: readHostFile("/run/systemd/resolve/resolv.conf") }),
      search: spec.dnsSearch ?? searchDomains(hostResolvConf),
      options: spec.dnsOptions ?? [],
    },
    files: { hosts: files.hosts, resolvConf: files.resolvConf, dnsConfig: files.dnsConfig },
  });
  return result.sandbox;
}

/**
 * Stop's half. A container that never had berth networks (none, host, container:) and has no
 * namespace of berth's costs a stat, not a lock and a scan of every network.
 */
export async function tearDownNetworking(networks: NetworkService, record: ContainerRecord): Promise<void> {
  if ((record.networks ?? []).length === 0 && !existsSync(sandboxPath(networks.context.paths, record.id))) return;
  await tearDownSandbox(networks.context, record.id);
}
