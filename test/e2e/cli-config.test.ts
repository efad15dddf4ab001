// Scenarios for `berth config` and the global flags: which files are found, in which order they
// merge, where the project directory and name come from, which environment interpolates, which
// profiles are on, and what each `config` switch prints. Each check reads the parsed output (JSON,
// YAML or one name per line) and the exit status, not prose.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import {
  ensureBuilt,
  makeTempDirectory,
  removeTempDirectory,
  repoRoot,
  runBerth,
  withoutJsonOnlyValues,
  writeFiles,
  type BerthRun,
  type RunOptions,
} from "./run-berth.js";

const packageVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;

type Json = Record<string, unknown>;

let root = "";
let fixtureCount = 0;

beforeAll(() => {
  ensureBuilt();
  root = makeTempDirectory("cli-config");
}, 120_000);

afterAll(() => {
  if (root !== "") removeTempDirectory(root);
});

/** A fresh directory for one scenario, holding `files`; `name` becomes its basename. */
function fixture(files: Readonly<Record<string, string>>, name = `fixture-${fixtureCount}`): string {
  const directory = path.join(root, `${fixtureCount++}`, name);
  mkdirSync(directory, { recursive: true });
  writeFiles(directory, files);
  return directory;
}

function succeed(args: readonly string[], options: RunOptions): BerthRun {
  const result = runBerth(args, options);
  expect(result.status, `berth ${args.join(" ")}\nstderr:\n${result.stderr}`).toBe(0);
  return result;
}

/** `berth <globals> config --format json <extra>`, parsed. */
function configJson(globals: readonly string[], options: RunOptions, extra: readonly string[] = []): Json {
  return JSON.parse(succeed([...globals, "config", "--format", "json", ...extra], options).stdout) as Json;
}

/** One name per line, order ignored. */
function names(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .sort();
}

function service(config: Json, name: string): Json {
  const services = config["services"] as Record<string, Json> | undefined;
  expect(services, "config has services").toBeDefined();
  const found = services?.[name];
  expect(found, `service ${name}`).toBeDefined();
  return found ?? {};
}

function serviceNames(config: Json): string[] {
  return Object.keys((config["services"] as Json | undefined) ?? {}).sort();
}

const web = (image: string): string => `services:\n  web:\n    image: ${image}\n`;

describe("discovery: which files berth reads", () => {
  it("finds compose.yaml in a parent directory, and takes that directory as the project directory", () => {
    const project = fixture({ "compose.yaml": web("nginx"), "src/deep/.keep": "" }, "parent-proj");
    const config = configJson([], { cwd: path.join(project, "src", "deep") });
    expect(service(config, "web")["image"]).toBe("nginx");
    expect(config["name"]).toBe("parent-proj");
  });

  it("merges compose.override.yaml over compose.yaml without being asked", () => {
    const project = fixture({
      "compose.yaml": "services:\n  web:\n    image: nginx:1\n    environment:\n      A: base\n",
      "compose.override.yaml": "services:\n  web:\n    image: nginx:2\n    environment:\n      B: override\n  extra:\n    image: busybox\n",
    });
    const config = configJson([], { cwd: project });
    expect(service(config, "web")["image"]).toBe("nginx:2");
    expect(service(config, "web")["environment"]).toEqual({ A: "base", B: "override" });
    expect(serviceNames(config)).toEqual(["extra", "web"]);
  });

  it("-f a -f b merges in the order given, ignores the override file, and takes the first file's directory", () => {
    const project = fixture({
      "conf/a.yaml": "services:\n  web:\n    image: from-a\n    environment:\n      A: a\n",
      "conf/b.yaml": "services:\n  web:\n    image: from-b\n",
      "conf/compose.override.yaml": web("from-override"),
    });
    const ab = configJson(["-f", "conf/a.yaml", "-f", "conf/b.yaml"], { cwd: project });
    expect(service(ab, "web")["image"]).toBe("from-b");
    expect(service(ab, "web")["environment"]).toEqual({ A: "a" });
    expect(ab["name"]).toBe("conf");
    const ba = configJson(["-f", "conf/b.yaml", "-f", "conf/a.yaml"], { cwd: project });
    expect(service(ba, "web")["image"]).toBe("from-a");
  });

  it("-f - reads the file from standard input, with the working directory as project directory", () => {
    const project = fixture({}, "stdin-proj");
    const config = configJson(["-f", "-"], { cwd: project, input: web("from-stdin") });
    expect(service(config, "web")["image"]).toBe("from-stdin");
    expect(config["name"]).toBe("stdin-proj");
  });

  it("COMPOSE_FILE=a.yaml:b.yaml lists the files; -f beats it", () => {
    const project = fixture({ "a.yaml": web("from-a"), "b.yaml": web("from-b") });
    const fromVariable = configJson([], { cwd: project, env: { COMPOSE_FILE: "a.yaml:b.yaml" } });
    expect(service(fromVariable, "web")["image"]).toBe("from-b");
    const flagWins = configJson(["-f", "a.yaml"], { cwd: project, env: { COMPOSE_FILE: "b.yaml" } });
    expect(service(flagWins, "web")["image"]).toBe("from-a");
  });
});

