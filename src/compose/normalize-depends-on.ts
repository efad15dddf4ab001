// `depends_on`: the list form becomes `{svc: {condition: service_started, required: true}}`
// and map entries get the same defaults (compose-go transform/dependson.go). `links`,
// `volumes_from` and `service:x` in network_mode/ipc/pid/uts/cgroup add implied entries when
// the service does not name that dependency itself (loader/normalize.go): `restart: true` for
// links and shared namespaces, `restart: false` for volumes_from.

import { isMapping, joinPath, type Mapping } from "./document.js";
import { normalizeError, originFrom, relocate, type Moves, type NormalizeScope } from "./normalize-tree.js";
import { typeName } from "./normalize-ports.js";
import { goScalarString } from "./units.js";

const servicePrefix = "service:";
const containerPrefix = "container:";
const namespaceKeys = ["network_mode", "ipc", "pid", "uts", "cgroup"] as const;

/** `services.*.depends_on`. */
export function canonicalDependsOn(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (Array.isArray(value)) {
    const result: Mapping = {};
    value.forEach((entry, index) => {
      if (typeof entry !== "string") throw normalizeError(scope, joinPath(path, index), `${path}: invalid type ${typeName(entry)} for depends_on`);
      result[entry] = { condition: "service_started", required: true };
    });
    relocate(scope, path, value, namedMoves, result);
    return result;
  }
  if (!isMapping(value)) throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for depend_on`);
  const result: Mapping = {};
  for (const name in value) {
    const entry = value[name];
    if (!isMapping(entry)) throw normalizeError(scope, joinPath(path, name), `${path}.${name}: unsupported value ${String(entry)}`);
    result[name] = {
      ...entry,
      condition: entry["condition"] ?? "service_started",
      required: entry["required"] ?? true,
    };
  }
  return result;
}

/** A list of names turned into a map: each entry to its name. */
const namedMoves: Moves<Mapping> = (list, result) => (list as string[]).map((entry, index) => [entry, index, result[entry]] as const);

/** Add the dependencies `links`, `volumes_from` and shared namespaces imply. */
export function withImpliedDependencies(service: Mapping, servicePath: string, scope: NormalizeScope): Mapping {
  const declared = isMapping(service["depends_on"]) ? service["depends_on"] : {};
  const added: Mapping = {};
  let addedAny = false;
  const add = (name: string, restart: boolean, fromPath: string): void => {
    if (name === "" || name in declared || name in added) return;
    added[name] = { condition: "service_started", restart, required: true };
    addedAny = true;
    originFrom(scope, joinPath(joinPath(servicePath, "depends_on"), name), fromPath);
  };
  const links = service["links"];
  if (Array.isArray(links)) {
    links.forEach((entry, index) => {
      if (entry === null || typeof entry === "object") return;
      const link = goScalarString(entry);
      const parts = link.split(":");
      add(parts.length === 2 ? (parts[0] ?? link) : link, true, joinPath(joinPath(servicePath, "links"), index));
    });
  }
  // Indexed: this runs for every service, in cold code, where for-of allocates as it iterates.
  for (let index = 0; index < namespaceKeys.length; index++) {
    const key = namespaceKeys[index] as string;
    const reference = service[key];
    if (typeof reference === "string" && reference.startsWith(servicePrefix)) {
      add(reference.slice(servicePrefix.length), true, joinPath(servicePath, key));
    }
  }
  const volumesFrom = service["volumes_from"];
  if (Array.isArray(volumesFrom)) {
    volumesFrom.forEach((item, index) => {
      if (item === null || typeof item === "object") return;
      const entry = goScalarString(item);
      if (entry.startsWith(containerPrefix)) return;
      add(entry.split(":")[0] ?? entry, false, joinPath(joinPath(servicePath, "volumes_from"), index));
    });
  }
  if (!addedAny) return service;
  return { ...service, depends_on: { ...declared, ...added } };
}
