// Create and start, the heavy half of the container engine. Create resolves the image and the spec into a complete OCI
// bundle in a hidden directory and renames it into place under the names lock; start prepares
// the host side (bind sources, volumes, config.json with the user resolved now) and hands the
// bundle to the shim, recovering a start whose CLI was killed before the shim reported.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { swapAccounting, type CgroupLayout } from "../cgroups.js";
import { randomBytes } from "../random.js";
import { perBoot, withLock, writeFileAtomic, writeJsonAtomic, type RuntimePaths } from "../state.js";
import type { VolumeService } from "../volume/index.js";
import { allCapabilities, capabilitiesOfMask } from "./capabilities.js";
import { lookupOrder, readLayeredFile } from "./layered-fs.js";
import { resolveMounts } from "./mounts.js";
import { generateId, randomName, validateContainerName } from "./names.js";
import { buildOciConfig, type HostFacts, type OciConfig, type OciDevice } from "./oci-config.js";
import { resolveConfig } from "./resolve.js";
import { fillVolumeFromImage, networkFileContents, readHostFile, unmountAll, writeIfChanged } from "./rootfs.js";
import { buildShimConfig, type ShimConfig } from "./shim-config.js";
import { exposedPortKeys, networkModeKind, planNetworking, setUpNetworking } from "./networking.js";
import { sandboxPath, type NetworkService } from "../network/index.js";
import type { HostSockets } from "../../network/index.js";
import { ContainerStartError, findShims, processRunning, startShim, waitUntil } from "./shim.js";
import { parseSignal } from "./signals.js";
import type { ContainerCreateSpec, ImageConfigView } from "./spec.js";
import { assertAllowed, deriveState, type Observation, type PersistedState } from "./status.js";
import {
  containerFiles,
  containersDirectory,
  creatingPrefix,
  listRecords,
  namesLockFile,
  readPersistedState,
  readStatusFile,
  StoreErrorCode,
  type ContainerFiles,
  type ContainerRecord,
} from "./store.js";
import { resolveUser, type ProcessUser } from "./users.js";

export const LifecycleErrorCode = { invalid: "E_CONTAINER_INVALID_CONFIG" } as const;

/** What create and start need from the container service (its options and shared helpers). */
export interface LifecycleContext {
  readonly paths: RuntimePaths;
  readonly images: {
    resolve(reference: string): Promise<{ readonly id: string; readonly config: ImageConfigView; readonly layerPaths: readonly string[] }>;
  };
  readonly volumes: VolumeService;
  readonly clock: () => Date;
  readonly layout: () => CgroupLayout;
  readonly shimPath: () => string;
  readonly hostHostname: () => string;
  readonly cgroupMount: boolean;
  readonly filesOf: (id: string) => ContainerFiles;
  readonly observe: (record: ContainerRecord, files: ContainerFiles) => Observation;
  readonly persistExit: (files: ContainerFiles) => void;
  readonly cleanupAfterShim: (record: ContainerRecord, files: ContainerFiles) => Promise<void>;
  readonly awaitShimGone: (files: ContainerFiles) => Promise<void>;
  readonly networks: NetworkService;
  /** The network namespace of a running container (`--network container:<x>`). */
  readonly namespaceOfContainer: (reference: string) => string;
  /** One read of the host's sockets, for create's early check of fixed host ports. */
  readonly hostSockets: (protocols: readonly ("tcp" | "udp" | "sctp")[]) => HostSockets;
}

/** RFC 3339 with nanoseconds, as Docker prints `Created`. */
const nowIso = (clock: () => Date): string => clock().toISOString().replace(/Z$/, "000000Z");

function hostFacts(context: LifecycleContext, privileged: boolean): HostFacts {
  const cgroups = context.layout();
  return {
    cgroupVersion: cgroups.version,
    swapAccounting: swapAccounting(cgroups),
    devices: privileged ? hostDevices() : [],
    cgroupMount: context.cgroupMount,
    capabilities: boundingCapabilities(),
  };
}

/** The capabilities berth itself may hand out: its bounding set (moby's GetAllCapabilities). */
function boundingCapabilities(): string[] {
  try {
    const mask = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return mask === undefined ? [...allCapabilities] : capabilitiesOfMask(mask);
  } catch {
    return [...allCapabilities];
  }
}

