// The loader's entry point: discovery → environment → parse → per-file passes → merge
// → project passes → bind. Pass order lives in pipeline.ts; this file only wires them.

import path from "node:path";
import { ComposeError, ErrorCode } from "../errors.js";
import { bindProject } from "./bind.js";
import type { Environment, FileReader, LoadContext, SubLoadRequest } from "./context.js";
import { discoverComposeFiles, stdinFile } from "./discovery.js";
import { passTagFree, type ComposeDocument } from "./document.js";
import { resolveEnvironment } from "./environment.js";
import { diskFileReader } from "./file-reader.js";
import { interpolateTemplate } from "./interpolate.js";
import { mergeDocuments } from "./merge.js";
import type { Project } from "./model.js";
import { parseComposeYaml } from "./parse-yaml.js";
import { defaultSwitches, perFilePasses, projectPasses, runPasses, selectPasses, type PipelineSwitches } from "./pipeline.js";
import { resolveProjectName } from "./project-name.js";

export interface LoadOptions {
  readonly workingDirectory: string;
  /** -f values in order (empty: discover). `-` reads `stdin`. */
  readonly files?: readonly string[];
  readonly projectName?: string | undefined;
  readonly projectDirectory?: string | undefined;
  /** --env-file values; undefined: the default `.env`. */
  readonly envFiles?: readonly string[] | undefined;
  readonly profiles?: readonly string[];
  readonly requestedServices?: readonly string[];
  readonly osEnvironment: Readonly<Record<string, string | undefined>>;
  readonly switches?: PipelineSwitches;
  readonly readStdin?: () => string;
  readonly fileReader?: FileReader;
  readonly warn?: (message: string) => void;
}

export interface LoadedProject {
  readonly name: string;
  readonly projectDirectory: string;
  readonly configFiles: readonly string[];
  readonly environment: Environment;
  /** The document after every selected pass (what --no-normalize prints). */
  readonly document: ComposeDocument;
  /** The typed model; undefined when normalization was switched off. */
  readonly project: Project | undefined;
}

const stdinName = "<stdin>";

