// Shared by the normalize, serialize and validate-semantics tests: a hand-made LoadContext
// over in-memory files, and one-liners that run the normalize pass on YAML text.

import { AggregateComposeError, ComposeError } from "../../../src/errors.js";
import type { Environment, FileReader, LoadContext } from "../../../src/compose/context.js";
import { isMapping, type ComposeDocument, type Mapping } from "../../../src/compose/document.js";
import { normalizePass } from "../../../src/compose/normalize.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";

export const projectDirectory = "/project";
export const composeFile = "/project/compose.yaml";

import { memoryFiles } from "./memory-files.js";

export { memoryFiles };

export interface ContextOptions {
  readonly environment?: Environment;
  readonly files?: Readonly<Record<string, string>>;
  readonly warnings?: string[];
  readonly projectName?: string;
}

export function testContext(options: ContextOptions = {}): LoadContext {
  return {
    projectName: options.projectName ?? "demo",
    projectDirectory,
    environment: options.environment ?? {},
    homeDirectory: "/home/user",
    profiles: [],
    requestedServices: [],
    files: memoryFiles(options.files ?? {}),
    warn: (message) => options.warnings?.push(message),
    loadDocuments: () => {
      throw new Error("loadDocuments must not be called by these passes");
    },
    loadingStack: [composeFile],
  };
}

/** Parse YAML as the loader does and put the project name in, as load.ts does before the project passes. */
export function parse(text: string, projectName = "demo"): ComposeDocument {
  const document = parseComposeYaml(composeFile, text);
  return { ...document, data: { name: projectName, ...document.data } };
}

export function normalize(text: string, options: ContextOptions = {}): ComposeDocument {
  return normalizePass.run(parse(text, options.projectName), testContext(options));
}

export function normalized(text: string, options: ContextOptions = {}): Mapping {
  return normalize(text, options).data;
}

/** The normalized service `name`. */
export function serviceOf(data: Mapping, name = "web"): Mapping {
  const services = data["services"];
  if (!isMapping(services)) throw new Error("no services");
  const service = services[name];
  if (!isMapping(service)) throw new Error(`no service ${name}`);
  return service;
}

/** The error a function throws (ComposeError or AggregateComposeError). */
export function thrown(run: () => unknown): ComposeError | AggregateComposeError {
  try {
    run();
  } catch (error) {
    if (error instanceof ComposeError || error instanceof AggregateComposeError) return error;
    throw error;
  }
  throw new Error("expected an error");
}

export function normalizeFailure(text: string, options: ContextOptions = {}): ComposeError {
  const error = thrown(() => normalize(text, options));
  if (!(error instanceof ComposeError)) throw new Error(`expected one ComposeError, got ${error.message}`);
  return error;
}

/** YAML lines joined with newlines, so tests can count lines. */
export function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}
