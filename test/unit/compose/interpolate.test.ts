import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import type { Environment, LoadContext } from "../../../src/compose/context.js";
import { TaggedValue, type ComposeDocument, type Mapping } from "../../../src/compose/document.js";
import { interpolatePass, interpolateTemplate, typeCastRows } from "../../../src/compose/interpolate.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";

const environment: Environment = { FOO: "first", BAR: "", JSON: '{"json":2}', PORT: "8080", TRUE: "true" };

function interpolate(template: string, warnings: string[] = []): string {
  return interpolateTemplate(template, environment, { warn: (message) => warnings.push(message), path: "x" });
}

function templateError(template: string): ComposeError {
  try {
    interpolate(template);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error(`expected a ComposeError for ${JSON.stringify(template)}`);
}

function contextWith(values: Environment, warnings: string[] = []): LoadContext {
  const unused = (): never => {
    throw new Error("not used by the interpolate pass");
  };
  return {
    projectName: "test",
    projectDirectory: "/project",
    environment: values,
    homeDirectory: "/root",
    profiles: [],
    requestedServices: [],
    files: { readText: unused, exists: unused, isDirectory: unused },
    warn: (message) => warnings.push(message),
    loadDocuments: unused,
    loadingStack: [],
  };
}

function run(yaml: string, values: Environment = environment, warnings: string[] = []): ComposeDocument {
  return interpolatePass.run(parseComposeYaml("compose.yaml", yaml), contextWith(values, warnings));
}

function service(document: ComposeDocument, name = "web"): Mapping {
  return (document.data["services"] as Record<string, Mapping>)[name] ?? {};
}

function passError(yaml: string, values: Environment = environment): ComposeError {
  try {
    run(yaml, values);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error("expected a ComposeError");
}

describe("interpolateTemplate", () => {
  it.each<[string, string]>([
    ["foo", "foo"],
    ["$FOO", "first"],
    ["${FOO}", "first"],
    ["This $FOO var", "This first var"],
    ["This ${BAR} var", "This  var"],
    ["$FOO-bar", "first-bar"],
    ["${FOO}_1", "first_1"],
    ["$FOO_1", ""],
    // $$ escapes
    ["$$", "$"],
    ["$${FOO}", "${FOO}"],
    ["$$FOO", "$FOO"],
    ["$$$FOO", "$first"],
    ["a $$$$ b", "a $$ b"],
    // a $ that starts nothing stays literal
    ["a $ string", "a $ string"],
    ["^REGEX$", "^REGEX$"],
    ["$}", "$}"],
    ["$", "$"],
    ["$1", "$1"],
    ["$-x", "$-x"],
    // :- (unset or empty) against - (unset only)
    ["${UNSET:-d}", "d"],
    ["${BAR:-d}", "d"],
    ["${FOO:-d}", "first"],
    ["${UNSET-d}", "d"],
    ["${BAR-d}", ""],
    ["${FOO-d}", "first"],
    ["${UNSET:-}", ""],
    // :+ (set and non-empty) against + (set)
    ["${UNSET:+alt}", ""],
    ["${BAR:+alt}", ""],
    ["${FOO:+alt}", "alt"],
    ["${UNSET+alt}", ""],
    ["${BAR+alt}", "alt"],
    ["${FOO+alt}", "alt"],
    // :? and ? when the value is there
    ["${FOO:?err}", "first"],
    ["${FOO?err}", "first"],
    ["${BAR?err}", ""],
    // the first operator after the name decides; the rest is the argument
    ["${UNSET-myerror?msg}", "myerror?msg"],
    ["${UNSET:-a:-b}", "a:-b"],
    ["${FOO?bar-baz}", "first"],
    // nesting
    ["${UNSET:-${BAR:-c}}", "c"],
    ["${UNSET:-${UNSET2:-${FOO}}}", "first"],
    ["ok ${UNSET-$FOO}", "ok first"],
    ["ok ${UNSET-${FOO} ${FOO}}", "ok first first"],
    ["ok ${BAR+$FOO ${FOO:+second}}", "ok first second"],
    ["+ok ${UNSET:-${BAR-defaultValue}}", "+ok "],
    ["${UNSET:-$$}", "$"],
    // braces inside an argument
    ['ok ${missing:-{"json":1}}', 'ok {"json":1}'],
    ['ok ${JSON:-{"json":1}}', 'ok {"json":2}'],
    ["${UNSET:-x}}", "x}"],
    ["${UNSET:-{x}", "{x"],
    // several expressions on one line, and on several lines
    ["ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"],
    ["${UNSET:-a}-${UNSET:-b}/${FOO}", "a-b/first"],
    ["${UNSET:-a}\n${UNSET:-b}\n$FOO", "a\nb\nfirst"],
    // names are case sensitive, underscores and digits allowed after the first character
    ["${foo:-lower}", "lower"],
    ["${_:-u}", "u"],
    ["${PORT}0", "80800"],
    // an unused argument is never read, even when it is not a valid template on its own
    ["${FOO:-${BAR}", "first"],
  ])("%j → %j", (template, expected) => {
    expect(interpolate(template)).toBe(expected);
  });

  it.each<[string, string[]]>([
    ["${UNSET}", ["UNSET"]],
    ["$UNSET and $UNSET", ["UNSET", "UNSET"]],
    ["${UNSET:-x}", []],
    ["${UNSET-x}", []],
    ["${UNSET:+x}", []],
    ["${UNSET+x}", []],
    ["${BAR}", []],
    ["${UNSET:-${OTHER}}", ["OTHER"]],
    ["${FOO:-${OTHER}}", []],
    ["${A:+${A},}B", []],
    ["${FOO:+${OTHER}}", ["OTHER"]],
  ])("%j warns about %j", (template, names) => {
    const warnings: string[] = [];
    interpolate(template, warnings);
    expect(warnings).toEqual(names.map((name) => `The "${name}" variable is not set. Defaulting to a blank string.`));
  });

  it.each([
    "${UNSET:?Mandatory Variable Unset}",
    "${BAR:?Mandatory Variable Empty}",
    "${UNSET:?}",
    "${UNSET?Mandatory Variable Unset}",
    "${UNSET?}",
    "not ok ${UNSET:?Mandatory ${FOO}}",
    "${UNSET:-${UNSET2:?inner}}",
  ])("%j fails as a required variable", (template) => {
    const error = templateError(template);
    expect(error.code).toBe("E_COMPOSE_REQUIRED_VARIABLE");
    expect(error.path).toBe("x");
  });

  it("substitutes inside the reason of a required variable", () => {
    expect(templateError("${UNSET:?needs ${FOO}}").message).toContain("needs first");
  });

  it.each([
    "${",
    "${}",
    "${ }",
    "${ foo}",
    "${foo }",
    "${foo!}",
    "${FOO",
    "${FOO bar}",
    "${1}",
    "${A:}",
    "${A:x}",
    "${UNSET:-x\n}",
    "x ${UNSET:-y} ${B",
    "${UNSET:-${BAR}",
    "$${FOO} ${",
  ])("%j is invalid", (template) => {
    const error = templateError(template);
    expect(error.code).toBe("E_COMPOSE_INTERPOLATION");
    expect(error.path).toBe("x");
  });

  it("never finds Object.prototype members", () => {
    expect(interpolate("${constructor}${toString:-d}")).toBe("d");
  });
});

describe("interpolatePass", () => {
  it("interpolates every string value: mappings, lists, extensions and tagged values", () => {
    const document = run(
      [
        "x-tag: ${FOO}",
        "services:",
        "  web:",
        "    image: nginx:${FOO:-latest}",
        "    command: [echo, $$HOME, $FOO]",
        "    environment:",
        "      - A=${FOO}",
        "    labels: !override",
        "      l: ${FOO}",
        "    ports: !reset []",
        "networks:",
        "  ${FOO}: {}",
      ].join("\n"),
    );
    expect(document.data["x-tag"]).toBe("first");
    const web = service(document);
    expect(web["image"]).toBe("nginx:first");
    expect(web["command"]).toEqual(["echo", "$HOME", "first"]);
    expect(web["environment"]).toEqual(["A=first"]);
    expect(web["labels"]).toEqual(new TaggedValue("override", { l: "first" }));
    expect(web["ports"]).toEqual(new TaggedValue("reset", []));
    expect(Object.keys(document.data["networks"] as Mapping)).toEqual(["${FOO}"]);
  });

  it("returns a new document, keeps the origins, and leaves the input alone", () => {
    const input = parseComposeYaml("compose.yaml", "services:\n  web:\n    image: ${FOO}\n    ports: ['${PORT}:80']\n");
    const before = structuredClone(input.data);
    const output = interpolatePass.run(input, contextWith(environment));
    expect(input.data).toEqual(before);
    expect(output).not.toBe(input);
    expect(output.data).not.toBe(input.data);
    expect(output.origins).toBe(input.origins);
    expect(output.file).toBe(input.file);
    expect(service(output)["ports"]).toEqual(["8080:80"]);
  });

  it("leaves non-string scalars as they are", () => {
    const web = service(run("services:\n  web:\n    scale: 2\n    tty: true\n    x: null\n    cpus: 1.5\n"));
    expect(web).toEqual({ scale: 2, tty: true, x: null, cpus: 1.5 });
  });

  it("warns through the context", () => {
    const warnings: string[] = [];
    run("services:\n  web:\n    image: ${NOPE}\n", environment, warnings);
    expect(warnings).toEqual(['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });

  it.each<[string, string, string, string, number, number]>([
    ["invalid in a scalar", "services:\n  web:\n    image: ${FOO\n", "E_COMPOSE_INTERPOLATION", "services.web.image", 3, 5],
    ["invalid in a list item", "services:\n  web:\n    environment:\n      - A=1\n      - B=${ x}\n", "E_COMPOSE_INTERPOLATION", "services.web.environment[1]", 5, 9],
    ["invalid inside a tagged value", "services:\n  web:\n    labels: !override\n      a: ${}\n", "E_COMPOSE_INTERPOLATION", "services.web.labels.a", 4, 7],
    ["invalid under a key that needs quoting", "x-ext:\n  \"a b\":\n    - ok\n    - ${\n", "E_COMPOSE_INTERPOLATION", 'x-ext["a b"][1]', 4, 7],
    ["required in a nested mapping", "services:\n  web:\n    build:\n      args:\n        A: ${NEED:?set NEED}\n", "E_COMPOSE_REQUIRED_VARIABLE", "services.web.build.args.A", 5, 9],
    ["required with ?", "volumes:\n  data:\n    name: ${NEED?}\n", "E_COMPOSE_REQUIRED_VARIABLE", "volumes.data.name", 3, 5],
  ])("reports %s with its path and position (the key's, for a mapping value)", (_name, yaml, code, path, line, column) => {
    const error = passError(yaml);
    expect(error.code).toBe(code);
    expect(error.path).toBe(path);
    expect(error.file).toBe("compose.yaml");
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
  });
});

describe("interpolatePass: type casts", () => {
  const castEnvironment: Environment = { ...environment, N: "3", YES: "yes", CPUS: "0.5", WORD: "abc" };

  it.each<[string, string, unknown]>([
    ["services.*.ports.*.target", "ports:\n      - target: ${PORT}\n        published: ${PORT}", [{ target: 8080, published: "8080" }]],
    ["services.*.deploy.replicas", "deploy:\n      replicas: ${N}", { replicas: 3 }],
    ["services.*.deploy.update_config", "deploy:\n      update_config:\n        parallelism: '2'\n        max_failure_ratio: '0.25'", { update_config: { parallelism: 2, max_failure_ratio: 0.25 } }],
    ["services.*.deploy.restart_policy.max_attempts", "deploy:\n      restart_policy:\n        max_attempts: '+5'", { restart_policy: { max_attempts: 5 } }],
    ["services.*.scale", "scale: ${N}", 3],
    ["services.*.read_only", "read_only: ${TRUE}", true],
    ["services.*.tty (case-insensitive)", "tty: 'FALSE'", false],
    ["services.*.privileged (YAML 1.1 word)", "privileged: ${YES}", true],
    ["services.*.stdin_open", "stdin_open: 'off'", false],
    ["services.*.init", "init: 'true'", true],
    ["services.*.cpus", "cpus: ${CPUS}", 0.5],
    ["services.*.cpu_shares", "cpu_shares: '512'", 512],
    ["services.*.cpu_percent", "cpu_percent: '12.5'", 12.5],
    ["services.*.oom_score_adj", "oom_score_adj: '-500'", -500],
    ["services.*.pids_limit", "pids_limit: '-1'", -1],
    ["services.*.healthcheck.retries", "healthcheck:\n      retries: ${N}\n      disable: 'true'", { retries: 3, disable: true }],
    ["services.*.ulimits", "ulimits:\n      nproc: '65535'\n      nofile:\n        soft: '20000'\n        hard: ${N}", { nproc: 65535, nofile: { soft: 20000, hard: 3 } }],
    ["services.*.volumes.*", "volumes:\n      - type: volume\n        source: data\n        target: /data\n        read_only: 'true'\n        volume:\n          nocopy: 'true'", [{ type: "volume", source: "data", target: "/data", read_only: true, volume: { nocopy: true } }]],
    ["services.*.depends_on.*", "depends_on:\n      db:\n        condition: service_started\n        required: 'false'\n        restart: 'true'", { db: { condition: "service_started", required: false, restart: true } }],
    ["a string that cannot be cast stays", "scale: ${WORD}", "abc"],
    ["a float is not an integer", "scale: '1.5'", "1.5"],
    ["an integer beyond int64 stays", "scale: '9223372036854775808'", "9223372036854775808"],
    ["a non-boolean word stays", "tty: 'maybe'", "maybe"],
    ["paths outside the table stay strings", "environment:\n      A: '1'\n      B: 'true'", { A: "1", B: "true" }],
  ])("%s", (_name, body, expected) => {
    const attribute = body.slice(0, body.indexOf(":"));
    const web = service(run(`services:\n  web:\n    ${body}\n`, castEnvironment));
    expect(web[attribute]).toEqual(expected);
  });

  it.each<[string, string]>([
    ["networks", "external"],
    ["networks", "internal"],
    ["networks", "attachable"],
    ["networks", "enable_ipv4"],
    ["networks", "enable_ipv6"],
    ["volumes", "external"],
    ["secrets", "external"],
    ["configs", "external"],
  ])("%s.*.%s becomes a boolean", (section, attribute) => {
    const document = run(`${section}:\n  one:\n    ${attribute}: \${TRUE}\n`);
    expect((document.data[section] as Record<string, Mapping>)["one"]?.[attribute]).toBe(true);
  });

  it("does not cast the same attribute names elsewhere", () => {
    const document = run("x-ext:\n  read_only: 'true'\nservices:\n  web:\n    labels:\n      tty: 'true'\n");
    expect(document.data["x-ext"]).toEqual({ read_only: "true" });
    expect(service(document)["labels"]).toEqual({ tty: "true" });
  });

  it("warns about YAML 1.1 booleans, as Compose does", () => {
    const warnings: string[] = [];
    run("services:\n  web:\n    tty: 'yes'\n    read_only: 'no'\n", environment, warnings);
    expect(warnings).toEqual([
      '"yes" for boolean is not supported by YAML 1.2, please use `true`',
      '"no" for boolean is not supported by YAML 1.2, please use `false`',
    ]);
  });

  it("has no two rows that can match the same concrete path", () => {
    const overlaps = (a: string, b: string): boolean => {
      const left = a.split(".");
      const right = b.split(".");
      return left.length === right.length && left.every((segment, index) => segment === "*" || right[index] === "*" || segment === right[index]);
    };
    const patterns = typeCastRows.map(([pattern]) => pattern);
    const clashes = patterns.flatMap((a, i) => patterns.slice(i + 1).filter((b) => overlaps(a, b)).map((b) => `${a} ~ ${b}`));
    expect(clashes).toEqual([]);
  });
});

describe("interpolatePass: speed", () => {
  // Speed is measured by bench/config.mjs, not asserted here; this checks the walk at scale.
  it("walks a 1,000-service document", () => {
    const services: Record<string, unknown> = {};
    for (let index = 0; index < 1000; index++) {
      services[`web${index}`] = {
        image: "registry/app:${FOO:-latest}",
        command: ["serve", "--port", "${PORT}"],
        environment: { A: "$FOO", B: "plain", C: "${BAR:-x}" },
        ports: [{ target: "${PORT}", published: "80" }],
        deploy: { replicas: "2", resources: { limits: { cpus: "0.5", memory: "64M" } } },
        healthcheck: { test: ["CMD", "true"], retries: "3" },
        read_only: "true",
      };
    }
    const document: ComposeDocument = { file: "compose.yaml", data: { services }, origins: new Map() };
    const output = interpolatePass.run(document, contextWith(environment));
    expect(service(output, "web999")["read_only"]).toBe(true);
  });
});