describe("--project-directory", () => {
  const files = {
    "conf/compose.yaml": "services:\n  web:\n    image: nginx:${TAG:-none}\n    volumes:\n      - ./data:/data\n",
    "elsewhere/.env": "TAG=from-elsewhere\n",
  };

  it("resolves relative paths, reads .env and names the project from that directory", () => {
    const project = fixture(files);
    const config = configJson(["-f", "conf/compose.yaml", "--project-directory", "elsewhere"], { cwd: project });
    expect(config["name"]).toBe("elsewhere");
    expect(service(config, "web")["image"]).toBe("nginx:from-elsewhere");
    const volumes = service(config, "web")["volumes"] as Json[] | undefined;
    expect(volumes?.[0]?.["source"]).toBe(path.join(project, "elsewhere", "data"));
  });

  it("is where compose files are looked for when no -f is given", () => {
    const project = fixture({ "app/compose.yaml": web("in-app"), "cwd/.keep": "" });
    const config = configJson(["--project-directory", "../app"], { cwd: path.join(project, "cwd") });
    expect(service(config, "web")["image"]).toBe("in-app");
    expect(config["name"]).toBe("app");
  });
});

describe("project name: -p > COMPOSE_PROJECT_NAME > name: > directory", () => {
  it("takes each source in precedence order", () => {
    const named = fixture({ "compose.yaml": `name: from-file\n${web("nginx")}` });
    expect(configJson([], { cwd: named })["name"]).toBe("from-file");
    expect(configJson([], { cwd: named, env: { COMPOSE_PROJECT_NAME: "from-env" } })["name"]).toBe("from-env");
    expect(configJson(["-p", "from-flag"], { cwd: named, env: { COMPOSE_PROJECT_NAME: "from-env" } })["name"]).toBe("from-flag");
  });

  it("normalizes the directory's basename (My_App.v2 → my_appv2)", () => {
    const project = fixture({ "compose.yaml": web("nginx") }, "My_App.v2");
    expect(configJson([], { cwd: project })["name"]).toBe("my_appv2");
  });

  it("takes COMPOSE_PROJECT_NAME from .env when the shell does not set it", () => {
    const project = fixture({ "compose.yaml": web("nginx"), ".env": "COMPOSE_PROJECT_NAME=from-dotenv\n" });
    expect(configJson([], { cwd: project })["name"]).toBe("from-dotenv");
    expect(configJson([], { cwd: project, env: { COMPOSE_PROJECT_NAME: "from-shell" } })["name"]).toBe("from-shell");
  });
});

describe("interpolation environment: .env, --env-file, the shell", () => {
  const files = {
    "compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n    environment:\n      ONLY: ${ONLY_IN_DOTENV:-unset}\n",
    ".env": "TAG=from-dotenv\nONLY_IN_DOTENV=yes\n",
    "custom.env": "TAG=from-custom\n",
  };

  it("reads .env from the project directory; the shell wins over it", () => {
    const project = fixture(files);
    const fromDotEnv = service(configJson([], { cwd: project }), "web");
    expect(fromDotEnv["image"]).toBe("nginx:from-dotenv");
    expect(fromDotEnv["environment"]).toEqual({ ONLY: "yes" });
    expect(service(configJson([], { cwd: project, env: { TAG: "from-shell" } }), "web")["image"]).toBe("nginx:from-shell");
  });

  it("--env-file replaces .env", () => {
    const project = fixture(files);
    const web = service(configJson(["--env-file", "custom.env"], { cwd: project }), "web");
    expect(web["image"]).toBe("nginx:from-custom");
    expect(web["environment"]).toEqual({ ONLY: "unset" });
  });
});

describe("profiles: --profile and COMPOSE_PROFILES", () => {
  const files = {
    "compose.yaml": [
      "services:",
      "  web:",
      "    image: nginx",
      "  debugger:",
      "    image: busybox",
      "    profiles: [debug]",
      "  toolbox:",
      "    image: busybox",
      "    profiles: [tools]",
      "",
    ].join("\n"),
  };

  it("leaves out services whose profiles are not enabled", () => {
    const project = fixture(files);
    expect(serviceNames(configJson([], { cwd: project }))).toEqual(["web"]);
    expect(serviceNames(configJson(["--profile", "debug"], { cwd: project }))).toEqual(["debugger", "web"]);
    expect(serviceNames(configJson(["--profile", "debug", "--profile", "tools"], { cwd: project }))).toEqual([
      "debugger",
      "toolbox",
      "web",
    ]);
  });

  it("reads COMPOSE_PROFILES (comma-separated); --profile beats it", () => {
    const project = fixture(files);
    expect(serviceNames(configJson([], { cwd: project, env: { COMPOSE_PROFILES: "debug,tools" } }))).toEqual([
      "debugger",
      "toolbox",
      "web",
    ]);
    expect(serviceNames(configJson(["--profile", "tools"], { cwd: project, env: { COMPOSE_PROFILES: "debug" } }))).toEqual([
      "toolbox",
      "web",
    ]);
  });

  it("config --profiles lists every declared profile, enabled or not", () => {
    const project = fixture(files);
    expect(names(succeed(["config", "--profiles"], { cwd: project }).stdout)).toEqual(["debug", "tools"]);
  });
});

