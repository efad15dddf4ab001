import path from "node:path";
import { describe, expect, it } from "vitest";
import { ComposeError, ErrorCode } from "../../../src/errors.js";
import type { FileReader, LoadContext, SubLoadRequest } from "../../../src/compose/context.js";
import { isMapping, type ComposeDocument, type Mapping } from "../../../src/compose/document.js";
import { includePass } from "../../../src/compose/include.js";
import { loadProject, type LoadedProject } from "../../../src/compose/load.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";
import { memoryFiles } from "./memory-files.js";

function load(files: Record<string, string>, osEnvironment: Record<string, string> = {}): LoadedProject {
  return loadProject({
    workingDirectory: "/p",
    files: ["/p/compose.yaml"],
    osEnvironment: { HOME: "/home/me", ...osEnvironment },
    fileReader: memoryFiles(files),
    switches: { interpolate: true, normalize: false, validate: false },
  });
}

function loadError(files: Record<string, string>): ComposeError {
  try {
    load(files);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error("expected a ComposeError");
}

function section(project: LoadedProject, name: string): Mapping {
  const found = project.document.data[name];
  if (!isMapping(found)) throw new Error(`no ${name}`);
  return found;
}

/** Run the include pass alone, recording what it asks the loader for. */
function runInclude(
  text: string,
  files: Record<string, string>,
  environment: Record<string, string> = {},
): { requests: SubLoadRequest[]; document: ComposeDocument } {
  const requests: SubLoadRequest[] = [];
  const context = {
    projectDirectory: "/p",
    homeDirectory: "/home/me",
    environment,
    files: memoryFiles(files),
    loadingStack: ["/p/compose.yaml"],
    loadDocuments(request: SubLoadRequest) {
      requests.push(request);
      return parseComposeYaml(request.files[0] ?? "", "services: {}\n");
    },
  } as unknown as LoadContext;
  const document = includePass.run(parseComposeYaml("/p/compose.yaml", text), context);
  return { requests, document };
}

describe("include", () => {
  const files = {
    "/p/compose.yaml": ["include:", "  - lib/compose.yaml", "services:", "  web:", "    image: web", "    depends_on: [db]"].join("\n"),
    "/p/lib/compose.yaml": [
      "services:", // 1
      "  db:", // 2
      "    build: ./db", // 3
      "    volumes:", // 4
      "      - ./data:/var/lib/data", // 5
      "      - dbdata:/x", // 6
      "    env_file: db.env", // 7
      "volumes:", // 8
      "  dbdata: {}", // 9
      "networks:", // 10
      "  back: {}", // 11
      "secrets:", // 12
      "  token:", // 13
      "    file: ./token.txt", // 14
    ].join("\n"),
  };

  it("adds the included resources with paths resolved against the included project directory", () => {
    const project = load(files);
    expect(section(project, "services")).toEqual({
      web: { image: "web", depends_on: ["db"] },
      db: { build: "/p/lib/db", volumes: ["/p/lib/data:/var/lib/data", "dbdata:/x"], env_file: "/p/lib/db.env" },
    });
    expect(section(project, "volumes")).toEqual({ dbdata: {} });
    expect(section(project, "networks")).toEqual({ back: {} });
    expect(section(project, "secrets")).toEqual({ token: { file: "/p/lib/token.txt" } });
    expect(project.document.data["include"]).toBeUndefined();
  });

  it("keeps included values pointing at the included file", () => {
    const { origins } = load(files).document;
    expect(origins.get("services.db.build")).toEqual({ file: "/p/lib/compose.yaml", line: 3, column: 5 });
    expect(origins.get("services.db.volumes[0]")).toMatchObject({ file: "/p/lib/compose.yaml", line: 5 });
    expect(origins.get("secrets.token.file")).toMatchObject({ file: "/p/lib/compose.yaml", line: 14 });
    expect(origins.get("services.web.image")).toMatchObject({ file: "/p/compose.yaml", line: 5 });
    expect([...origins.keys()].some((key) => key.startsWith("include"))).toBe(false);
  });

  it("uses project_directory for relative paths and merges a list of paths", () => {
    const project = load({
      "/p/compose.yaml": [
        "include:",
        "  - path: [sub/compose.yaml, sub/override.yaml]",
        "    project_directory: sub/..",
        "services:",
        "  web: {image: web}",
      ].join("\n"),
      "/p/sub/compose.yaml": "services:\n  api:\n    build: ./api\n    environment: {A: '1'}\n",
      "/p/sub/override.yaml": "services:\n  api:\n    environment: {B: '2'}\n",
    });
    expect(section(project, "services")["api"]).toEqual({ build: "/p/api", environment: { A: "1", B: "2" } });
  });

  it("includes recursively, each file relative to its own project", () => {
    const project = load({
      "/p/compose.yaml": "include: [a/compose.yaml]\n",
      "/p/a/compose.yaml": "include: [../b/compose.yaml]\nservices:\n  a:\n    build: .\n",
      "/p/b/compose.yaml": "services:\n  b:\n    build: .\n",
    });
    expect(section(project, "services")).toEqual({ a: { build: "/p/a" }, b: { build: "/p/b" } });
  });

  it("accepts the same resource twice when both definitions are identical", () => {
    const project = load({
      "/p/compose.yaml": "include: [a.yaml, b.yaml]\n",
      "/p/a.yaml": "include: [common.yaml]\nservices:\n  a: {image: a}\n",
      "/p/b.yaml": "include: [common.yaml]\nservices:\n  b: {image: b}\n",
      "/p/common.yaml": "services:\n  shared:\n    build: ./shared\n",
    });
    expect(Object.keys(section(project, "services")).sort()).toEqual(["a", "b", "shared"]);
  });
});

describe("include errors", () => {
  it("reports a resource defined here and in an included file at its local definition", () => {
    const error = loadError({
      "/p/compose.yaml": "include:\n  - other.yaml\nservices:\n  db:\n    image: mine\n",
      "/p/other.yaml": "services:\n  db:\n    image: theirs\n",
    });
    expect([error.code, error.file, error.line, error.path]).toEqual(["E_COMPOSE_INCLUDE", "/p/compose.yaml", 4, "services.db"]);
    expect(error.message).toContain("conflicts with imported resource");
  });

  it("reports an include cycle at the include entry", () => {
    const error = loadError({
      "/p/compose.yaml": "include:\n  - a.yaml\n",
      "/p/a.yaml": "services:\n  a: {image: a}\ninclude:\n  - compose.yaml\n",
    });
    expect([error.code, error.file, error.line]).toEqual(["E_COMPOSE_INCLUDE", "/p/a.yaml", 4]);
  });

  it.each([
    ["a missing file", "include:\n  - nothing.yaml\n", 2],
    ["a missing path", "include:\n  - project_directory: x\n", 2],
    ["a missing env file", "include:\n  - path: other.yaml\n    env_file: missing.env\n", 3],
    ["an include that is not a list", "include: other.yaml\n", 1],
  ])("reports %s with its position", (_name, text, line) => {
    const error = loadError({ "/p/compose.yaml": text, "/p/other.yaml": "services: {}\n" });
    expect([error.code, error.file, error.line]).toEqual(["E_COMPOSE_INCLUDE", "/p/compose.yaml", line]);
  });
});

describe("include environment", () => {
  it("interpolates the included files with their own .env, the including environment winning", () => {
    const files = {
      "/p/compose.yaml": "include: [lib/compose.yaml]\n",
      "/p/lib/compose.yaml": "services:\n  app:\n    image: app:${TAG}\n",
      "/p/lib/.env": "TAG=lib\n",
    };
    expect(section(load(files), "services")["app"]).toEqual({ image: "app:lib" });
    expect(section(load(files, { TAG: "parent" }), "services")["app"]).toEqual({ image: "app:parent" });
  });

  it("loads the included project with its own directory and its .env, the parent environment winning", () => {
    const { requests } = runInclude(
      "include:\n  - lib/compose.yaml\n",
      { "/p/lib/compose.yaml": "services: {}\n", "/p/lib/.env": "TAG=lib\nONLY_LIB=1\n" },
      { TAG: "parent" },
    );
    expect(requests).toEqual([
      { files: ["/p/lib/compose.yaml"], projectDirectory: "/p/lib", environment: { TAG: "parent", ONLY_LIB: "1" } },
    ]);
  });

  it("reads env_file relative to the including project, in order, skipping /dev/null", () => {
    const { requests } = runInclude(
      "include:\n  - path: lib/compose.yaml\n    project_directory: other\n    env_file: [one.env, /dev/null, two.env]\n",
      {
        "/p/lib/compose.yaml": "services: {}\n",
        "/p/lib/.env": "IGNORED=1\n",
        "/p/one.env": "A=1\nB=1\n",
        "/p/two.env": "B=2\n",
      },
    );
    expect(requests).toEqual([{ files: ["/p/lib/compose.yaml"], projectDirectory: "/p/other", environment: { A: "1", B: "2" } }]);
  });

  it("passes the parent environment unchanged when there is no env file", () => {
    const { requests } = runInclude("include:\n  - lib/compose.yaml\n", { "/p/lib/compose.yaml": "services: {}\n" }, { X: "1" });
    expect(requests[0]?.environment).toEqual({ X: "1" });
  });

  it("removes the include key and returns a new document", () => {
    const { document } = runInclude("include: []\nservices: {}\n", {});
    expect(document.data).toEqual({ services: {} });
  });
});
