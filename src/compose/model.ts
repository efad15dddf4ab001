// The typed, immutable, long-syntax Compose model: what the loader produces and what the
// planner consumes. Only bind.ts builds these values from the document; everything else reads
// them. Every short syntax is gone by now (a port always has target, protocol and mode; a
// mount always has a type), so consumers never parse Compose strings again.
//
// Units: durations are nanoseconds (`Duration`, as Go's time.Duration), byte sizes are bytes
// (`ByteSize`), CPU counts are fractional numbers, file modes are numbers (print as octal).
// Maps and lists are always present (possibly empty); optional properties are absent when
// the file does not set them, which is also when `docker compose config` omits them.

/** Nanoseconds. */
export type Duration = number;
/** Bytes. */
export type ByteSize = number;

/** `x-*` keys, kept verbatim. */
export type Extensions = Readonly<Record<string, unknown>>;
export type StringMap = Readonly<Record<string, string>>;
/** Environment-style map: `null` means "declared but without a value" (e.g. `- FOO` with FOO unset). */
export type NullableStringMap = Readonly<Record<string, string | null>>;

export interface Project {
  readonly name: string;
  /** The project directory (not printed by `config`). */
  readonly workingDir?: string;
  readonly services: Readonly<Record<string, Service>>;
  readonly networks: Readonly<Record<string, Network>>;
  readonly volumes: Readonly<Record<string, Volume>>;
  readonly secrets: Readonly<Record<string, Secret>>;
  readonly configs: Readonly<Record<string, Config>>;
  readonly models: Readonly<Record<string, Model>>;
  readonly extensions: Extensions;
}

export interface Service {
  readonly name: string;
  readonly profiles: readonly string[];
  readonly annotations: StringMap;
  readonly attach?: boolean;
  readonly build?: Build;
  readonly develop?: Develop;
  readonly blkioConfig?: BlkioConfig;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly cgroupParent?: string;
  readonly cgroup?: string;
  readonly cpuCount?: number;
  readonly cpuPercent?: number;
  readonly cpuPeriod?: number;
  readonly cpuQuota?: number;
  readonly cpuRtPeriod?: number;
  readonly cpuRtRuntime?: number;
  readonly cpus?: number;
  readonly cpuset?: string;
  readonly cpuShares?: number;
  /** Absent: the image's CMD. Empty: cleared. */
  readonly command?: readonly string[];
  readonly configs: readonly FileReference[];
  readonly containerName?: string;
  readonly credentialSpec?: CredentialSpec;
  readonly dependsOn: Readonly<Record<string, DependsOn>>;
  readonly deploy?: Deploy;
  readonly deviceCgroupRules: readonly string[];
  readonly devices: readonly DeviceMapping[];
  readonly dns: readonly string[];
  readonly dnsOpt: readonly string[];
  readonly dnsSearch: readonly string[];
  readonly domainname?: string;
  /** Absent: the image's ENTRYPOINT. Empty: cleared. */
  readonly entrypoint?: readonly string[];
  readonly provider?: Provider;
  /** `env_file` entries are already merged in (explicit `environment` wins). */
  readonly environment: NullableStringMap;
  readonly expose: readonly string[];
  readonly extends?: ExtendsReference;
  readonly externalLinks: readonly string[];
  /** Host name → addresses, in file order. */
  readonly extraHosts: Readonly<Record<string, readonly string[]>>;
  readonly groupAdd: readonly string[];
  readonly gpus: readonly DeviceRequest[];
  readonly hostname?: string;
  readonly healthcheck?: Healthcheck;
  readonly image?: string;
  readonly init?: boolean;
  readonly ipc?: string;
  readonly isolation?: string;
  /** `label_file` entries are already merged in (explicit `labels` win). */
  readonly labels: StringMap;
  readonly links: readonly string[];
  readonly logging?: Logging;
  readonly memLimit?: ByteSize;
  readonly memReservation?: ByteSize;
  readonly memswapLimit?: ByteSize;
  readonly memSwappiness?: number;
  readonly macAddress?: string;
  readonly models: Readonly<Record<string, ServiceModel | null>>;
  readonly networkMode?: string;
  /** Network key → attachment options (`null`: defaults). */
  readonly networks: Readonly<Record<string, ServiceNetwork | null>>;
  readonly oomKillDisable: boolean;
  readonly oomScoreAdj?: number;
  readonly pid?: string;
  readonly pidsLimit?: number;
  readonly platform?: string;
  readonly ports: readonly PortMapping[];
  readonly postStart: readonly ServiceHook[];
  readonly preStop: readonly ServiceHook[];
  readonly privileged: boolean;
  readonly pullPolicy?: string;
  readonly readOnly: boolean;
  readonly restart?: string;
  readonly runtime?: string;
  readonly scale?: number;
  readonly secrets: readonly FileReference[];
  readonly securityOpt: readonly string[];
  readonly shmSize?: ByteSize;
  readonly stdinOpen: boolean;
  readonly stopGracePeriod?: Duration;
  readonly stopSignal?: string;
  readonly storageOpt: StringMap;
  readonly sysctls: StringMap;
  readonly tmpfs: readonly string[];
  readonly tty: boolean;
  readonly ulimits: Readonly<Record<string, Ulimit>>;
  readonly useApiSocket: boolean;
  readonly user?: string;
  readonly usernsMode?: string;
  readonly uts?: string;
  readonly volumeDriver?: string;
  readonly volumes: readonly Mount[];
  readonly volumesFrom: readonly string[];
  readonly workingDir?: string;
  readonly extensions: Extensions;
}

