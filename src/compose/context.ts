// What every loader pass may use besides the document itself. Side effects (reading
// files, warnings) arrive here as functions, so passes stay testable with plain data.

import type { ComposeDocument } from "./document.js";

export type Environment = Readonly<Record<string, string>>;

/** Read-only file access for the loader; tests pass an in-memory table. */
export interface FileReader {
  /** Contents as UTF-8, or a ComposeError (E_COMPOSE_IO) naming the path. */
  readText(path: string): string;
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
}

/** Another set of compose files to load with the same per-file passes (extends, include). */
export interface SubLoadRequest {
  readonly files: readonly string[];
  /** Base for relative paths inside those files. */
  readonly projectDirectory: string;
  /** Interpolation environment for those files (include may bring its own env_file). */
  readonly environment: Environment;
}

export interface LoadContext {
  /** Final project name (already validated). Also exported to interpolation as COMPOSE_PROJECT_NAME. */
  readonly projectName: string;
  /** Absolute directory that relative paths resolve against. */
  readonly projectDirectory: string;
  /** Interpolation environment: .env / --env-file values overlaid by the shell environment. */
  readonly environment: Environment;
  /** HOME, for `~` in paths. */
  readonly homeDirectory: string;
  /** Profiles enabled by --profile / COMPOSE_PROFILES. */
  readonly profiles: readonly string[];
  /** Services named on the command line: they enable their own profiles. */
  readonly requestedServices: readonly string[];
  readonly files: FileReader;
  /** Warnings are deduplicated by the sink, so "warns once" holds across passes. */
  warn(message: string): void;
  /** Parse + per-file passes + merge for other files (used by extends and include). */
  loadDocuments(request: SubLoadRequest): ComposeDocument;
  /** Files already on the include/extends stack, to detect cycles. */
  readonly loadingStack: readonly string[];
}

/** A loader pass: one small named step over the document. */
export interface Pass {
  readonly name: string;
  run(document: ComposeDocument, context: LoadContext): ComposeDocument;
}
