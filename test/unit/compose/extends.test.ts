import path from "node:path";
import { describe, expect, it } from "vitest";
import { ComposeError, ErrorCode } from "../../../src/errors.js";
import type { FileReader, LoadContext } from "../../../src/compose/context.js";
import { isMapping, type Mapping } from "../../../src/compose/document.js";
import { extendsPass } from "../../../src/compose/extends.js";
import { loadProject, type LoadedProject } from "../../../src/compose/load.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";
import { perFilePasses } from "../../../src/compose/pipeline.js";
import { memoryFiles } from "./memory-files.js";

function load(files: Record<string, string>, composeFiles: readonly string[] = ["/p/compose.yaml"]): LoadedProject {
  return loadProject({
    workingDirectory: "/p",
    files: composeFiles,
    osEnvironment: { HOME: "/home/me" },
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

function services(project: LoadedProject): Mapping {
  const found = project.document.data["services"];
  if (!isMapping(found)) throw new Error("no services");
  return found;
}

describe("extends in the same file", () => {
  const text = [
    "services:", // 1
    "  base:", // 2
    "    image: busybox", // 3
    "    user: root", // 4
    "    environment:", // 5
    "      TZ: utc", // 6
    "      PORT: 80", // 7
    "  common:", // 8
    "    extends:", // 9
    "      service: base", // 10
    "    image: alpine", // 11
    "  cli:", // 12
    "    extends: common", // 13
    "    environment:", // 14
    "      PORT: 8080", // 15
  ].join("\n");

  it("resolves chains, merges by the merge rules and removes the extends key", () => {
    const loaded = services(load({ "/p/compose.yaml": text }));
    expect(loaded["cli"]).toEqual({ image: "alpine", user: "root", environment: { TZ: "utc", PORT: 8080 } });
    expect(loaded["common"]).toEqual({ image: "alpine", user: "root", environment: { TZ: "utc", PORT: 80 } });
    expect(loaded["base"]).toEqual({ image: "busybox", user: "root", environment: { TZ: "utc", PORT: 80 } });
  });

  it("keeps inherited values pointing where they were written", () => {
    const { origins } = load({ "/p/compose.yaml": text }).document;
    expect(origins.get("services.cli.user")).toMatchObject({ file: "/p/compose.yaml", line: 4 });
    expect(origins.get("services.cli.image")).toMatchObject({ line: 11 });
    expect(origins.get("services.cli.environment.TZ")).toMatchObject({ line: 6 });
    expect(origins.get("services.cli.environment.PORT")).toMatchObject({ line: 15 });
    expect(origins.get("services.cli")).toMatchObject({ line: 12 });
    expect(origins.has("services.cli.extends")).toBe(false);
  });

  it("replaces command, dedupes ports and lets !reset and !override act on the base", () => {
    const loaded = services(
      load({
        "/p/compose.yaml": [
          "services:",
          "  init:",
          "    image: alpine",
          "    command: sleep infinity",
          "    ports: ['8080:80']",
          "    depends_on: [db]",
          "    labels: {a: '1'}",
          "  web:",
          "    extends: init",
          "    command: [run]",
          "    ports: ['8080:80', '9090:90']",
          "    depends_on: !override [cache]",
          "    labels: !reset {}",
          "  db: {image: db}",
          "  cache: {image: cache}",
        ].join("\n"),
      }),
    );
    expect(loaded["web"]).toEqual({
      image: "alpine",
      command: ["run"],
      ports: ["8080:80", "9090:90"],
      depends_on: ["cache"],
    });
  });

  it("leaves a service extending a null service as it is", () => {
    const loaded = services(load({ "/p/compose.yaml": "services:\n  empty:\n  web:\n    extends: empty\n    image: a\n" }));
    expect(loaded["web"]).toEqual({ image: "a" });
  });
});

describe("extends from another file", () => {
  const files = {
    "/p/compose.yaml": [
      "services:", // 1
      "  web:", // 2
      "    extends:", // 3
      "      file: common/base.yaml", // 4
      "      service: webapp", // 5
      "    environment:", // 6
      "      MODE: prod", // 7
    ].join("\n"),
    "/p/common/base.yaml": [
      "services:", // 1
      "  webapp:", // 2
      "    build: .", // 3
      "    volumes:", // 4
      "      - ./data:/data", // 5
      "      - cache:/cache", // 6
      "    env_file: web.env", // 7
      "    extends:", // 8
      "      file: ../shared/root.yaml", // 9
      "      service: root", // 10
    ].join("\n"),
    "/p/shared/root.yaml": ["services:", "  root:", "    image: root-image", "    working_dir: /srv", "    labels: [tier=root]", "    secrets: [token]"].join(
      "\n",
    ),
  };

  it("rebases relative paths on the other file's directory, through the chain", () => {
    expect(services(load(files))["web"]).toEqual({
      image: "root-image",
      working_dir: "/srv",
      labels: ["tier=root"],
      secrets: ["token"],
      build: "/p/common",
      volumes: ["/p/common/data:/data", "cache:/cache"],
      env_file: "/p/common/web.env",
      environment: { MODE: "prod" },
    });
  });

  it("keeps inherited values pointing at the file they came from", () => {
    const { origins } = load(files).document;
    expect(origins.get("services.web.build")).toEqual({ file: "/p/common/base.yaml", line: 3, column: 5 });
    expect(origins.get("services.web.volumes[0]")).toMatchObject({ file: "/p/common/base.yaml", line: 5 });
    expect(origins.get("services.web.image")).toMatchObject({ file: "/p/shared/root.yaml", line: 3 });
    expect(origins.get("services.web.environment.MODE")).toMatchObject({ file: "/p/compose.yaml", line: 7 });
    expect(origins.get("services.web")).toMatchObject({ file: "/p/compose.yaml", line: 2 });
  });

  it("resolves extends.file against the project directory in an override file elsewhere", () => {
    const loaded = services(
      load(
        {
          "/p/compose.yaml": "services:\n  db:\n    image: postgres\n",
          "/p/overrides/dev.yaml": "services:\n  web:\n    extends:\n      file: common.yaml\n      service: base\n",
          "/p/common.yaml": "services:\n  base:\n    image: base\n",
        },
        ["/p/compose.yaml", "/p/overrides/dev.yaml"],
      ),
    );
    expect(loaded["web"]).toEqual({ image: "base" });
  });

  it("follows a service that extends back into the extending file without calling it a cycle", () => {
    const loaded = services(
      load({
        "/p/compose.yaml": [
          "services:",
          "  db:",
          "    image: postgres",
          "  web:",
          "    extends: {file: other.yaml, service: middle}",
          "    user: web",
        ].join("\n"),
        "/p/other.yaml": ["services:", "  middle:", "    extends: {file: compose.yaml, service: db}", "    restart: always"].join("\n"),
      }),
    );
    expect(loaded["web"]).toEqual({ image: "postgres", restart: "always", user: "web" });
  });
});

describe("extends and include", () => {
  it("resolves extends inside an included file", () => {
    const loaded = services(
      load({
        "/p/compose.yaml": "include: [lib/compose.yaml]\n",
        "/p/lib/compose.yaml": "services:\n  base:\n    build: .\n  api:\n    extends: base\n    image: api\n",
      }),
    );
    expect(loaded["api"]).toEqual({ build: "/p/lib", image: "api" });
  });

  // compose-go applies include before extends, so a service may extend an included one.
  const passNames = perFilePasses.map((pass) => pass.name);
  it.runIf(passNames.indexOf("include") < passNames.indexOf("extends"))("lets a service extend an included service", () => {
    const loaded = services(
      load({
        "/p/compose.yaml": "include: [lib/compose.yaml]\nservices:\n  web:\n    extends: base\n    image: web\n",
        "/p/lib/compose.yaml": "services:\n  base:\n    build: .\n",
      }),
    );
    expect(loaded["web"]).toEqual({ build: "/p/lib", image: "web" });
  });
});

describe("extends errors", () => {
  it("reports a cycle in one file at the extends key, naming the chain", () => {
    const error = loadError({
      "/p/compose.yaml": "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: c\n  c:\n    extends: a\n",
    });
    expect(error.code).toBe("E_COMPOSE_EXTENDS");
    expect([error.file, error.line, error.path]).toEqual(["/p/compose.yaml", 8, "services.c.extends"]);
    expect(error.message).toMatch(/\ba\b.*\bb\b.*\bc\b.*\ba\b/s);
  });

  it("reports a service extending itself", () => {
    const error = loadError({ "/p/compose.yaml": "services:\n  a:\n    extends: a\n" });
    expect([error.code, error.line]).toEqual(["E_COMPOSE_EXTENDS", 3]);
  });

  it("reports a cycle across files", () => {
    const error = loadError({
      "/p/compose.yaml": "services:\n  web:\n    extends: {file: other.yaml, service: middle}\n",
      "/p/other.yaml": "services:\n  middle:\n    extends: {file: compose.yaml, service: web}\n",
    });
    expect(error.code).toBe("E_COMPOSE_EXTENDS");
    expect(error.message).toContain("web");
    expect(error.message).toContain("middle");
  });

  it.each([
    ["an unknown service", "services:\n  web:\n    image: a\n    extends: nothing\n", 4],
    ["an unknown file", "services:\n  web:\n    image: a\n    extends:\n      file: missing.yaml\n      service: base\n", 4],
    ["an unknown service in another file", "services:\n  web:\n    image: a\n    extends:\n      file: other.yaml\n      service: nothing\n", 4],
    ["a missing service key", "services:\n  web:\n    image: a\n    extends:\n      file: other.yaml\n", 4],
  ])("reports %s at the extends key", (_name, text, line) => {
    const error = loadError({ "/p/compose.yaml": text, "/p/other.yaml": "services:\n  base:\n    image: b\n" });
    expect([error.code, error.file, error.line, error.path]).toEqual(["E_COMPOSE_EXTENDS", "/p/compose.yaml", line, "services.web.extends"]);
  });
});

describe("extends at scale", () => {
  // Speed is measured by bench/config.mjs, not asserted here.
  it("resolves 1,000 services extending a base", () => {
    const lines = ["services:", "  base:", "    image: base", "    environment: {A: '1'}", "    ports: ['80']"];
    for (let index = 0; index < 1000; index++) {
      lines.push(`  s${index}:`, "    extends: base", `    environment: {B: '${index}'}`, `    labels: [n=${index}]`);
    }
    const document = parseComposeYaml("/p/compose.yaml", lines.join("\n"));
    const context = {
      projectDirectory: "/p",
      homeDirectory: "/home/me",
      loadingStack: ["/p/compose.yaml"],
      files: memoryFiles({}),
      environment: {},
    } as unknown as LoadContext;
    const resolved = extendsPass.run(document, context);
    expect((resolved.data["services"] as Mapping)["s999"]).toEqual({
      image: "base",
      environment: { A: "1", B: "999" },
      ports: ["80"],
      labels: ["n=999"],
    });
  });
});
