import { describe, expect, it } from "vitest";
import { AggregateComposeError, ComposeError } from "../../../src/errors.js";
import { semanticsPass } from "../../../src/compose/validate-semantics.js";
import { composeFile, normalize, testContext, thrown, yaml } from "./normalize-helpers.js";

function check(text: string): void {
  semanticsPass.run(normalize(text), testContext());
}

function problemsOf(text: string): readonly ComposeError[] {
  const error = thrown(() => check(text));
  if (error instanceof AggregateComposeError) {
    expect(error.code).toBe("E_COMPOSE_SEMANTIC");
    return error.problems;
  }
  return [error];
}

function summary(problems: readonly ComposeError[]): [string, string | undefined, number | undefined, number | undefined][] {
  return problems.map((problem) => [problem.code, problem.path, problem.line, problem.column]);
}

describe("validate-semantics", () => {
  it("accepts a consistent project and returns the document unchanged", () => {
    const document = normalize(yaml("services:", "  web:", "    image: nginx", "    depends_on: [db]", "  db:", "    image: postgres"));
    expect(semanticsPass.run(document, testContext())).toBe(document);
  });

  it("reports dependencies on undefined services, in Compose's words, at the reference", () => {
    const problems = problemsOf(
      yaml(
        "services:",
        "  web:",
        "    image: nginx",
        "    depends_on:",
        "      - db",
        "    links:",
        "      - cache",
        "    volumes_from:",
        "      - files",
        "  vpn-client:",
        "    image: x",
        "    network_mode: service:vpn",
      ),
    );
    expect(problems.map((problem) => problem.message)).toEqual([
      'service "web" depends on undefined service "db": invalid compose project',
      'service "web" depends on undefined service "cache": invalid compose project',
      'service "web" depends on undefined service "files": invalid compose project',
      'service "vpn-client" depends on undefined service "vpn": invalid compose project',
    ]);
    expect(summary(problems)).toEqual([
      ["E_COMPOSE_SEMANTIC", "services.web.depends_on.db", 5, 9],
      ["E_COMPOSE_SEMANTIC", "services.web.depends_on.cache", 7, 9],
      ["E_COMPOSE_SEMANTIC", "services.web.depends_on.files", 9, 9],
      ["E_COMPOSE_SEMANTIC", "services.vpn-client.depends_on.vpn", 12, 5],
    ]);
    expect(problems[0]?.file).toBe(composeFile);
  });

  it("reports a dependency cycle alone, with the cycle in the message", () => {
    const error = thrown(() =>
      check(yaml("services:", "  a:", "    image: x", "    depends_on: [b]", "  b:", "    image: x", "    depends_on: [c]", "  c:", "    image: x", "    depends_on: [a]")),
    );
    expect(error).toBeInstanceOf(ComposeError);
    expect(error.code).toBe("E_COMPOSE_CYCLE");
    expect(error.message).toBe("dependency cycle detected: a -> b -> c -> a");
    expect(error instanceof ComposeError ? [error.path, error.line, error.column] : []).toEqual(["services.c.depends_on.a", 10, 18]);
  });

  it("reports a service that depends on itself", () => {
    const error = thrown(() => check(yaml("services:", "  a:", "    image: x", "    links: [a]")));
    expect(error.code).toBe("E_COMPOSE_CYCLE");
    expect(error.message).toBe("dependency cycle detected: a -> a");
  });

  it("collects undefined networks, volumes, secrets, configs and build secrets", () => {
    const problems = problemsOf(
      yaml(
        "services:",
        "  web:",
        "    build:",
        "      context: .",
        "      secrets: [npmrc]",
        "    networks: [front]",
        "    volumes: [data:/data, /anonymous, ./bind:/bind]",
        "    secrets: [token]",
        "    configs: [site]",
      ),
    );
    expect(problems.map((problem) => problem.message)).toEqual([
      'service "web" refers to undefined build secret npmrc: invalid compose project',
      'service "web" refers to undefined network front: invalid compose project',
      'service "web" refers to undefined volume data: invalid compose project',
      'service "web" refers to undefined secret token: invalid compose project',
      'service "web" refers to undefined config site: invalid compose project',
    ]);
    expect(summary(problems)).toEqual([
      ["E_COMPOSE_SEMANTIC", "services.web.build.secrets[0]", 5, 17],
      ["E_COMPOSE_SEMANTIC", "services.web.networks.front", 6, 16],
      ["E_COMPOSE_SEMANTIC", "services.web.volumes[0]", 7, 15],
      ["E_COMPOSE_SEMANTIC", "services.web.secrets[0]", 8, 15],
      ["E_COMPOSE_SEMANTIC", "services.web.configs[0]", 9, 15],
    ]);
  });

  it("rejects container_name on a service with several replicas, and a container name used twice", () => {
    const problems = problemsOf(
      yaml(
        "services:",
        "  web:",
        "    image: nginx",
        "    container_name: web",
        "    deploy:",
        "      replicas: 3",
        "  api:",
        "    image: api",
        "    container_name: shared",
        "  worker:",
        "    image: api",
        "    scale: 2",
        "    container_name: shared",
      ),
    );
    expect(problems.map((problem) => problem.message)).toEqual([
      "services.web: can't set container_name and deploy.replicas as container name must be unique: invalid compose project",
      "services.worker: can't set container_name and scale as container name must be unique: invalid compose project",
      'services.worker: container name "shared" is already in use by service api',
    ]);
    expect(summary(problems).map(([, path, line]) => [path, line])).toEqual([
      ["services.web.container_name", 4],
      ["services.worker.container_name", 13],
      ["services.worker.container_name", 13],
    ]);
  });

  it("rejects the same host address, port and protocol published twice", () => {
    const problems = problemsOf(
      yaml(
        "services:",
        "  a:",
        "    image: x",
        "    ports: ['8080:80', '127.0.0.1:9000:9000', '53:53/udp']",
        "  b:",
        "    image: x",
        "    ports:",
        "      - '8080:81'",
        "      - '127.0.0.2:9000:9000'",
        "      - '53:53/tcp'",
        "      - '0.0.0.0:9000:9001'",
      ),
    );
    expect(problems.map((problem) => problem.message)).toEqual([
      'service "b" publishes 0.0.0.0:8080/tcp, which services.a.ports[0] (service "a") already publishes',
      'service "b" publishes 0.0.0.0:9000/tcp, which services.a.ports[1] (service "a") already publishes',
    ]);
    expect(summary(problems).map(([, path, line]) => [path, line])).toEqual([
      ["services.b.ports[0]", 8],
      ["services.b.ports[3]", 11],
    ]);
  });

  it("rejects a fixed host port on a service with several replicas", () => {
    const problems = problemsOf(yaml("services:", "  web:", "    image: x", "    scale: 2", "    ports: ['8080:80', '80']"));
    expect(summary(problems)).toEqual([["E_COMPOSE_SEMANTIC", "services.web.ports[0]", 5, 13]]);
  });

  it("reports Compose's other consistency rules", () => {
    const problems = problemsOf(
      yaml(
        "services:",
        "  nothing:",
        "    restart: always",
        "  web:",
        "    image: x",
        "    network_mode: host",
        "    networks: [default]",
        "    healthcheck:",
        "      test: [echo, hi]",
        "    scale: 2",
        "    deploy: {replicas: 3}",
        "    cpus: 1",
        "    volumes: [/data, /srv:/data]",
        "secrets:",
        "  both: {file: ./a, environment: A}",
        "  neither: {labels: {a: b}}",
        "volumes:",
        "  ext:",
        "    external: true",
        "    driver: local",
      ),
    );
    expect(summary(problems).map(([, path]) => path)).toEqual([
      "services.nothing",
      "services.web.network_mode",
      "services.web.healthcheck.test",
      "services.web.scale",
      "services.web.volumes[1]",
      "secrets.both",
      "secrets.neither",
      "volumes.ext.driver",
    ]);
    expect(problems[0]?.message).toBe('service "nothing" has neither an image nor a build context specified: invalid compose project');
    expect(problems.every((problem) => problem.line !== undefined)).toBe(true);
  });
});
