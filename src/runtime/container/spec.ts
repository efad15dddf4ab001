// What a caller asks for when it creates a container (the Engine API's input, the CLI's flags
// and Compose's service fields all end here), and what the engine resolves it into, stored in
// container.json. Plain data: no paths on the host yet except those the caller gave.

/** Mount propagation, as Docker's `bind-propagation` takes it. */
export type Propagation = "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";

export type MountSpec =
  | {
      readonly type: "bind";
      readonly source: string;
      readonly target: string;
      readonly readOnly?: boolean;
      readonly propagation?: Propagation;
      /** `-v /host:/ctr` creates a missing host directory; `--mount type=bind` refuses it. */
      readonly createHostPath?: boolean;
    }
  | {
      readonly type: "volume";
      /** A named volume; absent for an anonymous one. */
      readonly source?: string;
      readonly target: string;
      readonly readOnly?: boolean;
      /** Do not fill a new volume from the image's content at the target. */
      readonly noCopy?: boolean;
      /** Labels for a volume this mount creates. */
      readonly labels?: Readonly<Record<string, string>>;
    }
  | {
      readonly type: "tmpfs";
      readonly target: string;
      /** Bytes; unlimited (half of RAM, the kernel's default) when absent. */
      readonly sizeBytes?: number;
      readonly mode?: number;
      /** Extra mount options from `--tmpfs /run:rw,exec`. */
      readonly options?: readonly string[];
    };

export type RestartPolicyName = "no" | "always" | "on-failure" | "unless-stopped";

export interface RestartPolicy {
  readonly name: RestartPolicyName;
  readonly maximumRetryCount?: number;
}

/** Docker's healthcheck fields; durations in milliseconds, 0 = inherit or default. */
export interface HealthcheckSpec {
  /** `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`; empty = inherit the image's. */
  readonly test?: readonly string[];
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly startPeriodMs?: number;
  readonly startIntervalMs?: number;
  readonly retries?: number;
}