function validateSpec(spec: ContainerCreateSpec): void {
  if (spec.autoRemove && spec.restartPolicy !== undefined && spec.restartPolicy.name !== "no") {
    throw new BerthError(LifecycleErrorCode.invalid, "Conflicting options: cannot specify both --restart and --rm");
  }
  const restart = spec.restartPolicy;
  if (restart !== undefined && restart.maximumRetryCount !== undefined && restart.maximumRetryCount !== 0 && restart.name !== "on-failure") {
    throw new BerthError(LifecycleErrorCode.invalid, `invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (spec.stopSignal !== undefined && spec.stopSignal !== "") parseSignal(spec.stopSignal);
}

interface Pending {
  readonly pid: number;
  readonly anonymousVolumes: readonly string[];
}

function readPending(directory: string): Pending | undefined {
  try {
    return JSON.parse(readFileSync(path.join(directory, "pending.json"), "utf8")) as Pending;
  } catch {
    return undefined;
  }
}

/** `.creating-<id>-<pid>` and `.removing-<id>-<pid>` end with their owner's pid. */
function ownerPidFromName(entry: string): number | undefined {
  const match = /-(\d+)$/.exec(entry);
  return match === null ? undefined : Number(match[1]);
}

function safeMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** The hidden `.creating-…`/`.removing-…` directories whose owner died half-way (kill -9), by name. */
export function abandonedEntries(paths: RuntimePaths): string[] {
  const directory = containersDirectory(paths);
  let entries: string[];
  try {
    entries = readdirSync(directory).filter((name) => name.startsWith(creatingPrefix) || name.startsWith(".removing-"));
  } catch {
    return [];
  }
  return entries.filter((entry) => {
    // The owner's pid is in the name too, so a kill between mkdir and writing pending.json is swept at once.
    const owner = readPending(path.join(directory, entry))?.pid ?? ownerPidFromName(entry);
    if (owner !== undefined && owner !== process.pid && processRunning(owner)) return false;
    return owner !== undefined || Date.now() - safeMtime(path.join(directory, entry)) >= 60_000;
  });
}

/** Creates and removals whose process died half-way (kill -9): unmount, drop their anonymous volumes, delete. */
export async function sweepAbandoned(context: LifecycleContext): Promise<void> {
  const directory = containersDirectory(context.paths);
  for (const entry of abandonedEntries(context.paths)) {
    const abandoned = path.join(directory, entry);
    const pending = readPending(abandoned);
    unmountAll(abandoned);
    for (const name of pending?.anonymousVolumes ?? []) await context.volumes.remove(name, { force: true }).catch(() => undefined);
    rmSync(abandoned, { recursive: true, force: true });
  }
}

/** The OCI config (undefined while the user cannot be resolved yet) and shim.json of a container. */
function bundleFiles(
  record: ContainerRecord,
  files: ContainerFiles,
  facts: HostFacts,
  user: ProcessUser | undefined,
  networkNamespace?: string,
): { oci: OciConfig | undefined; shim: ShimConfig } {
  // Validation (caps, sysctls, ulimits, resources) runs even when the user is not resolvable yet.
  const oci = buildOciConfig({
    id: record.id,
    spec: record.spec,
    config: record.config,
    mounts: record.mounts,
    rootPath: files.merged,
    networkFiles: { hostname: files.hostname, hosts: files.hosts, resolvConf: files.resolvConf },
    host: facts,
    user: user ?? { uid: 0, gid: 0, additionalGids: [0], home: "/" },
    ...(networkNamespace === undefined ? {} : { networkNamespace }),
  });
  const ownSandbox = (record.networks ?? []).length > 0;
  const dnsConfig = ownSandbox ? files.dnsConfig : undefined;
  const shim = buildShimConfig({
    id: record.id,
    spec: record.spec,
    config: record.config,
    layerPaths: record.layerPaths,
    paths: files,
    ...(dnsConfig === undefined ? {} : { dnsConfig }),
    // Its own sandbox only: a container:<name> namespace belongs to that other container.
    ...(ownSandbox && networkNamespace !== undefined ? { releaseNetns: networkNamespace } : {}),
  });
  return { oci: user === undefined ? undefined : oci, shim };
}

/** The process user, from the container's own /etc/passwd and /etc/group (its upper dir first). */
function processUser(record: ContainerRecord, files: ContainerFiles): ProcessUser {
  const layers = lookupOrder(files.upper, record.layerPaths);
  return resolveUser({
    user: record.config.user,
    passwd: readLayeredFile(layers, "/etc/passwd"),
    group: readLayeredFile(layers, "/etc/group"),
    groupAdd: record.spec.groupAdd ?? [],
  });
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export async function createContainer(context: LifecycleContext, spec: ContainerCreateSpec): Promise<{ id: string; name: string; warnings: string[] }> {
  const { paths, volumes } = context;
  validateSpec(spec);
  const image = await context.images.resolve(spec.image);
  const id = generateId();
  const resolved = resolveConfig({ id, spec, image: image.config, hostHostname: context.hostHostname() });
  const exposed = exposedPortKeys(Object.keys(resolved.exposedPorts), spec);
  const config = { ...resolved, exposedPorts: Object.fromEntries(exposed.map((key) => [key, {}])) };
  const networkPlan = await planNetworking(context.networks, spec, exposed, context.hostSockets);
  if (networkModeKind(spec.networkMode) === "container") context.namespaceOfContainer((spec.networkMode ?? "").slice("container:".length));
  const anonymousVolumes: string[] = [];
  const mounts = resolveMounts({
    mounts: spec.mounts ?? [],
    imageVolumes: Object.keys(image.config.Volumes ?? {}),
    volumeDataPath: (name) => volumes.dataPath(name),
    anonymousVolumeName: () => {
      const name = randomBytes(32).toString("hex");
      anonymousVolumes.push(name);
      return name;
    },
  });
  const facts = hostFacts(context, spec.privileged ?? false);
  const warnings: string[] = [];
  if (spec.resources?.memory !== undefined && spec.resources.memory > 0 && !facts.swapAccounting) {
    warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
  }
  // Docker's words: the container binds the host's ports itself, there is nothing to publish.
  if (networkModeKind(spec.networkMode) === "host" && ((spec.portBindings?.length ?? 0) > 0 || spec.publishAllPorts === true)) {
    warnings.push("Published ports are discarded when using host network mode");
  }
  const finalFiles = context.filesOf(id);
  const created = nowIso(context.clock);

  return withLock(namesLockFile(paths), async () => {
    await sweepAbandoned(context);
    const existing = listRecords(paths);
    let name: string;
    if (spec.name !== undefined && spec.name !== "") {
      name = validateContainerName(spec.name);
      const holder = existing.find((record) => record.name === name);
      if (holder !== undefined) {
        throw new BerthError(
          StoreErrorCode.nameInUse,
          `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    } else {
      const taken = new Set(existing.map((record) => record.name));
      name = randomName();
      for (let retry = 1; taken.has(name); retry++) name = randomName(retry);
    }

    // Everything is written into a hidden directory and becomes visible in one rename, so its
    // files need no rename of their own: only the record is fsynced before the commit.
    const temporary = path.join(containersDirectory(paths), `${creatingPrefix}${id}-${process.pid}`);
    const files = containerFiles(paths, id, temporary);
    try {
      mkdirSync(temporary, { recursive: true, mode: 0o710 });
      writeFileSync(path.join(temporary, "pending.json"), JSON.stringify({ pid: process.pid, anonymousVolumes }));
      for (const directory of [files.upper, files.work, files.merged]) mkdirSync(directory, { mode: 0o755 });
      for (const mount of mounts) {
        if (mount.type !== "volume" || mount.name === undefined) continue;
        const volume = await volumes.create({ name: mount.name, ...(mount.anonymous ? { anonymous: true } : {}), ...(mount.volumeLabels ? { labels: mount.volumeLabels } : {}) });
        if (!mount.noCopy) {
          fillVolumeFromImage({
            layerPathsBottomFirst: image.layerPaths,
            containerPath: mount.destination,
            volumeData: volume.Mountpoint,
            scratch: path.join(temporary, `fill-${randomBytes(4).toString("hex")}`),
          });
        }
      }
      const networkFiles = networkFileContents({
        hostname: config.hostname,
        domainname: config.domainname,
        networkMode: spec.networkMode ?? "default",
        hostHosts: readHostFile("/etc/hosts"),
        hostResolvConf: readHostFile("/etc/resolv.conf"),
      });
      writeFileSync(files.hostname, networkFiles.hostname, { mode: 0o644 });
      writeFileSync(files.hosts, networkFiles.hosts, { mode: 0o644 });
      writeFileSync(files.resolvConf, networkFiles.resolvConf, { mode: 0o644 });
      const record: ContainerRecord = {
        version: 1,
        id,
        name,
        created,
        image: { reference: spec.image, id: image.id },
        spec,
        config,
        mounts,
        layerPaths: image.layerPaths,
        ...(networkPlan.attachments.length > 0 ? { networks: networkPlan.attachments, ports: networkPlan.ports } : {}),
      };
      let user: ProcessUser | undefined;
      try {
        user = processUser(record, files);
      } catch {
        user = undefined; // Docker resolves the user at start; so does berth (the error comes then).
      }
      // Validate everything config.json needs now, so a bad flag fails `create`, not `start`.
      const bundle = bundleFiles(record, finalFiles, facts, user);
      if (bundle.oci !== undefined) writeFileSync(files.ociConfig, json(bundle.oci));
      writeFileSync(files.shimConfig, json(bundle.shim));
      writeJsonAtomic(files.record, record);
      renameSync(temporary, finalFiles.bundle);
      // Dropped only after the commit: a kill before it leaves pending.json naming the anonymous volumes to sweep.
      rmSync(path.join(finalFiles.bundle, "pending.json"), { force: true });
    } catch (error) {
      unmountAll(temporary);
      for (const volume of anonymousVolumes) await volumes.remove(volume, { force: true }).catch(() => undefined);
      rmSync(temporary, { recursive: true, force: true });
      throw error;
    }
    return { id, name, warnings };
  });
}

