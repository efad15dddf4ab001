// Project → exactly what `docker compose config` prints (Docker Compose v2.40 / compose-go
// v2.9.1): keys in Compose's field order, maps sorted (services by name), omitempty rules,
// durations as Go prints them (`1m30s`), byte sizes as decimal strings, file modes in octal.
//
// Compose's two formats differ where Go's encoding/json differs from its YAML encoder. The JSON
// content has `command: null` / `entrypoint: null` on every service, `ipam: {}` on every network,
// deploy `resources: {}` / `placement: {}`, watch `exec: {command: null}`, no `x-*` extensions
// below the top level and no `models`; Go writes its top-level keys in byte order. The YAML has
// none of those and keeps extensions.
//   - `{ format: "yaml" }`: exactly `docker compose config` (YAML);
//   - `{ format: "json" }`: exactly `docker compose config --format json`;
//   - no format: the JSON content with the YAML key order (one shape for both printers).

import type { Mapping } from "./document.js";
import { withoutUnnecessaryResources, type Config, type Project, type Secret, type Service } from "./model.js";
import {
  encodeExtensions,
  encodeFields,
  fileObjectFields,
  modelFields,
  networkFields,
  serviceFields,
  sortedKeys,
  volumeFields,
  type Fields,
  type OutputFormat,
} from "./normalize-fields.js";

export interface ConfigOptions {
  /** `yaml` or `json`: exactly what `docker compose config --format <format>` prints. */
  readonly format?: OutputFormat;
  /**
   * Keep top-level networks, volumes, secrets, configs and models no service uses
   * (`--all-resources`). By default they are dropped, as Compose's ToProject drops them.
   */
  readonly allResources?: boolean;
}

export function projectToConfig(fullProject: Project, options: ConfigOptions = {}): Mapping {
  const format: OutputFormat = options.format ?? "json";
  const project = options.allResources === true ? fullProject : withoutUnnecessaryResources(fullProject);
  const services: Mapping = {};
  for (const name of sortedKeys(Object.keys(project.services), format)) {
    const service = project.services[name];
    if (service !== undefined) services[name] = encodeService(service, format);
  }
  const result: Mapping = {};
  if (project.name !== "") result["name"] = project.name;
  result["services"] = services;
  const sections: [string, Mapping | undefined][] = [
    ["networks", encodeResources(project.networks, networkFields, format)],
    ["volumes", encodeResources(project.volumes, volumeFields, format)],
    ["secrets", encodeResources(hideContent(project.secrets, () => true), fileObjectFields, format)],
    ["configs", encodeResources(hideContent(project.configs, (config) => config.environment !== undefined), fileObjectFields, format)],
    // Project.MarshalJSON has no `models` entry.
    ["models", format === "json" ? undefined : encodeResources(project.models, modelFields, format)],
  ];
  for (const [key, value] of sections) if (value !== undefined) result[key] = value;
  for (const key of sortedKeys(Object.keys(project.extensions), format)) result[key] = project.extensions[key];
  if (options.format !== "json") return result;
  // Go's encoding/json writes the top-level map (and only that) in byte order.
  const sorted: Mapping = {};
  for (const key of sortedKeys(Object.keys(result), format)) sorted[key] = result[key];
  return sorted;
}

/** Services are immutable, so each is encoded once per format (config prints what normalize printed). */
const encodedServices = new WeakMap<Service, Partial<Record<OutputFormat, Mapping>>>();

function encodeService(service: Service, format: OutputFormat): Mapping {
  let cached = encodedServices.get(service);
  const hit = cached?.[format];
  if (hit !== undefined) return hit;
  // The table has no row for `name` or `extensions`, so the service itself can be encoded.
  const encoded = encodeFields(serviceFields, service, format);
  encodeExtensions(service.extensions, encoded, format);
  cached ??= {};
  cached[format] = encoded;
  encodedServices.set(service, cached);
  return encoded;
}

function encodeResources<T extends { readonly extensions: Readonly<Record<string, unknown>> }>(
  resources: Readonly<Record<string, T>>,
  fields: Fields<Omit<T, "extensions">>,
  format: OutputFormat,
): Mapping | undefined {
  const keys = Object.keys(resources);
  if (keys.length === 0) return undefined;
  const result: Mapping = {};
  for (const key of sortedKeys(keys, format)) {
    const resource = resources[key];
    if (resource === undefined) continue;
    const { extensions, ...attributes } = resource;
    const encoded = encodeFields(fields, attributes as Omit<T, "extensions">, format);
    encodeExtensions(extensions, encoded, format);
    result[key] = encoded;
  }
  return result;
}

/** Secret content is never printed; config content only when written inline. */
function hideContent<T extends Secret | Config>(objects: Readonly<Record<string, T>>, hide: (object: T) => boolean): Record<string, T> {
  const result: Record<string, T> = {};
  for (const [key, object] of Object.entries(objects)) {
    if (object.content === undefined || !hide(object)) result[key] = object;
    else {
      const { content: _content, ...rest } = object;
      result[key] = rest as T;
    }
  }
  return result;
}
