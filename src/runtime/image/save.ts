// `berth image save`: a tar that both `docker load` generations read, laid out as Docker 25+
// writes it: an OCI image layout (oci-layout, index.json, blobs/sha256/…) plus the legacy
// manifest.json and repositories files pointing into the same blobs. Layers are written
// uncompressed (their digest is then their diff id), as docker save does.

import { closeSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { blobCompression, readBlob } from "./blobs.js";
import { digestHex, sha256Of } from "./digest.js";
import { blobPath, type ImageRecord, type StoreLayout } from "./layout.js";
import { temporaryDirectory } from "./layers.js";
import { MediaType } from "./media-types.js";
import { familiarRepository, familiarString, parseReference } from "./reference.js";
import { TarWriter } from "./tar.js";
import { decompressLayer } from "./unpacker.js";

export interface ImageToSave {
  readonly record: ImageRecord;
  /** Normalized tag references to write for it (none when saved by id). */
  readonly names: readonly string[];
}

const epoch = 0;

/** Writes the archive to `output` (`-` for standard output); a file appears only when complete. */
export async function saveImages(layout: StoreLayout, images: readonly ImageToSave[], output: string): Promise<void> {
  const staging = temporaryDirectory(layout, "save");
  const toStdout = output === "-";
  const target = toStdout ? "" : path.resolve(output);
  const partial = toStdout ? "" : `${target}.berth-partial-${process.pid}`;
  const fd = toStdout ? 1 : openSync(partial, "w", 0o644);
  try {
    const writer = TarWriter.toFd(fd);
    const written = new Set<string>();
    const layerSizes = new Map<string, number>();
    const blobHeader = (digest: string) => ({ name: `blobs/sha256/${digestHex(digest)}`, mode: 0o444, mtime: epoch });
    writer.add({ name: "blobs/", type: "directory", mode: 0o755, mtime: epoch });
    writer.add({ name: "blobs/sha256/", type: "directory", mode: 0o755, mtime: epoch });
    const indexManifests: object[] = [];
    const dockerManifest: object[] = [];
    const repositories: Record<string, Record<string, string>> = {};

    for (const { record, names } of images) {
      const configBytes = readBlob(layout, record.id);
      if (!written.has(record.id)) {
        writer.add({ ...blobHeader(record.id), type: "file" }, configBytes);
        written.add(record.id);
      }
      const storedManifest = record.manifests[0];
      if (storedManifest === undefined) throw new Error(`image ${record.id} has no manifest`);
      const layerDescriptors: { mediaType: string; digest: string; size: number }[] = [];
      for (const [position, diffId] of record.diffIds.entries()) {
        if (!written.has(diffId)) {
          const source = blobPath(layout, storedManifest.layers[position] ?? "");
          const file = blobCompression(source) === "tar" ? source : path.join(staging, digestHex(diffId));
          if (file !== source) await decompressLayer(source, file, diffId);
          writer.addFile(blobHeader(diffId), file);
          written.add(diffId);
          layerSizes.set(diffId, statSync(file).size);
          if (file !== source) rmSync(file, { force: true });
        }
        layerDescriptors.push({ mediaType: MediaType.ociLayer, digest: diffId, size: layerSizes.get(diffId) ?? 0 });
      }
      const manifestBytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, digest: record.id, size: configBytes.length },
          layers: layerDescriptors,
        }),
      );
      const manifestDigest = sha256Of(manifestBytes);
      if (!written.has(manifestDigest)) {
        writer.add({ ...blobHeader(manifestDigest), type: "file" }, manifestBytes);
        written.add(manifestDigest);
      }
      const descriptor = { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestBytes.length };
      if (names.length === 0) indexManifests.push(descriptor);
      const repoTags: string[] = [];
      for (const name of names) {
        const reference = parseReference(name);
        indexManifests.push({
          ...descriptor,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": reference.tag ?? "latest" },
        });
        repoTags.push(familiarString(reference));
        const repository = familiarRepository(reference);
        const topLayer = record.diffIds.at(-1);
        if (topLayer !== undefined && reference.tag !== undefined) {
          repositories[repository] = { ...(repositories[repository] ?? {}), [reference.tag]: digestHex(topLayer) };
        }
      }
      dockerManifest.push({
        Config: `blobs/sha256/${digestHex(record.id)}`,
        RepoTags: repoTags.length > 0 ? repoTags : null,
        Layers: record.diffIds.map((diffId) => `blobs/sha256/${digestHex(diffId)}`),
      });
    }
    const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value)}\n`);
    writer.add(
      { name: "index.json", type: "file", mode: 0o644, mtime: epoch },
      json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexManifests }),
    );
    writer.add({ name: "manifest.json", type: "file", mode: 0o644, mtime: epoch }, json(dockerManifest));
    writer.add({ name: "oci-layout", type: "file", mode: 0o644, mtime: epoch }, json({ imageLayoutVersion: "1.0.0" }));
    if (Object.keys(repositories).length > 0) {
      writer.add({ name: "repositories", type: "file", mode: 0o644, mtime: epoch }, json(repositories));
    }
    writer.finish();
    if (!toStdout) {
      closeSync(fd);
      renameSync(partial, target);
    }
  } catch (error) {
    if (!toStdout) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      rmSync(partial, { force: true });
    }
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