export type PortProtocol = "tcp" | "udp" | "sctp";
export type PortMode = "ingress" | "host";

export interface PortMapping {
  readonly name?: string;
  readonly mode: PortMode;
  readonly hostIp?: string;
  readonly target: number;
  /** A host port (`8080`) or a host port range (`8000-8010`); absent: an ephemeral port. */
  readonly published?: string;
  readonly protocol: PortProtocol;
  readonly appProtocol?: string;
  readonly extensions: Extensions;
}

export type DependsOnCondition = "service_started" | "service_healthy" | "service_completed_successfully";

export interface DependsOn {
  readonly condition: DependsOnCondition;
  /** Restart this service when the dependency is restarted. */
  readonly restart: boolean;
  /** When false, a missing or disabled dependency is ignored. */
  readonly required: boolean;
  readonly extensions: Extensions;
}

export type MountType = "bind" | "volume" | "tmpfs" | "npipe" | "image" | "cluster";

interface MountCommon {
  readonly target: string;
  readonly readOnly: boolean;
  readonly consistency?: string;
  /** Option blocks are kept whichever type they appear on, as Compose prints them. */
  readonly bind?: BindOptions;
  readonly volume?: VolumeOptions;
  readonly tmpfs?: TmpfsOptions;
  readonly image?: ImageMountOptions;
  readonly extensions: Extensions;
}

export interface BindMount extends MountCommon {
  readonly type: "bind";
  /** Absolute host path. */
  readonly source: string;
}

export interface VolumeMount extends MountCommon {
  readonly type: "volume";
  /** Key of a top-level volume; absent for an anonymous volume. */
  readonly source?: string;
}

export interface TmpfsMount extends MountCommon {
  readonly type: "tmpfs";
  readonly source?: string;
}

export interface NpipeMount extends MountCommon {
  readonly type: "npipe";
  readonly source?: string;
}

export interface ImageMount extends MountCommon {
  readonly type: "image";
  /** Image reference. */
  readonly source?: string;
}

export interface ClusterMount extends MountCommon {
  readonly type: "cluster";
  readonly source?: string;
}

export type Mount = BindMount | VolumeMount | TmpfsMount | NpipeMount | ImageMount | ClusterMount;

export interface BindOptions {
  readonly selinux?: "z" | "Z";
  readonly propagation?: string;
  /** Short syntax binds create a missing host path; long syntax ones fail instead. */
  readonly createHostPath: boolean;
  readonly recursive?: string;
  readonly extensions: Extensions;
}

export interface VolumeOptions {
  readonly labels: StringMap;
  readonly nocopy: boolean;
  readonly subpath?: string;
  readonly extensions: Extensions;
}

export interface TmpfsOptions {
  readonly size?: ByteSize;
  /** File mode bits. */
  readonly mode?: number;
  readonly extensions: Extensions;
}

export interface ImageMountOptions {
  readonly subpath?: string;
  readonly extensions: Extensions;
}

/** A service's reference to a top-level secret or config. */
export interface FileReference {
  readonly source: string;
  /** For secrets, defaults to `/run/secrets/<source>`. */
  readonly target?: string;
  readonly uid?: string;
  readonly gid?: string;
  /** File mode bits (printed in octal). */
  readonly mode?: number;
  readonly extensions: Extensions;
}

