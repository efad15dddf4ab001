// The image store's public types: the store interface the engine and the CLI use, and the
// Docker-shaped records it returns. Field names follow Docker's JSON (Id, RepoTags, Config, …)
// so that `berth image inspect` output and dockerode-shaped callers read the same.

/** A Docker/OCI healthcheck as an image config stores it: durations in nanoseconds. */
export interface ImageHealthcheck {
  readonly Test?: readonly string[];
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly StartInterval?: number;
  readonly Retries?: number;
}

/** The image config's `config` object (OCI image spec "config", with Docker's extensions). */
export interface OciImageConfig {
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, object>>;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Volumes?: Readonly<Record<string, object>>;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly StopSignal?: string;
  readonly ArgsEscaped?: boolean;
  readonly Healthcheck?: ImageHealthcheck;
  readonly OnBuild?: readonly string[] | null;
  readonly Shell?: readonly string[];
  readonly [key: string]: unknown;
}

/** The whole image config blob (`application/vnd.oci.image.config.v1+json`). */
export interface OciImageConfigFile {
  readonly created?: string;
  readonly author?: string;
  readonly architecture?: string;
  readonly variant?: string;
  readonly os?: string;
  readonly config?: OciImageConfig;
  readonly rootfs?: { readonly type?: string; readonly diff_ids?: readonly string[] };
  readonly history?: readonly unknown[];
  readonly comment?: string;
  readonly [key: string]: unknown;
}

export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: { readonly architecture?: string; readonly os?: string; readonly variant?: string };
}

