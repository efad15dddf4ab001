// Environment-like attributes (compose-go loader/environment.go, loader/normalize.go resolve,
// types/project.go WithServicesEnvironmentResolved / WithServicesLabelsResolved):
// - `environment` becomes a map; `KEY` alone takes its value from the project environment,
//   or stays null (Compose prints `KEY: null`) when that has none;
// - `env_file` entries are read in order (later files win), missing ones are an error unless
//   `required: false`, and explicit `environment` entries win over them; `env_file` is then
//   dropped, as `docker compose config` drops it;
// - `labels` become a map (`KEY` alone is ""), `label_file` entries are merged under them;
// - `build.args` become a map; `KEY` alone takes the project value, or is dropped.

import { ErrorCode } from "../errors.js";
import { isMapping, joinPath, type Mapping } from "./document.js";
import { parseDotEnv } from "./dotenv.js";
import { normalizeError, relocate, type Relocation, type NormalizeScope } from "./normalize-tree.js";
import { typeName } from "./normalize-ports.js";
import { goScalarString } from "./units.js";

type Lookup = (name: string) => string | undefined;

/** `services.*.env_file`: `file` or `[file, {path, required, format}]` → `[{path, required}]`. */
export function canonicalEnvFile(value: unknown, path: string, scope: NormalizeScope): unknown {
  const entry = (item: unknown, itemPath: string): unknown => {
    if (typeof item === "string") return { path: item, required: true };
    if (isMapping(item)) return "required" in item ? item : { ...item, required: true };
    throw normalizeError(scope, itemPath, `${path}: invalid type ${typeName(item)} for env_file`);
  };
  if (typeof value === "string") return [entry(value, path)];
  if (!Array.isArray(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for env_file`);
  return value.map((item, index) => entry(item, joinPath(path, index)));
}

/** Resolve a service's environment, env files, labels, label files and build args. */
export function resolveServiceEnvironment(service: Mapping, servicePath: string, scope: NormalizeScope): Mapping {
  const projectLookup: Lookup = (name) => scope.context.environment[name];
  let result = service;
  let labelled = false;
  const environmentPath = joinPath(servicePath, "environment");
  const explicit = "environment" in service ? environmentMap(service["environment"], environmentPath, scope, projectLookup) : {};
  if ("env_file" in service) {
    const fromFiles = readEnvFiles(service["env_file"], joinPath(servicePath, "env_file"), scope, (name) => {
      const value = projectLookup(name);
      if (value !== undefined) return value;
      const own = explicit[name];
      return typeof own === "string" ? own : undefined;
    });
    const merged: Record<string, string | null> = { ...fromFiles, ...explicit };
    const { env_file: _dropped, ...rest } = service;
    result = Object.keys(merged).length === 0 ? withoutKey(rest, "environment") : { ...rest, environment: merged };
  } else if ("environment" in service && "labels" in service && !("label_file" in service)) {
    // What withLabels below gives without label files, in the same copy of the service.
    const labels = labelMap(service["labels"], joinPath(servicePath, "labels"), scope);
    result = { ...service, environment: explicit, labels };
    labelled = true;
  } else if ("environment" in service) {
    result = { ...service, environment: explicit };
  }
  if (!labelled && ("labels" in result || "label_file" in result)) result = withLabels(result, servicePath, scope);
  const build = result["build"];
  if (isMapping(build) && "args" in build) {
    const args = buildArgs(build["args"], joinPath(joinPath(servicePath, "build"), "args"), scope, projectLookup);
    result = { ...result, build: { ...build, args } };
  }
  return result;
}

/** `environment` (list or map) → map, resolving bare keys from `lookup` (null when unset). */
export function environmentMap(value: unknown, path: string, scope: NormalizeScope, lookup: Lookup): Record<string, string | null> {
  const result: Record<string, string | null> = {};
  if (value === null || value === undefined) return result;
  if (Array.isArray(value)) {
    value.forEach((entry, index) => {
      const text = goScalarString(entry);
      const equals = text.indexOf("=");
      const key = equals < 0 ? text : text.slice(0, equals);
      if (key !== "" && /\s$/u.test(key)) {
        throw normalizeError(scope, joinPath(path, index), `environment variable ${key} is declared with a trailing space`);
      }
      result[key] = equals < 0 ? (lookup(key) ?? null) : text.slice(equals + 1);
    });
    relocate(scope, path, value, keyedMoves, result);
    return result;
  }
  if (!isMapping(value)) throw normalizeError(scope, path, `unexpected value type ${typeName(value)} for mapping`);
  for (const key in value) {
    const entry = value[key];
    result[key] = entry === null || entry === undefined ? (lookup(key) ?? null) : goScalarString(entry);
  }
  return result;
}

function readEnvFiles(value: unknown, path: string, scope: NormalizeScope, lookup: Lookup): Record<string, string> {
  const result: Record<string, string> = {};
  if (!Array.isArray(value)) return result;
  value.forEach((entry, index) => {
    const entryPath = joinPath(path, index);
    if (!isMapping(entry) || typeof entry["path"] !== "string") {
      throw normalizeError(scope, entryPath, `${path}: invalid env_file entry`);
    }
    const file = entry["path"];
    const format = entry["format"];
    if (format !== undefined && format !== null && format !== "" && format !== ".env") {
      throw normalizeError(scope, joinPath(entryPath, "format"), `unsupported env_file format ${JSON.stringify(String(format))}`, ErrorCode.composeEnvFile);
    }
    if (!scope.context.files.exists(file)) {
      if (entry["required"] === false) return;
      throw normalizeError(scope, entryPath, `env file ${file} not found: stat ${file}: no such file or directory`, ErrorCode.composeEnvFile);
    }
    const parsed = parseDotEnv(scope.context.files.readText(file), {
      file,
      lookup,
      fallback: (name) => result[name],
      warn: (message) => scope.context.warn(message),
    });
    for (const [key, text] of parsed) result[key] = text;
  });
  return result;
}

function withLabels(service: Mapping, servicePath: string, scope: NormalizeScope): Mapping {
  const labelsPath = joinPath(servicePath, "labels");
  const explicit = "labels" in service ? labelMap(service["labels"], labelsPath, scope) : {};
  const fromFiles: Record<string, string> = {};
  const labelFiles = service["label_file"];
  const files = typeof labelFiles === "string" ? [labelFiles] : Array.isArray(labelFiles) ? labelFiles : [];
  files.forEach((file, index) => {
    const filePath = typeof labelFiles === "string" ? joinPath(servicePath, "label_file") : joinPath(joinPath(servicePath, "label_file"), index);
    if (typeof file !== "string") throw normalizeError(scope, filePath, `invalid label_file entry`);
    if (!scope.context.files.exists(file)) {
      throw normalizeError(scope, filePath, `label file ${file} not found: stat ${file}: no such file or directory`, ErrorCode.composeEnvFile);
    }
    const parsed = parseDotEnv(scope.context.files.readText(file), { file, lookup: (name) => fromFiles[name] });
    for (const [key, text] of parsed) fromFiles[key] = text;
  });
  const rest = "label_file" in service ? withoutKey(service, "label_file") : service;
  const merged = files.length === 0 ? explicit : { ...fromFiles, ...explicit };
  return Object.keys(merged).length === 0 && !("labels" in service) ? rest : { ...rest, labels: merged };
}

/** `labels` (list or map) → map; `KEY` alone and null values are "". */
export function labelMap(value: unknown, path: string, scope: NormalizeScope): Record<string, string> {
  const result: Record<string, string> = {};
  if (value === null || value === undefined) return result;
  if (Array.isArray(value)) {
    value.forEach((entry) => {
      const text = goScalarString(entry);
      const equals = text.indexOf("=");
      const key = equals < 0 ? text : text.slice(0, equals);
      result[key] = equals < 0 ? "" : text.slice(equals + 1);
    });
    relocate(scope, path, value, keyedMoves, result);
    return result;
  }
  if (!isMapping(value)) throw normalizeError(scope, path, `unexpected value type ${typeName(value)} for labels`);
  for (const key in value) {
    const entry = value[key];
    result[key] = entry === null || entry === undefined ? "" : goScalarString(entry);
  }
  return result;
}

/** `build.args`: bare keys take the project value, or are dropped when it has none. */
function buildArgs(value: unknown, path: string, scope: NormalizeScope, lookup: Lookup): Record<string, string | null> {
  const result: Record<string, string | null> = {};
  if (value === null || value === undefined) return result;
  if (Array.isArray(value)) {
    const dropped = new Set<number>();
    value.forEach((entry, index) => {
      const text = goScalarString(entry);
      const equals = text.indexOf("=");
      const key = equals < 0 ? text : text.slice(0, equals);
      const resolved = equals < 0 ? lookup(key) : text.slice(equals + 1);
      if (resolved === undefined) {
        dropped.add(index);
        return;
      }
      result[key] = resolved;
    });
    relocate(scope, path, value, (list) => keyedMoves(list, result).filter(([, index]) => !dropped.has(index as number)), undefined);
    return result;
  }
  if (!isMapping(value)) throw normalizeError(scope, path, `unexpected value type ${typeName(value)} for mapping`);
  for (const key in value) {
    const entry = value[key];
    if (entry === null || entry === undefined) {
      const resolved = lookup(key);
      if (resolved !== undefined) result[key] = resolved;
    } else result[key] = goScalarString(entry);
  }
  return result;
}

/** The moves of a `KEY=VALUE` list turned into a map: each entry to its key. */
function keyedMoves(list: unknown, result: Readonly<Record<string, unknown>>): Relocation[] {
  return (list as readonly unknown[]).map((entry, index) => {
    const text = goScalarString(entry);
    const equals = text.indexOf("=");
    const key = equals < 0 ? text : text.slice(0, equals);
    return [key, index, result[key]] as const;
  });
}

function withoutKey(data: Mapping, key: string): Mapping {
  const { [key]: _dropped, ...rest } = data;
  return rest;
}
