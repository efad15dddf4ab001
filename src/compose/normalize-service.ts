// The smaller per-attribute canonical forms of a service (compose-go transform/*.go and
// transform/defaults.go), one rule each: build, extends, secret/config references, devices,
// ulimits, gpus and device requests, ssh, additional contexts, string-or-list attributes.

import { isMapping, joinPath, type Mapping } from "./document.js";
import { listedMoves, normalizeError, relocate, type NormalizeScope } from "./normalize-tree.js";
import { typeName } from "./normalize-ports.js";
import { goScalarString } from "./units.js";

/** `services.*.build`: `build: ./dir` → `{context: ./dir}`. */
export function canonicalBuild(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (typeof value === "string") return { context: value };
  if (isMapping(value)) return value;
  throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for build`);
}

/** `services.*.build` defaults: context `.` (transform/defaults.go), `Dockerfile` (loader/normalize.go). */
export function buildDefaults(value: unknown): unknown {
  if (!isMapping(value)) return value;
  const needsDockerfile = (value["dockerfile"] ?? null) === null && (value["dockerfile_inline"] ?? null) === null;
  const needsContext = (value["context"] ?? null) === null;
  if (!needsDockerfile && !needsContext) return value;
  const result: Mapping = { ...value };
  if (needsContext) result["context"] = ".";
  if (needsDockerfile) result["dockerfile"] = "Dockerfile";
  return result;
}

/** `services.*.extends`: `extends: web` → `{service: web}`. */
export function canonicalExtends(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (typeof value === "string") return { service: value };
  if (isMapping(value)) return value;
  throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for extends`);
}

/** `services.*.secrets.*`, `services.*.configs.*`, `services.*.build.secrets.*`: `name` → `{source: name}`. */
export function canonicalFileReference(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (typeof value === "string") return { source: value };
  if (isMapping(value)) return value;
  throw normalizeError(scope, path, `${path}: unsupported type ${typeName(value)}`);
}

/** `services.*.secrets.*` default target (transform/defaults.go defaultSecretMount). */
export function secretTargetDefault(value: unknown): unknown {
  if (!isMapping(value) || (value["target"] ?? null) !== null) return value;
  return { ...value, target: `/run/secrets/${goScalarString(value["source"] ?? "")}` };
}

/** `services.*.devices.*`: `src[:dst[:perm]]` → `{source, target, permissions}`. */
export function canonicalDevice(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (isMapping(value)) return value;
  if (typeof value !== "string") throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for service volume mount`);
  const parts = value.split(":");
  if (parts.length > 3) throw normalizeError(scope, path, `confusing device mapping, please use long syntax: ${value}`);
  const source = parts[0] ?? "";
  const target = parts[1] === undefined || parts[1] === "" ? source : parts[1];
  return { source, target, permissions: parts[2] ?? "rwm" };
}

/** `services.*.ulimits.*`, `services.*.build.ulimits.*`: a number or `{soft, hard}`. */
export function canonicalUlimit(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (isMapping(value) || (typeof value === "number" && Number.isInteger(value))) return value;
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) return Number(value);
  throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for ulimit`);
}

/** `services.*.gpus`: `gpus: all` → `[{count: all}]`. */
export function canonicalGpus(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (typeof value === "string") return [{ count: "all" }];
  if (Array.isArray(value)) return value;
  throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for gpus`);
}

/** Device requests without `count` or `device_ids` ask for all devices (transform/devices.go). */
export function deviceRequestDefaults(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (!isMapping(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for device request`);
  if ("count" in value || "device_ids" in value) return value;
  return { ...value, count: "all" };
}

/** `services.*.build.ssh`: `[default, id=path]` → `{default: null, id: path}`. */
export function canonicalSsh(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for ssh`);
  const result: Mapping = {};
  const moved: [string, number, unknown][] = [];
  value.forEach((entry, index) => {
    if (typeof entry !== "string") throw normalizeError(scope, joinPath(path, index), `invalid ssh key type ${typeName(entry)}`);
    const equals = entry.indexOf("=");
    const id = equals < 0 ? entry : entry.slice(0, equals);
    if (equals < 0 && entry !== "default") throw normalizeError(scope, joinPath(path, index), `invalid ssh key ${JSON.stringify(entry)}`);
    result[id] = equals < 0 ? null : entry.slice(equals + 1);
    moved.push([id, index, result[id]]);
  });
  relocate(scope, path, value, listedMoves, moved);
  return result;
}

/** `services.*.build.additional_contexts`: `[name=ref]` → `{name: ref}`. */
export function canonicalKeyValue(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)}`);
  const result: Mapping = {};
  const moved: [string, number, unknown][] = [];
  value.forEach((entry, index) => {
    const text = goScalarString(entry);
    const equals = text.indexOf("=");
    if (equals < 0) throw normalizeError(scope, joinPath(path, index), `${path}: invalid value ${text}, expected key=value`);
    const key = text.slice(0, equals);
    result[key] = text.slice(equals + 1);
    moved.push([key, index, result[key]]);
  });
  relocate(scope, path, value, listedMoves, moved);
  return result;
}

/** `build.provenance`, `build.sbom`: `true` → `"true"`. */
export function stringOrScalar(value: unknown): unknown {
  return typeof value === "string" || value === null || value === undefined ? value : goScalarString(value);
}

/** `dns`, `label_file`, watch `include`/`ignore`: a string → a one-element list. */
export function stringToList(value: unknown): unknown {
  return typeof value === "string" ? [value] : value;
}

/** `services.*.dns`: one string becomes a list; empty entries are dropped (loader/omitEmpty.go). */
export function canonicalDns(value: unknown): unknown {
  const list = stringToList(value);
  if (!Array.isArray(list)) return list;
  const kept = list.filter((entry) => entry !== null && entry !== undefined && entry !== "");
  return kept.length === list.length ? list : kept;
}

/** `pull_policy: if_not_present` is the old spelling of `missing` (loader/normalize.go). */
export function canonicalPullPolicy(value: unknown): unknown {
  return value === "if_not_present" ? "missing" : value;
}
