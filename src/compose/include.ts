// Pass: `include`. Each entry is loaded as a Compose application of its own (its own project
// directory and .env), its relative paths resolved against that directory, and its resources
// copied into this document, as compose-go's loader/include.go does. A resource defined both
// here and in an included file is an error unless both definitions are identical.

import path from "node:path";
import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import type { Environment, LoadContext, Pass } from "./context.js";
import { parseDotEnv } from "./dotenv.js";
import { copyMapping, isMapping, isUnder, joinPath, positionOf, TaggedValue, type Mapping, type Origins } from "./document.js";
import { absolutePath, leadingSegments, resolveRelativePaths } from "./paths.js";

/** The top-level sections an included application contributes. */
export const importedSections = ["services", "volumes", "networks", "secrets", "configs", "models"] as const;

/** One `include` entry, resolved: absolute paths, project directory and interpolation environment. */
export interface IncludeRequest {
  readonly files: readonly string[];
  readonly projectDirectory: string;
  readonly envFiles: readonly string[];
}

export const includePass: Pass = {
  name: "include",
  run(document, context) {
    if (!Object.hasOwn(document.data, "include")) return document;
    const { include: entries, ...rest } = document.data;
    const data: Mapping = { ...rest };
    const origins = new Map<string, SourcePosition>();
    for (const [key, position] of document.origins) if (!isUnder(key, "include")) origins.set(key, position);
    if (entries === null || entries === undefined) return { file: document.file, data, origins };
    if (!Array.isArray(entries)) {
      throw includeError("`include` must be a list", document.origins, "include");
    }
    entries.forEach((entry, index) => {
      const at = joinPath("include", index);
      const request = includeRequest(entry, at, document.origins, context);
      const environment = includeEnvironment(request, at, document.origins, context);
      const loaded = context.loadDocuments({ files: request.files, projectDirectory: request.projectDirectory, environment });
      const resolved = resolveRelativePaths(loaded.data, request.projectDirectory, context.homeDirectory);
      importResources({ data: resolved, origins: loaded.origins, files: request.files }, data, origins);
    });
    return { file: document.file, data, origins };
  },
};

function includeError(message: string, origins: Origins, at: string, hint?: string): ComposeError {
  return new ComposeError(ErrorCode.composeInclude, message, {
    position: positionOf(origins, at),
    path: at,
    ...(hint === undefined ? {} : { hint }),
  });
}

function stringList(value: unknown): readonly string[] | undefined {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value as string[];
  return undefined;
}

/** `- path.yaml` or `- {path: a.yaml | [a.yaml, b.yaml], project_directory, env_file}`. */
export function includeRequest(entry: unknown, at: string, origins: Origins, context: LoadContext): IncludeRequest {
  const long = typeof entry === "string" ? { path: entry } : entry;
  if (!isMapping(long)) throw includeError(`${at} must be a path or a mapping with path`, origins, at);
  const paths = stringList(long["path"]);
  if (paths === undefined || paths.length === 0) {
    throw includeError(`${at}.path is required (a path or a list of paths)`, origins, at);
  }
  const files = paths.map((file) => absolutePath(file, context.projectDirectory, context.homeDirectory));
  files.forEach((file, index) => {
    const filePath = typeof entry === "string" ? at : Array.isArray(long["path"]) ? joinPath(joinPath(at, "path"), index) : joinPath(at, "path");
    if (context.loadingStack.includes(file)) {
      throw includeError(`include cycle: ${[...context.loadingStack, file].join(" -> ")}`, origins, filePath);
    }
    if (!context.files.exists(file) || context.files.isDirectory(file)) {
      throw includeError(`included file ${file} not found`, origins, filePath);
    }
  });
  const directory = long["project_directory"];
  if (directory !== undefined && directory !== null && typeof directory !== "string") {
    throw includeError(`${at}.project_directory must be a string`, origins, joinPath(at, "project_directory"));
  }
  const first = files[0] ?? context.projectDirectory;
  const projectDirectory =
    typeof directory === "string" && directory !== ""
      ? absolutePath(directory, context.projectDirectory, context.homeDirectory)
      : path.dirname(first);
  return { files, projectDirectory, envFiles: envFilesOf(long["env_file"], at, origins, projectDirectory, context) };
}

