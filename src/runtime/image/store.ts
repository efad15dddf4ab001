// The image store: lookups by name, id or id prefix; resolve (unpacking layers on demand);
// list, inspect, tag, remove and prune with Docker's rules; load and save delegate to their
// modules. Every change of images/index.json happens under the index lock.

import { readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { withLock, type RuntimePaths } from "../state.js";
import { readBlob } from "./blobs.js";
import { mapLimit } from "./concurrency.js";
import { chainIds, shortId } from "./digest.js";
import { ImageError, ImageErrorCode, noSuchImage } from "./errors.js";
import { ensureLayer, removeLayer } from "./layers.js";
import {
  blobPath,
  imageOfManifest,
  indexLockFile,
  layerDiffDirectory,
  readIndex,
  readLayerRecord,
  referencedBlobs,
  referencesOf,
  storeLayout,
  sweepTemporary,
  writeIndex,
  type ImageIndex,
  type ImageRecord,
  type StoreLayout,
} from "./layout.js";
import { loadImages } from "./load.js";
import {
  asIdPrefix,
  asImageId,
  familiarRepository,
  familiarString,
  familiarize,
  formatReference,
  parseReference,
  repositoryName,
  withDefaultTag,
  type ImageReference,
} from "./reference.js";
import { saveImages, type ImageToSave } from "./save.js";
import type {
  ImageInspect,
  ImageStore,
  ImageSummary,
  OciImageConfig,
  OciImageConfigFile,
  PruneImagesOptions,
  PruneImagesReport,
  PullOptions,
  PullResult,
  PushOptions,
  PushResult,
  RemoveImageOptions,
  ResolvedImage,
} from "./types.js";
import { compareText } from "../../compare.js";

const unpackConcurrency = 4;

interface Found {
  readonly image: ImageRecord;
  /** The normalized tag reference used, when the lookup was by name. */
  readonly reference?: string;
  /** The manifest the reference or digest pointed at. */
  readonly manifestDigest?: string;
}

/** What the user typed, as Docker echoes it in "No such image": the familiar form with its tag. */
function displayName(reference: string): string {
  try {
    return familiarString(withDefaultTag(parseReference(reference)));
  } catch {
    return reference;
  }
}

function lookup(index: ImageIndex, reference: string): Found | undefined {
  const id = asImageId(reference);
  if (id !== undefined) {
    const image = index.images[id];
    if (image !== undefined) return { image };
  }
  let parsed: ImageReference | undefined;
  let parseError: unknown;
  if (id === undefined) {
    try {
      parsed = parseReference(reference);
    } catch (error) {
      parseError = error;
    }
  }
  if (parsed !== undefined) {
    if (parsed.digest !== undefined) {
      const image = imageOfManifest(index, parsed.digest) ?? index.images[parsed.digest];
      if (image !== undefined) return { image, manifestDigest: parsed.digest };
    } else {
      const normalized = formatReference(withDefaultTag(parsed));
      const manifestDigest = index.references[normalized];
      const image = manifestDigest === undefined ? undefined : imageOfManifest(index, manifestDigest);
      if (image !== undefined && manifestDigest !== undefined) return { image, reference: normalized, manifestDigest };
    }
  }
  const prefix = asIdPrefix(reference);
  const mayBeId = reference.startsWith("sha256:") || (parsed?.tag === undefined && parsed?.digest === undefined && !reference.includes("/"));
  if (prefix !== undefined && mayBeId) {
    const matches = Object.values(index.images).filter((image) => image.id.slice("sha256:".length).startsWith(prefix));
    if (matches.length > 1) {
      throw new ImageError(ImageErrorCode.notFound, `multiple IDs found with provided prefix: ${reference}`, {
        object: `image ${reference}`,
      });
    }
    if (matches[0] !== undefined) return { image: matches[0] };
  }
  if (parseError !== undefined && prefix === undefined) throw parseError;
  return undefined;
}

function find(index: ImageIndex, reference: string): Found {
  const found = lookup(index, reference);
  if (found === undefined) throw noSuchImage(displayName(reference));
  return found;
}

/** `name@sha256:…` keys record pulls by digest (Docker's digest references): RepoDigests, never RepoTags. */
const isDigestReference = (reference: string): boolean => reference.includes("@");

function repoTagsOf(index: ImageIndex, image: ImageRecord): string[] {
  return referencesOf(index, image)
    .filter((reference) => !isDigestReference(reference))
    .map(familiarize);
}

/**
 * `busybox@sha256:…` for each repository a registry manifest was loaded under, while the image
 * still has a tag in that repository (Docker drops digest references with a repository's last tag).
 */
function repoDigestsOf(index: ImageIndex, image: ImageRecord): string[] {
  const references = referencesOf(index, image);
  const taggedRepositories = new Set(references.map((reference) => repositoryName(parseReference(reference))));
  const digests = new Set<string>();
  for (const reference of references.filter(isDigestReference)) {
    const parsed = parseReference(reference);
    digests.add(`${familiarRepository(parsed)}@${parsed.digest ?? ""}`);
  }
  for (const manifest of image.manifests) {
    if (!manifest.distributable) continue;
    for (const repository of manifest.repositories ?? []) {
      if (taggedRepositories.has(repository)) digests.add(`${familiarRepository(parseReference(repository))}@${manifest.digest}`);
    }
  }
  return [...digests].sort();
}

function readConfig(layout: StoreLayout, image: ImageRecord): OciImageConfigFile {
  try {
    return JSON.parse(readBlob(layout, image.id).toString("utf8")) as OciImageConfigFile;
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(ImageErrorCode.store, `config ${image.id}: ${(error as Error).message}`, { object: `image ${image.id}` });
  }
}

function createdSeconds(created: string | undefined): number {
  if (created === undefined) return 0;
  const time = Date.parse(created);
  return Number.isNaN(time) ? 0 : Math.floor(time / 1000);
}


function conflict(message: string, image: ImageRecord): ImageError {
  return new ImageError(ImageErrorCode.conflict, message, { object: `image ${image.id}` });
}

/** Removes blobs and layers no image needs any more; returns their lines and bytes. Under the index lock. */
async function collectGarbage(layout: StoreLayout, index: ImageIndex): Promise<{ lines: string[]; bytes: number }> {
  const lines: string[] = [];
  let bytes = 0;
  const neededLayers = new Set<string>();
  for (const image of Object.values(index.images)) for (const chainId of chainIds(image.diffIds)) neededLayers.add(chainId);
  let layerNames: string[] = [];
  try {
    layerNames = readdirSync(layout.layersDirectory);
  } catch {
    layerNames = [];
  }
  // Top layers first, as Docker reports them.
  const layers = layerNames
    .filter((name) => /^[a-f0-9]{64}$/.test(name) && !neededLayers.has(`sha256:${name}`))
    .map((name) => ({ chainId: `sha256:${name}`, record: readLayerRecordSafe(layout, `sha256:${name}`) }));
  const depth = (chainId: string): number => {
    let count = 0;
    for (let current: string | null | undefined = chainId; current; count++) {
      current = layers.find((layer) => layer.chainId === current)?.record?.parent;
      if (count > 1000) break;
    }
    return count;
  };
  layers.sort((a, b) => depth(b.chainId) - depth(a.chainId) || compareText(a.chainId, b.chainId));
  for (const layer of layers) {
    bytes += await removeLayer(layout, layer.chainId);
    lines.push(`Deleted: ${layer.chainId}`);
  }
  const neededBlobs = referencedBlobs(index);
  let blobNames: string[] = [];
  try {
    blobNames = readdirSync(layout.blobsDirectory);
  } catch {
    blobNames = [];
  }
  for (const name of blobNames) {
    if (!/^[a-f0-9]{64}$/.test(name) || neededBlobs.has(`sha256:${name}`)) continue;
    const file = path.join(layout.blobsDirectory, name);
    try {
      bytes += statSync(file).size;
    } catch {
      // gone already
    }
    rmSync(file, { force: true });
  }
  return { lines, bytes };
}

function readLayerRecordSafe(layout: StoreLayout, chainId: string) {
  try {
    return readLayerRecord(layout, chainId);
  } catch {
    return undefined;
  }
}

class Store implements ImageStore {
  readonly #layout: StoreLayout;

  constructor(paths: RuntimePaths) {
    this.#layout = storeLayout(paths);
  }

  #locked<T>(action: () => Promise<T> | T): Promise<T> {
    return withLock(indexLockFile(this.#layout), action, 10 * 60 * 1000);
  }

  async resolve(reference: string): Promise<ResolvedImage> {
    const index = readIndex(this.#layout);
    const { image } = find(index, reference);
    const config = readConfig(this.#layout, image);
    const chains = chainIds(image.diffIds);
    const manifest = image.manifests[0];
    if (manifest === undefined) throw new ImageError(ImageErrorCode.store, `image ${image.id} has no manifest`);
    await mapLimit(chains, unpackConcurrency, (chainId, position) =>
      ensureLayer(this.#layout, {
        chainId,
        parent: chains[position - 1] ?? null,
        diffId: image.diffIds[position] as string,
        blobFile: blobPath(this.#layout, manifest.layers[position] ?? ""),
      }),
    );
    return {
      id: image.id,
      references: referencesOf(index, image),
      config: (config.config ?? {}) as OciImageConfig,
      layerPaths: chains.map((chainId) => layerDiffDirectory(this.#layout, chainId)),
      ...(image.created === undefined ? {} : { created: image.created }),
    };
  }

  async list(): Promise<readonly ImageSummary[]> {
    const index = readIndex(this.#layout);
    const summaries = Object.values(index.images).map((image): ImageSummary => {
      const config = readConfig(this.#layout, image);
      return {
        Id: image.id,
        ParentId: "",
        RepoTags: repoTagsOf(index, image),
        RepoDigests: repoDigestsOf(index, image),
        Created: createdSeconds(image.created),
        Size: image.size,
        SharedSize: -1,
        Labels: { ...(config.config?.Labels ?? {}) },
        Containers: -1,
      };
    });
    return summaries.sort((a, b) => b.Created - a.Created || compareText(a.Id, b.Id));
  }

  async inspect(reference: string): Promise<ImageInspect> {
    const index = readIndex(this.#layout);
    const { image } = find(index, reference);
    const config = readConfig(this.#layout, image);
    const chains = chainIds(image.diffIds);
    const lowerDirs = chains.map((chainId) => layerDiffDirectory(this.#layout, chainId)).reverse();
    return {
      Id: image.id,
      RepoTags: repoTagsOf(index, image),
      RepoDigests: repoDigestsOf(index, image),
      Parent: "",
      Comment: typeof config.comment === "string" ? config.comment : "",
      Created: image.created ?? "0001-01-01T00:00:00Z",
      DockerVersion: typeof config["docker_version"] === "string" ? config["docker_version"] : "",
      Author: typeof config.author === "string" ? config.author : "",
      Config: (config.config ?? {}) as OciImageConfig,
      Architecture: image.architecture,
      ...(image.variant === undefined ? {} : { Variant: image.variant }),
      Os: image.os,
      Size: image.size,
      GraphDriver: {
        Name: "overlay",
        Data: { LowerDir: lowerDirs.join(":") },
      },
      RootFS: { Type: "layers", Layers: [...image.diffIds] },
      Metadata: { LastTagTime: image.lastTagTime ?? "0001-01-01T00:00:00Z" },
    };
  }

  load(file: string): Promise<readonly string[]> {
    return loadImages(this.#layout, file);
  }

  // The registry client loads on first pull or push: resolving an image never pays for node:https.
  async pull(reference: string, options: PullOptions = {}): Promise<PullResult> {
    const { pullImage } = await import("./registry/pull.js");
    return pullImage(this.#layout, reference, options);
  }

  async push(reference: string, options: PushOptions = {}): Promise<PushResult> {
    const { pushImage } = await import("./registry/push.js");
    return pushImage(this.#layout, reference, options);
  }

  async save(references: readonly string[], output: string): Promise<void> {
    const index = readIndex(this.#layout);
    const selected = new Map<string, { record: ImageRecord; names: Set<string> }>();
    const add = (record: ImageRecord, name?: string): void => {
      const entry = selected.get(record.id) ?? { record, names: new Set<string>() };
      if (name !== undefined) entry.names.add(name);
      selected.set(record.id, entry);
    };
    for (const reference of references) {
      // A repository without a tag saves every tag of it, as docker save does.
      let parsed: ImageReference | undefined;
      try {
        parsed = asImageId(reference) === undefined ? parseReference(reference) : undefined;
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined && parsed.tag === undefined && parsed.digest === undefined) {
        const repository = repositoryName(parsed);
        const tagged = Object.keys(index.references).filter(
          (name) => !isDigestReference(name) && repositoryName(parseReference(name)) === repository,
        );
        if (tagged.length > 0) {
          for (const name of tagged) add(find(index, name).image, name);
          continue;
        }
      }
      const found = find(index, reference);
      add(found.image, found.reference);
    }
    const images: ImageToSave[] = [...selected.values()].map(({ record, names }) => ({ record, names: [...names].sort() }));
    await saveImages(this.#layout, images, output);
  }

  async tag(source: string, target: string): Promise<void> {
    const parsedTarget = parseReference(target);
    if (parsedTarget.digest !== undefined) {
      throw new ImageError(ImageErrorCode.reference, "refusing to create a tag with a digest reference", { object: `reference ${target}` });
    }
    const normalizedTarget = formatReference(withDefaultTag(parsedTarget));
    await this.#locked(() => {
      const index = readIndex(this.#layout);
      const found = find(index, source);
      const manifestDigest = found.manifestDigest ?? found.image.manifests[0]?.digest;
      if (manifestDigest === undefined) throw new ImageError(ImageErrorCode.store, `image ${found.image.id} has no manifest`);
      writeIndex(this.#layout, {
        version: 1,
        references: { ...index.references, [normalizedTarget]: manifestDigest },
        images: { ...index.images, [found.image.id]: { ...found.image, lastTagTime: new Date().toISOString() } },
      });
    });
  }

  async remove(reference: string, options: RemoveImageOptions): Promise<readonly string[]> {
    return this.#locked(async () => {
      const index = readIndex(this.#layout);
      const found = find(index, reference);
      const image = found.image;
      const inUse = options.isInUse?.(image.id) ?? false;
      const references = referencesOf(index, image);
      const remaining = { ...index.references };
      const lines: string[] = [];
      const short = shortId(image.id);
      const user = shortId(options.containerUsing?.(image.id) ?? "").replace(/^$/, "(unknown)");
      let deleteImage: boolean;
      if (found.reference !== undefined) {
        // By name: untag; the image goes with its last name unless a container uses it.
        if (!options.force && references.length === 1 && inUse) {
          throw conflict(
            `conflict: unable to remove repository reference "${reference}" (must force) - container ${user} is using its referenced image ${short}`,
            image,
          );
        }
        delete remaining[found.reference];
        lines.push(`Untagged: ${familiarize(found.reference)}`);
        deleteImage = references.length === 1 && !inUse;
      } else {
        // By id: every name goes, then the image.
        if (references.length > 1 && !options.force) {
          throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`, image);
        }
        if (inUse && !options.force) {
          throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by container ${user}`, image);
        }
        if (inUse && references.length === 0) {
          throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by a container`, image);
        }
        for (const name of references) {
          delete remaining[name];
          lines.push(`Untagged: ${familiarize(name)}`);
        }
        deleteImage = !inUse;
      }
      const images = { ...index.images };
      if (deleteImage) {
        delete images[image.id];
        lines.push(`Deleted: ${image.id}`);
      }
      const updated: ImageIndex = { version: 1, references: remaining, images };
      writeIndex(this.#layout, updated);
      if (deleteImage) lines.push(...(await collectGarbage(this.#layout, updated)).lines);
      return lines;
    });
  }

  async prune(options: { all: boolean; isInUse?: (imageId: string) => boolean }): Promise<readonly string[]> {
    return (await this.pruneWithReport(options)).lines;
  }

  async pruneWithReport(options: PruneImagesOptions): Promise<PruneImagesReport> {
    return this.#locked(async () => {
      sweepTemporary(this.#layout);
      const index = readIndex(this.#layout);
      const references = { ...index.references };
      const images = { ...index.images };
      const lines: string[] = [];
      for (const image of Object.values(index.images).sort((a, b) => compareText(a.id, b.id))) {
        const names = referencesOf(index, image);
        if ((!options.all && names.length > 0) || options.isInUse?.(image.id)) continue;
        for (const name of names) {
          delete references[name];
          lines.push(`Untagged: ${familiarize(name)}`);
        }
        delete images[image.id];
        lines.push(`Deleted: ${image.id}`);
      }
      const updated: ImageIndex = { version: 1, references, images };
      if (lines.length > 0) writeIndex(this.#layout, updated);
      const garbage = await collectGarbage(this.#layout, updated);
      return { lines: [...lines, ...garbage.lines], reclaimedBytes: garbage.bytes };
    });
  }
}

export function openImageStore(paths: RuntimePaths): ImageStore {
  return new Store(paths);
}
