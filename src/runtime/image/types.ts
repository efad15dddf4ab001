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
  remove(reference: string, options: { force: boolean; isInUse?: (imageId: string) => boolean }): Promise<readonly string[]>; // Untagged:/Deleted: lines
  prune(options: { all: boolean; isInUse?: (imageId: string) => boolean }): Promise<readonly string[]>;
  /** `prune` with the space it reclaimed, for `berth image prune`'s last line. */
  pruneWithReport(options: PruneImagesOptions): Promise<PruneImagesReport>;
}