export interface OciManifest {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly config: OciDescriptor;
  readonly layers: readonly OciDescriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface OciIndex {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly manifests: readonly OciDescriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ResolvedImage {
  readonly id: string; // "sha256:<config digest>"
  readonly references: readonly string[]; // normalized names pointing at it
  readonly config: OciImageConfig; // the image config's `config` object
  readonly layerPaths: readonly string[]; // unpacked layer dirs, BOTTOM layer first (overlay lowerdir needs top first: reverse it)
  readonly created?: string;
}

/** One image as `GET /images/json` returns it. */
export interface ImageSummary {
  readonly Id: string;
  readonly ParentId: string;
  /** Familiar `name:tag` forms, as Docker returns them. */
  readonly RepoTags: readonly string[];
  readonly RepoDigests: readonly string[];
  /** Seconds since the epoch (0 when the config has no `created`). */
  readonly Created: number;
  readonly Size: number;
  readonly SharedSize: number;
  readonly Labels: Readonly<Record<string, string>>;
  readonly Containers: number;
}

/** One image as `GET /images/{name}/json` (and `docker image inspect`) returns it. */
export interface ImageInspect {
  readonly Id: string;
  readonly RepoTags: readonly string[];
  readonly RepoDigests: readonly string[];
  readonly Parent: string;
  readonly Comment: string;
  readonly Created: string;
  readonly DockerVersion: string;
  readonly Author: string;
  readonly Config: OciImageConfig;
  readonly Architecture: string;
  readonly Variant?: string;
  readonly Os: string;
  readonly Size: number;
  readonly GraphDriver: { readonly Name: string; readonly Data: Readonly<Record<string, string>> };
  readonly RootFS: { readonly Type: string; readonly Layers: readonly string[] };
  readonly Metadata: { readonly LastTagTime: string };
}

export interface RemoveImageOptions {
  readonly force: boolean;
  readonly isInUse?: (imageId: string) => boolean;
  /** The id of a container created from the image, for the conflict message Docker prints. */
  readonly containerUsing?: (imageId: string) => string | undefined;
}

export interface PruneImagesOptions {
  readonly all: boolean;
  readonly isInUse?: (imageId: string) => boolean;
}

export interface PruneImagesReport {
  /** `Untagged: …` and `Deleted: …` lines, in the order they happened. */
  readonly lines: readonly string[];
  /** Bytes of unpacked layers and blobs removed. */
  readonly reclaimedBytes: number;
}

export interface ImageStore {
  resolve(reference: string): Promise<ResolvedImage>; // by name, id or id prefix; unpacks layers if needed; throws BerthError code E_IMAGE_NOT_FOUND with message `No such image: <ref>`
  list(): Promise<readonly ImageSummary[]>;
  inspect(reference: string): Promise<ImageInspect>;
  load(file: string): Promise<readonly string[]>; // loaded references (or ids)
  save(references: readonly string[], output: string): Promise<void>;
  tag(source: string, target: string): Promise<void>;
  remove(reference: string, options: RemoveImageOptions): Promise<readonly string[]>; // Untagged:/Deleted: lines
  prune(options: { all: boolean; isInUse?: (imageId: string) => boolean }): Promise<readonly string[]>;
  /** `prune` with the space it reclaimed, for `berth image prune`'s last line. */
  pruneWithReport(options: PruneImagesOptions): Promise<PruneImagesReport>;
  /** Pulls from the registry (mirrors first); records the image under its name with RepoDigests. */
  pull(reference: string, options?: PullOptions): Promise<PullResult>;
  /** Pushes the stored image (its blobs as stored) to the registry its name points at. */
  push(reference: string, options?: PushOptions): Promise<PushResult>;
}

// ---------------------------------------------------------------- registry pull and push

/** What a pull reports as it goes; the CLI renders these (plain lines or per-layer bars). */
export type PullProgressEvent =
  /** Before anything is fetched: `latest: Pulling from library/busybox` (repository is the path on the registry). */
  | { readonly type: "start"; readonly reference: string; readonly tagOrDigest: string; readonly repository: string }
  /** The manifest is known: one entry per layer, bottom first. */
  | { readonly type: "layers"; readonly layers: readonly { readonly id: string; readonly size: number }[] }
  | {
      readonly type: "layer";
      /** The first 12 hex digits of the layer blob's digest, as Docker shows it. */
      readonly id: string;
      readonly status:
        | "Pulling fs layer"
        | "Waiting"
        | "Already exists"
        | "Downloading"
        | "Retrying"
        | "Verifying Checksum"
        | "Download complete"
        | "Extracting"
        | "Pull complete";
      readonly current?: number;
      readonly total?: number;
      /** For Retrying: why, and how long until the next attempt. */
      readonly detail?: string;
    };

export interface PullOptions {
  /** `os/arch[/variant]` (default: this machine). */
  readonly platform?: string;
  readonly onProgress?: (event: PullProgressEvent) => void;
  /** No progress events (the CLI's `-q`). */
  readonly quiet?: boolean;
  /** Environment for DOCKER_CONFIG, BERTH_REGISTRY_CONFIG and BERTH_REGISTRY_MIRRORS (default: process.env). */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

export interface PullResult {
  /** Normalized: `docker.io/library/busybox:latest`, or `…@sha256:…` for a pull by digest. */
  readonly reference: string;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  readonly digest: string;
  /** The image id (config digest). */
  readonly imageId: string;
  /** "downloaded" when anything new was stored; "up-to-date" when the store already had it. */
  readonly status: "downloaded" | "up-to-date";
  /** The endpoint that served it: `127.0.0.1:5000`, `mirror 127.0.0.1:5001`, `docker.io`. */
  readonly registry: string;
}

export type PushProgressEvent =
  | { readonly type: "start"; readonly repository: string }
  | { readonly type: "layers"; readonly layers: readonly { readonly id: string; readonly size: number }[] }
  | {
      readonly type: "layer";
      readonly id: string;
      readonly status: "Preparing" | "Waiting" | "Pushing" | "Pushed" | "Layer already exists" | "Mounted from";
      readonly current?: number;
      readonly total?: number;
      /** For "Mounted from": the source repository path. */
      readonly detail?: string;
    };

export interface PushOptions {
  readonly onProgress?: (event: PushProgressEvent) => void;
  /** Blobs larger than this go up in PATCH chunks of this size (default 16 MiB); smaller ones in one PUT. */
  readonly chunkSizeBytes?: number;
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

export interface PushResult {
  /** Normalized `127.0.0.1:5000/app:1.0`. */
  readonly reference: string;
  readonly tag: string;
  /** The manifest digest the registry stored. */
  readonly digest: string;
  /** Manifest size in bytes. */
  readonly size: number;
}
