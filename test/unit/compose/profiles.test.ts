import { describe, expect, it } from "vitest";
import { AggregateComposeError, ComposeError, ErrorCode } from "../../../src/errors.js";
import type { FileReader } from "../../../src/compose/context.js";
import { isMapping, type Mapping } from "../../../src/compose/document.js";
import { loadProject, type LoadedProject } from "../../../src/compose/load.js";

function singleFile(text: string): FileReader {
  return {
    readText(file) {
      if (file === "/p/compose.yaml") return text;
      throw new ComposeError(ErrorCode.composeIo, `open ${file}: no such file or directory`, { file });
    },
    exists: (file) => file === "/p/compose.yaml" || file === "/p" || file === "/",
    isDirectory: (file) => file === "/p" || file === "/",
  };
}

interface Selection {
  readonly profiles?: readonly string[];
  readonly requestedServices?: readonly string[];
  readonly osEnvironment?: Record<string, string>;
}

function load(text: string, selection: Selection = {}): LoadedProject {
  return loadProject({
    workingDirectory: "/p",
    files: ["/p/compose.yaml"],
    osEnvironment: selection.osEnvironment ?? {},
    fileReader: singleFile(text),
    switches: { interpolate: true, normalize: false, validate: false },
    ...(selection.profiles === undefined ? {} : { profiles: selection.profiles }),
    ...(selection.requestedServices === undefined ? {} : { requestedServices: selection.requestedServices }),
  });
}

function serviceNames(text: string, selection: Selection = {}): string[] {
  const services = load(text, selection).document.data["services"];
  if (!isMapping(services)) throw new Error("no services");
  return Object.keys(services).sort();
}

function loadError(text: string, selection: Selection = {}): unknown {
  try {
    load(text, selection);
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

// The Compose Specification's illustrative example (15-profiles.md).
const example = [
  "services:", // 1
  "  foo:", // 2
  "    image: foo", // 3
  "  bar:", // 4
  "    image: bar", // 5
  "    profiles: [test]", // 6
  "  baz:", // 7
  "    image: baz", // 8
  "    depends_on: [bar]", // 9
  "    profiles: [test]", // 10
  "  zot:", // 11
  "    image: zot", // 12
  "    depends_on:", // 13
  "      - bar", // 14
  "    profiles: [debug]", // 15
].join("\n");

describe("profiles", () => {
  it("keeps only services without profiles when none is enabled", () => {
    expect(serviceNames(example)).toEqual(["foo"]);
  });

  it("enables services that list an enabled profile", () => {
    expect(serviceNames(example, { profiles: ["test"] })).toEqual(["bar", "baz", "foo"]);
    expect(serviceNames(example, { profiles: ["debug", "test"] })).toEqual(["bar", "baz", "foo", "zot"]);
  });

  it("enables everything with *", () => {
    expect(serviceNames(example, { profiles: ["*"] })).toEqual(["bar", "baz", "foo", "zot"]);
  });

  it("reads COMPOSE_PROFILES when no profile is given", () => {
    expect(serviceNames(example, { osEnvironment: { COMPOSE_PROFILES: "test" } })).toEqual(["bar", "baz", "foo"]);
  });

  it("lets a requested service enable its profiles, and so the services sharing them", () => {
    expect(serviceNames(example, { requestedServices: ["bar"] })).toEqual(["bar", "baz", "foo"]);
    expect(serviceNames(example, { requestedServices: ["baz"] })).toEqual(["bar", "baz", "foo"]);
    expect(serviceNames(example, { requestedServices: ["zot"], profiles: ["test"] })).toEqual(["bar", "baz", "foo", "zot"]);
  });

  it("drops the origins of disabled services", () => {
    const { origins } = load(example).document;
    expect(origins.has("services.foo.image")).toBe(true);
    expect([...origins.keys()].filter((key) => /^services\.(bar|baz|zot)/.test(key))).toEqual([]);
  });

  it("drops an optional dependency on a disabled service", () => {
    const project = load(
      "services:\n  web:\n    image: web\n    depends_on:\n      debug:\n        condition: service_started\n        required: false\n  debug:\n    image: d\n    profiles: [debug]\n",
    );
    expect(project.document.data["services"]).toEqual({ web: { image: "web", depends_on: {} } });
    expect(project.document.origins.has("services.web.depends_on.debug")).toBe(false);
  });
});

describe("profiles errors", () => {
  it("reports a service requiring a disabled one, at the dependency", () => {
    const error = loadError(example, { profiles: ["debug"] });
    expect(error).toBeInstanceOf(ComposeError);
    const { code, file, line, path } = error as ComposeError;
    expect([code, file, line, path]).toEqual(["E_COMPOSE_SEMANTIC", "/p/compose.yaml", 14, "services.zot.depends_on[0]"]);
  });

  it("reports it when the requesting service's profile does not cover its dependency", () => {
    expect((loadError(example, { requestedServices: ["zot"] }) as ComposeError).code).toBe("E_COMPOSE_SEMANTIC");
  });

  it("reports a required dependency in mapping syntax and network_mode service:, all together", () => {
    const error = loadError(
      [
        "services:",
        "  web:",
        "    image: web",
        "    depends_on:",
        "      db: {condition: service_healthy}",
        "    network_mode: service:vpn",
        "  db: {image: db, profiles: [db]}",
        "  vpn: {image: vpn, profiles: [vpn]}",
      ].join("\n"),
    );
    expect(error).toBeInstanceOf(AggregateComposeError);
    const problems = (error as AggregateComposeError).problems;
    expect(problems.map((problem) => [problem.code, problem.line, problem.path])).toEqual([
      ["E_COMPOSE_SEMANTIC", 5, "services.web.depends_on.db"],
      ["E_COMPOSE_SEMANTIC", 6, "services.web.network_mode"],
    ]);
  });
});
