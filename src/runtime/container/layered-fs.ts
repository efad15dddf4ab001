// Read a container's files without mounting its overlay: look a path up in the upper directory,
// then in each image layer from the top, as overlayfs would (a whiteout, character device 0:0,
// hides everything below it). Used for /etc/passwd and /etc/group at start, and to find what an
// image holds at a volume's mount point.

import { lstatSync, readFileSync, type Stats } from "node:fs";
import path from "node:path";

/** The layer directories a lookup walks, top first: the container's upper dir, then the image's layers. */
export function lookupOrder(upper: string | undefined, layerPathsBottomFirst: readonly string[]): string[] {
  return [...(upper === undefined ? [] : [upper]), ...[...layerPathsBottomFirst].reverse()];
}

const isWhiteout = (stats: Stats): boolean => stats.isCharacterDevice() && stats.rdev === 0;

/** Every layer (top first) holding `containerPath`, stopping at a whiteout or at a non-directory. */
export function layersHolding(layers: readonly string[], containerPath: string): string[] {
  const relative = path.normalize(containerPath).replace(/^\/+/, "");
  const holding: string[] = [];
  for (const layer of layers) {
    let stats: Stats;
    try {
      stats = lstatSync(path.join(layer, relative));
    } catch {
      continue;
    }
    if (isWhiteout(stats)) break;
    holding.push(layer);
    if (!stats.isDirectory()) break;
  }
  return holding;
}

/** The text of a regular file as the container sees it, or undefined when it has none. */
export function readLayeredFile(layers: readonly string[], containerPath: string): string | undefined {
  const top = layersHolding(layers, containerPath)[0];
  if (top === undefined) return undefined;
  try {
    return readFileSync(path.join(top, path.normalize(containerPath)), "utf8");
  } catch {
    return undefined;
  }
}
