// Volumes: the folder's entry point inside src/runtime.
export {
  anonymousVolumeLabel,
  createVolumeService,
  directorySize,
  labelMatches,
  validateVolumeName,
  VolumeErrorCode,
  type VolumeCreateOptions,
  type VolumeInfo,
  type VolumeListOptions,
  type VolumePruneResult,
  type VolumeService,
  type VolumeServiceOptions,
} from "./volumes.js";
