// Which compose files to load, and from which directory, the way Docker Compose finds them.

import path from "node:path";
import { ComposeError, ErrorCode } from "../errors.js";
import type { FileReader } from "./context.js";

export const defaultFileNames = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"] as const;
export const overrideFileNames = [
  "compose.override.yml",
  "compose.override.yaml",
  "docker-compose.override.yml",
  "docker-compose.override.yaml",
] as const;

/** `-` stands for standard input, as with `-f -`. */
export const stdinFile = "-";

export interface DiscoveryRequest {
  readonly workingDirectory: string;
  /** Where the search for a default file starts: --project-directory, else the working directory. */
  readonly searchDirectory?: string | undefined;
  /** -f values, in order. Empty when none were given. */
  readonly explicitFiles: readonly string[];
  /** COMPOSE_FILE, if set (flag beats variable). */
  readonly composeFileVariable: string | undefined;
  /** COMPOSE_PATH_SEPARATOR, default `:` on Linux. */
  readonly pathSeparator: string | undefined;
  readonly files: FileReader;
  readonly warn: (message: string) => void;
}

/** Absolute paths (or `-`) of the files to load, in merge order. */
export function discoverComposeFiles(request: DiscoveryRequest): readonly string[] {
  const { workingDirectory, files } = request;
  let named = request.explicitFiles;
  if (named.length === 0 && request.composeFileVariable !== undefined && request.composeFileVariable !== "") {
    named = request.composeFileVariable.split(request.pathSeparator ?? path.delimiter).filter((entry) => entry !== "");
  }
  if (named.length > 0) {
    return named.map((entry) => {
      if (entry === stdinFile) return stdinFile;
      const absolute = path.resolve(workingDirectory, entry);
      if (!files.exists(absolute)) {
        throw new ComposeError(ErrorCode.composeNotFound, `open ${absolute}: no such file or directory`);
      }
      if (files.isDirectory(absolute)) {
        throw new ComposeError(ErrorCode.composeIo, `${absolute} is a directory, not a compose file`);
      }
      return absolute;
    });
  }
  const start = path.resolve(request.searchDirectory ?? workingDirectory);
  for (let directory = start; ; directory = path.dirname(directory)) {
    const candidates = defaultFileNames.map((name) => path.join(directory, name)).filter((file) => isFile(files, file));
    const chosen = candidates[0];
    if (chosen !== undefined) {
      if (candidates.length > 1) {
        request.warn(`Found multiple config files with supported names: ${candidates.join(", ")}`);
        request.warn(`Using ${chosen}`);
      }
      const override = overrideFileNames.map((name) => path.join(directory, name)).find((file) => isFile(files, file));
      return override === undefined ? [chosen] : [chosen, override];
    }
    if (path.dirname(directory) === directory) break;
  }
  throw new ComposeError(ErrorCode.composeNotFound, "no configuration file provided: not found", {
    hint: `looked for ${defaultFileNames.join(", ")} in ${start} and its parents; name one with -f`,
  });
}

function isFile(files: FileReader, file: string): boolean {
  return files.exists(file) && !files.isDirectory(file);
}
