import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AggregateComposeError, ComposeError } from "../../../src/errors.js";
import { corpusDirectory } from "../../support/corpus.js";
import type { LoadContext } from "../../../src/compose/context.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";
import { formatChecks, problemsFromErrors, schemaPass, schemaProblems } from "../../../src/compose/validate-schema.js";
import { formatNames, schemaTree, type SchemaValidationError } from "../../../src/compose/generated/schema-validator.js";

const noContext = undefined as unknown as LoadContext;

function problemsOf(yaml: string): readonly ComposeError[] {
  try {
    schemaPass.run(parseComposeYaml("compose.yaml", yaml), noContext);
  } catch (error) {
    if (error instanceof AggregateComposeError) return error.problems;
    throw error;
  }
  return [];
}

const lines = (...text: string[]): string => `${text.join("\n")}\n`;

describe("schemaPass: valid documents", () => {
  const valid: readonly (readonly [string, string])[] = [
    ["minimal", lines("services:", "  web:", "    image: nginx")],
    [
      "top level: version, name, include, x-*, networks, volumes, secrets, configs, models",
      lines(
        "version: '3.8'",
        "name: shop",
        "include:",
        "  - ./other/compose.yaml",
        "  - path: [a.yaml, b.yaml]",
        "    env_file: ./a.env",
        "    project_directory: ./a",
        "x-common: &common {restart: always}",
        "services:",
        "  web: {image: nginx, <<: *common}",
        "networks:",
        "  front:",
        "  back:",
        "    driver: bridge",
        "    driver_opts: {com.docker.network.bridge.name: br0, mtu: 1500}",
        "    attachable: true",
        "    enable_ipv4: true",
        "    enable_ipv6: 'false'",
        "    internal: false",
        "    labels: [a=b]",
        "    name: shop_back",
        "    ipam:",
        "      driver: default",
        "      config:",
        "        - subnet: 172.28.0.0/16",
        "          ip_range: 172.28.5.0/24",
        "          gateway: 172.28.5.254",
        "          aux_addresses: {host1: 172.28.1.5}",
        "      options: {foo: bar}",
        "    x-note: kept",
        "  outside: {external: true}",
        "  legacy: {external: {name: real}}",
        "volumes:",
        "  data:",
        "  db: {driver: local, driver_opts: {type: nfs, o: 'addr=1.2.3.4'}, labels: {a: b}, name: db-data}",
        "  old: {external: true, name: old}",
        "secrets:",
        "  token: {file: ./token.txt}",
        "  key: {environment: KEY}",
        "  ext: {external: true}",
        "configs:",
        "  conf: {file: ./app.conf}",
        "  inline: {content: 'hello ${USER}'}",
        "  env: {environment: CONF, template_driver: golang}",
        "models:",
        "  llm: {model: ai/smollm2, context_size: 4096, runtime_flags: [--verbose]}",
      ),
    ],
    [
      "build: short and long",
      lines(
        "services:",
        "  a: {build: .}",
        "  b:",
        "    build:",
        "      context: ./b",
        "      dockerfile: Dockerfile.dev",
        "      args: {VERSION: 1, DEBUG: null}",
        "      ssh: [default]",
        "      labels: [a=b]",
        "      cache_from: [type=local,src=/tmp]",
        "      cache_to: [type=inline]",
        "      no_cache: true",
        "      no_cache_filter: base",
        "      additional_contexts: {src: ../src}",
        "      network: host",
        "      provenance: mode=max",
        "      sbom: true",
        "      pull: true",
        "      target: prod",
        "      shm_size: 2gb",
        "      extra_hosts: {somehost: 162.242.195.82}",
        "      isolation: default",
        "      privileged: false",
        "      secrets: [token, {source: key, target: /run/key}]",
        "      tags: [b:latest]",
        "      ulimits: {nofile: 1024}",
        "      platforms: [linux/amd64, linux/arm64]",
        "      entitlements: [network.host]",
        "      x-extra: 1",
        "  c: {build: {dockerfile_inline: 'FROM alpine'}}",
      ),
    ],
    [
      "ports: numbers, short syntax, ranges, addresses, long syntax",
      lines(
        "services:",
        "  web:",
        "    image: nginx",
        "    ports:",
        "      - 80",
        "      - '3000'",
        "      - 8080:80",
        "      - '9090-9091:8080-8081'",
        "      - '49100-49200:22'",
        "      - '127.0.0.1:8001:8001'",
        "      - '127.0.0.1::5000'",
        "      - '[::1]:6001:6001'",
        "      - '::1:6002:6002'",
        "      - '6060:6060/udp'",
        "      - '7000:7000/SCTP'",
        "      - target: 80",
        "        published: '8080'",
        "        host_ip: 127.0.0.1",
        "        protocol: tcp",
        "        app_protocol: http",
        "        mode: host",
        "        name: web",
        "      - {target: '443', published: 8000-8010}",
      ),
    ],
    [
      "volumes: short and long, every mount type",
      lines(
        "services:",
        "  web:",
        "    image: nginx",
        "    volumes:",
        "      - data:/data",
        "      - ./conf:/etc/conf:ro",
        "      - /var/run/docker.sock:/var/run/docker.sock",
        "      - type: bind",
        "        source: ./src",
        "        target: /src",
        "        read_only: true",
        "        consistency: cached",
        "        bind: {propagation: rshared, create_host_path: true, recursive: readonly, selinux: z}",
        "      - type: volume",
        "        source: data",
        "        target: /more",
        "        volume: {nocopy: true, subpath: sub, labels: {a: b}}",
        "      - {type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: 1777}}",
        "      - {type: tmpfs, target: /run, tmpfs: {size: 1000000}}",
        "      - {type: image, source: 'alpine:3', target: /img, image: {subpath: etc}}",
        "      - {type: npipe, source: '\\\\.\\pipe\\docker_engine', target: '\\\\.\\pipe\\docker_engine'}",
        "    volumes_from: ['other:ro']",
        "volumes: {data: {}}",
      ),
    ],
    [
      "depends_on, env_file, extends, networks: every form",
      lines(
        "services:",
        "  a:",
        "    image: a",
        "    depends_on: [b]",
        "    env_file: .env",
        "    networks: [front]",
        "    extends: base",
        "  b:",
        "    image: b",
        "    depends_on:",
        "      a: {condition: service_healthy, restart: true, required: false}",
        "      c: {condition: service_completed_successfully}",
        "    env_file:",
        "      - a.env",
        "      - path: b.env",
        "        required: false",
        "        format: raw",
        "    networks:",
        "      front:",
        "      back:",
        "        aliases: [db]",
        "        ipv4_address: 10.0.0.2",
        "        ipv6_address: 'fe80::2'",
        "        link_local_ips: [169.254.0.2]",
        "        mac_address: 02:42:ac:11:65:43",
        "        interface_name: eth1",
        "        driver_opts: {foo: bar, mtu: 1400}",
        "        priority: 100",
        "        gw_priority: 1",
        "    extends: {service: base, file: base.yaml}",
        "  c: {image: c, network_mode: 'service:a'}",
      ),
    ],
    [
      "deploy, develop, healthcheck, logging",
      lines(
        "services:",
        "  web:",
        "    image: nginx",
        "    deploy:",
        "      mode: replicated",
        "      replicas: 2",
        "      endpoint_mode: vip",
        "      labels: {tier: web}",
        "      resources:",
        "        limits: {cpus: '0.50', memory: 50M, pids: 100}",
        "        reservations:",
        "          cpus: 0.25",
        "          memory: 20M",
        "          devices:",
        "            - {driver: nvidia, count: 1, capabilities: [gpu], device_ids: ['0'], options: {a: b}}",
        "          generic_resources:",
        "            - discrete_resource_spec: {kind: gpu, value: 2}",
        "      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 120s}",
        "      update_config: {parallelism: 2, delay: 10s, failure_action: rollback, monitor: 1m, max_failure_ratio: 0.1, order: start-first}",
        "      rollback_config: {parallelism: '0', order: stop-first}",
        "      placement:",
        "        constraints: [node.role==manager]",
        "        preferences: [{spread: node.labels.zone}]",
        "        max_replicas_per_node: 1",
        "    develop:",
        "      watch:",
        "        - {path: ./src, action: sync, target: /app, ignore: [node_modules], initial_sync: true}",
        "        - {path: package.json, action: rebuild}",
        "        - {path: ./conf, action: sync+exec, target: /conf, exec: {command: [nginx, -s, reload]}}",
        "    healthcheck:",
        "      test: [CMD, curl, -f, http://localhost]",
        "      interval: 1m30s",
        "      timeout: 10s",
        "      retries: 3",
        "      start_period: 40s",
        "      start_interval: 5s",
        "    logging:",
        "      driver: json-file",
        "      options: {max-size: 200k, max-file: 10, tag: null}",
        "  off:",
        "    image: nginx",
        "    healthcheck: {disable: true}",
        "    deploy:",
        "    develop:",
      ),
    ],
    [
      "secrets, configs, ulimits, blkio, gpus, hooks, provider, models, extra_hosts",
      lines(
        "services:",
        "  app:",
        "    image: app",
        "    secrets: [token, {source: key, target: /run/key, uid: '103', gid: '103', mode: 0440}]",
        "    configs: [conf, {source: inline, target: /etc/inline, mode: '0444'}]",
        "    ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}",
        "    blkio_config:",
        "      weight: 300",
        "      weight_device: [{path: /dev/sda, weight: 400}]",
        "      device_read_bps: [{path: /dev/sdb, rate: '12mb'}]",
        "      device_read_iops: [{path: /dev/sdb, rate: 120}]",
        "      device_write_bps: [{path: /dev/sdb, rate: '1024k'}]",
        "      device_write_iops: [{path: /dev/sdb, rate: 30}]",
        "    gpus: all",
        "    post_start: [{command: ./on-start.sh, user: root, privileged: true, working_dir: /app, environment: {A: b}}]",
        "    pre_stop: [{command: [./drain.sh]}]",
        "    pre_start: [{image: busybox, command: [sh, -c, 'true'], per_replica: false}]",
        "    models: [llm]",
        "    extra_hosts: ['somehost:162.242.195.82', 'otherhost=50.31.209.229', 'myhostv6=::1']",
        "  gpu:",
        "    image: cuda",
        "    gpus: [{driver: nvidia, count: 2}]",
        "    models: {llm: {endpoint_var: AI_URL, model_var: AI_MODEL}, other:}",
        "    extra_hosts: {somehost: 162.242.195.82, multi: ['::1', 127.0.0.1]}",
        "  external:",
        "    provider: {type: model, options: {model: ai/smollm2, flags: [a, 1, true]}}",
      ),
    ],
    [
      "the remaining scalar and list attributes",
      lines(
        "services:",
        "  app:",
        "    image: app",
        "    annotations: {com.example.a: b}",
        "    attach: false",
        "    cap_add: [ALL]",
        "    cap_drop: [NET_ADMIN, SYS_ADMIN]",
        "    cgroup: private",
        "    cgroup_parent: m-executor-abcd",
        "    command: null",
        "    entrypoint: [/bin/sh, -c]",
        "    container_name: my-app.1",
        "    cpu_count: 2",
        "    cpu_percent: 50",
        "    cpu_period: 100000",
        "    cpu_quota: 50000",
        "    cpu_rt_period: 1400us",
        "    cpu_rt_runtime: 11000",
        "    cpu_shares: 512",
        "    cpus: 1.5",
        "    cpuset: 0-3",
        "    credential_spec: {config: my_credential_spec}",
        "    device_cgroup_rules: ['c 1:3 mr', 'a 7:* rmw']",
        "    devices: ['/dev/ttyUSB0:/dev/ttyUSB0', {source: /dev/sda, target: /dev/xvda, permissions: rwm}, 'vendor.com/device=gpu']",
        "    dns: 8.8.8.8",
        "    dns_opt: [use-vc, no-tld-query]",
        "    dns_search: [dc1.example.com, dc2.example.com]",
        "    domainname: foo.com",
        "    environment: [RACK_ENV=development, SHOW=true, USER_INPUT]",
        "    expose: ['3000', 8000, '8080-8085/tcp']",
        "    external_links: ['redis_1', 'project_db_1:mysql']",
        "    group_add: [mail, 1000]",
        "    hostname: app",
        "    init: true",
        "    ipc: shareable",
        "    isolation: default",
        "    label_file: [./app.labels]",
        "    labels: {com.example.description: Accounting webapp}",
        "    links: [db:database]",
        "    mac_address: 02:42:ac:11:65:43",
        "    mem_limit: 1gb",
        "    mem_reservation: 512m",
        "    mem_swappiness: 60",
        "    memswap_limit: -1",
        "    oom_kill_disable: true",
        "    oom_score_adj: -500",
        "    pid: host",
        "    pids_limit: 10",
        "    platform: linux/arm64/v8",
        "    privileged: false",
        "    profiles: [debug]",
        "    pull_policy: every_12h",
        "    pull_refresh_after: 1h",
        "    read_only: true",
        "    restart: on-failure:3",
        "    runtime: runc",
        "    scale: 3",
        "    security_opt: [label=user:USER, no-new-privileges:true]",
        "    shm_size: 64M",
        "    stdin_open: true",
        "    stop_grace_period: 1m30s",
        "    stop_signal: SIGUSR1",
        "    storage_opt: {size: 1G}",
        "    sysctls: {net.core.somaxconn: 1024}",
        "    tmpfs: [/run, /tmp]",
        "    tty: true",
        "    use_api_socket: true",
        "    user: postgresql:postgres",
        "    userns_mode: host",
        "    uts: host",
        "    working_dir: /code",
        "    x-custom: {anything: [1, 2]}",
        "    ports: []",
        "    volumes: []",
      ),
    ],
    [
      "unresolved variables where Compose expects numbers, booleans, enums or formats",
      lines(
        "services:",
        "  web:",
        "    image: nginx:${TAG:-latest}",
        "    ports: ['${HOST_PORT}:80', {target: '${TARGET}', published: '${PUBLISHED}'}]",
        "    expose: ['${EXPOSED}']",
        "    restart: ${RESTART_POLICY}",
        "    cgroup: ${CGROUP}",
        "    pull_policy: $POLICY",
        "    cpus: ${CPUS}",
        "    scale: ${SCALE}",
        "    privileged: ${PRIVILEGED}",
        "    stop_grace_period: ${GRACE}",
        "    mem_limit: ${MEMORY}",
        "    healthcheck: {interval: '${INTERVAL}', retries: '${RETRIES}'}",
        "    depends_on: {db: {condition: '${CONDITION}', required: '${REQUIRED}'}}",
        "    gpus: ${GPUS}",
        "    container_name: ${PROJECT}-web",
        "  db: {image: postgres}",
      ),
    ],
    [
      "format edge cases Compose accepts",
      lines(
        "services:",
        "  web:",
        "    image: nginx",
        "    restart: 'no'",
        "    stop_grace_period: 1.5h",
        "    healthcheck: {interval: 1d, timeout: 500ms, start_period: '0'}",
        "    pull_policy: if_not_present",
        "    mem_limit: 1.5GiB",
        "    ports: ['0', '65535:65535']",
        "  other:",
        "    image: nginx",
        "    restart: unless-stopped",
        "    pull_policy: daily",
      ),
    ],
  ];

  it.each(valid)("%s", (_name, yaml) => {
    expect(problemsOf(yaml).map((problem) => `${problem.path}: ${problem.message}`)).toEqual([]);
  });

  it("returns the document unchanged", () => {
    const document = parseComposeYaml("compose.yaml", lines("services:", "  web: {image: nginx}"));
    expect(schemaPass.run(document, noContext)).toBe(document);
    expect(schemaPass.name).toBe("validate-schema");
  });
});

