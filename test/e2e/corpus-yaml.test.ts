// `berth config` (YAML, the default format) must print the same model as `berth config --format json`
// for every file of the awesome-compose corpus, as Docker Compose v2 does, with the exceptions Compose
// itself has. Compose renders both formats from the same types.Project (compose-go v2.9.1
// types/project.go MarshalYAML / MarshalJSON; docker/compose v2.40.3 cmd/compose/config.go applies
// escapeDollarSign to both), but the two encoders disagree on empty values:
// - ServiceConfig `command` / `entrypoint` are `json:"…"` without omitempty but `yaml:",omitempty"`
//   with ShellCommand.IsZero (types/command.go): JSON prints `null`, YAML omits them.
// - Struct-valued fields (NetworkConfig.Ipam, DeployConfig.Resources, DeployConfig.Placement) are
//   never omitted by encoding/json but are omitted by yaml.v3's omitempty when all their fields are
//   zero: JSON prints `{}`, YAML omits them (loader/full-struct_test.go: fullExampleJSON has
//   `"ipam": {}` where fullExampleYAML has nothing).
// Everything else (quoted `published: "8080"`, `networks: {default: null}`, `volume: {}`,
// `required: true`, `$$`) is the same value in both. The YAML document starts with `name:` (the first
// field of types.Project), in block style.

import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { corpusExamples, runConfig, useCorpusScratch } from "./corpus-fixture.js";
import { withoutJsonOnlyValues, type Json } from "./run-berth.js";

const examples = corpusExamples();
const copyExample = useCorpusScratch("corpus-yaml");

function berthConfig(projectDirectory: string, args: readonly string[]): string {
  const result = runConfig(projectDirectory, args);
  expect(result.status, `berth config ${args.join(" ")} exit status; stderr:\n${result.stderr}`).toBe(0);
  return result.stdout;
}

describe("berth config prints the same model as YAML and as JSON", () => {
  it("finds the corpus", () => {
    expect(examples).toHaveLength(39);
  });

  for (const example of examples) {
    it(`for ${example}`, () => {
      const projectDirectory = copyExample(example);
      const fromJson = JSON.parse(berthConfig(projectDirectory, ["--format", "json"])) as Json;
      const yamlText = berthConfig(projectDirectory, []);
      // YAML block style as yaml.v3 writes it, with the project name first (not JSON, which also parses as YAML).
      expect(yamlText).toMatch(/^name: /);
      const fromYaml = parse(yamlText) as Json;
      expect(fromYaml).toEqual(withoutJsonOnlyValues(fromJson));
    });
  }
});
