// `berth image pull`: resolve the reference on the registry (mirrors first), pick this machine's
// platform from a manifest list or index, download config and layers (bounded parallelism,
// verified, shared between concurrent pulls), unpack new layers in staging checking their diff
// ids, then commit everything under the index lock: blobs into blobs/, layers into layers/, the
// name and its RepoDigests into images/index.json. A failure before the commit stores nothing.
// A second pull of an unchanged tag costs one HEAD of the manifest.

import { linkSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { withLock } from "../../state.js";
import { hasBlob, installBlob, stageBlobFromBytes } from "../blobs.js";
import { mapLimit } from "../concurrency.js";
import { chainIds, digestHex, isSha256Digest, sha256Of } from "../digest.js";
import { ImageError, ImageErrorCode, RegistryError } from "../errors.js";
import { installLayer, layerDiffDirectory, layerExists, recordAppliedLayer, temporaryDirectory, unpackLayerInto } from "../layers.js";
import {
  imageOfManifest,
  indexLockFile,
  readIndex,
  readLayerRecord,
  sweepTemporary,
  writeIndex,
  type ImageRecord,
  type LayerRecord,
  type StoredManifest,
  type StoreLayout,
} from "../layout.js";
import { isConfigType, isLayerType } from "../media-types.js";
import { familiarString, formatReference, parseReference, repositoryName, withDefaultTag, type ImageReference } from "../reference.js";
import type { OciDescriptor, OciImageConfigFile, PullOptions, PullProgressEvent, PullResult } from "../types.js";
import { recordBlobSources } from "./blob-sources.js";
import { repositoryScope } from "./challenge.js";
import { RegistryClient, responseError } from "./client.js";
import { pullEndpoints, readRegistryHosts, type RegistryEndpoint, type RegistryHosts } from "./config.js";
import { lookupCredentials } from "./credentials.js";
import { availableBlob, defaultRetryPolicy, downloadBlob, sweepStaleDownloads, verifiedDownloadPath, type RetryPolicy } from "./download.js";
import { fetchManifest, headManifest, type FetchedManifest } from "./manifests.js";
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, selectManifest, type Platform } from "./platform.js";
import { backoffDelay, isRetryableStatus } from "./resume.js";
import { isNetworkFailure } from "./transport.js";

/**
 * Downloads in flight per pull: containers/image's default (6) rather than Docker's (3), so a
 * small layer finishing first does not leave a big one waiting for a slot.
 */
const downloadConcurrency = 6;
const progressIntervalMs = 100;
const configSizeLimit = 16 * 1024 * 1024;

export interface PullInternals {
  /** Retry policy for blob downloads (tests shorten the backoff). */
  readonly retry?: RetryPolicy;
}

const shortHex = (digest: string): string => digestHex(digest).slice(0, 12);

/** Prefixes a registry error with the operation and reference, so the CLI's one line says everything. */
export function contextualize(error: unknown, operation: string, reference: string): unknown {
  if (!(error instanceof RegistryError)) return error;
  const where = error.registry === "" ? "" : `registry ${error.registry}: `;
  return new RegistryError(error.code as ImageErrorCode, `${operation} ${reference}: ${where}${error.message}`, {
    registry: error.registry,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.object === undefined ? {} : { object: error.object }),
    cause: error,
  });
}

/** The image a tag or digest reference already names, with every blob it needs present. */
function completeLocalImage(layout: StoreLayout, referenceKey: string | undefined, digest: string): ImageRecord | undefined {
  const index = readIndex(layout);
  if (referenceKey !== undefined && index.references[referenceKey] !== digest) return undefined;
  const image = imageOfManifest(index, digest);
  const manifest = image?.manifests.find((candidate) => candidate.digest === digest);
  if (image === undefined || manifest === undefined) return undefined;
  const needed = [image.id, digest, ...manifest.layers];
  return needed.every((blob) => hasBlob(layout, blob)) ? image : undefined;
}

/** The normalized name a digest pull is recorded under: `docker.io/library/busybox@sha256:…`. */
const digestReferenceKey = (reference: ImageReference, digest: string): string => `${repositoryName(reference)}@${digest}`;

