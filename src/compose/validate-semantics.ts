// Pass: the consistency checks compose-go runs on a loaded project (loader/validate.go
// checkConsistency, validation/validation.go, graph/cycle.go, types/project.go
// CheckContainerNameUnicity), worded as Compose words them, plus one Compose leaves to the
// engine: the same host address, port and protocol published twice. Runs after normalize, on
// the typed model; every problem is collected into one AggregateComposeError with positions.
// A dependency cycle is reported alone (E_COMPOSE_CYCLE) when it is the only problem.

import { AggregateComposeError, ComposeError, ErrorCode } from "../errors.js";
import type { Pass } from "./context.js";
import { bindProject } from "./bind.js";
import { isMapping, joinPath, positionOf, type ComposeDocument, type Mapping } from "./document.js";
import { replicasOf, type Project, type Service } from "./model.js";
import { projectToConfig } from "./serialize.js";

const invalid = "invalid compose project";

export const semanticsPass: Pass = {
  name: "validate-semantics",
  run(document, context) {
    const project = bindProject(document, context);
    const problems = semanticProblems(project, document);
    const cycle = dependencyCycle(project, document);
    if (cycle !== undefined) problems.push(cycle);
    const [first, ...others] = problems;
    if (first === undefined) return document;
    if (others.length === 0 && first.code === ErrorCode.composeCycle) throw first;
    throw new AggregateComposeError(ErrorCode.composeSemantic, problems);
  },
};

/** Every consistency problem of the project (the cycle check aside). */
export function semanticProblems(project: Project, document: ComposeDocument): ComposeError[] {
  const problems: ComposeError[] = [];
  const report = (path: string, message: string, code: string = ErrorCode.composeSemantic): void => {
    problems.push(new ComposeError(code, message, { path, position: positionOf(document.origins, path) }));
  };
  const containerNames = new Map<string, string>();
  for (const name of Object.keys(project.services).sort()) {
    const service = project.services[name];
    if (service !== undefined) checkService(project, service, joinPath("services", name), report, containerNames);
  }
  // The top-level resources as printed, without printing every service (document.data would).
  checkResources(projectToConfig({ ...project, services: {} }, { format: "yaml", allResources: true }), report);
  checkPublishedPorts(project, report);
  return problems;
}

type Report = (path: string, message: string, code?: string) => void;

const healthcheckTestKinds: readonly string[] = ["CMD", "CMD-SHELL", "NONE"];