export interface Build {
  /** Absolute directory, URL, or `service:name`. */
  readonly context: string;
  readonly dockerfile?: string;
  readonly dockerfileInline?: string;
  readonly entitlements: readonly string[];
  readonly args: NullableStringMap;
  readonly provenance?: string;
  readonly sbom?: string;
  readonly ssh: readonly SshKey[];
  readonly labels: StringMap;
  readonly cacheFrom: readonly string[];
  readonly cacheTo: readonly string[];
  readonly noCache: boolean;
  readonly additionalContexts: StringMap;
  readonly pull: boolean;
  readonly extraHosts: Readonly<Record<string, readonly string[]>>;
  readonly isolation?: string;
  readonly network?: string;
  readonly target?: string;
  readonly secrets: readonly FileReference[];
  readonly shmSize?: ByteSize;
  readonly tags: readonly string[];
  readonly ulimits: Readonly<Record<string, Ulimit>>;
  readonly platforms: readonly string[];
  readonly privileged: boolean;
  readonly extensions: Extensions;
}

export interface SshKey {
  readonly id: string;
  /** Absent: the default SSH agent socket. */
  readonly path?: string;
}

/** `nproc: 65535` (one value for soft and hard) or `nofile: {soft, hard}`. */
export type Ulimit = { readonly single: number } | { readonly soft: number; readonly hard: number };

export interface Healthcheck {
  /** `["CMD", …]`, `["CMD-SHELL", cmd]` or `["NONE"]`. */
  readonly test?: readonly string[];
  readonly timeout?: Duration;
  readonly interval?: Duration;
  readonly retries?: number;
  readonly startPeriod?: Duration;
  readonly startInterval?: Duration;
  readonly disable: boolean;
  readonly extensions: Extensions;
}

export interface Deploy {
  readonly mode?: string;
  readonly replicas?: number;
  readonly labels: StringMap;
  readonly updateConfig?: UpdateConfig;
  readonly rollbackConfig?: UpdateConfig;
  readonly resources: Resources;
  readonly restartPolicy?: RestartPolicy;
  readonly placement: Placement;
  readonly endpointMode?: string;
  readonly extensions: Extensions;
}

export interface UpdateConfig {
  readonly parallelism?: number;
  readonly delay?: Duration;
  readonly failureAction?: string;
  readonly monitor?: Duration;
  readonly maxFailureRatio?: number;
  readonly order?: string;
  readonly extensions: Extensions;
}

export interface Resources {
  readonly limits?: Resource;
  readonly reservations?: Resource;
  readonly extensions: Extensions;
}

export interface Resource {
  readonly cpus?: number;
  readonly memory?: ByteSize;
  readonly pids?: number;
  readonly devices: readonly DeviceRequest[];
  readonly genericResources: readonly GenericResource[];
  readonly extensions: Extensions;
}

export interface GenericResource {
  readonly discreteResourceSpec?: { readonly kind: string; readonly value: number; readonly extensions: Extensions };
  readonly extensions: Extensions;
}

export interface DeviceRequest {
  readonly capabilities: readonly string[];
  readonly driver?: string;
  /** -1 means "all", as Compose stores it. */
  readonly count?: number;
  readonly deviceIds: readonly string[];
  readonly options: StringMap;
}

export interface RestartPolicy {
  readonly condition?: string;
  readonly delay?: Duration;
  readonly maxAttempts?: number;
  readonly window?: Duration;
  readonly extensions: Extensions;
}

export interface Placement {
  readonly constraints: readonly string[];
  readonly preferences: readonly { readonly spread?: string; readonly extensions: Extensions }[];
  readonly maxReplicasPerNode?: number;
  readonly extensions: Extensions;
}

export interface DeviceMapping {
  readonly source: string;
  readonly target: string;
  readonly permissions: string;
  readonly extensions: Extensions;
}

export interface BlkioConfig {
  readonly weight?: number;
  readonly weightDevice: readonly { readonly path: string; readonly weight: number; readonly extensions: Extensions }[];
  readonly deviceReadBps: readonly ThrottleDevice[];
  readonly deviceReadIops: readonly ThrottleDevice[];
  readonly deviceWriteBps: readonly ThrottleDevice[];
  readonly deviceWriteIops: readonly ThrottleDevice[];
  readonly extensions: Extensions;
}

export interface ThrottleDevice {
  readonly path: string;
  /** Bytes (or operations) per second. */
  readonly rate: number;
  readonly extensions: Extensions;
}

export interface CredentialSpec {
  readonly config?: string;
  readonly file?: string;
  readonly registry?: string;
  readonly extensions: Extensions;
}

export interface Provider {
  readonly type?: string;
  readonly options: Readonly<Record<string, readonly string[]>>;
  readonly extensions: Extensions;
}

export interface ExtendsReference {
  readonly file?: string;
  readonly service: string;
}

