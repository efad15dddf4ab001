// Pass: `extends`. A service extending another (in this file or in another one) becomes the
// referenced service merged with its own definition, by the same rules as merging files
// (compose-go's loader/extends.go). Chains resolve recursively; a cycle is an error naming it.
// A service brought from another file has its relative paths rebased on that file's directory,
// and its values keep pointing at the file they came from.

import path from "node:path";
import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import type { LoadContext, Pass } from "./context.js";
import {
  deferredOrigins,
  isMapping,
  isTagFree,
  isUnder,
  joinPath,
  passTagFree,
  positionOf,
  TaggedValue,
  type ComposeDocument,
  type Mapping,
  type Origins,
} from "./document.js";
import { mergeServices, mergeServiceValues, type LocatedValue } from "./merge.js";
import { absolutePath, resolveRelativePaths } from "./paths.js";

/** A service in a file: the unit of the cycle check (compose-go's cycleTracker). */
interface ServiceRef {
  readonly file: string;
  readonly service: string;
}

interface ExtendsReference {
  readonly service: string;
  /** Absolute; undefined for the same file. */
  readonly file: string | undefined;
  /** Where the `extends` key is, for errors. */
  readonly origins: Origins;
  readonly path: string;
}

/** A service of another file, rebased, and the `extends` it still has (see resolveInOtherFile). */
interface RebasedService {
  readonly base: LocatedValue;
  readonly onward: ExtendsReference | undefined;
}

/** A resolved service, and whether its origins were rebuilt (a merge) or are still the document's. */
interface Resolved extends LocatedValue {
  readonly merged: boolean;
}

export const extendsPass: Pass = {
  name: "extends",
  run(document, context) {
    const services = document.data["services"];
    if (!isMapping(services)) return document;
    const extending = Object.keys(services).filter((name) => {
      const service = services[name];
      return isMapping(service) && service["extends"] !== undefined;
    });
    if (extending.length === 0) return document;
    const resolve = createResolver(document, services, context);
    const resolvedServices: Mapping = {};
    const rebuilt = new Map<string, Resolved>();
    for (const name of Object.keys(services)) {
      const resolved = resolve(name);
      resolvedServices[name] = resolved.value;
      if (resolved.merged) rebuilt.set(name, resolved);
    }
    // Origins are rebuilt only when read: the merges behind them run again then, with origins.
    const origins = deferredOrigins(() => rebuildOrigins(document, rebuilt));
    // Merges resolve tags, and the services that extend nothing are the input's.
    return { file: document.file, data: passTagFree(document.data, { ...document.data, services: resolvedServices }), origins };
  },
};

function createResolver(document: ComposeDocument, services: Mapping, context: LoadContext): (name: string) => Resolved {
  const done = new Map<string, Resolved>();
  const otherDocuments = new Map<string, ComposeDocument>();
  /** By file, then service name. */
  const rebasedServices = new Map<string, Map<string, RebasedService>>();

  const servicePath = (name: string): string => joinPath("services", name);
  const documentTagFree = isTagFree(document.data);

  const fail = (message: string, at: { readonly origins: Origins; readonly path: string }): ComposeError =>
    new ComposeError(ErrorCode.composeExtends, message, { position: positionOf(at.origins, at.path), path: at.path });

  /** `extends: name` or `extends: {service, file}`; undefined when the service extends nothing. */
  const referenceOf = (located: LocatedValue, baseDirectory: string): ExtendsReference | undefined => {
    if (!isMapping(located.value)) return undefined;
    const raw = located.value["extends"];
    if (raw === undefined || raw === null) return undefined;
    const at = { origins: located.origins, path: joinPath(located.path, "extends") };
    if (typeof raw === "string") return { service: raw, file: undefined, ...at };
    if (!isMapping(raw)) throw fail(`${at.path} must be a service name or a mapping with service and file`, at);
    const service = raw["service"];
    if (typeof service !== "string" || service === "") throw fail(`${at.path}.service is required`, at);
    const file = raw["file"];
    if (file === undefined || file === null) return { service, file: undefined, ...at };
    if (typeof file !== "string") throw fail(`${at.path}.file must be a string`, at);
    return { service, file: absoluteFile(file, baseDirectory), ...at };
  };

  /** absolutePath for extends.file: most services of a large file name the same one or two files. */
  const absoluteFiles = new Map<string, Map<string, string>>();
  const absoluteFile = (file: string, baseDirectory: string): string => {
    let known = absoluteFiles.get(baseDirectory);
    if (known === undefined) absoluteFiles.set(baseDirectory, (known = new Map()));
    let absolute = known.get(file);
    if (absolute === undefined) known.set(file, (absolute = absolutePath(file, baseDirectory, context.homeDirectory)));
    return absolute;
  };

  const cycleCheck = (chain: readonly ServiceRef[], next: ServiceRef, at: ExtendsReference): void => {
    if (!chain.some((ref) => ref.file === next.file && ref.service === next.service)) return;
    const steps = [...chain, next].map((ref) => `${ref.service} in ${ref.file}`);
    throw fail(`circular reference: ${steps.join(" extends ")}`, at);
  };

  /** A service of this document, its extends resolved. */
  const resolveLocal = (name: string, chain: readonly ServiceRef[]): Resolved => {
    const memo = done.get(name);
    if (memo !== undefined) return memo;
    const own: LocatedValue = { value: services[name], origins: document.origins, path: servicePath(name), tagFree: documentTagFree };
    const reference = referenceOf(own, context.projectDirectory);
    if (reference === undefined) {
      const plain = { ...own, merged: false };
      done.set(name, plain);
      return plain;
    }
    const self: ServiceRef = { file: document.file, service: name };
    const base = resolveReference(reference, [...chain, self]);
    const result =
      base === undefined
        ? deferred(own, reference) // the referenced file is being loaded further up: it resolves this
        : extendService(base, own, name);
    done.set(name, result);
    return result;
  };

  const resolveReference = (reference: ExtendsReference, chain: readonly ServiceRef[]): LocatedValue | undefined => {
    const file = reference.file ?? document.file;
    cycleCheck(chain, { file, service: reference.service }, reference);
    if (file === document.file) {
      if (!Object.hasOwn(services, reference.service)) {
        const referrer = chain[chain.length - 1]?.service ?? "";
        throw fail(`cannot extend service "${referrer}" in ${document.file}: service "${reference.service}" not found`, reference);
      }
      return resolveLocal(reference.service, chain);
    }
    return resolveInOtherFile(file, reference, chain);
  };

  /** The service as the other file defines it (its own extends resolved), paths rebased on its directory. */
  const rebasedService = (file: string, reference: ExtendsReference, referrer: string): RebasedService => {
    let inFile = rebasedServices.get(file);
    if (inFile === undefined) rebasedServices.set(file, (inFile = new Map()));
    const cached = inFile.get(reference.service);
    if (cached !== undefined) return cached;
    let other = otherDocuments.get(file);
    if (other === undefined) {
      if (!context.files.exists(file) || context.files.isDirectory(file)) {
        throw fail(`cannot extend service "${referrer}": file ${file} not found`, reference);
      }
      other = context.loadDocuments({ files: [file], projectDirectory: path.dirname(file), environment: context.environment });
      otherDocuments.set(file, other);
    }
    const otherServices = other.data["services"];
    if (!isMapping(otherServices) || !Object.hasOwn(otherServices, reference.service)) {
      throw fail(`cannot extend service "${referrer}": service "${reference.service}" not found in ${file}`, reference);
    }
    const wrapped = { services: { [reference.service]: otherServices[reference.service] } };
    const rebased = resolveRelativePaths(wrapped, path.dirname(file), context.homeDirectory)["services"] as Mapping;
    const base: LocatedValue = {
      value: rebased[reference.service],
      origins: other.origins,
      path: servicePath(reference.service),
      tagFree: isTagFree(other.data),
    };
    const entry: RebasedService = { base, onward: referenceOf(base, path.dirname(file)) };
    inFile.set(reference.service, entry);
    return entry;
  };

  const resolveInOtherFile = (
    file: string,
    reference: ExtendsReference,
    chain: readonly ServiceRef[],
  ): LocatedValue | undefined => {
    if (context.loadingStack.includes(file)) return undefined;
    const { base, onward } = rebasedService(file, reference, chain[chain.length - 1]?.service ?? "");
    // Left unresolved by the other file's own pass because it points back at a file being
    // loaded (this one, typically): continue the chain here, where that file is at hand.
    if (onward === undefined) return base;
    const next = resolveReference(onward, [...chain, { file, service: reference.service }]);
    return next === undefined ? undefined : extendService(next, base, reference.service);
  };

  return (name) => resolveLocal(name, []);
}

