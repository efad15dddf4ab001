// Docker-shaped views of a container (Engine API 1.41 field names): inspect (`GET
// /containers/{id}/json`) and the list item (`GET /containers/json`). Pure: record + derived
// state + files in, JSON-ready objects out.

import { maskedPaths, memorySwap, readonlyPaths } from "./defaults.js";
import type { EndpointRecord, NetworkRecord } from "../network/index.js";
import { expandPorts } from "./networking.js";
import type { ContainerFiles, ContainerRecord } from "./store.js";
import { statusText, type ContainerState } from "./status.js";
import type { MountSpec } from "./spec.js";

export interface MountView {
  readonly Type: "bind" | "volume" | "tmpfs";
  readonly Name?: string;
  readonly Source: string;
  readonly Destination: string;
  readonly Driver?: string;
  readonly Mode: string;
  readonly RW: boolean;
  readonly Propagation: string;
}

export interface HealthView {
  readonly Status: string;
  readonly FailingStreak: number;
  readonly Log: readonly { readonly Start: string; readonly End: string; readonly ExitCode: number; readonly Output: string }[];
}

export interface StateView {
  readonly Status: string;
  readonly Running: boolean;
  readonly Paused: boolean;
  readonly Restarting: boolean;
  readonly OOMKilled: boolean;
  readonly Dead: boolean;
  readonly Pid: number;
  readonly ExitCode: number;
  readonly Error: string;
  readonly StartedAt: string;
  readonly FinishedAt: string;
  readonly Health?: HealthView;
}

export interface ContainerInspect {
  readonly Id: string;
  readonly Created: string;
  readonly Path: string;
  readonly Args: readonly string[];
  readonly State: StateView;
  readonly Image: string;
  readonly ResolvConfPath: string;
  readonly HostnamePath: string;
  readonly HostsPath: string;
  readonly LogPath: string;
  readonly Name: string;
  readonly RestartCount: number;
  readonly Driver: string;
  readonly Platform: string;
  readonly MountLabel: string;
  readonly ProcessLabel: string;
  readonly AppArmorProfile: string;
  readonly ExecIDs: null;
  readonly HostConfig: Readonly<Record<string, unknown>>;
  readonly GraphDriver: { readonly Data: Readonly<Record<string, string>>; readonly Name: string };
  readonly Mounts: readonly MountView[];
  readonly Config: Readonly<Record<string, unknown>>;
  readonly NetworkSettings: Readonly<Record<string, unknown>>;
}

export interface ContainerSummary {
  readonly Id: string;
  readonly Names: readonly string[];
  readonly Image: string;
  readonly ImageID: string;
  readonly Command: string;
  /** Unix seconds. */
  readonly Created: number;
  readonly Ports: readonly unknown[];
  readonly Labels: Readonly<Record<string, string>>;
  readonly State: string;
  readonly Status: string;
  readonly HostConfig: { readonly NetworkMode: string };
  readonly NetworkSettings: { readonly Networks: Readonly<Record<string, unknown>> };
  readonly Mounts: readonly MountView[];
}

export function mountViews(record: ContainerRecord): MountView[] {
  return record.mounts.map((mount) => {
    if (mount.type === "volume") {
      return { Type: "volume", Name: mount.name ?? "", Source: mount.source, Destination: mount.destination, Driver: "local", Mode: mount.mode, RW: mount.readWrite, Propagation: "" };
    }
    return { Type: mount.type, Source: mount.source, Destination: mount.destination, Mode: mount.mode, RW: mount.readWrite, Propagation: mount.propagation };
  });
}

export function stateView(state: ContainerState): StateView {
  return {
    Status: state.status,
    Running: state.running,
    Paused: state.paused,
    Restarting: state.restarting,
    OOMKilled: state.oomKilled,
    Dead: state.dead,
    Pid: state.pid,
    ExitCode: state.exitCode,
    Error: state.error,
    StartedAt: state.startedAt,
    FinishedAt: state.finishedAt,
    ...(state.health === undefined
      ? {}
      : {
          Health: {
            Status: state.health.status,
            FailingStreak: state.health.failingStreak,
            Log: state.health.log.map((entry) => ({ Start: entry.start, End: entry.end, ExitCode: entry.exitCode, Output: entry.output })),
          },
        }),
  };
}

