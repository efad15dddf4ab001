// YAML printing as `docker compose config` lays it out. Its own module, so commands that
// print no YAML never load the yaml package.
import { stringify } from "yaml";

const layout = { indent: 2, indentSeq: true, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false } as const;

export function toYaml(value: unknown): string {
  return stringify(value, layout);
}