export interface Logging {
  readonly driver?: string;
  readonly options: StringMap;
  readonly extensions: Extensions;
}

export interface ServiceNetwork {
  readonly aliases: readonly string[];
  readonly driverOpts: StringMap;
  readonly gwPriority?: number;
  readonly interfaceName?: string;
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly linkLocalIps: readonly string[];
  readonly macAddress?: string;
  readonly priority?: number;
  readonly extensions: Extensions;
}

export interface ServiceModel {
  readonly endpointVar?: string;
  readonly modelVar?: string;
  readonly extensions: Extensions;
}

export interface ServiceHook {
  readonly command?: readonly string[];
  readonly user?: string;
  readonly privileged: boolean;
  readonly workingDir?: string;
  readonly environment: NullableStringMap;
  readonly extensions: Extensions;
}

export interface Develop {
  readonly watch: readonly WatchRule[];
  readonly extensions: Extensions;
}

export interface WatchRule {
  readonly path: string;
  readonly action: string;
  readonly target?: string;
  readonly exec?: ServiceHook;
  readonly include: readonly string[];
  readonly ignore: readonly string[];
  readonly initialSync: boolean;
  readonly extensions: Extensions;
}

export interface Network {
  /** The engine-side name: `<project>_<key>` unless named or external. */
  readonly name: string;
  readonly driver?: string;
  readonly driverOpts: StringMap;
  readonly ipam: Ipam;
  readonly external: boolean;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly labels: StringMap;
  readonly enableIpv4?: boolean;
  readonly enableIpv6?: boolean;
  readonly extensions: Extensions;
}

export interface Ipam {
  readonly driver?: string;
  readonly config: readonly IpamPool[];
  readonly extensions: Extensions;
}

export interface IpamPool {
  readonly subnet?: string;
  readonly gateway?: string;
  readonly ipRange?: string;
  readonly auxAddresses: StringMap;
  readonly extensions: Extensions;
}

export interface Volume {
  /** The engine-side name: `<project>_<key>` unless named or external. */
  readonly name: string;
  readonly driver?: string;
  readonly driverOpts: StringMap;
  readonly external: boolean;
  readonly labels: StringMap;
  readonly extensions: Extensions;
}

/** A top-level secret or config. */
export interface FileObject {
  readonly name: string;
  readonly file?: string;
  readonly environment?: string;
  /**
   * Inline content, or the value of `environment` read from the project environment.
   * Never printed for secrets; printed for configs only when it was written inline.
   */
  readonly content?: string;
  readonly external: boolean;
  readonly labels: StringMap;
  readonly driver?: string;
  readonly driverOpts: StringMap;
  readonly templateDriver?: string;
  readonly extensions: Extensions;
}

export type Secret = FileObject;
export type Config = FileObject;

export interface Model {
  readonly name?: string;
  readonly model?: string;
  readonly contextSize?: number;
  readonly runtimeFlags: readonly string[];
  readonly extensions: Extensions;
}

/** The number of containers a service runs: `scale`, else `deploy.replicas`, else 1. */
export function replicasOf(service: Service): number {
  return service.scale ?? service.deploy?.replicas ?? 1;
}

/**
 * The project without top-level networks, volumes, secrets, configs and models that no service
 * uses (compose-go Project.WithoutUnnecessaryResources, which Docker Compose applies to every
 * command unless `--all-resources`).
 */
export function withoutUnnecessaryResources(project: Project): Project {
  const networks = new Set<string>();
  const volumes = new Set<string>();
  const secrets = new Set<string>();
  const configs = new Set<string>();
  const models = new Set<string>();
  for (const service of Object.values(project.services)) {
    for (const name of Object.keys(service.networks)) networks.add(name);
    for (const mount of service.volumes) if (mount.type === "volume" && mount.source !== undefined) volumes.add(mount.source);
    for (const secret of service.secrets) secrets.add(secret.source);
    for (const secret of service.build?.secrets ?? []) secrets.add(secret.source);
    for (const config of service.configs) configs.add(config.source);
    for (const name of Object.keys(service.models)) models.add(name);
  }
  const keep = <T>(resources: Readonly<Record<string, T>>, used: ReadonlySet<string>): Readonly<Record<string, T>> =>
    Object.fromEntries(Object.entries(resources).filter(([key]) => used.has(key)));
  return {
    ...project,
    networks: keep(project.networks, networks),
    volumes: keep(project.volumes, volumes),
    secrets: keep(project.secrets, secrets),
    configs: keep(project.configs, configs),
    models: keep(project.models, models),
  };
}