const networkModeOf = (record: ContainerRecord): string => record.spec.networkMode ?? "default";

/** A container's live endpoint on one network, with the network (empty while it is not running). */
export interface AttachedEndpoint {
  readonly network: Pick<NetworkRecord, "id" | "name">;
  readonly endpoint: EndpointRecord;
}

const emptyEndpoint = {
  IPAMConfig: null,
  Links: null,
  Aliases: null,
  MacAddress: "",
  DriverOpts: null,
  GwPriority: 0,
  NetworkID: "",
  EndpointID: "",
  Gateway: "",
  IPAddress: "",
  IPPrefixLen: 0,
  IPv6Gateway: "",
  GlobalIPv6Address: "",
  GlobalIPv6PrefixLen: 0,
  DNSNames: null,
};

/** The networks the container is attached to, keyed by name, as inspect shows them. */
function networks(record: ContainerRecord, live: readonly AttachedEndpoint[]): Record<string, unknown> {
  const attachments = record.networks ?? [];
  if (attachments.length === 0) {
    const mode = networkModeOf(record);
    return mode.startsWith("container:") ? {} : { [mode === "default" ? "none" : mode]: { ...emptyEndpoint } };
  }
  const result: Record<string, unknown> = {};
  for (const attachment of attachments) {
    const found = live.find((entry) => entry.network.id === attachment.networkId)?.endpoint;
    const ipam =
      attachment.ipv4Address !== undefined || attachment.ipv6Address !== undefined
        ? { ...(attachment.ipv4Address ? { IPv4Address: attachment.ipv4Address } : {}), ...(attachment.ipv6Address ? { IPv6Address: attachment.ipv6Address } : {}) }
        : null;
    result[attachment.networkName] = {
      ...emptyEndpoint,
      IPAMConfig: ipam,
      Aliases: attachment.aliases.length > 0 ? attachment.aliases : null,
      MacAddress: found?.mac ?? attachment.macAddress ?? "",
      NetworkID: attachment.networkId,
      ...(found === undefined
        ? {}
        : {
            EndpointID: found.endpointId,
            Gateway: found.gateway,
            IPAddress: found.ipv4,
            IPPrefixLen: found.ipv4Prefix,
            IPv6Gateway: found.ipv6Gateway,
            GlobalIPv6Address: found.ipv6,
            GlobalIPv6PrefixLen: found.ipv6Prefix,
            DNSNames: found.dnsNames,
          }),
    };
  }
  return result;
}

/** Docker's NetworkSettings.Ports: every exposed port, with its host bindings while running. */
function portsView(record: ContainerRecord, live: readonly AttachedEndpoint[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(record.config.exposedPorts)) ports[key] = null;
  for (const { endpoint } of live) {
    for (const port of endpoint.ports) {
      const key = `${port.containerPort}/${port.protocol}`;
      (ports[key] ??= []).push({ HostIp: port.hostIp, HostPort: String(port.hostPort) });
    }
  }
  return ports;
}

/** Docker's /containers/json `Ports` entries. */
function summaryPorts(record: ContainerRecord, live: readonly AttachedEndpoint[]): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  const published = live.flatMap(({ endpoint }) => endpoint.ports);
  const entries: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = published.map((port) => ({ IP: port.hostIp, PrivatePort: port.containerPort, PublicPort: port.hostPort, Type: port.protocol }));
  for (const key of Object.keys(record.config.exposedPorts)) {
    const [port = "0", type = "tcp"] = key.split("/");
    if (!published.some((entry) => entry.containerPort === Number(port) && entry.protocol === type)) entries.push({ PrivatePort: Number(port), Type: type });
  }
  return entries;
}

/** HostConfig.PortBindings: the `-p` requests as given (`-P` ports are not bindings). */
function portBindings(record: ContainerRecord): Record<string, { HostIp: string; HostPort: string }[]> {
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of expandPorts(record.spec.portBindings ?? [], false, [])) {
    const hostPort = port.hostPort === 0 ? "" : port.hostPortEnd > port.hostPort ? `${port.hostPort}-${port.hostPortEnd}` : String(port.hostPort);
    (bindings[`${port.containerPort}/${port.protocol}`] ??= []).push({ HostIp: port.hostIp, HostPort: hostPort });
  }
  return bindings;
}

