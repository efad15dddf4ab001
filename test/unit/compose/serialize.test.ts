import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../src/errors.js";
import { bindProject } from "../../../src/compose/bind.js";
import type { ComposeDocument } from "../../../src/compose/document.js";
import { replicasOf, type Project } from "../../../src/compose/model.js";
import { normalizePass } from "../../../src/compose/normalize.js";
import { projectToConfig } from "../../../src/compose/serialize.js";
import { normalize, testContext, yaml } from "./normalize-helpers.js";

/** A file that touches most attributes, in short syntax where there is one. */
const everything = yaml(
  "x-common: &common",
  "  restart: unless-stopped",
  "services:",
  "  web:",
  "    <<: *common",
  "    image: example/web:1.0",
  "    build:",
  "      context: ./web",
  "      args: [VERSION=1]",
  "      ssh: [default]",
  "    command: npm run start -- --port 3000",
  "    entrypoint: [/sbin/tini, --]",
  "    ports: ['127.0.0.1:3000-3001:3000-3001', 9229]",
  "    expose: [9000]",
  "    volumes: [./src:/app/src:ro, data:/var/lib/data, /tmp/cache]",
  "    environment: [NODE_ENV=production, EMPTY=]",
  "    labels: {com.example.team: web}",
  "    depends_on: [db]",
  "    links: ['cache:redis']",
  "    networks: [front, back]",
  "    secrets: [token]",
  "    configs:",
  "      - source: site",
  "        target: /etc/site.conf",
  "        mode: 0o440",
  "    healthcheck:",
  "      test: [CMD, curl, -f, http://localhost:3000]",
  "      interval: 30s",
  "      timeout: 5s",
  "      retries: 3",
  "      start_period: 1m30s",
  "    deploy:",
  "      replicas: 2",
  "      resources:",
  "        limits: {cpus: '0.5', memory: 512M}",
  "        reservations: {memory: 128m}",
  "      restart_policy: {condition: on-failure, max_attempts: 5}",
  "    ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}",
  "    extra_hosts: ['host.docker.internal:host-gateway']",
  "    stop_grace_period: 20s",
  "    logging: {driver: json-file, options: {max-size: 10m}}",
  "    cap_add: [NET_ADMIN]",
  "    tmpfs: [/run]",
  "    init: true",
  "    x-notes: kept",
  "  db:",
  "    image: postgres:16",
  "    shm_size: 256m",
  "    environment:",
  "      POSTGRES_PASSWORD_FILE: /run/secrets/token",
  "    volumes:",
  "      - type: volume",
  "        source: pgdata",
  "        target: /var/lib/postgresql/data",
  "    networks:",
  "      back:",
  "        aliases: [database]",
  "    secrets: [token]",
  "  cache:",
  "    image: redis:7",
  "    network_mode: service:db",
  "networks:",
  "  front: {}",
  "  back:",
  "    driver: bridge",
  "    ipam:",
  "      config: [{subnet: 172.28.0.0/16}]",
  "  unused: {}",
  "volumes:",
  "  data: {}",
  "  pgdata:",
  "    external: true",
  "secrets:",
  "  token:",
  "    file: ./token.txt",
  "configs:",
  "  site:",
  "    content: |",
  "      server {}",
  "x-top: level",
);

function reparse(document: ComposeDocument): ComposeDocument {
  return { file: document.file, data: JSON.parse(JSON.stringify(document.data)) as ComposeDocument["data"], origins: document.origins };
}

