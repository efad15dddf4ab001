// Containers: the folder's entry point inside src/runtime. Only what the engine's callers need
// is re-exported here; the builders (OCI config, mounts, users…) stay internal to the engine and
// are reached by tests through their own files.
export {
  ContainerErrorCode,
  containerNeedsNetwork,
  createContainerService,
  execEnvironment,
  type ContainerService,
  type ContainerServiceOptions,
  type CreateResult,
  type ExecOptions,
  type ExecResult,
  type ImageSource,
  type ListOptions,
  type LogsOptions,
  type PruneResult,
  type WaitCondition,
  type WaitResult,
} from "./containers.js";
export type { CopyOptions } from "./copy.js";
export type { LogEntry } from "./logs.js";
export { shortId as shortContainerId, validateContainerName } from "./names.js";
export { ContainerStartError, listShimProcesses, shimBinary, signalProcess, waitForProcessExit } from "./shim.js";
export { containerFiles, containersDirectory, listRecords, readShimPid } from "./store.js";
export { mountsUnder, unmountAll } from "./rootfs.js";
export { abandonedEntries } from "./lifecycle.js";
export { parseSignal, signalName } from "./signals.js";
export type {
  ContainerCreateSpec,
  HealthcheckSpec,
  ImageConfigView,
  LogConfigSpec,
  MountSpec,
  NetworkAttachmentSpec,
  PortBindingSpec,
  Propagation,
  ResolvedConfig,
  ResolvedHealthcheck,
  ResolvedMount,
  ResourcesSpec,
  RestartPolicy,
  RestartPolicyName,
  Ulimit,
} from "./spec.js";
export {
  canExec,
  canKill,
  canPause,
  canRemove,
  canStart,
  canStop,
  canUnpause,
  statusText,
  type ContainerOperation,
  type ContainerState,
  type ContainerStatus,
  type HealthFile,
  type PersistedState,
  type ShimStatusFile,
} from "./status.js";
export type { ContainerFiles, ContainerRecord } from "./store.js";
export type { TopResult } from "./top.js";
export { humanDuration, humanSize, parseBytes, parseDurationMs } from "./units.js";
export { formatLogTime, parseTimestampArgument } from "./log-time.js";
export type { ContainerInspect, ContainerSummary, MountView } from "./views.js";
