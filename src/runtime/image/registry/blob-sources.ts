// Where blobs are known to live on registries: images/blob-sources.json maps a blob digest to the
// repositories (normalized, `127.0.0.1:5000/team/app`) it was pulled from or pushed to. A push to
// another repository of the same registry then mounts the blob across repositories instead of
// uploading it, as Docker's distribution metadata lets it do.

import path from "node:path";
import { readJsonFile, withLock, writeJsonAtomic } from "../../state.js";
import type { StoreLayout } from "../layout.js";

/** A few recent repositories per blob are plenty to find a mount source. */
const sourcesPerBlob = 4;

type BlobSources = Record<string, string[]>;

function sourcesFile(layout: StoreLayout): string {
  return path.join(path.dirname(layout.indexFile), "blob-sources.json");
}

function readSources(layout: StoreLayout): BlobSources {
  try {
    return readJsonFile<BlobSources>(sourcesFile(layout)) ?? {};
  } catch {
    return {}; // a damaged hint file costs only mounts
  }
}

/** Repositories holding the blob, most recent first. */
export function blobSources(layout: StoreLayout, digest: string): readonly string[] {
  return readSources(layout)[digest] ?? [];
}

export async function recordBlobSources(layout: StoreLayout, digests: readonly string[], repository: string): Promise<void> {
  if (digests.length === 0) return;
  await withLock(path.join(layout.locksDirectory, "blob-sources.lock"), () => {
    const sources = readSources(layout);
    for (const digest of digests) {
      sources[digest] = [repository, ...(sources[digest] ?? []).filter((known) => known !== repository)].slice(0, sourcesPerBlob);
    }
    writeJsonAtomic(sourcesFile(layout), sources);
  });
}