export interface Ulimit {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

export interface ResourcesSpec {
  /** Bytes. */
  readonly memory?: number;
  /** Memory + swap, bytes; -1 unlimited. Docker defaults it to twice `memory`. */
  readonly memorySwap?: number;
  readonly memoryReservation?: number;
  /** CPUs × 10⁹ (`--cpus 1.5` → 1500000000). */
  readonly nanoCpus?: number;
  readonly cpuQuota?: number;
  readonly cpuPeriod?: number;
  readonly cpuShares?: number;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
  /** Maximum processes; 0 or -1 unlimited. */
  readonly pidsLimit?: number;
}

export interface LogConfigSpec {
  /** `10m`, as Docker's json-file `max-size`. */
  readonly maxSize?: string;
  readonly maxFile?: number;
}

export interface NetworkAttachmentSpec {
  /** A network name, id or id prefix. */
  readonly network: string;
  readonly aliases?: readonly string[];
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly macAddress?: string;
}

/** One `-p`: container port (or range) → host ip and port (or range); host port 0/absent = any free one. */
export interface PortBindingSpec {
  readonly containerPort: number;
  readonly containerPortEnd?: number;
  readonly protocol?: "tcp" | "udp" | "sctp";
  readonly hostIp?: string;
  readonly hostPort?: number;
  readonly hostPortEnd?: number;
}

export interface ContainerCreateSpec {
  readonly image: string;
  readonly name?: string;
  readonly cmd?: readonly string[];
  /** Given (even empty) replaces the image's ENTRYPOINT; empty resets it. */
  readonly entrypoint?: readonly string[];
  /** `KEY=VALUE`; a bare `KEY` removes an image variable. */
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly groupAdd?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly hostname?: string;
  readonly domainname?: string;
  readonly mounts?: readonly MountSpec[];
  readonly readOnly?: boolean;
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  readonly privileged?: boolean;
  /** `no-new-privileges`, `no-new-privileges=true|false`; others are refused. */
  readonly securityOpt?: readonly string[];
  readonly ulimits?: readonly Ulimit[];
  readonly sysctls?: Readonly<Record<string, string>>;
  /** Bytes of /dev/shm (default 64 MiB). */
  readonly shmSize?: number;
  readonly init?: boolean;
  readonly stopSignal?: string;
  /** Seconds to wait after the stop signal before SIGKILL (default 10). */
  readonly stopTimeout?: number;
  readonly restartPolicy?: RestartPolicy;
  readonly healthcheck?: HealthcheckSpec;
  readonly resources?: ResourcesSpec;
  /**
   * `default`/`bridge` (berth's default network), `none`, `host`, `container:<name|id>`, or the
   * name of a network (Docker's HostConfig.NetworkMode).
   */
  readonly networkMode?: string;
  /** Attachments in interface order; the first may repeat `networkMode` to give it options. */
  readonly networks?: readonly NetworkAttachmentSpec[];
  readonly portBindings?: readonly PortBindingSpec[];
  /** `-P`: every exposed port on a free host port. */
  readonly publishAllPorts?: boolean;
  /** `--expose`: `80`, `80/udp`, `8000-8010/tcp`. */
  readonly exposedPorts?: readonly string[];
  readonly dns?: readonly string[];
  readonly dnsSearch?: readonly string[];
  readonly dnsOptions?: readonly string[];
  /** `name:address`; `host-gateway` as the address means the host (the first network's gateway). */
  readonly extraHosts?: readonly string[];
  readonly logConfig?: LogConfigSpec;
  readonly tty?: boolean;
  readonly openStdin?: boolean;
  /** Docker's StdinOnce (`run -i` attached): the container's stdin closes when the first writer leaves. */
  readonly stdinOnce?: boolean;
  /** Remove the container when it exits (`--rm`). */
  readonly autoRemove?: boolean;
}

/** Docker's container Config, after merging in the image config (inspect's `Config`). */
export interface ResolvedConfig {
  readonly hostname: string;
  readonly domainname: string;
  readonly user: string;
  readonly tty: boolean;
  readonly openStdin: boolean;
  /** Absent in records written before berth knew it: false. */
  readonly stdinOnce?: boolean;
  readonly env: readonly string[];
  readonly cmd: readonly string[];
  readonly entrypoint: readonly string[];
  readonly image: string;
  readonly workingDir: string;
  readonly labels: Readonly<Record<string, string>>;
  /** As given or inherited; "" = the default (SIGTERM). */
  readonly stopSignal: string;
  /** Seconds; null = the default (10). */
  readonly stopTimeout: number | null;
  /** As merged with the image's (zeros mean the defaults); null when neither has one. */
  readonly healthcheck: ResolvedHealthcheck | null;
  readonly exposedPorts: Readonly<Record<string, Record<string, never>>>;
  readonly volumes: Readonly<Record<string, Record<string, never>>>;
}

export interface ResolvedHealthcheck {
  readonly test: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly startPeriodMs: number;
  readonly startIntervalMs: number;
  readonly retries: number;
}

/** One mount as the container gets it, with its host source decided. */
export interface ResolvedMount {
  readonly type: "bind" | "volume" | "tmpfs";
  /** Volume name (named or anonymous). */
  readonly name?: string;
  /** Host path (bind: as given; volume: its `_data`); empty for tmpfs. */
  readonly source: string;
  readonly destination: string;
  readonly readWrite: boolean;
  readonly propagation: Propagation | "";
  /** Docker's `Mode` field (`ro`, `z`, "" …). */
  readonly mode: string;
  readonly anonymous?: boolean;
  readonly noCopy?: boolean;
  /** OCI mount options for tmpfs. */
  readonly tmpfsOptions?: readonly string[];
  readonly createHostPath?: boolean;
  readonly volumeLabels?: Readonly<Record<string, string>>;
}

/** The OCI image config fields the engine reads (image-spec `config`). */
export interface ImageConfigView {
  readonly User?: string;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly StopSignal?: string;
  readonly ExposedPorts?: Readonly<Record<string, unknown>> | null;
  readonly Volumes?: Readonly<Record<string, unknown>> | null;
  readonly Healthcheck?: {
    readonly Test?: readonly string[] | null;
    /** Nanoseconds, as in the image config. */
    readonly Interval?: number;
    readonly Timeout?: number;
    readonly StartPeriod?: number;
    readonly StartInterval?: number;
    readonly Retries?: number;
  } | null;
}
