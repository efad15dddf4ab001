// PLACEHOLDER: owned by a helper; replaced with the real environment resolution.
import type { Environment, FileReader } from "./context.js";

export interface EnvironmentRequest {
  readonly projectDirectory: string;
  /** --env-file values (absolute or relative to the working directory); undefined means the default `.env`. */
  readonly envFiles: readonly string[] | undefined;
  readonly osEnvironment: Readonly<Record<string, string | undefined>>;
  readonly files: FileReader;
}

/** The interpolation environment: env files overlaid by the shell environment (the shell wins). */
export function resolveEnvironment(request: EnvironmentRequest): Environment {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.osEnvironment)) if (value !== undefined) result[key] = value;
  return result;
}
