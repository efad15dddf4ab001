// The engine: one typed, in-process, dockerode-shaped API over containers, volumes and images.
// Everything above src/runtime (the CLI, the reconciler) drives the kernel through this.
// Dependencies arrive as options with real defaults (STYLE 13): tests pass their own roots,
// image store and shim.

import { containerNeedsNetwork, createContainerService, type ContainerService, type ImageSource } from "./container/index.js";
import { createNetworkService, type NetworkKernel, type NetworkService } from "./network/index.js";
import type { ImageStore } from "./image/index.js";
import { runtimePaths, type RuntimePaths } from "./state.js";
import { createSystemService, type SystemService } from "./system/index.js";
import { createVolumeService, type VolumeService } from "./volume/index.js";

export interface Engine {
  readonly paths: RuntimePaths;
  readonly containers: ContainerService;
  readonly volumes: VolumeService;
  readonly networks: NetworkService;
  /** The image store; `remove` and `prune` know which images containers use. */
  readonly images: ImageStore;
  /** Whether some container (running or not) was created from this image id. */
  imageInUse(imageId: string): boolean;
  /** Leftover kernel objects: `system check` and `system prune`. */
  readonly system: SystemService;
}

export interface EngineOptions {
  /** State and run roots (default: BERTH_ROOT / BERTH_RUN_ROOT, else /var/lib/berth and /run/berth). */
  readonly paths?: RuntimePaths;
  /** The image store (default: the store under `paths`, opened on first use). */
  readonly images?: ImageStore;
  /** An image source for containers other than the store (tests with hand-made layers). */
  readonly imageSource?: ImageSource;
  /** The berth-shim binary (default: $BERTH_SHIM, else native/build/berth-shim). */
  readonly shimPath?: string;
  readonly clock?: () => Date;
  /** Mount the container's cgroups at /sys/fs/cgroup, as Docker does (default true). */
  readonly cgroupMount?: boolean;
  /** The network kernel side (default: the real one). */
  readonly networkKernel?: NetworkKernel;
}

type ImageStoreModule = typeof import("./image/index.js");

/**
 * The image store, loaded on its first call: `berth container ls` never pays for the image
 * modules. Every ImageStore method is async, so the proxy can import on demand.
 */
export function openImageStore(paths: RuntimePaths): ImageStore {
  let opened: Promise<ImageStore> | undefined;
  const store = (): Promise<ImageStore> =>
    (opened ??= import("./image/index.js").then((module: ImageStoreModule) => module.openImageStore(paths)));
  return new Proxy({} as ImageStore, {
    get: (_target, property) => {
      if (property === "then") return undefined;
      return async (...args: unknown[]) => {
        const target = (await store()) as unknown as Record<PropertyKey, (...parameters: unknown[]) => unknown>;
        const method = target[property];
        if (typeof method !== "function") throw new TypeError(`image store has no method ${String(property)}`);
        return method.apply(target, args);
      };
    },
  });
}

/** Image removal and pruning default to refusing images that containers use. */
function guardImages(images: ImageStore, imageInUse: (imageId: string) => boolean, containerUsing?: (imageId: string) => string | undefined): ImageStore {
  return new Proxy(images, {
    get: (target, property, receiver) => {
      if (property === "remove") {
        return (reference: string, options: Parameters<ImageStore["remove"]>[1]) =>
          target.remove(reference, { isInUse: imageInUse, ...(containerUsing ? { containerUsing } : {}), ...options });
      }
      if (property === "prune") {
        return (options: Parameters<ImageStore["prune"]>[0]) => target.prune({ isInUse: imageInUse, ...options });
      }
      if (property === "pruneWithReport") {
        return (options: Parameters<ImageStore["pruneWithReport"]>[0]) => target.pruneWithReport({ isInUse: imageInUse, ...options });
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function createEngine(options: EngineOptions = {}): Engine {
  const paths = options.paths ?? runtimePaths();
  const store = options.images ?? openImageStore(paths);
  const imageSource: ImageSource = options.imageSource ?? { resolve: (reference) => store.resolve(reference) };
  let containers: ContainerService | undefined;
  const volumes = createVolumeService({
    paths,
    usage: () => containers?.volumeUsage() ?? new Map(),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const networks = createNetworkService({
    paths,
    isRunning: (id) => containerNeedsNetwork(paths, id),
    ...(options.networkKernel ? { kernel: options.networkKernel } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  containers = createContainerService({
    paths,
    networks,
    images: imageSource,
    volumes,
    cgroupMount: options.cgroupMount ?? true,
    ...(options.shimPath !== undefined ? { shimPath: () => options.shimPath ?? "" } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const service = containers;
  const imageInUse = (imageId: string): boolean => service.usedImageIds().has(imageId);
  const system = createSystemService({ paths, containers: service, networks, kernel: networks.context.kernel });
  return { paths, containers: service, volumes, networks, images: guardImages(store, imageInUse, (imageId) => service.containersUsingImage(imageId)[0]), imageInUse, system };
}