/** Records `name@digest` for an image that is already here (a repeated pull by digest). */
async function recordDigestReference(layout: StoreLayout, reference: ImageReference, digest: string): Promise<void> {
  const key = digestReferenceKey(reference, digest);
  if (readIndex(layout).references[key] === digest) return;
  await withLock(indexLockFile(layout), () => {
    const index = readIndex(layout);
    writeIndex(layout, { version: 1, references: { ...index.references, [key]: digest }, images: index.images });
  });
}

async function fetchConfig(client: RegistryClient, repositoryPath: string, descriptor: OciDescriptor, scopes: readonly string[], retry: RetryPolicy): Promise<Buffer> {
  if (descriptor.size > configSizeLimit) {
    throw new RegistryError(ImageErrorCode.registryProtocol, `config ${descriptor.digest}: ${descriptor.size} bytes is too large for an image config`, {
      registry: client.name,
    });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await client.request({ method: "GET", path: `/v2/${repositoryPath}/blobs/${descriptor.digest}`, scopes, followRedirects: true });
      if (response.status !== 200) {
        const error = await responseError(response, client.name, `config ${descriptor.digest}`);
        if (!isRetryableStatus(response.status)) throw error;
        throw Object.assign(error, { retryable: true });
      }
      const bytes = await response.buffer(configSizeLimit);
      const actual = sha256Of(bytes);
      if (actual !== descriptor.digest) {
        throw new RegistryError(ImageErrorCode.digest, `config ${descriptor.digest}: digest mismatch: content is ${actual}`, {
          registry: client.name,
          object: `blob ${descriptor.digest}`,
        });
      }
      return bytes;
    } catch (error) {
      const retryable = isNetworkFailure(error) || (error as { retryable?: boolean }).retryable === true;
      if (!retryable || attempt >= retry.attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, retry.baseDelayMs, retry.maxDelayMs)));
    }
  }
}