function hostConfig(record: ContainerRecord): Record<string, unknown> {
  const spec = record.spec;
  const resources = spec.resources ?? {};
  const privileged = spec.privileged ?? false;
  const logConfig: Record<string, string> = {};
  if (spec.logConfig?.maxSize !== undefined) logConfig["max-size"] = spec.logConfig.maxSize;
  if (spec.logConfig?.maxFile !== undefined) logConfig["max-file"] = String(spec.logConfig.maxFile);
  return {
    Binds: null,
    ContainerIDFile: "",
    LogConfig: { Type: "json-file", Config: logConfig },
    NetworkMode: networkModeOf(record),
    PortBindings: portBindings(record),
    RestartPolicy: { Name: spec.restartPolicy?.name ?? "no", MaximumRetryCount: spec.restartPolicy?.maximumRetryCount ?? 0 },
    AutoRemove: spec.autoRemove ?? false,
    VolumeDriver: "",
    VolumesFrom: null,
    CapAdd: spec.capAdd ?? null,
    CapDrop: spec.capDrop ?? null,
    CgroupnsMode: "host",
    Dns: spec.dns ?? [],
    DnsOptions: spec.dnsOptions ?? [],
    DnsSearch: spec.dnsSearch ?? [],
    ExtraHosts: spec.extraHosts !== undefined && spec.extraHosts.length > 0 ? spec.extraHosts : null,
    GroupAdd: spec.groupAdd ?? null,
    IpcMode: "private",
    Cgroup: "",
    Links: null,
    OomScoreAdj: 0,
    PidMode: "",
    Privileged: privileged,
    PublishAllPorts: spec.publishAllPorts ?? false,
    ReadonlyRootfs: spec.readOnly ?? false,
    SecurityOpt: spec.securityOpt ?? null,
    UTSMode: "",
    UsernsMode: "",
    ShmSize: spec.shmSize ?? 67108864,
    Runtime: "berth",
    Isolation: "",
    CpuShares: resources.cpuShares ?? 0,
    Memory: resources.memory ?? 0,
    NanoCpus: resources.nanoCpus ?? 0,
    CgroupParent: "",
    CpuPeriod: resources.cpuPeriod ?? 0,
    CpuQuota: resources.cpuQuota ?? 0,
    CpusetCpus: resources.cpusetCpus ?? "",
    CpusetMems: resources.cpusetMems ?? "",
    Devices: [],
    MemoryReservation: resources.memoryReservation ?? 0,
    MemorySwap: memorySwap(resources) ?? 0,
    PidsLimit: resources.pidsLimit !== undefined && resources.pidsLimit > 0 ? resources.pidsLimit : null,
    Ulimits: (spec.ulimits ?? []).map((ulimit) => ({ Name: ulimit.name, Soft: ulimit.soft, Hard: ulimit.hard })),
    Init: spec.init ?? null,
    Sysctls: spec.sysctls ?? null,
    Mounts: (spec.mounts ?? []).map(mountRequestView),
    Tmpfs: null,
    MaskedPaths: privileged ? null : maskedPaths,
    ReadonlyPaths: privileged ? null : readonlyPaths,
  };
}

/** HostConfig.Mounts: the request, in the Engine API's mount shape. */
function mountRequestView(mount: MountSpec): Record<string, unknown> {
  switch (mount.type) {
    case "bind":
      return { Type: "bind", Source: mount.source, Target: mount.target, ReadOnly: mount.readOnly ?? false, ...(mount.propagation ? { BindOptions: { Propagation: mount.propagation } } : {}) };
    case "volume":
      return {
        Type: "volume",
        Source: mount.source ?? "",
        Target: mount.target,
        ReadOnly: mount.readOnly ?? false,
        ...(mount.noCopy || mount.labels ? { VolumeOptions: { NoCopy: mount.noCopy ?? false, ...(mount.labels ? { Labels: mount.labels } : {}) } } : {}),
      };
    case "tmpfs":
      return {
        Type: "tmpfs",
        Target: mount.target,
        ...(mount.sizeBytes !== undefined || mount.mode !== undefined
          ? { TmpfsOptions: { ...(mount.sizeBytes !== undefined ? { SizeBytes: mount.sizeBytes } : {}), ...(mount.mode !== undefined ? { Mode: mount.mode } : {}) } }
          : {}),
      };
  }
}

