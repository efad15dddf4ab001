// The binder: the normalized document (long syntax, plain data) → the typed Project. The only
// place that turns `unknown` into model types. Field tables and codecs live in
// normalize-fields.ts (shared with the serializer); their decoders parse value syntaxes
// (durations, sizes, command lines), and a bad value fails with E_COMPOSE_NORMALIZE at its
// position. A tree bound once is not bound again (the normalize pass binds its own output).

import { ComposeError, ErrorCode } from "../errors.js";
import type { LoadContext } from "./context.js";
import { isMapping, joinPath, positionOf, type ComposeDocument, type Mapping } from "./document.js";
import type { Config, Model, Network, Project, Secret, Service, Volume } from "./model.js";
import {
  decodeExtensions,
  decodeFields,
  decodeInto,
  templateOf,
  fileObjectFields,
  modelFields,
  networkFields,
  serviceFields,
  volumeFields,
  type DecodeScope,
  type Fields,
} from "./normalize-fields.js";

/** Projects already bound, by document or data tree (the normalize pass binds its own output). */
const bound = new WeakMap<object, { readonly context: LoadContext; readonly project: Project }>();

/** Record that a document (or its data tree) binds to `project` under `context`, so later passes need not bind it again. */
export function rememberBinding(key: ComposeDocument | Mapping, context: LoadContext, project: Project): void {
  bound.set(key, { context, project });
}

export function bindProject(document: ComposeDocument, context: LoadContext): Project {
  // By document first: the normalize pass's document prints its data only when someone reads it.
  const cached = bound.get(document) ?? bound.get(document.data);
  if (cached !== undefined && cached.context === context) return cached.project;
  const project = bind(document, context);
  bound.set(document.data, { context, project });
  return project;
}

function bind(document: ComposeDocument, context: LoadContext): Project {
  const scope: DecodeScope = {
    environment: context.environment,
    fail(path, message): never {
      throw new ComposeError(ErrorCode.composeNormalize, message, { path, position: positionOf(document.origins, path) });
    },
  };
  const data = document.data;
  const name = typeof data["name"] === "string" && data["name"] !== "" ? data["name"] : context.projectName;
  const services: Record<string, Service> = {};
  const serviceBodies = section(data, "services", scope);
  for (const serviceName in serviceBodies) {
    const service = serviceBodies[serviceName];
    const path = joinPath("services", serviceName);
    const body = service ?? {};
    if (!isMapping(body)) scope.fail(path, `service ${serviceName} must be a mapping`);
    const decoded = newService();
    decoded["name"] = serviceName;
    decoded["extensions"] = decodeInto(serviceFields, body as Mapping, path, scope, decoded);
    services[serviceName] = decoded as unknown as Service;
  }
  return {
    name,
    workingDir: context.projectDirectory,
    services,
    networks: resources<Network>(data, "networks", networkFields, scope),
    volumes: resources<Volume>(data, "volumes", volumeFields, scope),
    secrets: withEnvironmentContent(resources<Secret>(data, "secrets", fileObjectFields, scope), context),
    configs: withEnvironmentContent(resources<Config>(data, "configs", fileObjectFields, scope), context),
    models: resources<Model>(data, "models", modelFields, scope),
    extensions: decodeExtensions(data),
  };
}

let serviceShape: { readonly keys: string; readonly defaults: Readonly<Record<string, unknown>> } | undefined;

/**
 * A new service object holding every field's value for an absent key. It is made by JSON.parse
 * (then filled in) rather than by copying a template with `{...template}`: such a copy keeps all
 * but four properties outside the object, and V8 turns an object with that many outside
 * properties into a slow dictionary as soon as one more key is added by a computed name, as the
 * decoder adds them. Every service would then be a hash table, costlier to build and to read.
 */
function newService(): Record<string, unknown> {
  if (serviceShape === undefined) {
    const defaults: Record<string, unknown> = { name: "", ...templateOf(serviceFields), extensions: Object.freeze({}) };
    serviceShape = { keys: JSON.stringify(Object.fromEntries(Object.keys(defaults).map((key) => [key, null]))), defaults };
  }
  return Object.assign(JSON.parse(serviceShape.keys) as Record<string, unknown>, serviceShape.defaults);
}

function section(data: Mapping, key: string, scope: DecodeScope): Mapping {
  const value = data[key];
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) return scope.fail(key, `${key} must be a mapping`);
  return value;
}

function resources<T extends { readonly extensions: unknown }>(
  data: Mapping,
  kind: string,
  fields: Fields<Omit<T, "extensions">>,
  scope: DecodeScope,
): Record<string, T> {
  const result: Record<string, T> = {};
  for (const [key, resource] of Object.entries(section(data, kind, scope))) {
    const path = joinPath(kind, key);
    const body = resource ?? {};
    if (!isMapping(body)) scope.fail(path, `${path} must be a mapping`);
    result[key] = { ...decodeFields(fields, body as Mapping, path, scope), extensions: decodeExtensions(body as Mapping) } as T;
  }
  return result;
}

/** Secrets and configs read from `environment:` carry the value (compose-go loader/environment.go). */
function withEnvironmentContent<T extends Secret | Config>(objects: Record<string, T>, context: LoadContext): Record<string, T> {
  for (const [key, object] of Object.entries(objects)) {
    if (object.environment === undefined || object.content !== undefined) continue;
    const value = context.environment[object.environment];
    if (value !== undefined) objects[key] = { ...object, content: value };
  }
  return objects;
}
