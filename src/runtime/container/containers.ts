// The container half of the engine: create (spec + image → an OCI bundle on disk), start (the
// shim), stop, kill, restart, remove, inspect, list, logs, wait, exec, top, cp, pause, rename,
// prune. Every state change takes the container's lock, checks a guard against the derived
// state, and writes its files atomically; a create is built in a hidden directory and renamed
// into place, so a CLI killed at any point leaves either nothing or a whole container.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { BerthError } from "../../errors.js";
import { cgroupProcesses, detectCgroups, isFrozen, removeContainerCgroups, setFrozen, type CgroupLayout } from "../cgroups.js";
import { perBoot, processAlive, removeFile, removeTree, withLock, writeFileAtomic, writeJsonAtomic, type RuntimePaths } from "../state.js";
import { directorySize, labelMatches, type VolumeService } from "../volume/index.js";
import { copyIn, copyOut, resolveContainerPath, tarIn, tarOut, type CopyOptions, type RootView } from "./copy.js";
import { createContainer, startContainer, sweepAbandoned, type LifecycleContext } from "./lifecycle.js";
import { untilTime } from "../prune-filters.js";
import { networkModeKind, tearDownNetworking } from "./networking.js";
import { connectRunning, disconnectRunning, sandboxPath, type NetworkService } from "../network/index.js";
import { streamLogs, type LogEntry } from "./logs.js";
import { validateContainerName } from "./names.js";
import { readHostFile, mountOverlay, mountsUnder, unmountAll } from "./rootfs.js";
import { isShimFor, shimBinary, signalProcess, waitForProcessExit, waitUntil } from "./shim.js";
import { parseSignal } from "./signals.js";
import type { ContainerCreateSpec, ImageConfigView, ResolvedMount } from "./spec.js";
import {
  assertAllowed,
  canStop,
  deriveState,
  lostMonitorExitCode,
  StateErrorCode,
  type ContainerState,
  type ContainerStatus,
  type Observation,
  type PersistedState,
} from "./status.js";
import {
  containerFiles,
  containersDirectory,
  findRecord,
  listRecords,
  namesLockFile,
  readHealthFile,
  readPersistedState,
  readRecord,
  readShimPid,
  readStatusFile,
  StoreErrorCode,
  type ContainerFiles,
  type ContainerRecord,
} from "./store.js";
import { processTable, psTable, type TopResult } from "./top.js";
import { resolveUser } from "./users.js";
import { inspectView, summaryView, type AttachedEndpoint, type ContainerInspect, type ContainerSummary } from "./views.js";

export const ContainerErrorCode = {
  notFound: StoreErrorCode.notFound,
  nameInUse: StoreErrorCode.nameInUse,
  state: StateErrorCode,
  invalid: "E_CONTAINER_INVALID_CONFIG",
  remove: "E_CONTAINER_REMOVE",
  exec: "E_CONTAINER_EXEC",
  filter: "E_CONTAINER_FILTER",
} as const;

/** What the container engine needs from the image store. */
export interface ImageSource {
  resolve(reference: string): Promise<{
    readonly id: string;
    readonly config: ImageConfigView;
    /** Bottom layer first. */
    readonly layerPaths: readonly string[];
  }>;
}

export interface ContainerServiceOptions {
  readonly paths: RuntimePaths;
  readonly images: ImageSource;
  readonly volumes: VolumeService;
  readonly shimPath?: () => string;
  readonly clock?: () => Date;
  readonly cgroups?: () => CgroupLayout;
  readonly hostname?: () => string;
  /** Mount a cgroup filesystem at /sys/fs/cgroup inside containers (needs shim support). */
  readonly cgroupMount?: boolean;
  readonly networks: NetworkService;
}

export interface CreateResult {
  readonly id: string;
  readonly name: string;
  readonly warnings: readonly string[];
}

export interface ListOptions {
  readonly all?: boolean;
  /** Docker's filters: label, name, id, status, exited, ancestor, volume, health, before, since. */
  readonly filters?: Readonly<Record<string, readonly string[]>>;
}

export interface LogsOptions {
  readonly follow?: boolean;
  readonly tail?: number;
  readonly sinceNs?: bigint;
  readonly untilNs?: bigint;
  readonly signal?: AbortSignal;
  /** Stop following when this resolves (run: the container's first exit). */
  readonly stopWhen?: Promise<unknown>;
}

export type WaitCondition = "not-running" | "next-exit" | "removed";

export interface WaitResult {
  readonly StatusCode: number;
  readonly Error: { readonly Message: string } | null;
}

