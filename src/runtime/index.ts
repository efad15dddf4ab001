// src/runtime's only entry for other folders. For now: the image store API and the state
// root helpers (the container engine joins them here).
export {
  familiarString,
  familiarize,
  formatReference,
  normalizeReference,
  openImageStore,
  parseReference,
  withDefaultTag,
  type ImageInspect,
  type ImageStore,
  type ImageSummary,
  type OciImageConfig,
  type ResolvedImage,
} from "./image/index.js";
export { readJsonFile, runtimePaths, withLock, writeFileAtomic, writeJsonAtomic, type RuntimePaths } from "./state.js";
