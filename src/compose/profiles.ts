// Pass: profiles. A service with `profiles:` is active only when one of them is enabled
// (`*` enables all); services without profiles always are. A service named on the command
// line enables all of its profiles, so services sharing one come along (compose-go's
// Project.WithProfiles then WithServicesEnabled). Inactive services are removed. An active
// service that requires an inactive one is an error, as compose-go's checkConsistency
// reports it; an optional dependency (`required: false`) on one is dropped.

import { AggregateComposeError, ComposeError, ErrorCode } from "../errors.js";
import type { Pass } from "./context.js";
import { deferredOrigins, isMapping, isUnder, joinPath, positionOf, type Mapping } from "./document.js";
import { serviceNameOf } from "./paths.js";

export function profilesOf(service: unknown): readonly string[] {
  if (!isMapping(service)) return [];
  const profiles = service["profiles"];
  if (typeof profiles === "string") return [profiles];
  if (!Array.isArray(profiles)) return [];
  return profiles.filter((profile): profile is string => typeof profile === "string");
}

function isActive(service: unknown, enabled: ReadonlySet<string>): boolean {
  const profiles = profilesOf(service);
  return profiles.length === 0 || enabled.has("*") || profiles.some((profile) => enabled.has(profile));
}

/** The enabled profiles plus those of every requested service they leave inactive. */
export function effectiveProfiles(
  services: Mapping,
  profiles: readonly string[],
  requestedServices: readonly string[],
): ReadonlySet<string> {
  const enabled = new Set(profiles);
  const base = new Set(profiles);
  for (const name of requestedServices) {
    const service = services[name];
    if (!Object.hasOwn(services, name) || isActive(service, base)) continue;
    for (const profile of profilesOf(service)) enabled.add(profile);
  }
  return enabled;
}

export const profilesPass: Pass = {
  name: "profiles",
  run(document, context) {
    const services = document.data["services"];
    if (!isMapping(services)) return document;
    const enabled = effectiveProfiles(services, context.profiles, context.requestedServices);
    const inactive = new Set(Object.keys(services).filter((name) => !isActive(services[name], enabled)));
    if (inactive.size === 0) return document;

    const problems: ComposeError[] = [];
    const droppedPaths: string[] = [];
    const problem = (name: string, dependency: string, at: string): void => {
      const profiles = profilesOf(services[dependency]);
      problems.push(
        new ComposeError(
          ErrorCode.composeSemantic,
          `service "${name}" depends on service "${dependency}", which is disabled by the active profiles`,
          {
            position: positionOf(document.origins, at),
            path: at,
            hint: `"${dependency}" has profiles ${profiles.join(", ")}: enable one (--profile or COMPOSE_PROFILES) or name "${dependency}" on the command line`,
          },
        ),
      );
    };

    const active: Mapping = {};
    for (const name of Object.keys(services)) {
      if (inactive.has(name)) continue;
      const service = services[name];
      if (!isMapping(service)) {
        active[name] = service;
        continue;
      }
      const servicePath = joinPath("services", name);
      let result: Mapping = service;
      const dependsOn = service["depends_on"];
      const dependsOnPath = joinPath(servicePath, "depends_on");
      if (Array.isArray(dependsOn)) {
        dependsOn.forEach((dependency, index) => {
          if (typeof dependency === "string" && inactive.has(dependency)) problem(name, dependency, joinPath(dependsOnPath, index));
        });
      } else if (isMapping(dependsOn)) {
        let kept: Mapping | undefined;
        for (const [dependency, options] of Object.entries(dependsOn)) {
          if (!inactive.has(dependency)) continue;
          const required = isMapping(options) ? options["required"] : undefined;
          const dependencyPath = joinPath(dependsOnPath, dependency);
          if (required === false || required === "false") {
            kept ??= { ...dependsOn };
            delete kept[dependency];
            droppedPaths.push(dependencyPath);
          } else {
            problem(name, dependency, dependencyPath);
          }
        }
        if (kept !== undefined) result = { ...service, depends_on: kept };
      }
      const networkMode = service["network_mode"];
      if (typeof networkMode === "string" && networkMode.startsWith("service:")) {
        const dependency = networkMode.slice("service:".length);
        if (inactive.has(dependency)) problem(name, dependency, joinPath(servicePath, "network_mode"));
      }
      active[name] = result;
    }
    const [first, ...others] = problems;
    if (first !== undefined) throw others.length === 0 ? first : new AggregateComposeError(ErrorCode.composeSemantic, problems);

    const origins = deferredOrigins(() => {
      const kept = new Map(document.origins);
      for (const key of document.origins.keys()) {
        const name = serviceNameOf(key);
        if (name === undefined) continue;
        if (inactive.has(name) || droppedPaths.some((dropped) => isUnder(key, dropped))) kept.delete(key);
      }
      return kept;
    });
    return { file: document.file, data: { ...document.data, services: active }, origins };
  },
};
