// Networks and the other top-level resources (compose-go loader/normalize.go
// normalizeNetworks + setNameFromKey, transform/external.go, transform/services.go):
// a service's `networks` list becomes a map; a service with neither `networks` nor
// `network_mode` (nor `provider`) joins `default`, which appears at the top level only when
// some service uses it; every top-level network, volume, secret and config gets its engine
// name (`<project>_<key>`, or the key itself when external, or its own `name:`); the legacy
// `external: {name: x}` becomes `name: x` + `external: true`.

import { copyMapping, isMapping, joinPath, type Mapping } from "./document.js";
import { normalizeError, relocate, type Moves, type NormalizeScope } from "./normalize-tree.js";

const nullMapMoves: Moves<undefined> = (list) => (list as unknown[]).map((entry, index) => [String(entry), index, null] as const);

/** `services.*.networks` and `services.*.models`: `[a, b]` → `{a: null, b: null}`. */
export function listToNullMap(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (!Array.isArray(value)) return value;
  const result: Mapping = {};
  value.forEach((entry) => {
    result[String(entry)] = null;
  });
  relocate(scope, path, value, nullMapMoves, undefined);
  return result;
}

/** `networks.*`, `volumes.*`, `secrets.*`, `configs.*`: the legacy external form. */
export function canonicalResource(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (value === null || value === undefined) return null;
  if (!isMapping(value)) throw normalizeError(scope, path, `${path}: expected a mapping`);
  const external = value["external"];
  if (!isMapping(external)) return value;
  const result: Mapping = { ...value, external: true };
  const externalName = external["name"];
  if (externalName !== undefined) {
    scope.context.warn(`${path}: external.name is deprecated. Please set name and external: true`);
    const name = value["name"];
    if (name !== undefined && name !== externalName) {
      throw normalizeError(scope, joinPath(path, "external"), `${path}: name and external.name conflict; only use name`);
    }
    result["name"] = externalName;
  }
  return result;
}

/** The implicit `default` network (loader/normalize.go normalizeNetworks). */
export function withDefaultNetwork(data: Mapping): Mapping {
  const services = isMapping(data["services"]) ? data["services"] : undefined;
  if (services === undefined) return data;
  let usesDefault = false;
  let newServices: Mapping | undefined;
  for (const name in services) {
    const service = services[name];
    if (!isMapping(service) || (service["provider"] ?? null) !== null || (service["network_mode"] ?? null) !== null) continue;
    const networks = service["networks"];
    if (!isMapping(networks) || isEmpty(networks)) {
      newServices ??= copyMapping(services);
      newServices[name] = { ...service, networks: { default: null } };
      usesDefault = true;
    } else if ("default" in networks) {
      usesDefault = true;
    }
  }
  const networks = isMapping(data["networks"]) ? data["networks"] : {};
  const result: Mapping = newServices === undefined ? data : { ...data, services: newServices };
  if (usesDefault && !("default" in networks)) result["networks"] = { ...networks, default: null };
  return result;
}

function isEmpty(mapping: Mapping): boolean {
  for (const _key in mapping) return false;
  return true;
}

const resourceKinds = ["networks", "volumes", "configs", "secrets"] as const;

/** Give every top-level resource its engine-side name (loader/normalize.go setNameFromKey). */
export function withResourceNames(data: Mapping, projectName: string): Mapping {
  let result: Mapping | undefined;
  for (const kind of resourceKinds) {
    const resources = data[kind];
    if (!isMapping(resources)) continue;
    const named: Mapping = {};
    for (const [key, resource] of Object.entries(resources)) {
      const body: Mapping = isMapping(resource) ? resource : {};
      if (body["name"] !== undefined && body["name"] !== null) {
        named[key] = body;
        continue;
      }
      named[key] = { ...body, name: isTrue(body["external"]) ? key : `${projectName}_${key}` };
    }
    result ??= { ...data };
    result[kind] = named;
  }
  return result ?? data;
}

/** Go's strconv.ParseBool over fmt.Sprint(value). */
export function isTrue(value: unknown): boolean {
  return ["1", "t", "T", "TRUE", "true", "True"].includes(String(value));
}

