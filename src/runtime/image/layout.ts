// The image store on disk, under the state root:
//
//   blobs/sha256/<hex>              manifests, configs and layer blobs, named by their sha256
//   layers/<chain-id hex>/diff      an unpacked layer (overlay lowerdir, whiteouts converted)
//   layers/<chain-id hex>/layer.json  { chainId, diffId, parent, size }
//   images/index.json               references → manifest digest; image records by id
//   locks/                          lock files (images.lock, layer-<chain hex>.lock)
//   tmp/                            staging: loads, unpacks and saves in progress
//
// A layer directory appears under its final name only once complete (unpacked in tmp/, then
// renamed), so a crash never leaves a half layer where a reader would take it as whole.

import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { RuntimePaths } from "../state.js";
import { processAlive, readJsonFile, writeJsonAtomic } from "../state.js";
import { digestHex } from "./digest.js";
import { ImageError, ImageErrorCode } from "./errors.js";
import { compareText } from "../../compare.js";

export interface StoreLayout {
  readonly stateRoot: string;
  readonly blobsDirectory: string;
  readonly layersDirectory: string;
  readonly indexFile: string;
  readonly locksDirectory: string;
  readonly temporaryDirectory: string;
}

export function storeLayout(paths: RuntimePaths): StoreLayout {
  return {
    stateRoot: paths.stateRoot,
    blobsDirectory: path.join(paths.stateRoot, "blobs", "sha256"),
    layersDirectory: path.join(paths.stateRoot, "layers"),
    indexFile: path.join(paths.stateRoot, "images", "index.json"),
    locksDirectory: path.join(paths.stateRoot, "locks"),
    temporaryDirectory: path.join(paths.stateRoot, "tmp"),
  };
}

export function blobPath(layout: StoreLayout, digest: string): string {
  return path.join(layout.blobsDirectory, digestHex(digest));
}

export function layerDirectory(layout: StoreLayout, chainId: string): string {
  return path.join(layout.layersDirectory, digestHex(chainId, "chain id"));
}

/** The directory the engine gives overlayfs as a lowerdir. */
export function layerDiffDirectory(layout: StoreLayout, chainId: string): string {
  return path.join(layerDirectory(layout, chainId), "diff");
}

export function layerLockFile(layout: StoreLayout, chainId: string): string {
  return path.join(layout.locksDirectory, `layer-${digestHex(chainId, "chain id")}.lock`);
}

export function indexLockFile(layout: StoreLayout): string {
  return path.join(layout.locksDirectory, "images.lock");
}

export interface LayerRecord {
  readonly chainId: string;
  readonly diffId: string;
  readonly parent: string | null;
  readonly size: number;
}

export function layerRecordFile(directory: string): string {
  return path.join(directory, "layer.json");
}

export function readLayerRecord(layout: StoreLayout, chainId: string): LayerRecord | undefined {
  return readJsonFile<LayerRecord>(layerRecordFile(layerDirectory(layout, chainId)));
}

// ---------------------------------------------------------------- images/index.json

/** One manifest of an image: its digest and its layer blobs (bottom first). */
export interface StoredManifest {
  readonly digest: string;
  readonly layers: readonly string[];
  /** True when the manifest came as is from the source (a registry's digest): shown in RepoDigests. */
  readonly distributable: boolean;
  /** Repositories (normalized, no tag) the manifest was loaded under: RepoDigests name only these. */
  readonly repositories?: readonly string[];
}

export interface ImageRecord {
  readonly id: string;
  readonly diffIds: readonly string[];
  /** The first is the one used to unpack and to save. */
  readonly manifests: readonly StoredManifest[];
  readonly created?: string;
  /** Bytes of unpacked content, summed over layers. */
  readonly size: number;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly lastTagTime?: string;
}

export interface ImageIndex {
  readonly version: 1;
  /** Normalized tag references → manifest digest. */
  readonly references: Readonly<Record<string, string>>;
  readonly images: Readonly<Record<string, ImageRecord>>;
}

const emptyIndex: ImageIndex = { version: 1, references: {}, images: {} };

export function readIndex(layout: StoreLayout): ImageIndex {
  const index = readJsonFile<ImageIndex>(layout.indexFile);
  if (index === undefined) return emptyIndex;
  if (index.version !== 1 || typeof index.references !== "object" || typeof index.images !== "object") {
    throw new ImageError(ImageErrorCode.store, `${layout.indexFile}: unknown image index format`, { object: layout.indexFile });
  }
  return index;
}

export function writeIndex(layout: StoreLayout, index: ImageIndex): void {
  const sortedReferences = Object.fromEntries(Object.entries(index.references).sort(([a], [b]) => compareText(a, b)));
  const sortedImages = Object.fromEntries(Object.entries(index.images).sort(([a], [b]) => compareText(a, b)));
  writeJsonAtomic(layout.indexFile, { version: 1, references: sortedReferences, images: sortedImages });
}

/** The image a manifest digest belongs to. */
export function imageOfManifest(index: ImageIndex, manifestDigest: string): ImageRecord | undefined {
  return Object.values(index.images).find((image) => image.manifests.some((manifest) => manifest.digest === manifestDigest));
}

/** Normalized tag references pointing at an image, sorted. */
export function referencesOf(index: ImageIndex, image: ImageRecord): string[] {
  const digests = new Set(image.manifests.map((manifest) => manifest.digest));
  return Object.entries(index.references)
    .filter(([, digest]) => digests.has(digest))
    .map(([reference]) => reference)
    .sort();
}

/** Every blob digest some image still needs. */
export function referencedBlobs(index: ImageIndex): Set<string> {
  const blobs = new Set<string>();
  for (const image of Object.values(index.images)) {
    blobs.add(image.id);
    for (const manifest of image.manifests) {
      blobs.add(manifest.digest);
      for (const layer of manifest.layers) blobs.add(layer);
    }
  }
  return blobs;
}

/** Removes leftovers of crashed operations from tmp/ (entries whose owner process is gone). */
export function sweepTemporary(layout: StoreLayout): void {
  let entries: string[];
  try {
    entries = readdirSync(layout.temporaryDirectory);
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = Number.parseInt(/^[a-z]+-(\d+)-/.exec(entry)?.[1] ?? "", 10);
    if (Number.isNaN(owner) || owner === process.pid || processAlive(owner)) continue;
    rmSync(path.join(layout.temporaryDirectory, entry), { recursive: true, force: true });
  }
}

