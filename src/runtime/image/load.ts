// `berth image load`: images from an OCI image layout (directory or tar) or a `docker save`
// archive (the legacy layout with manifest.json + repositories, or the OCI form Docker 25+
// writes). Everything is verified in staging before anything is stored: blob digests and sizes
// against their descriptors, layers' uncompressed digests against the config's diff_ids. Only
// then are blobs and layers moved into the store and the index updated, under the index lock.
// A refused archive leaves nothing behind.

import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { withLock } from "../state.js";
import { openArchive, type ArchiveSource } from "./archive.js";
import { blobCompression, digestMismatch, hasBlob, installBlob, stageBlobFromBytes, stageBlobFromRange, storedBlob, type StagedBlob } from "./blobs.js";
import { mapLimit } from "./concurrency.js";
import { chainIds, digestHex, isSha256Digest, sha256Of } from "./digest.js";
import { ImageError, ImageErrorCode } from "./errors.js";
import { installLayer, layerExists, temporaryDirectory, unpackLayerInto } from "./layers.js";
import {
  indexLockFile,
  readIndex,
  readLayerRecord,
  sweepTemporary,
  writeIndex,
  type ImageRecord,
  type LayerRecord,
  type StoredManifest,
  type StoreLayout,
} from "./layout.js";
import { hostArchitecture, isConfigType, isIndexType, isLayerType, isManifestType, MediaType, ociLayerType } from "./media-types.js";
import { formatReference, parseReference, repositoryName, withDefaultTag } from "./reference.js";
import type { OciDescriptor, OciImageConfigFile } from "./types.js";
import { layerDiffId } from "./unpacker.js";

const jsonLimit = 16 * 1024 * 1024;
const unpackConcurrency = 4;

interface LayerSource {
  /** Member of the archive holding the layer blob. */
  readonly member: string;
  readonly digest?: string;
  readonly size?: number;
}

interface Candidate {
  readonly names: readonly string[];
  readonly configBytes: Buffer;
  readonly configDigest: string;
  /** The source's own manifest (OCI layouts): kept byte for byte, its digest is the registry's. */
  readonly manifest?: { readonly bytes: Buffer; readonly digest: string };
  readonly layers: readonly LayerSource[];
  readonly what: string;
}

interface PreparedImage {
  readonly names: readonly string[];
  readonly record: ImageRecord;
  readonly manifestDigest: string;
}

function archiveError(source: ArchiveSource, message: string): ImageError {
  return new ImageError(ImageErrorCode.archive, `${source.description}: ${message}`, { object: `archive ${source.description}` });
}

