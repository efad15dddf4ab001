// Global flags (before the verb), as Docker Compose has them, and how a verb turns
// them into loader options.

import type { LoadOptions } from "../compose/index.js";

export interface GlobalOptions {
  readonly file: readonly string[];
  readonly projectName?: string;
  readonly projectDirectory?: string;
  readonly envFile: readonly string[];
  readonly profile: readonly string[];
  readonly progress: string;
  readonly dryRun: boolean;
}

export function loaderOptions(globals: GlobalOptions, extra: Partial<LoadOptions> = {}): LoadOptions {
  return {
    workingDirectory: process.cwd(),
    files: globals.file,
    projectName: globals.projectName,
    projectDirectory: globals.projectDirectory,
    envFiles: globals.envFile.length > 0 ? globals.envFile : undefined,
    ...(globals.profile.length > 0 ? { profiles: globals.profile } : {}),
    osEnvironment: process.env,
    ...extra,
  };
}