describe("schemaPass: the schema covers Compose", () => {
  const serviceAttributes = [
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command",
    "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
    "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules", "devices",
    "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose", "extends",
    "external_links", "extra_hosts", "gpus", "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation",
    "label_file", "labels", "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness",
    "memswap_limit", "models", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_start", "pre_stop", "privileged", "profiles", "provider", "pull_policy",
    "pull_refresh_after", "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
    "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket", "user",
    "userns_mode", "uts", "volumes", "volumes_from", "working_dir",
  ];

  it("knows every service attribute of compose-go's schema, and no other", () => {
    expect(serviceAttributes).toHaveLength(93);
    expect(Object.keys(schemaTree.definitions?.["service"]?.properties ?? {}).sort()).toEqual([...serviceAttributes].sort());
  });

  it("allows exactly the Compose top-level elements", () => {
    expect(Object.keys(schemaTree.properties ?? {}).sort()).toEqual(
      ["configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes"],
    );
  });

  it("has a check for every format the schema names", () => {
    expect(Object.keys(formatChecks).sort()).toEqual([...formatNames].sort());
  });
});

describe("schemaPass: invalid documents", () => {
  interface Case {
    readonly name: string;
    readonly yaml: string;
    readonly path: string;
    readonly line: number;
    readonly column: number;
    /** A fragment of the message (the exact wording may change). */
    readonly says: string;
  }
  const web = (...body: string[]): string => lines("services:", "  web:", "    image: nginx", ...body);
  const cases: readonly Case[] = [
    { name: "unknown top-level key", yaml: lines("service:", "  web: {image: nginx}"), path: "service", line: 1, column: 1, says: 'additional property "service"' },
    { name: "unknown service key", yaml: web("    imagee: nginx"), path: "services.web.imagee", line: 4, column: 5, says: "is not allowed" },
    { name: "unknown key in a nested mapping", yaml: web("    healthcheck:", "      intervall: 10s"), path: "services.web.healthcheck.intervall", line: 5, column: 7, says: "intervall" },
    { name: "unknown key in a top-level volume", yaml: lines("services: {}", "volumes:", "  data:", "    driverr: local"), path: "volumes.data.driverr", line: 4, column: 5, says: "driverr" },
    { name: "image is not a string", yaml: lines("services:", "  web:", "    image: 5"), path: "services.web.image", line: 3, column: 5, says: "must be a string" },
    { name: "services is a list", yaml: lines("services:", "  - web"), path: "services", line: 1, column: 1, says: "must be a mapping" },
    { name: "a service is not a mapping", yaml: lines("services:", "  web: nginx"), path: "services.web", line: 2, column: 3, says: "must be a mapping" },
    { name: "environment value is a list", yaml: web("    environment:", "      A: [1, 2]"), path: "services.web.environment.A", line: 5, column: 7, says: "must be a" },
    { name: "command is a number", yaml: web("    command: 5"), path: "services.web.command", line: 4, column: 5, says: "string, list or null" },
    { name: "ports is a string", yaml: web("    ports: '80:80'"), path: "services.web.ports", line: 4, column: 5, says: "must be a list" },
    { name: "version is a number", yaml: lines("version: 3.8", "services: {}"), path: "version", line: 1, column: 1, says: "must be a string" },
    { name: "bad short port", yaml: web("    ports:", '      - "80800"'), path: "services.web.ports[0]", line: 5, column: 9, says: 'invalid port "80800"' },
    { name: "bad numeric port", yaml: web("    ports:", "      - 80800"), path: "services.web.ports[0]", line: 5, column: 9, says: 'invalid port "80800"' },
    { name: "bad port protocol", yaml: web("    ports: ['80:80/icmp']"), path: "services.web.ports[0]", line: 4, column: 13, says: "invalid port" },
    { name: "bad port host address", yaml: web("    ports: ['localhost:80:80']"), path: "services.web.ports[0]", line: 4, column: 13, says: "invalid port" },
    { name: "mismatched port ranges", yaml: web("    ports: ['8000-8002:80-81']"), path: "services.web.ports[0]", line: 4, column: 13, says: "invalid port" },
    { name: "bad long port target", yaml: web("    ports:", "      - target: http"), path: "services.web.ports[0].target", line: 5, column: 9, says: "invalid port" },
    { name: "fractional port", yaml: web("    ports: [80.5]"), path: "services.web.ports[0]", line: 4, column: 13, says: "must be an integer, string or mapping" },
    { name: "bad exposed port", yaml: web("    expose: ['http']"), path: "services.web.expose[0]", line: 4, column: 14, says: "invalid exposed port" },
    { name: "bad restart value", yaml: web("    restart: sometimes"), path: "services.web.restart", line: 4, column: 5, says: 'invalid restart policy "sometimes"' },
    { name: "restart with a count on always", yaml: web("    restart: always:3"), path: "services.web.restart", line: 4, column: 5, says: "restart policy" },
    { name: "bad duration", yaml: web("    healthcheck:", "      interval: 10 seconds"), path: "services.web.healthcheck.interval", line: 5, column: 7, says: 'invalid duration "10 seconds"' },
    { name: "duration without a unit", yaml: web("    stop_grace_period: '10'"), path: "services.web.stop_grace_period", line: 4, column: 5, says: "invalid duration" },
    { name: "duration as a number", yaml: web("    stop_grace_period: 10"), path: "services.web.stop_grace_period", line: 4, column: 5, says: "must be a string" },
    { name: "bad deploy duration", yaml: web("    deploy:", "      restart_policy: {delay: soon}"), path: "services.web.deploy.restart_policy.delay", line: 5, column: 24, says: "invalid duration" },
    { name: "bad byte size", yaml: web("    deploy:", "      resources:", "        limits: {memory: 12x}"), path: "services.web.deploy.resources.limits.memory", line: 6, column: 18, says: 'invalid size "12x"' },
    { name: "bad enum", yaml: web("    cgroup: shared"), path: "services.web.cgroup", line: 4, column: 5, says: "must be one of: host, private" },
    { name: "bad depends_on condition", yaml: web("    depends_on:", "      db: {condition: service_ready}"), path: "services.web.depends_on.db.condition", line: 5, column: 12, says: "must be one of" },
    { name: "depends_on without a condition", yaml: web("    depends_on:", "      db: {restart: true}"), path: "services.web.depends_on.db", line: 5, column: 7, says: 'missing required property "condition"' },
    { name: "long volume without a type", yaml: web("    volumes:", "      - source: data", "        target: /data"), path: "services.web.volumes[0]", line: 5, column: 9, says: '"type"' },
    { name: "bad volume type", yaml: web("    volumes:", "      - {type: nfs, target: /data}"), path: "services.web.volumes[0].type", line: 5, column: 10, says: "must be one of" },
    { name: "ulimit with only soft", yaml: web("    ulimits:", "      nofile: {soft: 1024}"), path: "services.web.ulimits.nofile", line: 5, column: 7, says: '"hard"' },
    { name: "duplicate network", yaml: web("    networks: [front, front]"), path: "services.web.networks[1]", line: 4, column: 23, says: "duplicate" },
    { name: "invalid service name", yaml: lines("services:", "  my web: {image: nginx}"), path: 'services["my web"]', line: 2, column: 3, says: "invalid service name" },
    { name: "bad pull policy", yaml: web("    pull_policy: sometimes"), path: "services.web.pull_policy", line: 4, column: 5, says: "invalid pull policy" },
    { name: "gpus is not all", yaml: web("    gpus: some"), path: "services.web.gpus", line: 4, column: 5, says: "must be one of: all" },
    { name: "cpu_percent above 100", yaml: web("    cpu_percent: 150"), path: "services.web.cpu_percent", line: 4, column: 5, says: "less than or equal to 100" },
    { name: "bad container name", yaml: web("    container_name: my app"), path: "services.web.container_name", line: 4, column: 5, says: "invalid container name" },
    { name: "env_file entry without a path", yaml: web("    env_file:", "      - required: false"), path: "services.web.env_file[0]", line: 5, column: 9, says: '"path"' },
    { name: "build of the wrong type", yaml: web("    build: true"), path: "services.web.build", line: 4, column: 5, says: "must be a string or mapping" },
    { name: "extension key inside a service is fine, but not inside extends", yaml: web("    extends: {service: base, x-note: 1}"), path: "services.web.extends.x-note", line: 4, column: 30, says: "x-note" },
    { name: "model without a model reference", yaml: lines("services: {}", "models:", "  llm: {context_size: 10}"), path: "models.llm", line: 3, column: 3, says: '"model"' },
  ];

  it.each(cases)("$name", ({ yaml, path: expectedPath, line, column, says }) => {
    const problems = problemsOf(yaml);
    expect(problems.map((problem) => ({ path: problem.path, line: problem.line, column: problem.column }))).toEqual([
      { path: expectedPath, line, column },
    ]);
    const [problem] = problems;
    expect(problem?.code).toBe("E_COMPOSE_SCHEMA");
    expect(problem?.file).toBe("compose.yaml");
    expect(problem?.message).toContain(says);
  });

  it("suggests the attribute a typo meant", () => {
    const [problem] = problemsOf(lines("services:", "  web:", "    imagee: nginx", "    restrat: always"));
    expect(problem?.hint).toBe('did you mean "image"?');
    expect(problemsOf(lines("servicess: {}"))[0]?.hint).toBe('did you mean "services"?');
  });

  it("reports every problem of a file in one error, sorted by position", () => {
    const yaml = lines(
      "services:",
      "  web:",
      "    image: nginx",
      "    restart: sometimes",
      "    ports: ['80800']",
      "    healthcheck: {interval: soon}",
      "  db:",
      "    imagee: postgres",
      "networks:",
      "  front: {driver: 5}",
      "x-ok: true",
      "extra: 1",
    );
    let thrown: unknown;
    try {
      schemaPass.run(parseComposeYaml("compose.yaml", yaml), noContext);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AggregateComposeError);
    const aggregate = thrown as AggregateComposeError;
    expect(aggregate.code).toBe("E_COMPOSE_SCHEMA");
    expect(aggregate.problems.map((problem) => [problem.line, problem.column, problem.path])).toEqual([
      [4, 5, "services.web.restart"],
      [5, 13, "services.web.ports[0]"],
      [6, 19, "services.web.healthcheck.interval"],
      [8, 5, "services.db.imagee"],
      [10, 11, "networks.front.driver"],
      [12, 1, "extra"],
    ]);
    expect(aggregate.problems.every((problem) => problem.code === "E_COMPOSE_SCHEMA")).toBe(true);
  });

  it("gives one message per location, merging the allowed types", () => {
    const problems = problemsOf(web("    depends_on: 5", "    labels: true"));
    expect(problems.map((problem) => [problem.path, problem.message])).toEqual([
      ["services.web.depends_on", "must be a list or mapping, not an integer"],
      ["services.web.labels", "must be a mapping or list, not a boolean"],
    ]);
  });

  it("collapses several missing properties into one message", () => {
    const problems = problemsOf(web("    develop:", "      watch:", "        - {target: /app}"));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe('missing required properties "path", "action"');
  });

  it("keeps positions after merge keys", () => {
    const problems = problemsOf(lines("x-base: &base", "  restart: sometimes", "services:", "  web:", "    image: nginx", "    <<: *base"));
    expect(problems.map((problem) => [problem.path, problem.line, problem.column])).toEqual([["services.web.restart", 2, 3]]);
  });

  it("falls back to the file when a value has no recorded position", () => {
    const problems = schemaProblems({ file: "merged.yaml", data: { services: { web: { image: 1 } } }, origins: new Map() });
    expect(problems.map((problem) => [problem.file, problem.line, problem.path])).toEqual([["merged.yaml", undefined, "services.web.image"]]);
  });
});

