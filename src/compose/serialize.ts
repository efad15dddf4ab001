// PLACEHOLDER: owned by a helper; Project → the shape `docker compose config` prints.
import type { Mapping } from "./document.js";
import type { Project } from "./model.js";

export function projectToConfig(project: Project): Mapping {
  return { name: project.name, services: project.services };
}
