// Unpacked layers, one directory per chain id, shared by every image that has the same stack
// below. A layer is unpacked into tmp/ and renamed into layers/ once complete and verified,
// under a per-layer lock, so two berth processes never unpack the same layer twice and a crash
// never leaves a partial layer under its final name.

import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { withLock, writeJsonAtomic } from "../state.js";
import { digestMismatch } from "./blobs.js";
import {
  layerDirectory,
  layerLockFile,
  layerRecordFile,
  readLayerRecord,
  type LayerRecord,
  type StoreLayout,
} from "./layout.js";
import { ImageError, ImageErrorCode } from "./errors.js";
import { applyLayer, type AppliedLayer } from "./unpacker.js";

/** Unpacking a big layer can take a while: a second process waits this long for the first. */
const layerLockTimeoutMs = 30 * 60 * 1000;

export interface LayerSpec {
  readonly chainId: string;
  readonly parent: string | null;
  readonly diffId: string;
  /** The layer blob (any compression); its uncompressed sha256 must be diffId. */
  readonly blobFile: string;
}

export function temporaryDirectory(layout: StoreLayout, kind: string): string {
  mkdirSync(layout.temporaryDirectory, { recursive: true });
  return mkdtempSync(path.join(layout.temporaryDirectory, `${kind}-${process.pid}-`));
}

/** Where a layer's files go inside its directory. */
export function layerDiffDirectory(directory: string): string {
  return path.join(directory, "diff");
}

/**
 * Unpacks a layer into `<directory>/diff` and writes `<directory>/layer.json`; the diff id is
 * checked against the spec. `directory` must exist and be empty.
 */
export async function unpackLayerInto(directory: string, spec: LayerSpec): Promise<LayerRecord> {
  const diff = layerDiffDirectory(directory);
  mkdirSync(diff, { mode: 0o755 });
  return recordAppliedLayer(directory, spec, await applyLayer(spec.blobFile, diff, { layer: spec.diffId }));
}

/** Writes `<directory>/layer.json` for a layer applied into `<directory>/diff`, once its diff id is checked. */
export function recordAppliedLayer(directory: string, spec: Omit<LayerSpec, "blobFile">, applied: AppliedLayer): LayerRecord {
  if (applied.diffId !== spec.diffId) throw digestMismatch(`layer ${spec.diffId}`, spec.diffId, applied.diffId);
  const record: LayerRecord = { chainId: spec.chainId, diffId: spec.diffId, parent: spec.parent, size: applied.size };
  // Not fsynced here: while a pull's other layers still stream to disk, an fsync waits behind
  // their writeback and stalls the event loop. It is synced just before the rename that
  // installs the layer (syncRecord).
  writeJsonAtomic(layerRecordFile(directory), record, { durable: false });
  return record;
}

/** Makes a staged layer's record durable before the rename that installs it. */
function syncRecord(directory: string): void {
  const fd = openSync(layerRecordFile(directory), "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function layerExists(layout: StoreLayout, chainId: string): boolean {
  return existsSync(layerRecordFile(layerDirectory(layout, chainId)));
}

/** Moves a staged layer directory into layers/, unless another process got there first. */
export async function installLayer(layout: StoreLayout, chainId: string, stagedDirectory: string): Promise<void> {
  await withLock(
    layerLockFile(layout, chainId),
    () => {
      if (layerExists(layout, chainId)) {
        rmSync(stagedDirectory, { recursive: true, force: true });
        return;
      }
      syncRecord(stagedDirectory);
      mkdirSync(layout.layersDirectory, { recursive: true });
      // A directory without layer.json is a leftover of a crash between rename and record: replace it.
      rmSync(layerDirectory(layout, chainId), { recursive: true, force: true });
      renameSync(stagedDirectory, layerDirectory(layout, chainId));
    },
    layerLockTimeoutMs,
  );
}

/** The layer, unpacked from its blob first if it is not there yet. */
export async function ensureLayer(layout: StoreLayout, spec: LayerSpec): Promise<LayerRecord> {
  const existing = layerExists(layout, spec.chainId) ? readLayerRecord(layout, spec.chainId) : undefined;
  if (existing !== undefined) return existing;
  return withLock(
    layerLockFile(layout, spec.chainId),
    async () => {
      const again = layerExists(layout, spec.chainId) ? readLayerRecord(layout, spec.chainId) : undefined;
      if (again !== undefined) return again;
      if (!existsSync(spec.blobFile)) {
        throw new ImageError(ImageErrorCode.store, `layer ${spec.diffId}: blob ${spec.blobFile} is missing`, {
          object: `layer ${spec.chainId}`,
          hint: "remove the image and load it again",
        });
      }
      const staging = temporaryDirectory(layout, "unpack");
      try {
        const record = await unpackLayerInto(staging, spec);
        syncRecord(staging);
        mkdirSync(layout.layersDirectory, { recursive: true });
        rmSync(layerDirectory(layout, spec.chainId), { recursive: true, force: true });
        renameSync(staging, layerDirectory(layout, spec.chainId));
        return record;
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    },
    layerLockTimeoutMs,
  );
}

/** Removes a layer directory (moved aside first, so a reader never sees it half deleted). */
export async function removeLayer(layout: StoreLayout, chainId: string): Promise<number> {
  return withLock(
    layerLockFile(layout, chainId),
    () => {
      const record = readLayerRecord(layout, chainId);
      const directory = layerDirectory(layout, chainId);
      if (!existsSync(directory)) return 0;
      const trash = temporaryDirectory(layout, "trash");
      renameSync(directory, path.join(trash, "layer"));
      rmSync(trash, { recursive: true, force: true });
      return record?.size ?? 0;
    },
    layerLockTimeoutMs,
  );
}