describe("collapsing union (anyOf/oneOf) noise", () => {
  // The schema avoids unions, so these are the errors ajv would give if one were added.
  const error = (instancePath: string, keyword: string, params: Record<string, unknown> = {}): SchemaValidationError => ({
    instancePath,
    schemaPath: `#/${keyword}`,
    keyword,
    params,
  });
  const summary = (yaml: string, errors: readonly SchemaValidationError[]): string[][] =>
    problemsFromErrors(errors, parseComposeYaml("compose.yaml", yaml)).map((problem) => [problem.path ?? "", problem.message]);

  it("every branch failed on type: one message listing every allowed type", () => {
    const errors = [
      error("/services/web/build", "type", { type: "string" }),
      error("/services/web/build", "type", { type: "object" }),
      error("/services/web/build", "anyOf"),
    ];
    expect(summary(lines("services:", "  web:", "    build: 5"), errors)).toEqual([
      ["services.web.build", "must be a string or mapping, not an integer"],
    ]);
  });

  it("the branch of the right type complained about a child: only that complaint", () => {
    const errors = [
      error("/services/web/build", "type", { type: "string" }),
      error("/services/web/build", "additionalProperties", { additionalProperty: "contxt" }),
      error("/services/web/build", "oneOf", { passingSchemas: null }),
    ];
    expect(summary(lines("services:", "  web:", "    build: {contxt: .}"), errors)).toEqual([
      ["services.web.build.contxt", 'additional property "contxt" is not allowed'],
    ]);
  });

  it("the branch of the right type failed a format: the format's message", () => {
    const errors = [
      error("/services/web/ports/0", "format", { format: "ports" }),
      error("/services/web/ports/0", "type", { type: "object" }),
      error("/services/web/ports/0", "oneOf", { passingSchemas: null }),
    ];
    expect(summary(lines("services:", "  web:", "    ports: ['80800']"), errors)).toEqual([
      ["services.web.ports[0]", 'invalid port "80800"'],
    ]);
  });

  it("a union with nothing more precise says so", () => {
    expect(summary(lines("services:", "  web:", "    build: x"), [error("/services/web/build", "anyOf")])).toEqual([
      ["services.web.build", "does not match any of the allowed forms"],
    ]);
  });
});

