// The interpolation environment, as Docker Compose builds it (docker/compose
// cmd/compose/compose.go toProjectOptions; compose-go cli/options.go WithEnvFiles /
// WithDotEnv and dotenv/env.go GetEnvFromFile): env files in order, each able to use the
// values before it, then the shell environment on top of all of them.

import path from "node:path";
import { ComposeError, ErrorCode } from "../errors.js";
import type { Environment, FileReader } from "./context.js";
import { parseDotEnv } from "./dotenv.js";

export interface EnvironmentRequest {
  readonly projectDirectory: string;
  /** --env-file values, already absolute; undefined (or empty) means COMPOSE_ENV_FILES, else the default `.env`. */
  readonly envFiles: readonly string[] | undefined;
  readonly osEnvironment: Readonly<Record<string, string | undefined>>;
  readonly files: FileReader;
  /**
   * Where relative COMPOSE_ENV_FILES entries resolve (Compose: the current directory), and the
   * PWD Compose adds when the shell has none. Defaults to the project directory.
   */
  readonly workingDirectory?: string | undefined;
  /** Receives "variable is not set" warnings from `${VAR}` inside env files. */
  readonly warn?: ((message: string) => void) | undefined;
}

/** Comma-separated env files Compose reads when no --env-file is given. */
export const envFilesVariable = "COMPOSE_ENV_FILES";
/** When true, the default `<project>/.env` is not read (explicit files still are). */
export const disableEnvFileVariable = "COMPOSE_DISABLE_ENV_FILE";

/** The interpolation environment: env files overlaid by the shell environment (the shell wins). */
export function resolveEnvironment(request: EnvironmentRequest): Environment {
  const shell = new Map<string, string>();
  for (const [key, value] of Object.entries(request.osEnvironment)) if (value !== undefined) shell.set(key, value);
  if (!shell.has("PWD") && request.workingDirectory !== undefined) shell.set("PWD", request.workingDirectory);

  const fromFiles = new Map<string, string>();
  for (const file of selectEnvFiles(request)) {
    if (!request.files.exists(file)) {
      throw new ComposeError(ErrorCode.composeEnvFile, `couldn't find env file: ${file}`, { file });
    }
    if (request.files.isDirectory(file)) {
      throw new ComposeError(ErrorCode.composeEnvFile, `${file} is a directory`, { file });
    }
    const values = parseDotEnv(request.files.readText(file), {
      file,
      lookup: (name) => shell.get(name),
      fallback: (name) => fromFiles.get(name),
      warn: request.warn,
    });
    for (const [key, value] of values) fromFiles.set(key, value);
  }

  const result: Record<string, string> = {};
  for (const [key, value] of fromFiles) defineKey(result, key, value);
  for (const [key, value] of shell) defineKey(result, key, value);
  return result;
}

/** Which env files to read, in order: explicit files, else COMPOSE_ENV_FILES, else `.env` if it is a file. */
export function selectEnvFiles(request: EnvironmentRequest): readonly string[] {
  if (request.envFiles !== undefined && request.envFiles.length > 0) return request.envFiles;
  // Compose splits with strings.FieldsFunc: empty entries vanish, spaces are kept.
  const listed = (request.osEnvironment[envFilesVariable] ?? "").split(",").filter((entry) => entry !== "");
  if (listed.length > 0) {
    const base = request.workingDirectory ?? request.projectDirectory;
    return listed.map((entry) => path.resolve(base, entry));
  }
  if (isDefaultEnvFileDisabled(request.osEnvironment[disableEnvFileVariable])) return [];
  const defaultFile = path.join(request.projectDirectory, ".env");
  return request.files.exists(defaultFile) && !request.files.isDirectory(defaultFile) ? [defaultFile] : [];
}

/** strconv.ParseBool, as Compose reads COMPOSE_DISABLE_ENV_FILE: an unparsable value is an error. */
function isDefaultEnvFileDisabled(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new ComposeError(
    ErrorCode.composeEnvFile,
    `${disableEnvFileVariable}: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`,
    { hint: "use true or false" },
  );
}

function defineKey(target: Record<string, string>, key: string, value: string): void {
  // defineProperty: a `__proto__` key from a file must stay a plain key.
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
