// The normalize pass: the merged document → Compose's canonical long syntax, exactly as
// `docker compose config` prints it. Steps, in compose-go's order:
//   1. canonical forms (transform/canonical.go): the `canonicalRows` table below;
//   2. defaults (transform/defaults.go): the `defaultRows` table below;
//   3. relative paths (paths/resolve.go): resolveRelativePaths from paths.ts;
//   4. per service (loader/normalize.go, loader/environment.go, types/project.go): environment
//      and env files, labels and label files, build args, implied depends_on;
//   5. the implicit default network and resource names (loader/normalize.go);
//   6. bind to the typed model and print it back (types/*.go): value syntaxes are parsed
//      (durations, sizes, command lines) and every omitempty rule applied, so the document
//      this pass returns is the `config` output and binds to the same Project again.
// Origins follow moved values (a port range expanded into entries, a list turned into a map).

import type { LoadContext, Pass } from "./context.js";
import { deferredOrigins, isMapping, joinPath, type ComposeDocument, type Mapping } from "./document.js";
import { bindProject, rememberBinding } from "./bind.js";
import { canonicalDependsOn, withImpliedDependencies } from "./normalize-depends-on.js";
import { canonicalEnvFile, resolveServiceEnvironment } from "./normalize-environment.js";
import { canonicalResource, listToNullMap, withDefaultNetwork, withResourceNames } from "./normalize-networks.js";
import { canonicalPorts, portDefaults } from "./normalize-ports.js";
import {
  buildDefaults,
  canonicalBuild,
  canonicalDevice,
  canonicalDns,
  canonicalExtends,
  canonicalFileReference,
  canonicalGpus,
  canonicalKeyValue,
  canonicalPullPolicy,
  canonicalSsh,
  canonicalUlimit,
  deviceRequestDefaults,
  secretTargetDefault,
  stringOrScalar,
  stringToList,
} from "./normalize-service.js";
import { normalizeError, OriginsLog, RuleTable, type NormalizeScope, type RuleRow } from "./normalize-tree.js";
import { canonicalVolume } from "./normalize-volumes.js";
import { resolveRelativePaths } from "./paths.js";
import { projectToConfig } from "./serialize.js";

/** Short syntax → long syntax (compose-go transform/canonical.go). */
export const canonicalRows: readonly RuleRow[] = [
  ["services.*.build", canonicalBuild],
  ["services.*.build.secrets.*", canonicalFileReference],
  ["services.*.build.provenance", stringOrScalar],
  ["services.*.build.sbom", stringOrScalar],
  ["services.*.build.additional_contexts", canonicalKeyValue],
  ["services.*.build.ssh", canonicalSsh],
  ["services.*.build.ulimits.*", canonicalUlimit],
  ["services.*.depends_on", canonicalDependsOn],
  ["services.*.env_file", canonicalEnvFile],
  ["services.*.label_file", stringToList],
  ["services.*.extends", canonicalExtends],
  ["services.*.gpus", canonicalGpus],
  ["services.*.networks", listToNullMap],
  ["services.*.models", listToNullMap],
  ["services.*.volumes.*", canonicalVolume],
  ["services.*.dns", canonicalDns],
  ["services.*.devices.*", canonicalDevice],
  ["services.*.secrets.*", canonicalFileReference],
  ["services.*.configs.*", canonicalFileReference],
  ["services.*.ports", canonicalPorts],
  ["services.*.ulimits.*", canonicalUlimit],
  ["services.*.pull_policy", canonicalPullPolicy],
  ["services.*.develop.watch.*.ignore", stringToList],
  ["services.*.develop.watch.*.include", stringToList],
  ["networks.*", canonicalResource],
  ["volumes.*", canonicalResource],
  ["secrets.*", canonicalResource],
  ["configs.*", canonicalResource],
];

/** Implicit values (compose-go transform/defaults.go, and the Dockerfile default of loader/normalize.go). */
export const defaultRows: readonly RuleRow[] = [
  ["services.*.build", buildDefaults],
  ["services.*.secrets.*", secretTargetDefault],
  ["services.*.ports.*", portDefaults],
  ["services.*.deploy.resources.reservations.devices.*", deviceRequestDefaults],
  ["services.*.gpus.*", deviceRequestDefaults],
];

const canonicalTable = new RuleTable(canonicalRows);
const defaultTable = new RuleTable(defaultRows);

export const normalizePass: Pass = {
  name: "normalize",
  run(document, context) {
    const scope: NormalizeScope = { context, origins: new OriginsLog(document.origins) };
    let data = canonicalTable.apply(document.data, scope);
    data = defaultTable.apply(data, scope);
    data = resolveRelativePaths(data, context.projectDirectory, context.homeDirectory);
    data = normalizeServices(data, scope);
    data = withDefaultNetwork(data);
    data = withResourceNames(data, projectNameOf(data, context));
    const origins = deferredOrigins(() => scope.origins.current());
    const intermediate: ComposeDocument = { file: document.file, data, origins };
    const project = bindProject(intermediate, context);
    // The document's data is the printed model (it binds to the same project; the round-trip
    // tests hold it to that). It is printed only when read: `config -q` and later stages use the
    // bound project, and printing 1,000 services costs tens of milliseconds.
    let printed: Mapping | undefined;
    const normalized: ComposeDocument = {
      file: document.file,
      origins,
      get data(): Mapping {
        if (printed === undefined) {
          printed = projectToConfig(project, { format: "yaml", allResources: true });
          rememberBinding(printed, context, project);
        }
        return printed;
      },
    };
    rememberBinding(normalized, context, project);
    return normalized;
  },
};

function normalizeServices(data: Mapping, scope: NormalizeScope): Mapping {
  const services = data["services"];
  if (services === undefined || services === null) return data;
  if (!isMapping(services)) throw normalizeError(scope, "services", "services must be a mapping");
  const result: Mapping = {};
  for (const name in services) {
    const service = services[name];
    const path = joinPath("services", name);
    const body = service ?? {};
    if (!isMapping(body)) throw normalizeError(scope, path, `service ${name} must be a mapping`);
    result[name] = withImpliedDependencies(resolveServiceEnvironment(body, path, scope), path, scope);
  }
  return { ...data, services: result };
}

function projectNameOf(data: Mapping, context: LoadContext): string {
  const name = data["name"];
  return typeof name === "string" && name !== "" ? name : context.projectName;
}