export interface ExecOptions {
  readonly cmd: readonly string[];
  readonly env?: readonly string[];
  readonly user?: string;
  readonly workingDir?: string;
  readonly tty?: boolean;
  /** "inherit" (the CLI) or "pipe" (collect stdout/stderr; `input` feeds stdin). */
  readonly stdio?: "inherit" | "pipe";
  readonly input?: string | Uint8Array;
  /** With "inherit": connect our stdin (`exec -i`); otherwise the command reads /dev/null. */
  readonly interactive?: boolean;
  /** Start the command and return at once (`exec -d`); its exit code is not collected. */
  readonly detach?: boolean;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PruneResult {
  readonly containersDeleted: readonly string[];
  readonly spaceReclaimed: number;
}

export interface ContainerService {
  create(spec: ContainerCreateSpec): Promise<CreateResult>;
  start(reference: string): Promise<void>;
  stop(reference: string, options?: { readonly timeoutSeconds?: number }): Promise<void>;
  kill(reference: string, options?: { readonly signal?: string }): Promise<void>;
  restart(reference: string, options?: { readonly timeoutSeconds?: number }): Promise<void>;
  remove(reference: string, options?: { readonly force?: boolean; readonly volumes?: boolean }): Promise<void>;
  inspect(reference: string): Promise<ContainerInspect>;
  list(options?: ListOptions): Promise<ContainerSummary[]>;
  logs(reference: string, options?: LogsOptions): AsyncGenerator<LogEntry>;
  wait(reference: string, options?: { readonly condition?: WaitCondition; readonly signal?: AbortSignal }): Promise<WaitResult>;
  exec(reference: string, options: ExecOptions): Promise<ExecResult>;
  top(reference: string, psArgs?: readonly string[]): Promise<TopResult>;
  copyFrom(reference: string, containerPath: string, destination: string | Writable, options?: CopyOptions): Promise<void>;
  copyTo(reference: string, source: string | Readable, containerPath: string, options?: CopyOptions): Promise<void>;
  pause(reference: string): Promise<void>;
  unpause(reference: string): Promise<void>;
  rename(reference: string, newName: string): Promise<void>;
  /** `network connect`: while running, the new interface appears at once. */
  connect(reference: string, network: string, options?: { readonly aliases?: readonly string[]; readonly ipv4Address?: string; readonly ipv6Address?: string; readonly macAddress?: string }): Promise<void>;
  disconnect(reference: string, network: string): Promise<void>;
  prune(options?: { readonly filters?: Readonly<Record<string, readonly string[]>> }): Promise<PruneResult>;
  /** The container's id, full name and derived state (cheap; no views built). */
  status(reference: string): Promise<{ readonly id: string; readonly name: string; readonly state: ContainerState; readonly tty: boolean; readonly openStdin: boolean }>;
  /** The per-boot FIFO feeding the container's stdin (`-i`). */
  stdinPath(reference: string): Promise<string>;
  /** Volume name → ids of the containers that mount it. */
  volumeUsage(): ReadonlyMap<string, readonly string[]>;
  /** Image ids that some container (running or not) was created from. */
  usedImageIds(): ReadonlySet<string>;
  /** Ids of the containers created from this image id (for `image rm`'s conflict message). */
  containersUsingImage(imageId: string): readonly string[];
  /**
   * `system prune`: release what a container that no longer runs still holds (rootfs mount,
   * cgroups, network namespace and endpoints), recording its exit. False when it is running
   * (or starting) and so keeps them.
   */
  reclaim(id: string): Promise<boolean>;
  /** Finish creates and removes whose process was killed half-way (unmount, drop, delete). */
  sweepAbandoned(): Promise<void>;
  /** After a boot: start what the restart policies want running (`berth system boot`). */
  restartAfterBoot(): Promise<{ readonly started: readonly string[]; readonly failed: readonly { readonly name: string; readonly error: string }[] }>;
}

/**
 * Whether a container still needs its network endpoints: its shim lives (running, restarting,
 * paused), or a start is in flight in a live process (set up, shim not yet started).
 */
export function containerNeedsNetwork(paths: RuntimePaths, id: string): boolean {
  const files = containerFiles(paths, id);
  const shimPid = readShimPid(files);
  if (shimPid !== undefined && isShimFor(shimPid, files.bundle)) return true;
  try {
    const starter = Number.parseInt(readFileSync(files.starting, "utf8"), 10);
    return !Number.isNaN(starter) && processAlive(starter);
  } catch {
    return false;
  }
}

export function createContainerService(options: ContainerServiceOptions): ContainerService {
  const { paths, images, volumes } = options;
  const clock = options.clock ?? (() => new Date());
  const layout = (): CgroupLayout => (options.cgroups ?? detectCgroups)();
  const shimPath = (): string => (options.shimPath ?? shimBinary)();
  const hostHostname = (): string => (options.hostname ?? osHostname)();
  const filesOf = (id: string): ContainerFiles => containerFiles(paths, id);

  // --- observation -------------------------------------------------------------------------

  const observe = (record: ContainerRecord, files: ContainerFiles): Observation => {
    const shimPid = readShimPid(files);
    const shimAlive = shimPid !== undefined && isShimFor(shimPid, files.bundle);
    const status = readStatusFile(files);
    let frozen = false;
    if (shimAlive && status?.status === "running") {
      try {
        frozen = isFrozen(layout(), record.id);
      } catch {
        frozen = false;
      }
    }
    return {
      persisted: readPersistedState(files),
      shimAlive,
      status,
      health: record.config.healthcheck === null ? undefined : readHealthFile(files),
      frozen,
      observedAt: clock().toISOString(),
    };
  };

  const stateOf = (record: ContainerRecord): ContainerState => deriveState(observe(record, filesOf(record.id)));

  const find = (reference: string): ContainerRecord => findRecord(paths, reference);

  /** Run `action` holding the container's lock, with the record re-read inside it. */
  const locked = async <T>(reference: string, action: (record: ContainerRecord, files: ContainerFiles) => Promise<T>): Promise<T> => {
    const first = find(reference);
    const files = filesOf(first.id);
    return withLock(files.lock, async () => {
      const record = readRecord(files);
      if (record === undefined) throw new BerthError(StoreErrorCode.notFound, `No such container: ${reference}`);
      return action(record, files);
    });
  };

  /** Record the container's last exit in state.json (it outlives the per-boot run directory). */
  const persistExit = (files: ContainerFiles, fallback: Partial<PersistedState> = {}, marks: Partial<PersistedState> = {}): void => {
    const status = readStatusFile(files);
    const previous = readPersistedState(files) ?? {};
    if (status === undefined && previous.startedAt === undefined) return;
    const finished: PersistedState = {
      ...previous,
      ...(status === undefined
        ? { finishedAt: previous.finishedAt ?? fallback.finishedAt ?? clock().toISOString(), exitCode: previous.exitCode ?? fallback.exitCode ?? 0 }
        : {
            startedAt: status.startedAt,
            finishedAt: status.finishedAt ?? clock().toISOString(),
            exitCode: status.status === "exited" ? status.exitCode : lostMonitorExitCode,
            oomKilled: status.oomKilled,
            restartCount: status.restartCount,
            ...(status.error !== null ? { error: status.error } : status.status !== "exited" ? { error: "container monitor (berth-shim) exited unexpectedly" } : {}),
          }),
      ...marks,
    };
    writeJsonAtomic(files.state, finished);
  };

  /**
   * After the shim is gone (or never came): unmount the rootfs, remove cgroups (killing anything
   * left in them), clear the per-boot files. Idempotent; safe when nothing is there.
   */
  const cleanupAfterShim = async (record: ContainerRecord, files: ContainerFiles): Promise<void> => {
    const failures: string[] = [];
    try {
      await removeContainerCgroups(layout(), record.id);
    } catch (error) {
      failures.push((error as Error).message);
    }
    try {
      unmountAll(files.merged);
    } catch (error) {
      failures.push((error as Error).message);
    }
    try {
      await tearDownNetworking(options.networks, record);
    } catch (error) {
      failures.push((error as Error).message);
    }
    for (const file of [files.shimPid, files.stopTimeout, files.stdin, files.starting]) removeFile(file);
    if (failures.length > 0) throw new BerthError(ContainerErrorCode.remove, `clean up ${record.name}: ${failures.join("; ")}`);
  };

  /** Wait until a shim that has recorded an exit has also finished its own clean-up and gone. */
  const awaitShimGone = async (files: ContainerFiles): Promise<void> => {
    const pid = readShimPid(files);
    if (pid === undefined || !isShimFor(pid, files.bundle)) return;
    if (await waitForProcessExit(pid, 5000, files.runDir)) return;
    signalProcess(pid, "SIGKILL");
    await waitForProcessExit(pid, 5000);
  };

  // --- create and start (lifecycle.ts) ------------------------------------------------------

  const context: LifecycleContext = {
    paths,
    images,
    volumes,
    clock,
    layout,
    shimPath,
    hostHostname,
    cgroupMount: options.cgroupMount ?? false,
    filesOf,
    observe,
    persistExit,
    cleanupAfterShim,
    awaitShimGone,
    networks: options.networks,
    namespaceOfContainer: (reference) => {
      const target = find(reference);
      const state = stateOf(target);
      if (!state.running) throw new BerthError(ContainerErrorCode.state, `cannot join network namespace of a non running container: ${target.name}`);
      if ((target.networks ?? []).length > 0) return sandboxPath(paths, target.id);
      if (networkModeKind(target.spec.networkMode) === "container") return `/proc/${state.pid}/ns/net`;
      if (target.spec.networkMode === "host") throw new BerthError(ContainerErrorCode.invalid, `cannot join the network namespace of ${target.name}: it uses the host's network (use --network host)`);
      return `/proc/${state.pid}/ns/net`;
    },
    hostSockets: options.networks.context.kernel.hostSockets,
  };
  const create: ContainerService["create"] = (spec) => createContainer(context, spec);

  const startLocked = (record: ContainerRecord, files: ContainerFiles): Promise<void> => startContainer(context, record, files);

  const start: ContainerService["start"] = (reference) => locked(reference, startLocked);

  // --- stop, kill, restart, remove -----------------------------------------------------------

  /** SIGTERM the shim (which stops the container with its stop signal and grace period) and wait. */
  const stopLocked = async (record: ContainerRecord, files: ContainerFiles, timeoutSeconds: number | undefined, marks: Partial<PersistedState> = {}): Promise<void> => {
    const observation = observe(record, files);
    const state = deriveState(observation);
    const shimPid = readShimPid(files);
    if (canStop(state.status) && shimPid !== undefined && observation.shimAlive) {
      if (state.paused) await setFrozen(layout(), record.id, false);
      if (timeoutSeconds !== undefined) writeFileAtomic(files.stopTimeout, `${Math.max(0, Math.round(timeoutSeconds))}\n`, perBoot);
      signalProcess(shimPid, "SIGTERM");
      const graceSeconds = timeoutSeconds ?? record.config.stopTimeout ?? 10;
      if (!(await waitForProcessExit(shimPid, Math.max(0, graceSeconds) * 1000 + 10_000, files.runDir))) {
        signalProcess(shimPid, "SIGKILL");
        await waitForProcessExit(shimPid, 5000);
      }
    } else if (observation.shimAlive) {
      await awaitShimGone(files);
    }
    if (observation.status !== undefined || state.status !== "created") {
      persistExit(files, {}, marks);
      await cleanupAfterShim(record, files);
    }
  };

  const stop: ContainerService["stop"] = (reference, request = {}) =>
    locked(reference, (record, files) => stopLocked(record, files, request.timeoutSeconds, { manuallyStopped: true }));

  /**
   * What dockerd does when it starts, for a machine that booted: start the containers whose
   * restart policy wants them running (always; unless-stopped and on-failure after a failure,
   * unless stopped by hand). There is no daemon, so a boot-time unit runs this
   * (`berth system boot`).
   */
  const restartAfterBoot: ContainerService["restartAfterBoot"] = async () => {
    const started: string[] = [];
    const failed: { name: string; error: string }[] = [];
    for (const record of listRecords(paths)) {
      const policy = record.spec.restartPolicy?.name ?? "no";
      if (policy === "no" || record.spec.autoRemove === true) continue;
      const state = stateOf(record);
      // Never started (created), running, or half-removed: nothing for a boot to do, as with dockerd.
      if (state.running || state.status === "dead" || state.status === "created") continue;
      const persisted = readPersistedState(filesOf(record.id));
      const byHand = persisted?.manuallyStopped === true;
      const wanted = policy === "always" || (policy === "unless-stopped" && !byHand) || (policy === "on-failure" && !byHand && state.exitCode !== 0);
      if (!wanted) continue;
      try {
        await start(record.id);
        started.push(record.name);
      } catch (error) {
        failed.push({ name: record.name, error: (error as Error).message });
      }
    }
    return { started, failed };
  };

  const kill: ContainerService["kill"] = async (reference, request = {}) => {
    const record = find(reference);
    const files = filesOf(record.id);
    const state = stateOf(record);
    assertAllowed("kill", state.status, record.name);
    const signal = parseSignal(request.signal ?? "KILL");
    if (state.pid <= 0) throw new BerthError(StateErrorCode, `Cannot kill container: ${record.name}: container is not running`);
    signalProcess(state.pid, signal);
    if (state.paused && signal === 9) await setFrozen(layout(), record.id, false);
    if (signal === 9) {
      // As Docker does for SIGKILL: return once the container is down (or restarting per its policy).
      await waitUntil(
        () => {
          const current = readStatusFile(files);
          return current === undefined || current.status !== "running" || current.pid !== state.pid || !observe(record, files).shimAlive;
        },
        { directory: files.runDir, timeoutMs: 10_000 },
      );
    }
  };

  const restart: ContainerService["restart"] = (reference, request = {}) =>
    locked(reference, async (record, files) => {
      assertAllowed("restart", stateOf(record).status, record.name);
      await stopLocked(record, files, request.timeoutSeconds);
      await startLocked(record, files);
    });

  const removeLocked = async (record: ContainerRecord, files: ContainerFiles, force: boolean, removeVolumes: boolean): Promise<void> => {
    const observation = observe(record, files);
    const state = deriveState(observation);
    assertAllowed(force ? "forceRemove" : "remove", state.status, record.name);
    const shimPid = readShimPid(files);
    if (observation.shimAlive && shimPid !== undefined) {
      if (canStop(state.status)) {
        if (state.paused) await setFrozen(layout(), record.id, false).catch(() => undefined);
        writeFileAtomic(files.stopTimeout, "0\n", perBoot);
        signalProcess(shimPid, "SIGTERM");
        if (!(await waitForProcessExit(shimPid, 10_000, files.runDir))) {
          signalProcess(shimPid, "SIGKILL");
          await waitForProcessExit(shimPid, 5000);
        }
      } else {
        await awaitShimGone(files);
      }
    }
    try {
      await cleanupAfterShim(record, files);
      removeTree(files.runDir);
      // Renamed away first, so the container disappears in one step; a crash mid-delete leaves a
      // hidden directory that the next create sweeps (pending.json names the owner).
      const doomed = path.join(containersDirectory(paths), `.removing-${record.id}-${process.pid}`);
      writeFileSync(path.join(files.bundle, "pending.json"), JSON.stringify({ pid: process.pid, anonymousVolumes: [] }));
      renameSync(files.bundle, doomed);
      removeTree(doomed);
    } catch (error) {
      if (existsSync(files.bundle)) {
        writeJsonAtomic(files.state, { ...(readPersistedState(files) ?? {}), dead: true, error: (error as Error).message });
        rmSync(path.join(files.bundle, "pending.json"), { force: true });
      }
      throw new BerthError(ContainerErrorCode.remove, `Could not remove container ${record.name}: ${(error as Error).message}`, { cause: error });
    }
    if (removeVolumes) {
      const usage = volumeUsage();
      for (const mount of record.mounts) {
        if (mount.type !== "volume" || !mount.anonymous || mount.name === undefined) continue;
        if ((usage.get(mount.name) ?? []).length > 0) continue;
        await volumes.remove(mount.name, { force: true });
      }
    }
  };

  const remove: ContainerService["remove"] = (reference, request = {}) =>
    locked(reference, (record, files) => removeLocked(record, files, request.force ?? false, request.volumes ?? false));

  // --- reading -------------------------------------------------------------------------------

  /** Endpoints exist while the shim lives; a container that exited has none to show. */
  const liveEndpoints = (record: ContainerRecord, state: ContainerState): AttachedEndpoint[] =>
    (record.networks ?? []).length > 0 && (state.running || state.restarting) ? options.networks.endpointsOf(record.id) : [];

  // --- networks ------------------------------------------------------------------------------

  const connect: ContainerService["connect"] = async (reference, networkReference, request = {}) => {
    const attachment = await options.networks.attachment(networkReference, {
      aliases: [...(request.aliases ?? [])],
      ...(request.ipv4Address ? { ipv4Address: request.ipv4Address } : {}),
      ...(request.ipv6Address ? { ipv6Address: request.ipv6Address } : {}),
      ...(request.macAddress ? { macAddress: request.macAddress } : {}),
    });
    await locked(reference, async (record, files) => {
      if (networkModeKind(record.spec.networkMode) !== "bridge") {
        throw new BerthError(ContainerErrorCode.invalid, `container sharing network namespace with another container or host cannot be connected to any other network`);
      }
      const attached = record.networks ?? [];
      if (attached.some((existing) => existing.networkId === attachment.networkId)) {
        throw new BerthError(ContainerErrorCode.invalid, `endpoint with name ${record.name} already exists in network ${attachment.networkName}`);
      }
      const state = stateOf(record);
      if (state.running || state.restarting) {
        await connectRunning(options.networks.context, {
          containerId: record.id,
          containerName: record.name,
          hostname: record.config.hostname,
          domainname: record.config.domainname,
          attachment,
        });
      }
      writeJsonAtomic(files.record, { ...record, networks: [...attached, attachment] });
    });
  };

  const disconnect: ContainerService["disconnect"] = async (reference, networkReference) => {
    const network = await options.networks.find(networkReference);
    await locked(reference, async (record, files) => {
      const attached = record.networks ?? [];
      if (!attached.some((existing) => existing.networkId === network.id)) {
        throw new BerthError(ContainerErrorCode.invalid, `container ${record.id} is not connected to network ${network.name}`);
      }
      const state = stateOf(record);
      if (state.running || state.restarting) await disconnectRunning(options.networks.context, record.id, network.id);
      writeJsonAtomic(files.record, { ...record, networks: attached.filter((existing) => existing.networkId !== network.id) });
    });
  };

  const inspect: ContainerService["inspect"] = async (reference) => {
    const record = find(reference);
    const files = filesOf(record.id);
    const state = deriveState(observe(record, files));
    return inspectView(record, state, files, liveEndpoints(record, state));
  };

  const list: ContainerService["list"] = async (request = {}) => {
    const filters = request.filters ?? {};
    validateFilters(filters);
    const now = clock().getTime();
    const records = listRecords(paths).sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    const summaries: ContainerSummary[] = [];
    for (const record of records) {
      const state = stateOf(record);
      const showAll = request.all === true || (filters["status"]?.length ?? 0) > 0;
      if (!showAll && !state.running) continue;
      if (!matchesFilters(record, state, filters, records)) continue;
      summaries.push(summaryView(record, state, now, liveEndpoints(record, state)));
    }
    return summaries;
  };

  const status: ContainerService["status"] = async (reference) => {
    const record = find(reference);
    return { id: record.id, name: record.name, state: stateOf(record), tty: record.config.tty, openStdin: record.config.openStdin };
  };

  const logs: ContainerService["logs"] = (reference, request = {}) => {
    const record = find(reference);
    const files = filesOf(record.id);
    let stopped = false;
    const wake = new AbortController();
    const stop = (): void => {
      stopped = true;
      wake.abort();
    };
    void request.stopWhen?.then(stop, stop);
    request.signal?.addEventListener("abort", stop);
    if (request.signal?.aborted) stop();
    return streamLogs(files.log, {
      follow: request.follow ?? false,
      ...(request.tail !== undefined ? { tail: request.tail } : {}),
      ...(request.sinceNs !== undefined ? { sinceNs: request.sinceNs } : {}),
      ...(request.untilNs !== undefined ? { untilNs: request.untilNs } : {}),
      signal: wake.signal,
      // With stopWhen the caller knows when the container stops; otherwise ask the state each time.
      isRunning: request.stopWhen !== undefined ? () => !stopped : () => !stopped && deriveState(observe(record, files)).running,
      wakeDirectories: [files.runDir],
      pollMs: 100,
    });
  };

  const wait: ContainerService["wait"] = async (reference, request = {}) => {
    const record = find(reference);
    const files = filesOf(record.id);
    const condition = request.condition ?? "not-running";
    const result = (state: ContainerState): WaitResult => ({ StatusCode: state.exitCode, Error: state.error === "" ? null : { Message: state.error } });
    const initial = stateOf(record);
    if (condition === "removed") {
      await waitUntil(() => request.signal?.aborted === true || !existsSync(files.record), { directory: containersDirectory(paths), timeoutMs: 2 ** 31 - 1, pollMs: 200, signal: request.signal });
      return { StatusCode: initial.exitCode, Error: null };
    }
    if (condition === "not-running" && !initial.running) return result(initial);
    // The run directory is watched for the shim's status changes; make it exist before the start does.
    mkdirSync(files.runDir, { recursive: true, mode: 0o700 });
    // The state to compare with is taken; the watch itself (about 2 ms, most of it loading Node's
    // fs.watch) is set up on the next turn of the event loop, so that a start requested right after
    // this call has its shim running meanwhile instead of waiting for it.
    await new Promise((resolve) => setImmediate(resolve));
    let latest = initial;
    // Every write the shim makes in the run directory wakes this up; derive the full state only
    // when status.json changed, or on the poll tick (a shim killed with SIGKILL writes nothing).
    let lastStatusText: string | undefined;
    let lastFullCheck = 0;
    await waitUntil(
      () => {
        if (request.signal?.aborted || !existsSync(files.record)) return true;
        const statusText = readTextOptional(files.status);
        if (statusText === lastStatusText && Date.now() - lastFullCheck < 90) return false;
        lastStatusText = statusText;
        lastFullCheck = Date.now();
        latest = stateOf(record);
        if (condition === "not-running") return !latest.running;
        // next-exit: an exit the shim is about to restart from, or an exit after a (re)start.
        if (latest.restarting) return !initial.restarting || latest.restartCount !== initial.restartCount;
        return !latest.running && (initial.running || latest.startedAt !== initial.startedAt);
      },
      { directory: files.runDir, timeoutMs: 2 ** 31 - 1, pollMs: 100, signal: request.signal },
    );
    return result(latest);
  };

  const runningPid = (record: ContainerRecord, operation: "exec" | "top"): number => {
    const state = stateOf(record);
    if (operation === "exec") assertAllowed("exec", state.status, record.name);
    else if (!state.running || state.pid <= 0) throw new BerthError(StateErrorCode, `Container ${record.id} is not running`);
    return state.pid;
  };

  const exec: ContainerService["exec"] = async (reference, request) => {
    const record = find(reference);
    const files = filesOf(record.id);
    const pid = runningPid(record, "exec");
    if (request.cmd.length === 0) throw new BerthError(ContainerErrorCode.exec, "No exec command specified");
    const args = ["exec", "--pid", String(pid), "--config", files.ociConfig];
    if (request.tty) args.push("--tty");
    if (request.user !== undefined && request.user !== "") {
      const view: RootView = { root: `/proc/${pid}/root`, mounts: [] };
      const readInside = (file: string): string | undefined => readHostFile(resolveContainerPath(view, file, true).hostPath);
      const user = resolveUser({ user: request.user, passwd: readInside("/etc/passwd"), group: readInside("/etc/group"), groupAdd: record.spec.groupAdd ?? [] });
      args.push("--user", `${user.uid}:${user.gid}${user.additionalGids.length > 0 ? `:${user.additionalGids.join(",")}` : ""}`);
    }
    if (request.workingDir !== undefined && request.workingDir !== "") args.push("--cwd", request.workingDir);
    for (const entry of execEnvironment(request)) args.push("--env", entry);
    args.push("--", ...request.cmd);
    return runExec(shimPath(), args, request);
  };

  const top: ContainerService["top"] = async (reference, psArgs = []) => {
    const record = find(reference);
    runningPid(record, "top");
    const pids = cgroupProcesses(layout(), record.id);
    return psArgs.length > 0 ? psTable(pids, psArgs) : processTable(pids, clock().getTime());
  };

  /** Run `action` with a host view of the container's files: /proc/<pid>/root while it runs, else its overlay mounted. */
  const withRootView = async <T>(reference: string, action: (view: RootView) => Promise<T> | T): Promise<T> => {
    const record = find(reference);
    const state = stateOf(record);
    if (state.running && state.pid > 0) return action({ root: `/proc/${state.pid}/root`, mounts: [] });
    return locked(reference, async (current, files) => {
      const again = deriveState(observe(current, files));
      if (again.running && again.pid > 0) return action({ root: `/proc/${again.pid}/root`, mounts: [] });
      const mountedHere = !mountsUnder(files.merged).includes(files.merged);
      if (mountedHere) mountOverlay({ lowerdirs: [...current.layerPaths].reverse(), upperdir: files.upper, workdir: files.work, target: files.merged });
      try {
        const mounts = [
          ...current.mounts.filter((mount) => mount.type !== "tmpfs").map((mount) => ({ destination: mount.destination, source: mount.source })),
          { destination: "/etc/hostname", source: files.hostname },
          { destination: "/etc/hosts", source: files.hosts },
          { destination: "/etc/resolv.conf", source: files.resolvConf },
        ];
        return await action({ root: files.merged, mounts });
      } finally {
        if (mountedHere) unmountAll(files.merged);
      }
    });
  };

  const copyFrom: ContainerService["copyFrom"] = async (reference, containerPath, destination, copyOptions = {}) => {
    await withRootView(reference, (view) => (typeof destination === "string" ? copyOut(view, containerPath, destination, copyOptions) : tarOut(view, containerPath, destination, copyOptions)));
  };

  const copyTo: ContainerService["copyTo"] = async (reference, source, containerPath, copyOptions = {}) => {
    await withRootView(reference, (view) => (typeof source === "string" ? copyIn(view, source, containerPath, copyOptions) : tarIn(view, source, containerPath)));
  };

  const pause: ContainerService["pause"] = (reference) =>
    locked(reference, async (record) => {
      assertAllowed("pause", stateOf(record).status, record.name);
      await setFrozen(layout(), record.id, true);
    });

  const unpause: ContainerService["unpause"] = (reference) =>
    locked(reference, async (record) => {
      assertAllowed("unpause", stateOf(record).status, record.name);
      await setFrozen(layout(), record.id, false);
    });

  const rename: ContainerService["rename"] = async (reference, newName) => {
    const name = validateContainerName(newName);
    await withLock(namesLockFile(paths), () =>
      locked(reference, async (record, files) => {
        if (record.name === name) throw new BerthError(ContainerErrorCode.invalid, "Renaming a container with the same name as its current name");
        const holder = listRecords(paths).find((other) => other.name === name);
        if (holder !== undefined) {
          throw new BerthError(StoreErrorCode.nameInUse, `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
        }
        writeJsonAtomic(files.record, { ...record, name });
      }),
    );
  };

  const prune: ContainerService["prune"] = async (request = {}) => {
    const filters = request.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (key !== "label" && key !== "label!" && key !== "until") throw new BerthError(ContainerErrorCode.filter, `invalid filter '${key}'`);
    }
    const deleted: string[] = [];
    let reclaimed = 0;
    const now = clock().getTime();
    for (const record of listRecords(paths)) {
      const state = stateOf(record);
      if (state.status !== "created" && state.status !== "exited" && state.status !== "dead") continue;
      if (!(filters["label"] ?? []).every((value) => labelMatches(record.config.labels, value))) continue;
      if ((filters["label!"] ?? []).some((value) => labelMatches(record.config.labels, value))) continue;
      if ((filters["until"] ?? []).some((value) => Date.parse(record.created) > untilTime(value, now, ContainerErrorCode.filter))) continue;
      const size = directorySize(filesOf(record.id).upper);
      try {
        await remove(record.id, {});
        deleted.push(record.id);
        reclaimed += size;
      } catch (error) {
        if (!(error instanceof BerthError && (error.code === StateErrorCode || error.code === StoreErrorCode.notFound))) throw error;
      }
    }
    return { containersDeleted: deleted, spaceReclaimed: reclaimed };
  };

  const volumeUsage = (): ReadonlyMap<string, readonly string[]> => {
    const usage = new Map<string, string[]>();
    for (const record of listRecords(paths)) {
      for (const mount of record.mounts) {
        if (mount.type !== "volume" || mount.name === undefined) continue;
        usage.set(mount.name, [...(usage.get(mount.name) ?? []), record.id]);
      }
    }
    return usage;
  };

  return {
    create,
    start,
    stop,
    kill,
    restart,
    remove,
    inspect,
    list,
    logs,
    wait,
    exec,
    top,
    copyFrom,
    copyTo,
    pause,
    unpause,
    rename,
    connect,
    disconnect,
    prune,
    status,
    stdinPath: async (reference) => filesOf(find(reference).id).stdin,
    volumeUsage,
    usedImageIds: () => new Set(listRecords(paths).map((record) => record.image.id)),
    containersUsingImage: (imageId) => listRecords(paths).filter((record) => record.image.id === imageId).map((record) => record.id),
    reclaim: (id) =>
      locked(id, async (record, files) => {
        if (containerNeedsNetwork(paths, record.id)) return false;
        const observation = observe(record, files);
        if (observation.status !== undefined) persistExit(files);
        await cleanupAfterShim(record, files);
        return true;
      }),
    sweepAbandoned: () => sweepAbandoned(context),
    restartAfterBoot,
  };
}

// --- helpers -----------------------------------------------------------------------------------

function readTextOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Docker's exec environment additions: the caller's variables, and TERM for a TTY. */
export function execEnvironment(request: Pick<ExecOptions, "env" | "tty">): string[] {
  const entries = [...(request.env ?? [])];
  if (request.tty && !entries.some((entry) => entry.startsWith("TERM="))) entries.unshift("TERM=xterm");
  return entries;
}

function runExec(shim: string, args: readonly string[], request: ExecOptions): Promise<ExecResult> {
  if (request.detach) {
    const child = spawn(shim, [...args], { detached: true, stdio: "ignore" });
    child.unref();
    return Promise.resolve({ exitCode: 0, stdout: "", stderr: "" });
  }
  return new Promise((resolve, reject) => {
    const pipe = request.stdio === "pipe";
    const child = spawn(shim, [...args], { stdio: pipe ? ["pipe", "pipe", "pipe"] : [request.interactive ? "inherit" : "ignore", "inherit", "inherit"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    if (pipe) {
      // The command may exit without reading its input; the closed pipe is not an exec failure.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(request.input ?? "");
    }
    child.on("error", (error) => reject(new BerthError(ContainerErrorCode.exec, `exec: ${error.message}`, { cause: error })));
    child.on("close", (code, signal) => {
      const exitCode = code ?? (signal === null ? 1 : 128 + parseSignal(signal));
      resolve({ exitCode, stdout, stderr });
    });
  });
}

const knownFilters = new Set(["label", "label!", "name", "id", "status", "exited", "ancestor", "volume", "health", "before", "since", "is-task", "network"]);
const knownStatuses = new Set<ContainerStatus>(["created", "running", "paused", "restarting", "removing", "exited", "dead"]);

function validateFilters(filters: Readonly<Record<string, readonly string[]>>): void {
  for (const [key, values] of Object.entries(filters)) {
    if (!knownFilters.has(key)) throw new BerthError(ContainerErrorCode.filter, `invalid filter '${key}'`);
    if (key === "status") {
      for (const value of values) if (!knownStatuses.has(value as ContainerStatus)) throw new BerthError(ContainerErrorCode.filter, `invalid filter 'status=${value}'`);
    }
    if (key === "health") {
      for (const value of values) if (!["starting", "healthy", "unhealthy", "none"].includes(value)) throw new BerthError(ContainerErrorCode.filter, `unrecognized filter value for health: ${value}`);
    }
  }
}

/** Docker's container filters: label (all must match), others OR within a key, AND across keys. */
export function matchesFilters(
  record: ContainerRecord,
  state: ContainerState,
  filters: Readonly<Record<string, readonly string[]>>,
  all: readonly ContainerRecord[],
): boolean {
  const some = (key: string, test: (value: string) => boolean): boolean => {
    const values = filters[key] ?? [];
    return values.length === 0 || values.some(test);
  };
  const created = (reference: string): string | undefined => all.find((other) => other.id.startsWith(reference) || other.name === reference.replace(/^\//, ""))?.created;
  return (
    (filters["label"] ?? []).every((value) => labelMatches(record.config.labels, value)) &&
    !(filters["label!"] ?? []).some((value) => labelMatches(record.config.labels, value)) &&
    some("name", (value) => safeRegExp(value.replace(/^\//, ""))?.test(record.name) === true) &&
    some("id", (value) => record.id.startsWith(value)) &&
    some("status", (value) => state.status === value) &&
    some("exited", (value) => state.status === "exited" && state.exitCode === Number(value)) &&
    some("ancestor", (value) => record.image.reference === value || record.image.id === value || record.image.id.replace(/^sha256:/, "").startsWith(value.replace(/^sha256:/, ""))) &&
    some("volume", (value) => record.mounts.some((mount) => mount.name === value || mount.destination === value)) &&
    some("health", (value) => (state.health?.status ?? "none") === value) &&
    some("network", (value) => (record.spec.networkMode ?? "default") === value) &&
    some("before", (value) => {
      const other = created(value);
      return other !== undefined && record.created < other;
    }) &&
    some("since", (value) => {
      const other = created(value);
      return other !== undefined && record.created > other;
    })
  );
}

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}



export type { ResolvedMount };