function checkService(project: Project, service: Service, path: string, report: Report, containerNames: Map<string, string>): void {
  const name = service.name;
  if (service.build === undefined && service.image === undefined && service.provider === undefined) {
    report(path, `service ${JSON.stringify(name)} has neither an image nor a build context specified: ${invalid}`);
  }
  const build = service.build;
  if (build !== undefined) {
    const buildPath = joinPath(path, "build");
    if (build.dockerfile !== undefined && build.dockerfileInline !== undefined) {
      report(buildPath, `service ${JSON.stringify(name)} declares mutualy exclusive dockerfile and dockerfile_inline: ${invalid}`);
    }
    for (const [contextName, reference] of Object.entries(build.additionalContexts)) {
      if (!reference.startsWith("service:")) continue;
      const target = project.services[reference.slice("service:".length)];
      const at = joinPath(joinPath(buildPath, "additional_contexts"), contextName);
      if (target === undefined) report(at, `service ${JSON.stringify(name)} declares unknown service ${JSON.stringify(reference.slice(8))} as additional contexts ${contextName}`);
      else if (target.build === undefined) report(at, `service ${JSON.stringify(name)} declares non-buildable service ${JSON.stringify(target.name)} as additional contexts ${contextName}`);
    }
    if (build.platforms.length > 0 && service.platform !== undefined && !build.platforms.includes(service.platform)) {
      report(joinPath(path, "platform"), `service.build.platforms MUST include service.platform ${JSON.stringify(service.platform)}: ${invalid}`);
    }
    build.secrets.forEach((secret, index) => {
      if (!(secret.source in project.secrets)) {
        report(joinPath(joinPath(buildPath, "secrets"), index), `service ${JSON.stringify(name)} refers to undefined build secret ${secret.source}: ${invalid}`);
      }
    });
  }
  if (service.networkMode !== undefined && Object.keys(service.networks).length > 0) {
    report(joinPath(path, "network_mode"), `service ${name} declares mutually exclusive \`network_mode\` and \`networks\`: ${invalid}`);
  }
  // for-in over these plain mappings: no key list and no iterator per service.
  for (const network in service.networks) {
    if (!(network in project.networks)) {
      report(joinPath(joinPath(path, "networks"), network), `service ${JSON.stringify(name)} refers to undefined network ${network}: ${invalid}`);
    }
  }
  const test = service.healthcheck?.test;
  if (test !== undefined && test.length > 0 && !healthcheckTestKinds.includes(test[0] ?? "")) {
    report(joinPath(joinPath(path, "healthcheck"), "test"), `healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"`);
  }
  for (const dependency in service.dependsOn) {
    if (!(dependency in project.services)) {
      report(joinPath(joinPath(path, "depends_on"), dependency), `service ${JSON.stringify(name)} depends on undefined service ${JSON.stringify(dependency)}: ${invalid}`);
    }
  }
  service.volumes.forEach((mount, index) => {
    if (mount.type === "volume" && mount.source !== undefined && !(mount.source in project.volumes)) {
      report(joinPath(joinPath(path, "volumes"), index), `service ${JSON.stringify(name)} refers to undefined volume ${mount.source}: ${invalid}`);
    }
  });
  service.configs.forEach((config, index) => {
    if (!(config.source in project.configs)) {
      report(joinPath(joinPath(path, "configs"), index), `service ${JSON.stringify(name)} refers to undefined config ${config.source}: ${invalid}`);
    }
  });
  for (const model in service.models) {
    if (!(model in project.models)) report(joinPath(joinPath(path, "models"), model), `service ${JSON.stringify(name)} refers to undefined model ${model}: ${invalid}`);
  }
  service.secrets.forEach((secret, index) => {
    if (!(secret.source in project.secrets)) {
      report(joinPath(joinPath(path, "secrets"), index), `service ${JSON.stringify(name)} refers to undefined secret ${secret.source}: ${invalid}`);
    }
  });
  checkScale(service, path, report);
  checkResourceConflicts(service, path, report);
  if (service.containerName !== undefined) {
    if (replicasOf(service) > 1) {
      const attribute = service.scale === undefined ? "deploy.replicas" : "scale";
      report(joinPath(path, "container_name"), `services.${name}: can't set container_name and ${attribute} as container name must be unique: ${invalid}`);
    }
    const owner = containerNames.get(service.containerName);
    if (owner !== undefined) {
      report(joinPath(path, "container_name"), `services.${name}: container name ${JSON.stringify(service.containerName)} is already in use by service ${owner}`);
    } else containerNames.set(service.containerName, name);
  }
  service.develop?.watch.forEach((rule, index) => {
    if (rule.target === undefined && rule.action !== "rebuild" && rule.action !== "restart") {
      report(joinPath(joinPath(joinPath(path, "develop"), "watch"), index), `services.${name}.develop.watch: target is required for non-rebuild actions: ${invalid}`);
    }
  });
  // Locations are written out only for a report (this runs for every mount of every service):
  // a mount is kept as a number, its volumes index, or -1 - its tmpfs index.
  const mounted = new Map<string, number>();
  const locationOf = (mount: number): string =>
    mount < 0 ? joinPath(joinPath(path, "tmpfs"), -1 - mount) : joinPath(joinPath(path, "volumes"), mount);
  service.tmpfs.forEach((entry, index) => {
    const target = entry.split(":")[0] ?? entry;
    const previous = mounted.get(target);
    if (previous !== undefined) {
      const location = locationOf(-1 - index);
      report(location, `${location}: target ${target} already mounted as ${locationOf(previous)}`);
    }
    mounted.set(target, -1 - index);
  });
  service.volumes.forEach((mount, index) => {
    const previous = mounted.get(mount.target);
    if (previous !== undefined) {
      const location = locationOf(index);
      report(location, `${location}: target ${mount.target} already mounted as ${locationOf(previous)}`);
    }
    mounted.set(mount.target, index);
  });
}

function checkScale(service: Service, path: string, report: Report): void {
  const replicas = service.deploy?.replicas;
  if (service.scale !== undefined && replicas !== undefined && service.scale !== replicas) {
    report(joinPath(path, "scale"), `services.${service.name}: can't set distinct values on 'scale' and 'deploy.replicas': ${invalid}`);
  }
  if (service.scale !== undefined && service.scale < 0) report(joinPath(path, "scale"), `services.${service.name}.scale: must be greater than or equal to 0`);
  if (replicas !== undefined && replicas < 0) {
    report(joinPath(joinPath(path, "deploy"), "replicas"), `services.${service.name}.deploy.replicas: must be greater than or equal to 0`);
  }
}

function checkResourceConflicts(service: Service, path: string, report: Report): void {
  const limits = service.deploy?.resources.limits;
  const reservations = service.deploy?.resources.reservations;
  const conflict = (attribute: string, value: number | undefined, other: number | undefined, otherName: string): void => {
    if (value === undefined || other === undefined || value === other) return;
    report(joinPath(path, attribute), `services.${service.name}: can't set distinct values on '${attribute}' and '${otherName}': ${invalid}`);
  };
  conflict("cpus", service.cpus, limits === undefined ? undefined : (limits.cpus ?? 0), "deploy.resources.limits.cpus");
  conflict("mem_limit", service.memLimit, limits === undefined ? undefined : (limits.memory ?? 0), "deploy.resources.limits.memory");
  conflict("mem_reservation", service.memReservation, reservations === undefined ? undefined : (reservations.memory ?? 0), "deploy.resources.reservations.memory");
  conflict("pids_limit", service.pidsLimit, limits === undefined ? undefined : (limits.pids ?? 0), "deploy.resources.limits.pids");
}

