// The image store: content-addressed blobs, layers unpacked once per chain id (by native
// berth-unpack), images/index.json naming them; load and save of OCI layouts and docker save
// archives; pull and push over the OCI distribution API (./registry). The container engine uses
// `openImageStore(paths).resolve(reference)`.

export { openImageStore } from "./store.js";
export { normalizeReference, parseReference, familiarString, familiarize, formatReference, withDefaultTag } from "./reference.js";
export type { ImageReference } from "./reference.js";
export { chainIds, sha256Of } from "./digest.js";
export { ImageError, ImageErrorCode, RegistryError } from "./errors.js";
export { loginRegistry, logoutRegistry, searchRegistry } from "./registry/index.js";
export type { LoginRequest, LoginResult, SearchRequest, SearchResult } from "./registry/index.js";
export { MediaType } from "./media-types.js";
export { TarWriter, tarBuffer } from "./tar.js";
export type { TarEntryType, TarHeader } from "./tar.js";
export { unpackerPath } from "./unpacker.js";
export type {
  ImageHealthcheck,
  ImageInspect,
  ImageStore,
  ImageSummary,
  OciDescriptor,
  OciImageConfig,
  OciImageConfigFile,
  OciIndex,
  OciManifest,
  PruneImagesOptions,
  PruneImagesReport,
  PullOptions,
  PullProgressEvent,
  PullResult,
  PushOptions,
  PushProgressEvent,
  PushResult,
  RemoveImageOptions,
  ResolvedImage,
} from "./types.js";