describe("projectToConfig", () => {
  it("round-trips: serialize(bind(normalize(doc))) is normalize(doc).data", () => {
    const document = normalize(everything);
    // A fresh copy, so that bind really decodes it (the pass remembers what its own output binds to).
    const project = bindProject(reparse(document), testContext());
    expect(projectToConfig(project, { format: "yaml", allResources: true })).toEqual(document.data);
  });

  it("is idempotent: normalizing normalized output changes nothing", () => {
    const document = normalize(everything);
    const again = normalizePass.run(reparse(document), testContext());
    expect(again.data).toEqual(document.data);
  });

  it("binds typed long-syntax values", () => {
    const project: Project = bindProject(normalize(everything), testContext());
    const web = project.services["web"];
    expect(web?.ports).toEqual([
      { mode: "ingress", hostIp: "127.0.0.1", target: 3000, published: "3000", protocol: "tcp", extensions: {} },
      { mode: "ingress", hostIp: "127.0.0.1", target: 3001, published: "3001", protocol: "tcp", extensions: {} },
      { mode: "ingress", target: 9229, protocol: "tcp", extensions: {} },
    ]);
    expect(web?.volumes.map((mount) => [mount.type, mount.source, mount.target, mount.readOnly])).toEqual([
      ["bind", "/project/src", "/app/src", true],
      ["volume", "data", "/var/lib/data", false],
      ["volume", undefined, "/tmp/cache", false],
    ]);
    expect(web?.volumes[0]?.bind?.createHostPath).toBe(true);
    expect(web?.healthcheck).toEqual({
      test: ["CMD", "curl", "-f", "http://localhost:3000"],
      interval: 30_000_000_000,
      timeout: 5_000_000_000,
      retries: 3,
      startPeriod: 90_000_000_000,
      disable: false,
      extensions: {},
    });
    expect(web?.deploy?.resources.limits).toEqual({ cpus: 0.5, memory: 536870912, devices: [], genericResources: [], extensions: {} });
    expect(web?.stopGracePeriod).toBe(20_000_000_000);
    expect(web?.command).toEqual(["npm", "run", "start", "--", "--port", "3000"]);
    expect(web?.dependsOn).toEqual({
      db: { condition: "service_started", restart: false, required: true, extensions: {} },
      cache: { condition: "service_started", restart: true, required: true, extensions: {} },
    });
    expect(web?.ulimits).toEqual({ nofile: { soft: 20000, hard: 40000 }, nproc: { single: 65535 } });
    expect(web?.extraHosts).toEqual({ "host.docker.internal": ["host-gateway"] });
    expect(web?.configs).toEqual([{ source: "site", target: "/etc/site.conf", mode: 0o440, extensions: {} }]);
    expect(web?.extensions).toEqual({ "x-notes": "kept" });
    expect(web === undefined ? 0 : replicasOf(web)).toBe(2);
    expect(project.services["db"]?.shmSize).toBe(268435456);
    expect(project.volumes["pgdata"]).toEqual({ name: "pgdata", external: true, driverOpts: {}, labels: {}, extensions: {} });
    expect(project.extensions).toEqual({ "x-common": { restart: "unless-stopped" }, "x-top": "level" });
  });

  it("prints Compose's top-level order, services sorted, and only the sections present", () => {
    const config = projectToConfig(bindProject(normalize(everything), testContext()), { format: "yaml" });
    expect(Object.keys(config)).toEqual(["name", "services", "networks", "volumes", "secrets", "configs", "x-common", "x-top"]);
    expect(Object.keys(config["services"] as object)).toEqual(["cache", "db", "web"]);
    const minimal = projectToConfig(bindProject(normalize(yaml("services:", "  one:", "    image: a", "    network_mode: none")), testContext()), { format: "yaml" });
    expect(minimal).toEqual({ name: "demo", services: { one: { image: "a", network_mode: "none" } } });
  });

  it("drops resources no service uses unless allResources is set", () => {
    const project = bindProject(normalize(everything), testContext());
    expect(Object.keys(projectToConfig(project)["networks"] as object)).toEqual(["back", "front"]);
    expect(Object.keys(projectToConfig(project, { allResources: true })["networks"] as object)).toEqual(["back", "front", "unused"]);
  });

  it("prints the JSON shape where Go's JSON encoder differs from its YAML encoder", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    deploy: {replicas: 1}",
      "    x-local: dropped in JSON",
      "    develop:",
      "      watch:",
      "        - path: ./src",
      "          action: sync",
      "          target: /app",
      "networks:",
      "  default: {}",
      "x-top: kept",
    );
    const project = bindProject(normalize(text), testContext());
    expect(projectToConfig(project, { format: "json" })).toEqual({
      name: "demo",
      networks: { default: { name: "demo_default", ipam: {} } },
      services: {
        web: {
          command: null,
          deploy: { replicas: 1, resources: {}, placement: {} },
          develop: { watch: [{ path: "/project/src", action: "sync", target: "/app", exec: { command: null } }] },
          entrypoint: null,
          image: "nginx",
          networks: { default: null },
        },
      },
      "x-top": "kept",
    });
    expect(Object.keys(projectToConfig(project, { format: "json" }))).toEqual(["name", "networks", "services", "x-top"]);
    // Without a format: the JSON content, in the YAML key order.
    expect(projectToConfig(project)).toEqual(projectToConfig(project, { format: "json" }));
    const small = bindProject(normalize(yaml("services:", "  a:", "    image: x", "    network_mode: none", "x-b: 1", "volumes:", "  v: {}")), testContext());
    expect(Object.keys(projectToConfig(small, { allResources: true }))).toEqual(["name", "services", "volumes", "x-b"]);
    expect(projectToConfig(project, { format: "yaml" })["services"]).toEqual({
      web: {
        deploy: { replicas: 1 },
        develop: { watch: [{ path: "/project/src", action: "sync", target: "/app" }] },
        image: "nginx",
        networks: { default: null },
        "x-local": "dropped in JSON",
      },
    });
  });

  it("never prints secret content, nor config content taken from the environment, but binds it", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    secrets: [api]",
      "    configs: [motd]",
      "secrets:",
      "  api:",
      "    environment: API_KEY",
      "configs:",
      "  motd:",
      "    environment: MOTD",
    );
    const context = testContext({ environment: { API_KEY: "k3y", MOTD: "hello" } });
    const document = normalizePass.run(normalize(text, { environment: { API_KEY: "k3y", MOTD: "hello" } }), context);
    const project = bindProject(document, context);
    expect(project.secrets["api"]?.content).toBe("k3y");
    expect(project.configs["motd"]?.content).toBe("hello");
    const config = projectToConfig(project, { format: "yaml" });
    expect(config["secrets"]).toEqual({ api: { name: "demo_api", environment: "API_KEY" } });
    expect(config["configs"]).toEqual({ motd: { name: "demo_motd", environment: "MOTD" } });
  });
});