/** Top-level secrets and configs take one source each; external volumes take no other attributes (validation/*.go). */
function checkResources(data: Mapping, report: Report): void {
  const volumes = data["volumes"];
  if (isMapping(volumes)) {
    for (const [key, volume] of Object.entries(volumes)) {
      if (!isMapping(volume) || volume["external"] !== true) continue;
      for (const attribute of Object.keys(volume)) {
        if (attribute === "name" || attribute === "external" || attribute.startsWith("x-")) continue;
        const path = joinPath("volumes", key);
        report(joinPath(path, attribute), `${path}: conflicting parameters "external" and ${JSON.stringify(attribute)} specified`);
      }
    }
  }
  const fileObjects: readonly [string, readonly string[]][] = [
    ["secrets", ["file", "environment"]],
    ["configs", ["file", "environment", "content"]],
  ];
  for (const [kind, sources] of fileObjects) {
    const resources = data[kind];
    if (!isMapping(resources)) continue;
    for (const [key, resource] of Object.entries(resources)) {
      if (!isMapping(resource)) continue;
      const path = joinPath(kind, key);
      const given = sources.filter((source) => source in resource);
      if (given.length > 1) report(path, `${path}: ${sources.join("|")} attributes are mutually exclusive`);
      else if (given.length === 0 && !("driver" in resource) && !("external" in resource)) {
        report(path, `${path}: one of ${sources.join("|")} must be set`);
      }
    }
  }
}

/** `0.0.0.0:8080/tcp`, as a clash report names a binding. */
function portDisplay(hostIp: string, published: string, protocol: string): string {
  return `${hostIp === "" ? "0.0.0.0" : hostIp}:${Number(published)}/${protocol}`;
}

/** The same host address, port and protocol published by two port entries (or by two replicas). */
function checkPublishedPorts(project: Project, report: Report): void {
  interface Binding {
    readonly hostIp: string;
    readonly index: number;
    readonly serviceName: string;
  }
  // Locations and messages are written out only for a report (this runs for every port).
  const locationOf = (serviceName: string, index: number): string => joinPath(joinPath(joinPath("services", serviceName), "ports"), index);
  const byPort = new Map<string, Binding[]>();
  for (const name of Object.keys(project.services).sort()) {
    const service = project.services[name];
    if (service === undefined) continue;
    service.ports.forEach((port, index) => {
      const published = port.published;
      if (published === undefined || !/^[0-9]+$/.test(published) || Number(published) === 0) return;
      const hostIp = port.hostIp ?? "";
      const key = `${Number(published)}/${port.protocol}`;
      if (replicasOf(service) > 1) {
        report(locationOf(name, index), `service ${JSON.stringify(name)} publishes ${portDisplay(hostIp, published, port.protocol)} from ${replicasOf(service)} replicas: only one container can bind it`);
      }
      let bindings = byPort.get(key);
      if (bindings === undefined) {
        bindings = [];
        byPort.set(key, bindings);
      }
      const clash = bindings.find((binding) => overlaps(binding.hostIp, hostIp));
      if (clash !== undefined) {
        const clashLocation = locationOf(clash.serviceName, clash.index);
        const owner = clash.serviceName === name ? clashLocation : `${clashLocation} (service ${JSON.stringify(clash.serviceName)})`;
        report(locationOf(name, index), `service ${JSON.stringify(name)} publishes ${portDisplay(hostIp, published, port.protocol)}, which ${owner} already publishes`);
      }
      bindings.push({ hostIp, index, serviceName: name });
    });
  }
}

const wildcards = new Set(["", "0.0.0.0", "::"]);

function overlaps(first: string, second: string): boolean {
  if (first === second) return true;
  if (!wildcards.has(first) && !wildcards.has(second)) return false;
  // A wildcard covers every address of its family ("" covers both).
  const family = (ip: string): string => (ip.includes(":") ? "6" : "4");
  if (first === "" || second === "") return true;
  if (wildcards.has(first) && wildcards.has(second)) return family(first) === family(second);
  return wildcards.has(first) ? family(first) === family(second) : family(second) === family(first);
}

/** The first depends_on cycle in name order (compose-go graph/cycle.go), as a ComposeError. */
export function dependencyCycle(project: Project, document: ComposeDocument): ComposeError | undefined {
  const names = Object.keys(project.services).sort();
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, "active");
    stack.push(name);
    const service = project.services[name];
    const children = Object.keys(service?.dependsOn ?? {})
      .filter((child) => child in project.services)
      .sort();
    for (const child of children) {
      const seen = state.get(child);
      if (seen === "active") return [...stack.slice(stack.indexOf(child)), child];
      if (seen === undefined) {
        const cycle = visit(child);
        if (cycle !== undefined) return cycle;
      }
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of names) {
    if (state.has(name)) continue;
    const cycle = visit(name);
    if (cycle === undefined) continue;
    const [from = "", to = ""] = cycle.slice(-2);
    const path = joinPath(joinPath(joinPath("services", from), "depends_on"), to);
    return new ComposeError(ErrorCode.composeCycle, `dependency cycle detected: ${cycle.join(" -> ")}`, {
      path,
      position: positionOf(document.origins, path),
    });
  }
  return undefined;
}
