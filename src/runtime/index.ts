// src/runtime's only entry for other folders: the engine, its container and volume types, the
// image store API, the state root helpers, and the cgroup leak check.
//
// The image store itself loads on first use: `openImageStore` here returns a store whose module
// is imported by its first call, and the light helpers (references, digests, media types,
// errors) are re-exported from their own files. A static re-export of image/index.ts would put
// the whole store (load, save, tar) on every command's start-up, `berth container ls` included.
// `loadImageApi()` reaches everything else in it.

export { createEngine, openImageStore, type Engine, type EngineOptions } from "./engine.js";
export { familiarString, familiarize, formatReference, normalizeReference, parseReference, withDefaultTag } from "./image/reference.js";
export { chainIds, sha256Of, shortId } from "./image/digest.js";
export { ImageError, ImageErrorCode } from "./image/errors.js";
export { MediaType } from "./image/media-types.js";
export * from "./container/index.js";
export * from "./volume/index.js";
export type { Leftover, LeftoverKind, SystemService } from "./system/index.js";
export { NetworkStoreErrorCode, type NetworkCreateRequest, type NetworkInspect, type NetworkService, type NetworkRecord, type EndpointRecord } from "./network/index.js";
export type {
  ImageHealthcheck,
  ImageInspect,
  ImageReference,
  ImageStore,
  ImageSummary,
  OciDescriptor,
  OciImageConfig,
  OciImageConfigFile,
  OciIndex,
  OciManifest,
  PruneImagesOptions,
  PruneImagesReport,
  RemoveImageOptions,
  ResolvedImage,
  TarEntryType,
  TarHeader,
} from "./image/index.js";
export { readJsonFile, runtimePaths, withLock, writeFileAtomic, writeJsonAtomic, type RuntimePaths } from "./state.js";
export {
  cgroupProcesses,
  containerCgroupDirectories,
  detectCgroups,
  isFrozen,
  listBerthCgroups,
  parseCgroupLayout,
  readStats,
  type CgroupLayout,
  type CgroupStats,
} from "./cgroups.js";

/** The image store's API (openImageStore, reference parsing, tar writer, …), loaded on demand. */
export const loadImageApi = (): Promise<typeof import("./image/index.js")> => import("./image/index.js");