function parseConfig(bytes: Buffer, digest: string, layerCount: number, registry: string): { config: OciImageConfigFile; diffIds: string[] } {
  let config: OciImageConfigFile;
  try {
    config = JSON.parse(bytes.toString("utf8")) as OciImageConfigFile;
  } catch (error) {
    throw new RegistryError(ImageErrorCode.registryProtocol, `config ${digest}: not valid JSON: ${(error as Error).message}`, { registry });
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (config?.rootfs?.type !== "layers" || !Array.isArray(diffIds) || !diffIds.every(isSha256Digest)) {
    throw new RegistryError(ImageErrorCode.registryProtocol, `config ${digest}: no valid rootfs.diff_ids`, { registry });
  }
  if (diffIds.length !== layerCount) {
    throw new RegistryError(ImageErrorCode.registryProtocol, `config ${digest} lists ${diffIds.length} layers (rootfs.diff_ids), the manifest ${layerCount}`, {
      registry,
    });
  }
  return { config, diffIds: [...diffIds] };
}

interface PullTarget {
  readonly reference: ImageReference;
  /** The key in images/index.json: `domain/path:tag` or `domain/path@digest`. */
  readonly referenceKey: string;
  readonly familiar: string;
  readonly platform: Platform;
  /** --platform was given (not just this machine's default). */
  readonly platformRequested: boolean;
}

interface PullContext {
  readonly layout: StoreLayout;
  readonly target: PullTarget;
  readonly emit: (event: PullProgressEvent) => void;
  readonly retry: RetryPolicy;
}

function merged(existing: readonly StoredManifest[], added: readonly StoredManifest[]): StoredManifest[] {
  const manifests = [...existing];
  for (const manifest of added) {
    const position = manifests.findIndex((known) => known.digest === manifest.digest);
    const known = manifests[position];
    if (known === undefined) manifests.push(manifest);
    else {
      const repositories = [...new Set([...(known.repositories ?? []), ...(manifest.repositories ?? [])])].sort();
      manifests[position] = { ...known, distributable: known.distributable || manifest.distributable, repositories };
    }
  }
  return manifests;
}

async function pullFrom(context: PullContext, client: RegistryClient): Promise<PullResult> {
  const { layout, target, emit } = context;
  const repositoryPath = target.reference.path;
  const scopes = [repositoryScope(repositoryPath, ["pull"])];
  const tag = target.reference.digest === undefined ? target.reference.tag : undefined;

  let top: FetchedManifest;
  if (tag !== undefined) {
    // HEAD first: an unchanged tag costs one request and no body. A tag this store has never
    // pulled cannot be unchanged, so it goes straight to the manifest (one request less).
    const known = readIndex(layout).references[target.referenceKey] !== undefined;
    const announced = known ? await headManifest(client, repositoryPath, tag, scopes) : undefined;
    const local = announced === undefined ? undefined : completeLocalImage(layout, target.referenceKey, announced);
    if (announced !== undefined && local !== undefined) {
      return { reference: target.referenceKey, digest: announced, imageId: local.id, status: "up-to-date", registry: client.name };
    }
    top = await fetchManifest(client, repositoryPath, announced ?? tag, scopes);
    const unchanged = announced === undefined ? completeLocalImage(layout, target.referenceKey, top.digest) : undefined;
    if (unchanged !== undefined) return { reference: target.referenceKey, digest: top.digest, imageId: unchanged.id, status: "up-to-date", registry: client.name };
  } else {
    top = await fetchManifest(client, repositoryPath, target.reference.digest as string, scopes);
  }

  let platformManifest = top;
  let index: FetchedManifest | undefined;
  if (top.decoded.kind === "index") {
    index = top;
    const chosen = selectManifest(top.decoded.index.manifests, target.platform, client.name);
    platformManifest = await fetchManifest(client, repositoryPath, chosen.digest, scopes);
  }
  if (platformManifest.decoded.kind !== "manifest") {
    throw new RegistryError(ImageErrorCode.registryProtocol, `manifest ${platformManifest.digest}: an index inside an index is not an image`, {
      registry: client.name,
    });
  }
  const manifest = platformManifest.decoded.manifest;
  if (!isSha256Digest(manifest.config?.digest) || (manifest.config.mediaType !== undefined && !isConfigType(manifest.config.mediaType))) {
    throw new RegistryError(ImageErrorCode.registryProtocol, `manifest ${platformManifest.digest} is not a container image (config type ${manifest.config?.mediaType})`, {
      registry: client.name,
    });
  }
  for (const layer of manifest.layers) {
    if (!isSha256Digest(layer.digest) || !isLayerType(layer.mediaType) || typeof layer.size !== "number") {
      throw new RegistryError(ImageErrorCode.registryProtocol, `manifest ${platformManifest.digest}: unsupported layer ${layer.mediaType} ${layer.digest}`, {
        registry: client.name,
      });
    }
  }

  const configBytes = await fetchConfig(client, repositoryPath, manifest.config, scopes, context.retry);
  const { config, diffIds } = parseConfig(configBytes, manifest.config.digest, manifest.layers.length, client.name);
  if (index === undefined && target.platformRequested && typeof config.architecture === "string" && typeof config.os === "string") {
    // A single-platform image: refused only when --platform asked for another one, as Docker does.
    const actual = normalizePlatform({ os: config.os, architecture: config.architecture, ...(typeof config.variant === "string" ? { variant: config.variant } : {}) });
    const wanted = normalizePlatform(target.platform);
    if (actual.os !== wanted.os || actual.architecture !== wanted.architecture || (wanted.variant !== undefined && actual.variant !== wanted.variant)) {
      throw new RegistryError(
        ImageErrorCode.registryPlatform,
        `image with reference ${target.familiar} was found but does not match the specified platform: wanted ${formatPlatform(wanted)}, actual: ${formatPlatform(actual)}`,
        { registry: client.name },
      );
    }
  }
  const chains = chainIds(diffIds);
  const layerDigests = manifest.layers.map((layer) => layer.digest);

  emit({ type: "layers", layers: manifest.layers.map((layer) => ({ id: shortHex(layer.digest), size: layer.size })) });
  const needsWork = manifest.layers.map((layer, position) => !hasBlob(layout, layer.digest) || !layerExists(layout, chains[position] as string));
  manifest.layers.forEach((layer, position) => {
    emit({ type: "layer", id: shortHex(layer.digest), status: needsWork[position] ? "Pulling fs layer" : "Already exists" });
  });

  const staging = temporaryDirectory(layout, "pull");
  try {
    const blobFiles = new Map<string, string>();
    const stagedLayers = new Map<string, string>();
    const layerSizes = new Map<string, number>();
    await mapLimit(manifest.layers, downloadConcurrency, async (layer, position) => {
      const chainId = chains[position] as string;
      const diffId = diffIds[position] as string;
      const id = shortHex(layer.digest);
      if (!needsWork[position]) return;
      // A layer not unpacked yet is applied while its blob arrives (berth-unpack --blob).
      const directory = path.join(staging, "layers", digestHex(chainId));
      const streamInto = layerExists(layout, chainId) ? undefined : layerDiffDirectory(directory);
      if (streamInto !== undefined) mkdirSync(streamInto, { recursive: true, mode: 0o755 });
      let lastProgress = 0;
      const downloaded = await downloadBlob(layout, {
        client,
        repositoryPath,
        digest: layer.digest,
        size: layer.size,
        scopes,
        retry: context.retry,
        ...(streamInto === undefined ? {} : { unpackInto: { directory: streamInto, layer: diffId } }),
        onProgress: (progress) => {
          if (progress.status === "downloading") {
            const now = Date.now();
            if (now - lastProgress < progressIntervalMs && progress.current < progress.total) return;
            lastProgress = now;
            emit({ type: "layer", id, status: "Downloading", current: progress.current, total: progress.total });
          } else if (progress.status === "retrying") {
            emit({ type: "layer", id, status: "Retrying", detail: `${progress.reason}; retrying in ${Math.ceil(progress.delayMs / 1000)} s` });
          } else if (progress.status === "waiting") {
            emit({ type: "layer", id, status: "Waiting" });
          } else {
            emit({ type: "layer", id, status: "Verifying Checksum" });
          }
        },
      });
      const blobFile = pinBlob(layout, layer.digest, downloaded.file, path.join(staging, "pinned"));
      blobFiles.set(layer.digest, blobFile);
      emit({ type: "layer", id, status: "Download complete" });
      if (layerExists(layout, chainId) || stagedLayers.has(chainId)) {
        emit({ type: "layer", id, status: "Pull complete" });
        return;
      }
      const spec = { chainId, parent: chains[position - 1] ?? null, diffId };
      let record: LayerRecord;
      if (downloaded.applied !== undefined) {
        record = recordAppliedLayer(directory, spec, downloaded.applied);
      } else {
        // The blob was already here, or another pull fetched it: unpack it from the file.
        emit({ type: "layer", id, status: "Extracting", current: 0, total: layer.size });
        rmSync(directory, { recursive: true, force: true });
        mkdirSync(directory, { recursive: true });
        record = await unpackLayerInto(directory, { ...spec, blobFile });
      }
      stagedLayers.set(chainId, directory);
      layerSizes.set(chainId, record.size);
      emit({ type: "layer", id, status: "Pull complete" });
    });

    const repository = repositoryName(target.reference);
    const stagedBlobs = path.join(staging, "blobs");
    await withLock(indexLockFile(layout), async () => {
      for (const [digest, file] of blobFiles) {
        if (!hasBlob(layout, digest)) installBlob(layout, { digest, size: 0, file, stored: false });
        // Other pulls of this blob hold their own links to it: the shared download can go.
        rmSync(verifiedDownloadPath(layout, digest), { force: true });
      }
      for (const [digest, bytes] of [
        [manifest.config.digest, configBytes],
        [platformManifest.digest, platformManifest.bytes],
        ...(index === undefined ? [] : [[index.digest, index.bytes] as const]),
      ] as const) {
        if (!hasBlob(layout, digest)) installBlob(layout, stageBlobFromBytes(bytes, stagedBlobs, digest, `blob ${digest}`));
      }
      for (const [chainId, directory] of stagedLayers) await installLayer(layout, chainId, directory);
      const missing = [manifest.config.digest, ...layerDigests].find((digest) => !hasBlob(layout, digest));
      if (missing !== undefined) throw new ImageError(ImageErrorCode.store, `blob ${missing} was removed while the image was pulling`, { hint: "pull again" });

      const storeIndex = readIndex(layout);
      const existing = storeIndex.images[manifest.config.digest];
      // With an index, RepoDigests show the index digest (as Docker does); the platform manifest stays for push and lookups.
      const added: StoredManifest[] = [
        { digest: platformManifest.digest, layers: layerDigests, distributable: index === undefined, repositories: [repository] },
        ...(index === undefined ? [] : [{ digest: index.digest, layers: layerDigests, distributable: true, repositories: [repository] }]),
      ];
      const size = chains.reduce((total, chainId) => total + (layerSizes.get(chainId) ?? readLayerRecord(layout, chainId)?.size ?? 0), 0);
      const record: ImageRecord = {
        id: manifest.config.digest,
        diffIds,
        manifests: merged(existing?.manifests ?? [], added),
        ...(typeof config.created === "string" ? { created: config.created } : {}),
        size,
        architecture: typeof config.architecture === "string" ? config.architecture : "",
        os: typeof config.os === "string" ? config.os : "",
        ...(typeof config.variant === "string" ? { variant: config.variant } : {}),
        lastTagTime: new Date().toISOString(),
      };
      writeIndex(layout, {
        version: 1,
        references: { ...storeIndex.references, [target.referenceKey]: top.digest },
        images: { ...storeIndex.images, [record.id]: record },
      });
    });
    await recordBlobSources(layout, [manifest.config.digest, ...layerDigests], repository);
    return { reference: target.referenceKey, digest: top.digest, imageId: manifest.config.digest, status: "downloaded", registry: client.name };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A hard link to a verified blob in this pull's staging: another pull committing the same download
 * (a rename into blobs/) cannot pull it away while this one unpacks or commits it.
 */
function pinBlob(layout: StoreLayout, digest: string, file: string, directory: string): string {
  mkdirSync(directory, { recursive: true });
  const pinned = path.join(directory, digestHex(digest));
  for (let attempt = 0; attempt < 3; attempt++) {
    const source = attempt === 0 ? file : availableBlob(layout, digest);
    if (source === undefined) break;
    try {
      linkSync(source, pinned);
      return pinned;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return pinned;
      if (code !== "ENOENT") throw error;
    }
  }
  throw new ImageError(ImageErrorCode.store, `blob ${digest} vanished while the image was pulling`, { hint: "pull again" });
}

/** Errors a mirror may answer with that send the pull on to the next endpoint. */
function fallsThrough(error: unknown): boolean {
  return error instanceof RegistryError;
}

export async function pullImage(layout: StoreLayout, reference: string, options: PullOptions = {}, internals: PullInternals = {}): Promise<PullResult> {
  const environment = options.environment ?? process.env;
  const parsed = withDefaultTag(parseReference(reference));
  const referenceKey = parsed.digest !== undefined ? digestReferenceKey(parsed, parsed.digest) : formatReference(parsed);
  const familiar = familiarString(parsed.digest !== undefined ? { ...parsed, tag: undefined } : parsed);
  const emit = options.quiet ? (): void => undefined : (options.onProgress ?? ((): void => undefined));
  const target: PullTarget = {
    reference: parsed,
    referenceKey,
    familiar,
    platform: options.platform === undefined ? hostPlatform() : parsePlatform(options.platform),
    platformRequested: options.platform !== undefined,
  };

  // Content addressed: an image already here under this digest needs no registry at all.
  if (parsed.digest !== undefined) {
    const local = completeLocalImage(layout, undefined, parsed.digest);
    if (local !== undefined) {
      await recordDigestReference(layout, parsed, parsed.digest);
      return { reference: referenceKey, digest: parsed.digest, imageId: local.id, status: "up-to-date", registry: parsed.domain };
    }
  }

  let hosts: RegistryHosts;
  try {
    hosts = readRegistryHosts(environment);
  } catch (error) {
    throw contextualize(error, "pull", familiar);
  }
  sweepTemporary(layout);
  sweepStaleDownloads(layout);
  emit({ type: "start", reference: referenceKey, tagOrDigest: parsed.digest ?? parsed.tag ?? "latest", repository: parsed.path });
  const context: PullContext = { layout, target, emit, retry: internals.retry ?? defaultRetryPolicy };
  const endpoints: RegistryEndpoint[] = pullEndpoints(hosts, parsed.domain);
  for (const [position, endpoint] of endpoints.entries()) {
    const last = position === endpoints.length - 1;
    try {
      const credentials = await lookupCredentials(endpoint.mirror ? endpoint.host : parsed.domain, environment);
      const client = new RegistryClient({ endpoint, hosts, credentials });
      return await pullFrom(context, client);
    } catch (error) {
      if (!last && endpoint.mirror && fallsThrough(error)) continue;
      throw contextualize(error, "pull", familiar);
    }
  }
  throw new ImageError(ImageErrorCode.registryConfig, `pull ${familiar}: no registry endpoint`);
}