export function inspectView(record: ContainerRecord, state: ContainerState, files: ContainerFiles, live: readonly AttachedEndpoint[] = []): ContainerInspect {
  const config = record.config;
  const args = [...config.entrypoint, ...config.cmd];
  const healthcheck = config.healthcheck;
  return {
    Id: record.id,
    Created: record.created,
    Path: args[0] ?? "",
    Args: args.slice(1),
    State: stateView(state),
    Image: record.image.id,
    ResolvConfPath: files.resolvConf,
    HostnamePath: files.hostname,
    HostsPath: files.hosts,
    LogPath: files.log,
    Name: `/${record.name}`,
    RestartCount: state.restartCount,
    Driver: "overlay2",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: hostConfig(record),
    GraphDriver: {
      Data: { LowerDir: [...record.layerPaths].reverse().join(":"), MergedDir: files.merged, UpperDir: files.upper, WorkDir: files.work },
      Name: "overlay2",
    },
    Mounts: mountViews(record),
    Config: {
      Hostname: config.hostname,
      Domainname: config.domainname,
      User: config.user,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(Object.keys(config.exposedPorts).length > 0 ? { ExposedPorts: config.exposedPorts } : {}),
      Tty: config.tty,
      OpenStdin: config.openStdin,
      StdinOnce: config.stdinOnce ?? false,
      Env: config.env,
      Cmd: config.cmd.length > 0 ? config.cmd : null,
      ...(healthcheck === null
        ? {}
        : {
            Healthcheck: {
              Test: healthcheck.test,
              ...(healthcheck.intervalMs ? { Interval: healthcheck.intervalMs * 1e6 } : {}),
              ...(healthcheck.timeoutMs ? { Timeout: healthcheck.timeoutMs * 1e6 } : {}),
              ...(healthcheck.startPeriodMs ? { StartPeriod: healthcheck.startPeriodMs * 1e6 } : {}),
              ...(healthcheck.startIntervalMs ? { StartInterval: healthcheck.startIntervalMs * 1e6 } : {}),
              ...(healthcheck.retries ? { Retries: healthcheck.retries } : {}),
            },
          }),
      Image: config.image,
      Volumes: Object.keys(config.volumes).length > 0 ? config.volumes : null,
      WorkingDir: config.workingDir === "/" && record.spec.workingDir === undefined ? "" : config.workingDir,
      Entrypoint: config.entrypoint.length > 0 ? config.entrypoint : null,
      OnBuild: null,
      Labels: config.labels,
      ...(config.stopSignal !== "" ? { StopSignal: config.stopSignal } : {}),
      ...(config.stopTimeout !== null ? { StopTimeout: config.stopTimeout } : {}),
    },
    NetworkSettings: {
      Bridge: "",
      SandboxID: live[0]?.endpoint.sandbox === undefined ? "" : record.id,
      SandboxKey: live[0]?.endpoint.sandbox ?? "",
      Ports: portsView(record, live),
      HairpinMode: false,
      LinkLocalIPv6Address: "",
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: "",
      Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      IPAddress: "",
      IPPrefixLen: 0,
      IPv6Gateway: "",
      MacAddress: "",
      Networks: networks(record, live),
    },
  };
}

/** The command column's source: entrypoint and cmd joined by spaces, as Docker lists it. */
export const commandLine = (record: ContainerRecord): string => [...record.config.entrypoint, ...record.config.cmd].join(" ");

export function summaryView(record: ContainerRecord, state: ContainerState, nowMs: number, live: readonly AttachedEndpoint[] = []): ContainerSummary {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.image.reference,
    ImageID: record.image.id,
    Command: commandLine(record),
    Created: Math.floor(Date.parse(record.created) / 1000),
    Ports: summaryPorts(record, live),
    Labels: record.config.labels,
    State: state.status,
    Status: statusText(state, nowMs),
    HostConfig: { NetworkMode: networkModeOf(record) },
    NetworkSettings: { Networks: networks(record, live) },
    Mounts: mountViews(record),
  };
}