export function loadProject(options: LoadOptions): LoadedProject {
  const files = options.fileReader ?? diskFileReader;
  const switches = options.switches ?? defaultSwitches;
  const warnings = new Set<string>();
  const warn = (message: string): void => {
    if (warnings.has(message)) return;
    warnings.add(message);
    options.warn?.(message);
  };
  const workingDirectory = path.resolve(options.workingDirectory);
  const explicitDirectory =
    options.projectDirectory === undefined ? undefined : path.resolve(workingDirectory, options.projectDirectory);
  const firstExplicit = (options.files ?? []).find((file) => file !== stdinFile);
  const envFiles = options.envFiles?.map((file) => path.resolve(workingDirectory, file));

  // COMPOSE_* variables may come from .env, so read it once before discovery (as Compose does).
  const preliminaryDirectory =
    explicitDirectory ?? (firstExplicit === undefined ? workingDirectory : path.dirname(path.resolve(workingDirectory, firstExplicit)));
  const environmentFor = (projectDirectory: string): Environment =>
    resolveEnvironment({ projectDirectory, workingDirectory, envFiles, osEnvironment: options.osEnvironment, files, warn });
  const preliminaryEnvironment = environmentFor(preliminaryDirectory);

  const configFiles = discoverComposeFiles({
    workingDirectory,
    searchDirectory: explicitDirectory,
    explicitFiles: options.files ?? [],
    composeFileVariable: preliminaryEnvironment["COMPOSE_FILE"],
    pathSeparator: preliminaryEnvironment["COMPOSE_PATH_SEPARATOR"],
    files,
    warn,
  });
  const firstFile = configFiles.find((file) => file !== stdinFile);
  const projectDirectory = explicitDirectory ?? (firstFile === undefined ? workingDirectory : path.dirname(firstFile));
  const environment = projectDirectory === preliminaryDirectory ? preliminaryEnvironment : environmentFor(projectDirectory);

  let stdinText: string | undefined;
  const readSource = (file: string): { name: string; text: string } => {
    if (file !== stdinFile) return { name: file, text: files.readText(file) };
    stdinText ??= options.readStdin?.() ?? "";
    return { name: stdinName, text: stdinText };
  };

  const parsed = configFiles.map((file) => {
    const source = readSource(file);
    return withoutObsoleteVersion(parseComposeYaml(source.name, source.text), warn);
  });
  const fromFile = nameFromFiles(parsed, environment, switches, warn);
  const projectName = resolveProjectName({
    flag: options.projectName,
    variable: environment["COMPOSE_PROJECT_NAME"],
    fromFile,
    projectDirectory,
  });
  const interpolationEnvironment: Environment = { ...environment, COMPOSE_PROJECT_NAME: projectName };
  const filePasses = selectPasses(perFilePasses, switches);

  const makeContext = (request: SubLoadRequest, stack: readonly string[]): LoadContext => {
    const context: LoadContext = {
      projectName,
      projectDirectory: request.projectDirectory,
      environment: request.environment,
      homeDirectory: options.osEnvironment["HOME"] ?? "/root",
      profiles: options.profiles ?? splitList(environment["COMPOSE_PROFILES"]),
      requestedServices: options.requestedServices ?? [],
      files,
      warn,
      loadingStack: stack,
      loadDocuments(subRequest) {
        for (const file of subRequest.files) {
          if (stack.includes(file)) {
            throw new ComposeError(ErrorCode.composeInclude, `include cycle: ${[...stack, file].join(" -> ")}`, { file });
          }
        }
        const documents = subRequest.files.map((file) => {
          const childContext = makeContext(subRequest, [...stack, file]);
          return runPasses(filePasses, withoutObsoleteVersion(parseComposeYaml(file, files.readText(file)), warn), childContext);
        });
        return mergeDocuments(documents);
      },
    };
    return context;
  };

  const rootRequest: SubLoadRequest = { files: configFiles, projectDirectory, environment: interpolationEnvironment };
  const documents = parsed.map((document, index) =>
    runPasses(filePasses, document, makeContext(rootRequest, [configFiles[index] ?? document.file])),
  );
  const merged = mergeDocuments(documents);
  const named: ComposeDocument = { ...merged, data: passTagFree(merged.data, { name: projectName, ...withoutKey(merged.data, "name") }) };
  const context = makeContext(rootRequest, configFiles);
  const document = runPasses(selectPasses(projectPasses, switches), named, context);
  const project = switches.normalize ? bindProject(document, context) : undefined;
  return {
    name: projectName,
    projectDirectory,
    configFiles: configFiles.map((file) => (file === stdinFile ? stdinName : file)),
    environment: interpolationEnvironment,
    document,
    project,
  };
}

/** The top-level `name:` of the last file that sets one, interpolated on its own. */
function nameFromFiles(
  documents: readonly ComposeDocument[],
  environment: Environment,
  switches: PipelineSwitches,
  warn: (message: string) => void,
): string | undefined {
  let raw: unknown;
  let source: ComposeDocument | undefined;
  for (const document of documents) {
    if (document.data["name"] !== undefined) {
      raw = document.data["name"];
      source = document;
    }
  }
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "string") return String(raw);
  if (!switches.interpolate) return raw;
  return interpolateTemplate(raw, environment, { warn, path: "name", locate: () => source?.origins.get("name") });
}

/** `version:` is informative only since Compose v2: warn as Compose does, then drop it. */
function withoutObsoleteVersion(document: ComposeDocument, warn: (message: string) => void): ComposeDocument {
  if (!("version" in document.data)) return document;
  warn(
    `${document.file}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`,
  );
  return { ...document, data: passTagFree(document.data, withoutKey(document.data, "version")) };
}

function withoutKey(data: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = data;
  return rest;
}

function splitList(value: string | undefined): readonly string[] {
  if (value === undefined || value === "") return [];
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}
