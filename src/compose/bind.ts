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
  for (const [serviceName, service] of Object.entries(section(data, "services", scope))) {
    const path = joinPath("services", serviceName);
    const body = service ?? {};
    if (!isMapping(body)) scope.fail(path, `service ${serviceName} must be a mapping`);
    // One copy of a fixed-shape template per service (a service has ~90 fields).
    const decoded: Record<string, unknown> = { ...serviceTemplate() };
    decoded["name"] = serviceName;
    decodeInto(serviceFields, body as Mapping, path, scope, decoded);
    decoded["extensions"] = decodeExtensions(body as Mapping);
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

let serviceTemplateValue: Readonly<Record<string, unknown>> | undefined;

function serviceTemplate(): Readonly<Record<string, unknown>> {
  serviceTemplateValue ??= Object.freeze({ name: "", ...templateOf(serviceFields), extensions: Object.freeze({}) });
  return serviceTemplateValue;
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