describe("config switches", () => {
  const files = {
    "compose.yaml": [
      "services:",
      "  web:",
      '    image: "nginx:${TAG}"',
      "    networks: [front]",
      "    volumes: [data:/data]",
      "  worker:",
      "    build: .",
      "    networks: [back]",
      "    volumes: [cache:/cache]",
      "volumes:",
      "  data: {}",
      "  cache: {}",
      "networks:",
      "  front: {}",
      "  back: {}",
      "",
    ].join("\n"),
  };
  const env = { TAG: "1.25" };

  it("--services, --volumes, --networks and --images print one name per line", () => {
    const project = fixture(files);
    const list = (flag: string): string[] => names(succeed(["-p", "demo", "config", flag], { cwd: project, env }).stdout);
    expect(list("--services")).toEqual(["web", "worker"]);
    expect(list("--volumes")).toEqual(["cache", "data"]);
    expect(list("--networks")).toEqual(["back", "front"]);
    expect(list("--images")).toEqual(["demo-worker", "nginx:1.25"]);
  });

  it("-q validates and prints nothing", () => {
    const project = fixture(files);
    const quiet = succeed(["config", "-q"], { cwd: project, env });
    expect(quiet.stdout).toBe("");
    expect(quiet.stderr).toBe("");
  });

  it("-o FILE writes what stdout would have shown, and prints nothing", () => {
    const project = fixture(files);
    const printed = succeed(["config"], { cwd: project, env }).stdout;
    const saved = succeed(["config", "-o", "out.yaml"], { cwd: project, env });
    expect(saved.stdout).toBe("");
    const output = path.join(project, "out.yaml");
    expect(existsSync(output)).toBe(true);
    expect(parseYaml(readFileSync(output, "utf8"))).toEqual(parseYaml(printed));
  });

  it("--format json prints the same model as the default YAML", () => {
    const project = fixture(files);
    const yamlModel: unknown = parseYaml(succeed(["config"], { cwd: project, env }).stdout);
    const jsonModel = configJson([], { cwd: project, env });
    expect(withoutJsonOnlyValues(jsonModel as Parameters<typeof withoutJsonOnlyValues>[0])).toEqual(yamlModel);
    expect(service(jsonModel, "web")["image"]).toBe("nginx:1.25");
  });

  it("--no-interpolate leaves ${…} as written", () => {
    const project = fixture(files);
    expect(service(configJson([], { cwd: project, env }, ["--no-interpolate"]), "web")["image"]).toBe("nginx:${TAG}");
  });
});

describe("help, version and usage errors", () => {
  it("berth --help lists the verbs and exits 0", () => {
    const help = succeed(["--help"], { cwd: root });
    expect(help.stdout).toMatch(/^\s+config\b/m);
    expect(help.stdout).toMatch(/^\s+version\b/m);
    expect(help.stderr).toBe("");
  });

  it("berth config --help lists config's switches and exits 0", () => {
    const help = succeed(["config", "--help"], { cwd: root });
    for (const flag of ["--services", "--volumes", "--networks", "--profiles", "--images", "--quiet", "--output", "--format", "--no-interpolate"]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it("berth version prints the package version, plain, --short and --format json, without loading a compose file", () => {
    const broken = fixture({ "compose.yaml": "services: [" });
    expect(succeed(["version"], { cwd: broken }).stdout).toContain(`v${packageVersion}`);
    expect(succeed(["version", "--short"], { cwd: broken }).stdout).toBe(`${packageVersion}\n`);
    expect(JSON.parse(succeed(["version", "--format", "json"], { cwd: broken }).stdout)).toEqual({ version: `v${packageVersion}` });
  });

  it("bin/berth hands --env-file to berth when run through its #! line (Node 20 would take it as its own)", () => {
    const project = fixture({ "compose.yaml": web("nginx"), "custom.env": "" });
    expect(succeed(["--env-file", "custom.env", "config", "-q"], { cwd: project, throughShebang: true }).stderr).toBe("");
    const missing = runBerth(["--env-file", "missing.env", "config"], { cwd: project, throughShebang: true });
    expect(missing.status, missing.stderr).toBe(1);
    expect(missing.stderr).toContain(path.join(project, "missing.env"));
    expect(missing.stderr).not.toMatch(/^node:/m);
  });

  it.each([
    ["an unknown global flag", ["--bogus", "config"]],
    ["an unknown config flag", ["config", "--bogus"]],
    ["an unknown command", ["bogus"]],
  ])("%s exits 1 with nothing on stdout", (_name, args) => {
    const project = fixture({ "compose.yaml": web("nginx") });
    const result = runBerth(args, { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).not.toBe("");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