/** The namespace config.json names: berth's sandbox, another container's, or none (a new one / the host's). */
function networkNamespaceFor(context: LifecycleContext, record: ContainerRecord): string | undefined {
  switch (networkModeKind(record.spec.networkMode)) {
    case "bridge":
      return (record.networks ?? []).length > 0 ? sandboxPath(context.paths, record.id) : undefined;
    case "container":
      return context.namespaceOfContainer((record.spec.networkMode ?? "").slice("container:".length));
    case "none":
    case "host":
      return undefined;
  }
}

/** Prepare the host side of a start: bind sources, volumes, and config.json with the user resolved now. */
async function prepareStart(context: LifecycleContext, record: ContainerRecord, files: ContainerFiles): Promise<void> {
  for (const mount of record.mounts) {
    if (mount.type === "bind") {
      if (!existsSync(mount.source)) {
        if (!mount.createHostPath) throw new BerthError(LifecycleErrorCode.invalid, `invalid mount config for type "bind": bind source path does not exist: ${mount.source}`);
        mkdirSync(mount.source, { recursive: true, mode: 0o755 });
      }
    } else if (mount.type === "volume" && mount.name !== undefined && !context.volumes.exists(mount.name)) {
      await context.volumes.create({ name: mount.name, ...(mount.anonymous ? { anonymous: true } : {}) });
    }
  }
  const user = processUser(record, files);
  const bundle = bundleFiles(record, files, hostFacts(context, record.spec.privileged ?? false), user, networkNamespaceFor(context, record));
  // Made again at every start from the record (which is durable), so a crash can cost these files
  // nothing that matters: whole or not, the next start compares and rewrites them (perBoot).
  const writeBundleFile = (file: string, content: string): void => writeFileAtomic(file, content, perBoot);
  writeIfChanged(files.ociConfig, json(bundle.oci), writeBundleFile);
  writeIfChanged(files.shimConfig, json(bundle.shim), writeBundleFile);
}

