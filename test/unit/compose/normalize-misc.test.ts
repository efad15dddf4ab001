import { describe, expect, it } from "vitest";
import { bindProject } from "../../../src/compose/bind.js";
import { canonicalRows, defaultRows, normalizePass } from "../../../src/compose/normalize.js";
import { overlappingRows } from "../../../src/compose/paths.js";
import { semanticsPass } from "../../../src/compose/validate-semantics.js";
import { RuleTable } from "../../../src/compose/normalize-tree.js";
import { formatDuration, parseByteSize, parseDuration, splitShellWords } from "../../../src/compose/units.js";
import { composeFile, normalized, normalizeFailure, parse, serviceOf, testContext, yaml } from "./normalize-helpers.js";

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

function service(...lines: string[]): Record<string, unknown> {
  return serviceOf(normalized(yaml("services:", "  web:", "    image: nginx", ...lines.map((line) => `    ${line}`))));
}

describe("normalize: command and entrypoint", () => {
  it("splits strings into words as Compose does", () => {
    expect(service(`command: sh -c 'echo "a  b"' --flag="x y" \\$HOME`)["command"]).toEqual(["sh", "-c", 'echo "a  b"', "--flag=x y", "$HOME"]);
    expect(service("entrypoint: /docker-entrypoint.sh nginx")["entrypoint"]).toEqual(["/docker-entrypoint.sh", "nginx"]);
  });

  it("keeps lists, and keeps an empty command (it clears the image's)", () => {
    expect(service("command: [npm, start]")["command"]).toEqual(["npm", "start"]);
    expect(service('command: ""')["command"]).toEqual([]);
    expect(service("command: []")["command"]).toEqual([]);
  });

  it("stops at an unquoted shell operator, as go-shellwords does", () => {
    expect(splitShellWords("echo a && echo b")).toEqual(["echo", "a"]);
    expect(splitShellWords("run 2>/dev/null")).toEqual(["run"]);
  });

  it("rejects an unterminated quote at the command's position", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", `    command: echo "oops`));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.command");
    expect([error.file, error.line, error.column]).toEqual([composeFile, 4, 5]);
  });
});

describe("normalize: durations, sizes, cpus", () => {
  it("prints durations as Go does", () => {
    expect(service("stop_grace_period: 90s")["stop_grace_period"]).toBe("1m30s");
    expect(service("stop_grace_period: 1h")["stop_grace_period"]).toBe("1h0m0s");
    expect(service("stop_grace_period: 1.5s")["stop_grace_period"]).toBe("1.5s");
    expect(service("stop_grace_period: 0")["stop_grace_period"]).toBe("0s");
    expect([formatDuration(parseDuration("500ms")), formatDuration(parseDuration("2d")), formatDuration(parseDuration("1500us"))]).toEqual([
      "500ms",
      "48h0m0s",
      "1.5ms",
    ]);
  });

  it("reads a whole number and a unit exactly, and beyond 2^53 nanoseconds as Go does", () => {
    expect(parseDuration("30s")).toBe(30_000_000_000);
    expect(parseDuration("2w")).toBe(1_209_600_000_000_000);
    expect(parseDuration("9007199254740993ns")).toBe(Number(9007199254740993n));
    expect(() => parseDuration("30x")).toThrow('unknown unit "x" in duration "30x"');
    expect(() => parseDuration("9223372036854775808ns")).toThrow('invalid duration "9223372036854775808ns"');
  });

  it("normalizes a healthcheck", () => {
    expect(service("healthcheck:", "  test: curl -f http://localhost", "  interval: 1m", "  timeout: 5s", "  retries: 0", "  start_period: 30s")["healthcheck"]).toEqual({
      test: ["CMD-SHELL", "curl -f http://localhost"],
      timeout: "5s",
      interval: "1m0s",
      retries: 0,
      start_period: "30s",
    });
    expect(service("healthcheck:", "  disable: true")["healthcheck"]).toEqual({ disable: true });
  });

  it("prints byte sizes as decimal strings and cpus as numbers", () => {
    expect(service("mem_limit: 512m", "shm_size: 64M", "memswap_limit: -1", "cpus: '0.5'")).toMatchObject({
      mem_limit: "536870912",
      shm_size: "67108864",
      memswap_limit: "-1",
      cpus: 0.5,
    });
    expect([parseByteSize("1.5g"), parseByteSize("1kib"), parseByteSize("100")]).toEqual([1610612736, 1024, 100]);
  });

  it("normalizes deploy", () => {
    const deploy = service(
      "deploy:",
      "  replicas: 2",
      "  resources:",
      "    limits: {cpus: '1.5', memory: 1g, pids: 100}",
      "    reservations:",
      "      devices:",
      "        - capabilities: [gpu]",
      "  restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3}",
      "  update_config: {parallelism: 2, delay: 10s}",
    )["deploy"];
    expect(deploy).toEqual({
      replicas: 2,
      update_config: { parallelism: 2, delay: "10s" },
      resources: {
        limits: { cpus: 1.5, memory: "1073741824", pids: 100 },
        reservations: { devices: [{ capabilities: ["gpu"], count: -1 }] },
      },
      restart_policy: { condition: "on-failure", delay: "5s", max_attempts: 3 },
    });
  });

  it.each([
    ["a bad duration", "stop_grace_period: soon", "services.web.stop_grace_period", 4],
    ["a duration without a unit", "stop_grace_period: '10'", "services.web.stop_grace_period", 4],
    ["a bad size", "mem_limit: lots", "services.web.mem_limit", 4],
  ])("rejects %s at its position", (_name, line, path, lineNumber) => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", `    ${line}`));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe(path);
    expect([error.line, error.column]).toEqual([lineNumber, 5]);
  });
});

describe("normalize: other attributes", () => {
  it("normalizes ulimits, extra_hosts, devices, dns, expose, tmpfs, sysctls", () => {
    expect(
      service(
        "ulimits:",
        "  nproc: 65535",
        "  nofile: {soft: 1024, hard: 4096}",
        "extra_hosts: ['db:10.0.0.2', 'cache=10.0.0.3', 'v6=[::1]', 'multi=1.1.1.1,2.2.2.2']",
        "devices: ['/dev/ttyUSB0', '/dev/sda:/dev/xvda:rw']",
        "dns: 8.8.8.8",
        "expose: [3000, '8000-8001']",
        "tmpfs: /run",
        "sysctls: [net.core.somaxconn=1024]",
        "pull_policy: if_not_present",
        "gpus: all",
      ),
    ).toEqual({
      devices: [
        { source: "/dev/ttyUSB0", target: "/dev/ttyUSB0", permissions: "rwm" },
        { source: "/dev/sda", target: "/dev/xvda", permissions: "rw" },
      ],
      dns: ["8.8.8.8"],
      expose: ["3000", "8000-8001"],
      extra_hosts: ["cache=10.0.0.3", "db=10.0.0.2", "multi=1.1.1.1", "multi=2.2.2.2", "v6=::1"],
      gpus: [{ count: -1 }],
      image: "nginx",
      networks: { default: null },
      pull_policy: "missing",
      sysctls: { "net.core.somaxconn": "1024" },
      tmpfs: ["/run"],
      ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: 65535 },
    });
  });

  it("completes secret and config references; only secrets get a default target", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    secrets:",
      "      - token",
      "      - source: cert",
      "        target: /etc/cert.pem",
      "        mode: 0o440",
      "        uid: '1000'",
      "    configs: [site]",
      "secrets:",
      "  token: {file: ./token}",
      "  cert: {file: ./cert}",
      "configs:",
      "  site: {file: ./site.conf}",
    );
    const web = serviceOf(normalized(text));
    expect(web["secrets"]).toEqual([
      { source: "token", target: "/run/secrets/token" },
      { source: "cert", target: "/etc/cert.pem", uid: "1000", mode: "0440" },
    ]);
    expect(web["configs"]).toEqual([{ source: "site" }]);
  });

  it("keeps x- extensions and prints service keys in Compose's order", () => {
    const web = service("x-owner: team-a", "restart: always", "ports: ['80:80']", "container_name: web", "environment: [A=1]");
    expect(Object.keys(web)).toEqual(["container_name", "environment", "image", "networks", "ports", "restart", "x-owner"]);
    expect(web["x-owner"]).toBe("team-a");
  });

  it("omits what Compose omits (false flags, zero numbers, empty lists)", () => {
    expect(service("privileged: false", "read_only: false", "cap_add: []", "cpu_shares: 0", "init: false", "tty: true")).toEqual({
      image: "nginx",
      init: false,
      networks: { default: null },
      tty: true,
    });
  });

  it("does not mutate its input document", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    build: .",
      "    ports: ['80-81:80-81']",
      "    environment: [A=1]",
      "    labels: [a=b]",
      "    depends_on: [db]",
      "    volumes: [./x:/x, data:/data]",
      "    secrets: [s]",
      "  db:",
      "    image: postgres",
      "    links: [web]",
      "volumes:",
      "  data:",
      "secrets:",
      "  s: {file: ./s}",
    );
    const document = parse(text);
    const before = JSON.stringify(document.data);
    const originsBefore = document.origins.size;
    deepFreeze(document.data);
    normalizePass.run(document, testContext());
    expect(JSON.stringify(document.data)).toBe(before);
    expect(document.origins.size).toBe(originsBefore);
  });
});

describe("normalize: path tables", () => {
  it("no concrete path matches two rows of a table", () => {
    for (const rows of [canonicalRows, defaultRows]) {
      expect(overlappingRows(rows)).toEqual([]);
      const table = new RuleTable(rows);
      for (const [pattern] of rows) {
        const concrete = pattern.split(".").map((segment) => (segment === "*" ? "x" : segment));
        expect(table.matches(concrete), pattern).toBe(1);
      }
    }
  });
});

describe("normalize: speed", () => {
  function project(size: number): string {
    const lines = ["services:"];
    for (let index = 0; index < size; index++) {
      lines.push(
        `  svc${index}:`,
        "    image: example/app:1",
        `    ports: ['${10000 + index}:80', '${30000 + index}-${30000 + index}:90']`,
        `    environment: [INDEX=${index}, MODE=prod, UNSET]`,
        `    volumes: [./data/${index}:/data, cache:/cache]`,
        `    depends_on: [${index === 0 ? "db" : `svc${index - 1}`}]`,
        "    labels: {tier: app}",
        "    healthcheck: {test: curl -f http://localhost, interval: 10s}",
        "    command: run --fast",
      );
    }
    lines.push("  db:", "    image: postgres", "volumes:", "  cache: {}");
    return yaml(...lines);
  }

  // Speed is measured by bench/config.mjs, not asserted here; this checks the passes at scale.
  it("normalizes, checks and binds 1,000 services", () => {
    const context = testContext();
    const result = semanticsPass.run(normalizePass.run(parse(project(1000)), context), context);
    const bound = bindProject(result, context);
    expect(Object.keys(bound.services)).toHaveLength(1001);
  });
});