function parseJson<T>(source: ArchiveSource, bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch (error) {
    throw archiveError(source, `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

const blobMember = (digest: string, what: string): string => `blobs/sha256/${digestHex(digest, what)}`;

/** A normalized tag reference from an annotation or RepoTags entry; undefined for a bare tag. */
function imageName(source: ArchiveSource, value: string, fullOnly: boolean): string | undefined {
  if (fullOnly && !/[:/@]/.test(value)) return undefined;
  let parsed;
  try {
    parsed = parseReference(value);
  } catch (error) {
    throw archiveError(source, `invalid image name ${JSON.stringify(value)}: ${(error as Error).message}`);
  }
  if (parsed.digest !== undefined && parsed.tag === undefined) return undefined;
  return formatReference(withDefaultTag({ ...parsed, digest: undefined }));
}

function namesFromAnnotations(source: ArchiveSource, annotations: Readonly<Record<string, string>> | undefined): string[] {
  const containerdName = annotations?.["io.containerd.image.name"];
  if (containerdName !== undefined) return [imageName(source, containerdName, false)].filter((name): name is string => name !== undefined);
  const refName = annotations?.["org.opencontainers.image.ref.name"];
  // A bare tag ("1.35", as skopeo and umoci write) names no repository: the image loads untagged.
  if (refName !== undefined) return [imageName(source, refName, true)].filter((name): name is string => name !== undefined);
  return [];
}

interface DockerManifestEntry {
  readonly Config?: unknown;
  readonly RepoTags?: unknown;
  readonly Layers?: unknown;
}

function readDockerManifest(source: ArchiveSource): DockerManifestEntry[] {
  const entries = parseJson<unknown>(source, source.read("manifest.json", jsonLimit), "manifest.json");
  if (!Array.isArray(entries)) throw archiveError(source, "manifest.json is not a list");
  return entries as DockerManifestEntry[];
}

function repoTagsOf(source: ArchiveSource, entry: DockerManifestEntry): string[] {
  if (entry.RepoTags === null || entry.RepoTags === undefined) return [];
  if (!Array.isArray(entry.RepoTags) || !entry.RepoTags.every((tag) => typeof tag === "string")) {
    throw archiveError(source, "manifest.json: RepoTags is not a list of strings");
  }
  return (entry.RepoTags as string[]).map((tag) => imageName(source, tag, false)).filter((name): name is string => name !== undefined);
}

function legacyCandidates(source: ArchiveSource, entries: readonly DockerManifestEntry[]): Candidate[] {
  return entries.map((entry, position) => {
    const what = `manifest.json[${position}]`;
    if (typeof entry.Config !== "string") throw archiveError(source, `${what}: Config is missing`);
    if (!Array.isArray(entry.Layers) || !entry.Layers.every((layer) => typeof layer === "string")) {
      throw archiveError(source, `${what}: Layers is not a list of paths`);
    }
    if (!source.has(entry.Config)) throw archiveError(source, `${what}: config ${entry.Config} is missing`);
    const configBytes = source.read(entry.Config, jsonLimit);
    const layers = (entry.Layers as string[]).map((member) => {
      if (!source.has(member)) throw archiveError(source, `${what}: layer ${member} is missing`);
      return { member };
    });
    return { names: repoTagsOf(source, entry), configBytes, configDigest: sha256Of(configBytes), layers, what };
  });
}

function platformMatches(descriptor: OciDescriptor): boolean {
  const platform = descriptor.platform;
  return platform === undefined || (platform.os === "linux" && platform.architecture === hostArchitecture());
}

const isAttestation = (descriptor: OciDescriptor): boolean =>
  descriptor.platform?.os === "unknown" || descriptor.annotations?.["vnd.docker.reference.type"] === "attestation-manifest";

function readVerifiedJson<T>(source: ArchiveSource, descriptor: OciDescriptor, what: string): { bytes: Buffer; value: T } {
  if (!isSha256Digest(descriptor.digest)) throw archiveError(source, `${what}: digest ${JSON.stringify(descriptor.digest)} is not sha256`);
  const member = blobMember(descriptor.digest, what);
  if (!source.has(member)) throw archiveError(source, `${what}: blob ${descriptor.digest} is missing`);
  const bytes = source.read(member, jsonLimit);
  const actual = sha256Of(bytes);
  if (actual !== descriptor.digest) throw digestMismatch(`${what} ${descriptor.digest}`, descriptor.digest, actual);
  if (typeof descriptor.size === "number" && descriptor.size !== bytes.length) {
    throw new ImageError(ImageErrorCode.digest, `${what} ${descriptor.digest}: size mismatch: expected ${descriptor.size} bytes, found ${bytes.length}`);
  }
  return { bytes, value: parseJson<T>(source, bytes, `${what} ${descriptor.digest}`) };
}

function ociCandidates(source: ArchiveSource, dockerEntries: readonly DockerManifestEntry[]): Candidate[] {
  const layout = source.has("oci-layout") ? parseJson<{ imageLayoutVersion?: unknown }>(source, source.read("oci-layout", 4096), "oci-layout") : {};
  if (layout.imageLayoutVersion !== undefined && !/^1\./.test(String(layout.imageLayoutVersion))) {
    throw archiveError(source, `unsupported OCI layout version ${String(layout.imageLayoutVersion)}`);
  }
  const index = parseJson<{ manifests?: unknown }>(source, source.read("index.json", jsonLimit), "index.json");
  if (!Array.isArray(index.manifests)) throw archiveError(source, "index.json has no manifests list");
  // Names Docker wrote into manifest.json next to the OCI index, by config.
  const tagsByConfig = new Map<string, string[]>();
  for (const entry of dockerEntries) {
    if (typeof entry.Config === "string") tagsByConfig.set(path.posix.basename(entry.Config).replace(/\.json$/, ""), repoTagsOf(source, entry));
  }
  const candidates: Candidate[] = [];

  const walk = (descriptors: readonly OciDescriptor[], names: readonly string[], depth: number): void => {
    if (depth > 4) throw archiveError(source, "image indexes nested too deeply");
    let usable = descriptors.filter((descriptor) => !isAttestation(descriptor));
    if (depth > 0) {
      // A multi-platform index: this machine's platform, else the first image.
      const matching = usable.filter(platformMatches);
      usable = (matching.length > 0 ? matching : usable).slice(0, 1);
    }
    for (const descriptor of usable) {
      const what = depth === 0 ? "index.json manifest" : "nested manifest";
      const here = [...names, ...namesFromAnnotations(source, descriptor.annotations)];
      const { bytes, value } = readVerifiedJson<Record<string, unknown>>(source, descriptor, what);
      const mediaType = descriptor.mediaType ?? (typeof value["mediaType"] === "string" ? value["mediaType"] : undefined);
      if (isIndexType(mediaType) || (mediaType === undefined && Array.isArray(value["manifests"]))) {
        walk(value["manifests"] as OciDescriptor[], here, depth + 1);
        continue;
      }
      if (!isManifestType(mediaType) && !(mediaType === undefined && typeof value["config"] === "object")) continue;
      const config = value["config"] as OciDescriptor | undefined;
      const layers = value["layers"] as OciDescriptor[] | undefined;
      if (config === undefined || !Array.isArray(layers)) throw archiveError(source, `manifest ${descriptor.digest} has no config or layers`);
      if (config.mediaType !== undefined && !isConfigType(config.mediaType)) continue; // an artifact, not an image
      const configBlob = readVerifiedJson<unknown>(source, config, "config");
      const layerSources = layers.map((layer) => {
        if (!isLayerType(layer.mediaType)) throw archiveError(source, `manifest ${descriptor.digest}: unsupported layer type ${layer.mediaType}`);
        const member = blobMember(layer.digest, "layer");
        if (!source.has(member)) throw archiveError(source, `layer blob ${layer.digest} is missing`);
        return { member, digest: layer.digest, size: layer.size };
      });
      const dockerNames = tagsByConfig.get(digestHex(config.digest)) ?? [];
      // The same manifest listed once per name (as docker save writes it): one image, all names.
      const earlier = candidates.findIndex((candidate) => candidate.manifest?.digest === descriptor.digest);
      if (earlier !== -1) {
        const known = candidates[earlier] as Candidate;
        candidates[earlier] = { ...known, names: [...new Set([...known.names, ...here, ...dockerNames])] };
        continue;
      }
      candidates.push({
        names: [...new Set([...here, ...dockerNames])],
        configBytes: configBlob.bytes,
        configDigest: config.digest,
        manifest: { bytes, digest: descriptor.digest },
        layers: layerSources,
        what: `manifest ${descriptor.digest}`,
      });
    }
  };
  walk(index.manifests as OciDescriptor[], [], 0);
  return candidates;
}

function readCandidates(source: ArchiveSource): Candidate[] {
  const dockerEntries = source.has("manifest.json") ? readDockerManifest(source) : [];
  if (source.has("index.json")) return ociCandidates(source, dockerEntries);
  if (source.has("manifest.json")) return legacyCandidates(source, dockerEntries);
  throw archiveError(source, "neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)");
}


class LoadSession {
  readonly #layout: StoreLayout;
  readonly #staging: string;
  readonly #blobs = new Map<string, StagedBlob>();
  readonly #layers = new Map<string, Promise<LayerRecord>>();
  readonly #stagedLayerDirectories = new Map<string, string>();

  constructor(layout: StoreLayout, staging: string) {
    this.#layout = layout;
    this.#staging = staging;
  }

  #blobDirectory(): string {
    return path.join(this.#staging, "blobs");
  }

  #remember(blob: StagedBlob): StagedBlob {
    const known = this.#blobs.get(blob.digest);
    if (known !== undefined) {
      if (!blob.stored && blob.file !== known.file) rmSync(blob.file, { force: true });
      return known;
    }
    this.#blobs.set(blob.digest, blob);
    return blob;
  }

  #stageBytes(bytes: Buffer, digest: string | undefined, what: string): StagedBlob {
    const known = digest === undefined ? undefined : (this.#blobs.get(digest) ?? storedBlob(this.#layout, digest));
    if (known !== undefined) return this.#remember(known);
    return this.#remember(stageBlobFromBytes(bytes, this.#blobDirectory(), digest, what));
  }

  #stageLayerBlob(source: ArchiveSource, layer: LayerSource, what: string): StagedBlob {
    if (layer.digest !== undefined) {
      const known = this.#blobs.get(layer.digest) ?? storedBlob(this.#layout, layer.digest);
      if (known !== undefined) return this.#remember(known);
    }
    const expected = { ...(layer.digest === undefined ? {} : { digest: layer.digest }), ...(layer.size === undefined ? {} : { size: layer.size }) };
    return this.#remember(stageBlobFromRange(source.range(layer.member), this.#blobDirectory(), expected, what));
  }

  #layer(spec: { chainId: string; parent: string | null; diffId: string; blob: StagedBlob }): Promise<LayerRecord> {
    const pending = this.#layers.get(spec.chainId);
    if (pending !== undefined) {
      // Another image of this archive shares the layer; a new blob for it must still hash right.
      if (spec.blob.stored) return pending;
      return pending.then(async (record) => {
        await this.#verifyBlob(spec);
        return record;
      });
    }
    const work = (async (): Promise<LayerRecord> => {
      if (layerExists(this.#layout, spec.chainId)) {
        if (!spec.blob.stored) await this.#verifyBlob(spec);
        const record = readLayerRecord(this.#layout, spec.chainId);
        if (record !== undefined) return record;
      }
      const directory = path.join(this.#staging, "layers", digestHex(spec.chainId));
      mkdirSync(directory, { recursive: true });
      this.#stagedLayerDirectories.set(spec.chainId, directory);
      return unpackLayerInto(directory, { chainId: spec.chainId, parent: spec.parent, diffId: spec.diffId, blobFile: spec.blob.file });
    })();
    this.#layers.set(spec.chainId, work);
    return work;
  }

  async #verifyBlob(spec: { diffId: string; blob: StagedBlob }): Promise<void> {
    const actual = await layerDiffId(spec.blob.file, spec.diffId);
    if (actual !== spec.diffId) throw digestMismatch(`layer ${spec.blob.digest}`, spec.diffId, actual);
  }

  async prepare(source: ArchiveSource, candidate: Candidate): Promise<PreparedImage> {
    const config = parseJson<OciImageConfigFile>(source, candidate.configBytes, `config ${candidate.configDigest}`);
    const diffIds = config.rootfs?.diff_ids;
    if (typeof config !== "object" || config === null || config.rootfs?.type !== "layers" || !Array.isArray(diffIds) || !diffIds.every(isSha256Digest)) {
      throw archiveError(source, `${candidate.what}: config ${candidate.configDigest} has no valid rootfs.diff_ids`);
    }
    if (diffIds.length !== candidate.layers.length) {
      throw archiveError(
        source,
        `${candidate.what}: the config lists ${diffIds.length} layers (rootfs.diff_ids), the manifest ${candidate.layers.length}`,
      );
    }
    this.#stageBytes(candidate.configBytes, candidate.configDigest, `config ${candidate.configDigest}`);
    const blobs = candidate.layers.map((layer, position) => this.#stageLayerBlob(source, layer, `layer ${position} of ${candidate.what}`));
    const chains = chainIds(diffIds);
    const records = await mapLimit(chains, unpackConcurrency, (chainId, position) =>
      this.#layer({ chainId, parent: chains[position - 1] ?? null, diffId: diffIds[position] as string, blob: blobs[position] as StagedBlob }),
    );
    let manifest: StoredManifest;
    if (candidate.manifest !== undefined) {
      this.#stageBytes(candidate.manifest.bytes, candidate.manifest.digest, candidate.what);
      const repositories = [...new Set(candidate.names.map((name) => repositoryName(parseReference(name))))].sort();
      manifest = { digest: candidate.manifest.digest, layers: blobs.map((blob) => blob.digest), distributable: true, repositories };
    } else {
      // docker save's legacy layout has no manifest: write the OCI manifest that describes it.
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, digest: candidate.configDigest, size: candidate.configBytes.length },
          layers: blobs.map((blob) => ({ mediaType: ociLayerType(blobCompression(blob.file)), digest: blob.digest, size: blob.size })),
        }),
      );
      const staged = this.#stageBytes(bytes, undefined, `manifest of ${candidate.what}`);
      manifest = { digest: staged.digest, layers: blobs.map((blob) => blob.digest), distributable: false };
    }
    const record: ImageRecord = {
      id: candidate.configDigest,
      diffIds,
      manifests: [manifest],
      ...(typeof config.created === "string" ? { created: config.created } : {}),
      size: records.reduce((total, layer) => total + layer.size, 0),
      architecture: typeof config.architecture === "string" ? config.architecture : "",
      os: typeof config.os === "string" ? config.os : "",
      ...(typeof config.variant === "string" ? { variant: config.variant } : {}),
    };
    return { names: candidate.names, record, manifestDigest: manifest.digest };
  }

  /** Moves what was staged into the store and records the images, under the index lock. */
  async commit(prepared: readonly PreparedImage[]): Promise<void> {
    await withLock(indexLockFile(this.#layout), async () => {
      for (const blob of this.#blobs.values()) installBlob(this.#layout, blob);
      for (const [chainId, directory] of this.#stagedLayerDirectories) await installLayer(this.#layout, chainId, directory);
      const index = readIndex(this.#layout);
      for (const image of prepared) {
        const needed = [image.record.id, ...image.record.manifests.flatMap((manifest) => [manifest.digest, ...manifest.layers])];
        const missing = needed.find((digest) => !hasBlob(this.#layout, digest));
        if (missing !== undefined) {
          throw new ImageError(ImageErrorCode.store, `blob ${missing} was removed while the image was loading`, {
            hint: "load the archive again",
          });
        }
      }
      const images: Record<string, ImageRecord> = { ...index.images };
      const references: Record<string, string> = { ...index.references };
      const now = new Date().toISOString();
      for (const image of prepared) {
        const existing = images[image.record.id];
        const manifests = [...(existing?.manifests ?? [])];
        for (const manifest of image.record.manifests) {
          const position = manifests.findIndex((known) => known.digest === manifest.digest);
          const known = manifests[position];
          if (known === undefined) manifests.push(manifest);
          else {
            const repositories = [...new Set([...(known.repositories ?? []), ...(manifest.repositories ?? [])])].sort();
            manifests[position] = { ...known, repositories };
          }
        }
        const lastTagTime = image.names.length > 0 ? now : existing?.lastTagTime;
        images[image.record.id] = { ...image.record, manifests, ...(lastTagTime === undefined ? {} : { lastTagTime }) };
        for (const name of image.names) references[name] = image.manifestDigest;
      }
      writeIndex(this.#layout, { version: 1, references, images });
    });
  }
}

/** Loads every image of the archive; returns the names it tagged (or the ids of untagged images). */
export async function loadImages(layout: StoreLayout, file: string): Promise<string[]> {
  sweepTemporary(layout);
  const staging = temporaryDirectory(layout, "load");
  try {
    const session = new LoadSession(layout, staging);
    const source = await openArchive(file, staging);
    const prepared: PreparedImage[] = [];
    try {
      const candidates = readCandidates(source);
      if (candidates.length === 0) throw archiveError(source, "contains no image");
      for (const candidate of candidates) prepared.push(await session.prepare(source, candidate));
    } finally {
      source.close();
    }
    await session.commit(prepared);
    return prepared.flatMap((image) => (image.names.length > 0 ? image.names : [image.record.id]));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