/** The referenced service merged with the extending one (without its `extends` key). */
function extendService(base: LocatedValue, own: LocatedValue, name: string): Resolved {
  const ownValue = withoutExtends(own.value);
  if (base.value === null || base.value === undefined) {
    return { value: ownValue, origins: own.origins, path: own.path, merged: false };
  }
  const override: LocatedValue = { ...own, value: ownValue };
  const target = joinPath("services", name);
  const origins = deferredOrigins(() => {
    const merged = mergeServices(base, override, name);
    // The service itself is where the extending definition stands.
    const ownPosition = own.origins.get(own.path);
    if (ownPosition !== undefined) merged.origins.set(target, ownPosition);
    return merged.origins;
  });
  // Merging resolves every tag.
  return { value: mergeServiceValues(base, override, name), origins, path: target, merged: true, tagFree: true };
}

/** Keep `extends`, with its file made absolute, for the loader further up the stack. */
function deferred(own: LocatedValue, reference: ExtendsReference): Resolved {
  const service = own.value as Mapping;
  const extendsValue = { service: reference.service, ...(reference.file === undefined ? {} : { file: reference.file }) };
  return { value: { ...service, extends: extendsValue }, origins: own.origins, path: own.path, merged: false };
}

function withoutExtends(value: unknown): Mapping {
  if (!isMapping(value)) return {};
  const { extends: _extends, ...rest } = value;
  return rest;
}

/**
 * The document's origins with each rebuilt service's entries replaced by its merge result's.
 * A native copy, then per rebuilt service: drop the paths of its own definition (found by
 * walking that definition, not by scanning every origin) and lay the merge result's over them.
 */
function rebuildOrigins(document: ComposeDocument, rebuilt: ReadonlyMap<string, Resolved>): Map<string, SourcePosition> {
  const origins = new Map<string, SourcePosition>(document.origins);
  const services = isMapping(document.data["services"]) ? document.data["services"] : {};
  for (const [name, resolved] of rebuilt) {
    const servicePath = joinPath("services", name);
    forgetPaths(origins, services[name], servicePath);
    for (const [key, position] of resolved.origins) if (isUnder(key, servicePath)) origins.set(key, position);
  }
  return origins;
}

function forgetPaths(origins: Map<string, SourcePosition>, value: unknown, path: string): void {
  origins.delete(path);
  if (value instanceof TaggedValue) forgetPaths(origins, value.value, path);
  else if (Array.isArray(value)) value.forEach((item: unknown, index) => forgetPaths(origins, item, joinPath(path, index)));
  else if (isMapping(value)) for (const key of Object.keys(value)) forgetPaths(origins, value[key], joinPath(path, key));
}
