// `berth config`: print the resolved model as `docker compose config` does.

import { readSync, writeFileSync } from "node:fs";
import { loadProject, projectToConfig, TaggedValue, type Mapping } from "../../compose/index.js";
import { BerthError, ErrorCode } from "../../errors.js";
import { loaderOptions, type GlobalOptions } from "../global-options.js";
import { printResult, printWarning } from "../output.js";

interface ConfigOptions {
  readonly format: "yaml" | "json";
  readonly quiet: boolean;
  readonly output?: string;
  readonly services: boolean;
  readonly volumes: boolean;
  readonly networks: boolean;
  readonly profiles: boolean;
  readonly images: boolean;
  readonly environment: boolean;
  readonly interpolate: boolean;
  readonly normalize: boolean;
  readonly consistency: boolean;
}

export async function runConfig(globals: GlobalOptions, serviceNames: readonly string[], raw: Record<string, unknown>): Promise<void> {
  const options = raw as unknown as ConfigOptions;
  const loaded = loadProject(
    loaderOptions(globals, {
      requestedServices: serviceNames,
      // --profiles lists the profiles of every service, enabled or not, as Compose does.
      ...(options.profiles ? { profiles: ["*"] } : {}),
      switches: { interpolate: options.interpolate, normalize: options.normalize, validate: options.consistency },
      readStdin: readStandardInput,
      warn: printWarning,
    }),
  );
  if (options.quiet) return;
  if (options.environment) {
    const lines = Object.keys(loaded.environment)
      .sort()
      .map((key) => `${key}=${loaded.environment[key] ?? ""}`);
    return emit(lines.join("\n"), options);
  }
  const config =
    loaded.project === undefined ? stripTags(loaded.document.data) : projectToConfig(loaded.project, { format: options.format });
  const selected = serviceNames.length === 0 ? config : selectServices(config, serviceNames);
  const list = listing(selected, options, loaded.name);
  if (list !== undefined) return emit(list.join("\n"), options);
  // The YAML printer loads only when YAML is printed (`config -q` and JSON never need it).
  const text =
    options.format === "json" ? JSON.stringify(selected, null, 2) : (await import("../yaml-output.js")).toYaml(selected);
  // Compose escapes every `$` of interpolated output, so the printed file reads back unchanged.
  await emit(options.interpolate ? text.replaceAll("$", "$$$$") : text, options);
}

function listing(config: Mapping, options: ConfigOptions, projectName: string): string[] | undefined {
  const services = asMapping(config["services"]);
  if (options.services) return Object.keys(services);
  if (options.volumes) return Object.keys(asMapping(config["volumes"]));
  if (options.networks) return Object.keys(asMapping(config["networks"]));
  if (options.profiles) {
    const profiles = new Set<string>();
    for (const service of Object.values(services)) {
      for (const profile of asList(asMapping(service)["profiles"])) profiles.add(String(profile));
    }
    return [...profiles].sort();
  }
  if (options.images) {
    return Object.entries(services).map(([name, service]) => {
      const image = asMapping(service)["image"];
      return typeof image === "string" ? image : `${projectName}-${name}`;
    });
  }
  return undefined;
}

/** The named services and everything they depend on, as `docker compose config SERVICE…` prints. */
function selectServices(config: Mapping, names: readonly string[]): Mapping {
  const services = asMapping(config["services"]);
  const keep = new Set<string>();
  const visit = (name: string): void => {
    if (keep.has(name)) return;
    if (!(name in services)) throw new BerthError(ErrorCode.composeNoSuchService, `no such service: ${name}`);
    keep.add(name);
    for (const dependency of Object.keys(asMapping(asMapping(services[name])["depends_on"]))) visit(dependency);
  };
  for (const name of names) visit(name);
  const selected: Mapping = {};
  for (const [name, service] of Object.entries(services)) if (keep.has(name)) selected[name] = service;
  return { ...config, services: selected };
}

function stripTags(value: unknown): Mapping {
  const strip = (node: unknown): unknown => {
    if (node instanceof TaggedValue) return strip(node.value);
    if (Array.isArray(node)) return node.map(strip);
    if (typeof node === "object" && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, strip(child)]));
    }
    return node;
  };
  return strip(value) as Mapping;
}

function asMapping(value: unknown): Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Mapping) : {};
}

function asList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

async function emit(text: string, options: ConfigOptions): Promise<void> {
  if (options.output === undefined) return printResult(text);
  writeFileSync(options.output, text.endsWith("\n") ? text : `${text}\n`);
}

function readStandardInput(): string {
  // Synchronous on purpose: the loader is synchronous, and stdin here is a file or pipe.
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(65536);
  const fd = 0;
  for (;;) {
    let bytes: number;
    try {
      bytes = readSync(fd, buffer);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      if ((error as NodeJS.ErrnoException).code === "EOF") break;
      throw error;
    }
    if (bytes === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, bytes)));
  }
  return Buffer.concat(chunks).toString("utf8");
}