/** Start under the container's lock (the caller holds it). A running container is left as it is. */
export async function startContainer(context: LifecycleContext, record: ContainerRecord, files: ContainerFiles): Promise<void> {
  let observation = context.observe(record, files);
  let state = deriveState(observation);
  if (state.running && observation.status !== undefined && observation.status.pid > 0 && !processRunning(observation.status.pid)) {
    // The container is gone and its shim is tearing down (cgroups, rootfs, namespace) before it
    // records the exit: a start now is a start after that exit, not a start of a running container.
    await context.awaitShimGone(files);
    observation = context.observe(record, files);
    state = deriveState(observation);
  }
  if (state.running) {
    if (observation.status === undefined) {
      await waitUntil(() => readStatusFile(files) !== undefined || !context.observe(record, files).shimAlive, { directory: files.runDir, timeoutMs: 10_000 });
    }
    return;
  }
  assertAllowed("start", state.status, record.name);
  if (existsSync(files.starting)) {
    // A start whose CLI died before the shim reported: if that shim lives, it is this start.
    const shims = findShims(files.bundle);
    if (shims.length > 0) {
      await waitUntil(() => readStatusFile(files) !== undefined || !shims.some(processRunning), { directory: files.runDir, timeoutMs: 10_000 });
      observation = context.observe(record, files);
      state = deriveState(observation);
      if (state.running) {
        rmSync(files.starting, { force: true });
        writeJsonAtomic(files.state, { startedAt: state.startedAt, restartCount: state.restartCount });
        return;
      }
    }
  }
  if (observation.shimAlive) await context.awaitShimGone(files);
  if (state.status !== "created" || observation.status !== undefined || existsSync(files.shimPid) || existsSync(files.starting)) {
    if (observation.status !== undefined) context.persistExit(files);
    await context.cleanupAfterShim(record, files);
    for (const file of [files.status, files.health]) rmSync(file, { force: true });
    await sessionKeyringReleased(record.id);
  }
  try {
    await prepareStart(context, record, files);
  } catch (error) {
    if (error instanceof BerthError) throw new ContainerStartError(error.message, 125, { cause: error });
    throw error;
  }
  mkdirSync(files.runDir, { recursive: true, mode: 0o700 });
  writeFileSync(files.starting, `${process.pid}\n`);
  try {
    await setUpNetworking(context.networks, record, files);
  } catch (error) {
    rmSync(files.starting, { force: true });
    if (error instanceof BerthError) throw new ContainerStartError(error.message, 125, { cause: error });
    throw error;
  }
  try {
    await startShim(context.shimPath(), files.bundle);
  } catch (error) {
    rmSync(files.starting, { force: true });
    const previous: PersistedState = readPersistedState(files) ?? {};
    const exitCode = error instanceof ContainerStartError ? error.exitStatus : 125;
    writeJsonAtomic(files.state, { ...previous, error: (error as Error).message, exitCode });
    await context.cleanupAfterShim(record, files).catch(() => undefined);
    // A start that never ran leaves the container as it was (Docker: created, with the error).
    for (const file of [files.status, files.health]) rmSync(file, { force: true });
    throw error;
  }
  const status = readStatusFile(files);
  writeJsonAtomic(files.state, { startedAt: status?.startedAt ?? context.clock().toISOString(), restartCount: status?.restartCount ?? 0 });
  rmSync(files.starting, { force: true });
}