describe("format checks", () => {
  const accepts = (format: string, values: readonly string[]): void => {
    const check = formatChecks[format];
    expect(check, format).toBeDefined();
    for (const value of values) expect(check?.(value), `${format} accepts ${value}`).toBe(true);
  };
  const rejects = (format: string, values: readonly string[]): void => {
    const check = formatChecks[format];
    for (const value of values) expect(check?.(value), `${format} rejects ${value}`).toBe(false);
  };

  it("ports", () => {
    accepts("ports", ["80", "80/udp", "80/", "8080:80", ":80", "1-3:1-3", "8000-8010:80", "0.0.0.0:80:80", "[::]:80:80", "fe80::1:80:80", "127.0.0.1::80"]);
    accepts("ports", ["::ffff:10.0.0.1:80:80", "[2001:db8::1]:443:443", "1:2:3:4:5:6:7:8:80:80", "1:2:3:4:5:6:7:::80:80"]);
    rejects("ports", ["01.2.3.4:80:80", "1.2.3.256:80:80", "fe80::1%eth0:80:80", "1:2:3:4:5:6:7:8:9:80:80", "1::2::3:80:80", "1.2.3.4:::80:80", "[1.2.3]:80:80"]);
    rejects("ports", ["", "80800", "http", "80:", "8080:80/icmp", "host:80:80", "[::1:80:80", "1-3:1-2", "3-1", "80-", "-80", " 80", "1:2:3:4"]);
  });

  it("expose", () => {
    accepts("expose", ["80", "8000-8010", "53/udp", "53/"]);
    rejects("expose", ["", "http", "70000", "80:80", "80/icmp"]);
  });

  it("duration", () => {
    accepts("duration", ["0", "10s", "1m30s", "1.5h", ".5s", "500ms", "1us", "1µs", "2d", "1w", "-1s", "+3m"]);
    rejects("duration", ["", "10", "s", "10 s", "1y", "1m30", "."]);
  });

  it("byte-size", () => {
    accepts("byte-size", ["1024", "-1", "512m", "1.5g", "1gb", "2 GiB", "10K"]);
    rejects("byte-size", ["", "12x", "1.5 gigs", "m"]);
  });

  it("restart, pull policy, container name, long-syntax ports", () => {
    accepts("restart", ["no", "always", "on-failure", "on-failure:5", "unless-stopped", ""]);
    rejects("restart", ["yes", "on-failure:x", "always:3", "Always"]);
    accepts("pull-policy", ["always", "never", "missing", "if_not_present", "build", "daily", "weekly", "refresh", "every_12h", "every_1d2h"]);
    rejects("pull-policy", ["sometimes", "every_", "every_12", "always "]);
    accepts("container-name", ["web", "my-app_1.2", "/web"]);
    rejects("container-name", ["w", "-web", "my app", "web!"]);
    accepts("port-number", ["0", "80", "65535"]);
    rejects("port-number", ["", "65536", "80-81", "http"]);
    accepts("port-range", ["", "80", "8000-8010"]);
    rejects("port-range", ["x", "8010-8000", "70000"]);
  });
});