describe("projectToConfig on generated documents", () => {
  const keys = [
    "image", "build", "command", "entrypoint", "ports", "volumes", "environment", "env_file", "labels", "depends_on", "links",
    "volumes_from", "network_mode", "networks", "secrets", "configs", "healthcheck", "deploy", "ulimits", "extra_hosts", "devices",
    "dns", "expose", "tmpfs", "sysctls", "gpus", "cpus", "mem_limit", "shm_size", "stop_grace_period", "scale", "container_name",
    "develop", "logging", "post_start", "x-a", "init", "privileged",
  ];
  const scalar = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.integer({ min: -5, max: 70000 }),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom("80:80", "a:/b:ro", "1m", "512m", "service:web", "KEY=v", "all", "./x", "${X}"),
  );
  const nested = ["target", "source", "soft", "hard", "test", "limits", "resources", "condition", "path", "required", "type"];
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      scalar,
      fc.array(tie("node"), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom(...keys, ...nested), tie("node"), { maxKeys: 3 }),
    ),
  })).node;
  const documents = fc.record({
    services: fc.dictionary(fc.constantFrom("web", "db", "x"), fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 }), { maxKeys: 3 }),
    volumes: fc.option(fc.dictionary(fc.constantFrom("data"), value, { maxKeys: 1 }), { nil: undefined }),
  });

  it("fails only with BerthErrors; what normalizes round-trips and normalizes to itself", () => {
    fc.assert(
      fc.property(documents, (generated) => {
        const data = JSON.parse(JSON.stringify(generated)) as ComposeDocument["data"];
        const context = testContext({ files: { "/project/x": "A=1\n" } });
        let document: ComposeDocument;
        try {
          document = normalizePass.run({ file: "/project/compose.yaml", data: { name: "demo", ...data }, origins: new Map() }, context);
        } catch (error) {
          if (error instanceof BerthError) return;
          throw error;
        }
        expect(projectToConfig(bindProject(reparse(document), context), { format: "yaml", allResources: true })).toEqual(document.data);
        expect(normalizePass.run(reparse(document), testContext({ files: { "/project/x": "A=1\n" } })).data).toEqual(document.data);
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