/**
 * The shim gives each container a session keyring named `_ses.<id>` (as runc does) and cannot
 * re-join one that a previous run left behind: exited processes hold theirs until their parent
 * reaps them, and an init that reaps late (this machine's) keeps it alive for a while after a
 * stop. Before a re-start, wait (briefly) for the kernel to drop it.
 */
async function sessionKeyringReleased(id: string, timeoutMs = 3000): Promise<void> {
  const name = `_ses.${id}`;
  const present = (): boolean => {
    try {
      return readFileSync("/proc/keys", "utf8").includes(name);
    } catch {
      return false;
    }
  };
  await waitUntil(() => !present(), { timeoutMs, pollMs: 20 });
}

/** Host devices a privileged container gets (Docker gives them all). */
function hostDevices(): OciDevice[] {
  const devices: OciDevice[] = [];
  const visit = (directory: string): void => {
    let entries;
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        if (!["pts", "shm", "mqueue", "fd"].includes(entry.name)) visit(full);
        continue;
      }
      if ((!entry.isCharacterDevice() && !entry.isBlockDevice()) || full === "/dev/console" || full === "/dev/ptmx") continue;
      let stats: Stats;
      try {
        stats = statSync(full);
      } catch {
        continue;
      }
      devices.push({
        path: full,
        type: entry.isCharacterDevice() ? "c" : "b",
        major: Math.floor(stats.rdev / 256) & 0xfff,
        minor: (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00),
        fileMode: stats.mode & 0o777,
        uid: stats.uid,
        gid: stats.gid,
      });
    }
  };
  visit("/dev");
  return devices;
}