describe("schemaPass: the awesome-compose corpus", () => {
  const corpus = corpusDirectory;
  const files = existsSync(corpus)
    ? readdirSync(corpus)
        .flatMap((sample) => ["compose.yaml", "compose.yml"].map((name) => path.join(corpus, sample, name)))
        .filter((file) => existsSync(file))
    : [];

  it.skipIf(files.length === 0)("has files to check", () => {
    expect(files.length).toBeGreaterThanOrEqual(39);
  });

  it.each(files.map((file) => [path.relative(corpus, file), file] as const))("%s passes", (_name, file) => {
    const document = parseComposeYaml(file, readFileSync(file, "utf8"));
    expect(schemaProblems(document).map((problem) => `${problem.path}: ${problem.message}`)).toEqual([]);
  });
});

describe("the generated validator", () => {
  it("is up to date with schemas/compose.schema.json (run node scripts/build-schema.mjs)", async () => {
    const generatorUrl = new URL("../../../scripts/build-schema.mjs", import.meta.url).href;
    const generator = (await import(generatorUrl)) as {
      generateSchemaValidator(): { js: string; dts: string };
      validatorUrl: URL;
      typesUrl: URL;
    };
    const { js, dts } = generator.generateSchemaValidator();
    expect(readFileSync(generator.validatorUrl, "utf8") === js, "schema-validator.js is stale").toBe(true);
    expect(readFileSync(generator.typesUrl, "utf8") === dts, "schema-validator.d.ts is stale").toBe(true);
  });
});
