// Project name: -p > COMPOSE_PROJECT_NAME > top-level `name:` > the project directory's basename.

import path from "node:path";
import { ComposeError, ErrorCode } from "../errors.js";

const validName = /^[a-z0-9][a-z0-9_-]*$/;

/** Docker Compose's normalisation of a derived name: lower-case, only [a-z0-9_-], no leading - or _. */
export function normalizeProjectName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/^[-_]+/, "");
}

export function checkProjectName(name: string, origin: string): string {
  if (name === "") throw new ComposeError(ErrorCode.composeProjectName, "project name must not be empty");
  if (!validName.test(name)) {
    throw new ComposeError(
      ErrorCode.composeProjectName,
      `invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
      { hint: `the name came from ${origin}` },
    );
  }
  return name;
}

export interface ProjectNameSources {
  readonly flag: string | undefined;
  readonly variable: string | undefined;
  readonly fromFile: string | undefined;
  readonly projectDirectory: string;
}

export function resolveProjectName(sources: ProjectNameSources): string {
  if (sources.flag !== undefined && sources.flag !== "") return checkProjectName(sources.flag, "-p/--project-name");
  if (sources.variable !== undefined && sources.variable !== "") {
    return checkProjectName(sources.variable, "COMPOSE_PROJECT_NAME");
  }
  if (sources.fromFile !== undefined && sources.fromFile !== "") return checkProjectName(sources.fromFile, "the top-level name:");
  return checkProjectName(normalizeProjectName(path.basename(sources.projectDirectory)), "the project directory's name");
}