/** Explicit env files (relative to the including project; /dev/null skipped), or the included project's `.env` if any. */
function envFilesOf(value: unknown, at: string, origins: Origins, projectDirectory: string, context: LoadContext): readonly string[] {
  const envAt = joinPath(at, "env_file");
  if (value === undefined || value === null) {
    const candidate = path.join(projectDirectory, ".env");
    return context.files.exists(candidate) && !context.files.isDirectory(candidate) ? [candidate] : [];
  }
  const listed = stringList(value);
  if (listed === undefined) throw includeError(`${envAt} must be a path or a list of paths`, origins, envAt);
  return listed
    .filter((file) => file !== "/dev/null")
    .map((file) => {
      const absolute = absolutePath(file, context.projectDirectory, context.homeDirectory);
      if (!context.files.exists(absolute)) throw includeError(`couldn't find env file: ${absolute}`, origins, envAt);
      if (context.files.isDirectory(absolute)) throw includeError(`${absolute} is not a file`, origins, envAt);
      return absolute;
    });
}

/** The env files' values under the including project's environment (which wins, so it can customize). */
function includeEnvironment(request: IncludeRequest, at: string, origins: Origins, context: LoadContext): Environment {
  if (request.envFiles.length === 0) return context.environment;
  const fromFiles = new Map<string, string>();
  for (const file of request.envFiles) {
    let text: string;
    try {
      text = context.files.readText(file);
    } catch (error) {
      throw includeError(`cannot read env file ${file}`, origins, joinPath(at, "env_file"), error instanceof Error ? error.message : undefined);
    }
    const parsed = parseDotEnv(text, {
      file,
      lookup: (name) => context.environment[name] ?? fromFiles.get(name),
    });
    for (const [key, value] of parsed) fromFiles.set(key, value);
  }
  return { ...Object.fromEntries(fromFiles), ...context.environment };
}

interface IncludedApplication {
  readonly data: Mapping;
  readonly origins: Origins;
  readonly files: readonly string[];
}

/** Add the included resources (mutates the pass's own new `data` and `origins`, never the input). */
function importResources(included: IncludedApplication, data: Mapping, origins: Map<string, SourcePosition>): void {
  const imported = new Map<string, Set<string>>();
  for (const section of importedSections) {
    const from = included.data[section];
    if (!isMapping(from)) continue;
    const existing = data[section];
    const into: Mapping = isMapping(existing) ? copyMapping(existing) : {};
    if (!isMapping(existing)) {
      const sectionPosition = included.origins.get(section);
      if (sectionPosition !== undefined && !origins.has(section)) origins.set(section, sectionPosition);
    }
    const names = new Set<string>();
    for (const [name, value] of Object.entries(from)) {
      if (Object.hasOwn(into, name)) {
        if (deepEqual(into[name], value)) continue;
        const at = joinPath(section, name);
        throw includeError(`${at} conflicts with imported resource`, origins, at, `${at} is also defined in ${included.files.join(", ")}`);
      }
      into[name] = value;
      names.add(name);
    }
    data[section] = into;
    if (names.size > 0) imported.set(section, names);
  }
  if (imported.size === 0) return;
  for (const [key, position] of included.origins) {
    const [section, name] = leadingSegments(key, 2);
    if (typeof section === "string" && typeof name === "string" && imported.get(section)?.has(name) === true) {
      origins.set(key, position);
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof TaggedValue || b instanceof TaggedValue) {
    return a instanceof TaggedValue && b instanceof TaggedValue && a.tag === b.tag && deepEqual(a.value, b.value);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  }
  if (isMapping(a) && isMapping(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}
