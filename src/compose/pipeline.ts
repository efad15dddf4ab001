// The loader's order, written once, as data (compose-go's processRawYaml, as a list).
// CLI switches remove passes from these lists rather than adding ifs inside passes.

import type { Pass } from "./context.js";
import { extendsPass } from "./extends.js";
import { includePass } from "./include.js";
import { interpolatePass } from "./interpolate.js";
import { normalizePass } from "./normalize.js";
import { profilesPass } from "./profiles.js";
import { resetTagsPass } from "./merge.js";
import { schemaPass } from "./validate-schema.js";
import { semanticsPass } from "./validate-semantics.js";

/** Run on each file on its own, before files are merged. */
export const perFilePasses: readonly Pass[] = [interpolatePass, includePass, extendsPass];

/** Run once on the merged document. */
export const projectPasses: readonly Pass[] = [resetTagsPass, schemaPass, profilesPass, normalizePass, semanticsPass];

export interface PipelineSwitches {
  readonly interpolate: boolean;
  readonly normalize: boolean;
  readonly validate: boolean;
}

export const defaultSwitches: PipelineSwitches = { interpolate: true, normalize: true, validate: true };

const removedBy: Record<keyof PipelineSwitches, readonly string[]> = {
  interpolate: [interpolatePass.name],
  normalize: [normalizePass.name, semanticsPass.name],
  validate: [schemaPass.name, semanticsPass.name],
};

export function selectPasses(passes: readonly Pass[], switches: PipelineSwitches): readonly Pass[] {
  const removed = new Set<string>();
  for (const key of Object.keys(removedBy) as (keyof PipelineSwitches)[]) {
    if (!switches[key]) for (const name of removedBy[key]) removed.add(name);
  }
  return passes.filter((pass) => !removed.has(pass.name));
}

export function runPasses(
  passes: readonly Pass[],
  document: Parameters<Pass["run"]>[0],
  context: Parameters<Pass["run"]>[1],
): ReturnType<Pass["run"]> {
  let current = document;
  for (const pass of passes) current = pass.run(current, context);
  return current;
}
