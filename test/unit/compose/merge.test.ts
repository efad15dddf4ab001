import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import type { LoadContext } from "../../../src/compose/context.js";
import { isMapping, TaggedValue, type ComposeDocument, type Mapping } from "../../../src/compose/document.js";
import { mergeDocuments, mergeRules, mergeServices, resetTagsPass } from "../../../src/compose/merge.js";
import { overlappingRows } from "../../../src/compose/paths.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";

function deepFreeze<T>(value: T): T {
  if (value instanceof TaggedValue) deepFreeze(value.value);
  else if (typeof value === "object" && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

function documents(...texts: string[]): ComposeDocument[] {
  return texts.map((text, index) => {
    const document = parseComposeYaml(`/p/f${index}.yaml`, text);
    deepFreeze(document.data);
    return document;
  });
}

/** Merge the files, then drop leftover tags, as the loader does. */
function mergeFiles(...texts: string[]): ComposeDocument {
  return resetTagsPass.run(mergeDocuments(documents(...texts)), {} as LoadContext);
}

function merged(...texts: string[]): Mapping {
  return mergeFiles(...texts).data;
}

function service(data: Mapping, name = "web"): Mapping {
  const services = data["services"];
  if (!isMapping(services)) throw new Error("no services");
  const found = services[name];
  if (!isMapping(found)) throw new Error(`no service ${name}`);
  return found;
}

function mergeError(...texts: string[]): ComposeError {
  try {
    merged(...texts);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error("expected a ComposeError");
}

/** Collect the patterns of the compose-spec JSON schema (`*` for any name or index). */
function schemaPatterns(schema: Record<string, unknown>): Set<string> {
  const definitions = (schema["definitions"] ?? {}) as Record<string, Record<string, unknown>>;
  const patterns = new Set<string>();
  const visit = (node: unknown, prefix: string, depth: number, seen: Set<unknown>): void => {
    if (typeof node !== "object" || node === null || depth > 12) return;
    const record = node as Record<string, unknown>;
    if (typeof record["$ref"] === "string") {
      const target = definitions[record["$ref"].replace("#/definitions/", "")];
      if (target !== undefined && !seen.has(target)) visit(target, prefix, depth, new Set([...seen, target]));
      return;
    }
    const at = (segment: string): string => (prefix === "" ? segment : `${prefix}.${segment}`);
    for (const combinator of ["oneOf", "anyOf", "allOf"]) {
      const options = record[combinator];
      if (Array.isArray(options)) for (const option of options) visit(option, prefix, depth, seen);
    }
    const properties = record["properties"];
    if (typeof properties === "object" && properties !== null) {
      for (const [key, child] of Object.entries(properties)) {
        patterns.add(at(key));
        visit(child, at(key), depth + 1, seen);
      }
    }
    for (const key of ["patternProperties", "additionalProperties"]) {
      const value = record[key];
      const children = key === "patternProperties" && typeof value === "object" && value !== null ? Object.values(value) : [value];
      for (const child of children) {
        if (typeof child !== "object" || child === null) continue;
        patterns.add(at("*"));
        visit(child, at("*"), depth + 1, seen);
      }
    }
    if (record["items"] !== undefined) {
      patterns.add(at("*"));
      visit(record["items"], at("*"), depth + 1, seen);
    }
  };
  visit(schema, "", 0, new Set());
  return patterns;
}

describe("merge table", () => {
  it("has no concrete path matching two rows", () => {
    expect(overlappingRows(mergeRules)).toEqual([]);
  });

  const schemaFile = path.resolve(import.meta.dirname, "../../../schemas/compose.schema.json");
  it.runIf(existsSync(schemaFile))("names only attributes of the compose schema", () => {
    const patterns = schemaPatterns(JSON.parse(readFileSync(schemaFile, "utf8")) as Record<string, unknown>);
    const unknown = mergeRules.map(([pattern]) => pattern).filter((pattern) => !patterns.has(pattern));
    expect(unknown).toEqual([]);
  });
});

describe("mappings, sequences and scalars", () => {
  it("merges mappings recursively and replaces scalars", () => {
    const data = merged(
      "services:\n  web:\n    image: a\n    restart: always\n    deploy:\n      resources:\n        limits: {cpus: '1'}\n",
      "services:\n  web:\n    image: b\n    deploy:\n      resources:\n        limits: {memory: 1g}\n",
    );
    expect(service(data)).toEqual({
      image: "b",
      restart: "always",
      deploy: { resources: { limits: { cpus: "1", memory: "1g" } } },
    });
  });

  it("appends sequences", () => {
    const data = merged("services:\n  web:\n    group_add: [a]\n", "services:\n  web:\n    group_add: [b, a]\n");
    expect(service(data)["group_add"]).toEqual(["a", "b", "a"]);
  });

  it("keeps the base when the override is null", () => {
    const data = merged("services:\n  web:\n    image: a\n", "services:\n  web:\n");
    expect(service(data)).toEqual({ image: "a" });
  });

  it("adds services and top-level sections from later files", () => {
    const data = merged("services:\n  web:\n    image: a\n", "services:\n  db:\n    image: b\nvolumes:\n  data: {}\n");
    expect(data).toEqual({ services: { web: { image: "a" }, db: { image: "b" } }, volumes: { data: {} } });
  });

  it("returns a single document unchanged", () => {
    const [only] = documents("services:\n  web:\n    image: a\n");
    expect(mergeDocuments([only as ComposeDocument])).toBe(only);
  });

  it("rejects a mapping overridden by a sequence, at the overriding file", () => {
    const error = mergeError("services:\n  web:\n    deploy: {}\n", "services:\n  web:\n    deploy: [a]\n");
    expect(error.code).toBe("E_COMPOSE_MERGE");
    expect(error.path).toBe("services.web.deploy");
    expect([error.file, error.line]).toEqual(["/p/f1.yaml", 3]);
  });

  it("never mutates its inputs", () => {
    const inputs = documents(
      "services:\n  web:\n    environment: {A: '1'}\n    ports: ['80:80']\n",
      "services:\n  web:\n    environment: [B=2]\n    ports: !override ['81:81']\n",
    );
    const before = JSON.stringify(inputs.map((document) => document.data));
    expect(() => mergeDocuments(inputs)).not.toThrow();
    expect(JSON.stringify(inputs.map((document) => document.data))).toBe(before);
  });
});

describe("origins", () => {
  it("keeps the origin of the file that supplied each winning value", () => {
    const document = mergeFiles(
      "services:\n  web:\n    image: a\n    restart: always\n",
      "services:\n  web:\n\n    image: b\n",
    );
    expect(document.origins.get("services.web.image")).toEqual({ file: "/p/f1.yaml", line: 4, column: 5 });
    expect(document.origins.get("services.web.restart")).toEqual({ file: "/p/f0.yaml", line: 4, column: 5 });
  });

  it("moves element origins with the element when a sequence is deduplicated", () => {
    const document = mergeFiles(
      "services:\n  web:\n    volumes:\n      - va:/a\n      - vb:/b\n",
      "services:\n  web:\n    volumes:\n      - vc:/a\n      - vd:/d\n",
    );
    expect(service(document.data)["volumes"]).toEqual(["vc:/a", "vb:/b", "vd:/d"]);
    expect(document.origins.get("services.web.volumes")).toMatchObject({ file: "/p/f0.yaml", line: 3 });
    expect(document.origins.get("services.web.volumes[0]")).toMatchObject({ file: "/p/f1.yaml", line: 4 });
    expect(document.origins.get("services.web.volumes[1]")).toMatchObject({ file: "/p/f0.yaml", line: 5 });
    expect(document.origins.get("services.web.volumes[2]")).toMatchObject({ file: "/p/f1.yaml", line: 5 });
  });

  it("points list entries made from a mapping at their key", () => {
    const document = mergeFiles(
      "services:\n  web:\n    environment:\n      A: '1'\n",
      "services:\n  web:\n    environment:\n      - B=2\n",
    );
    expect(service(document.data)["environment"]).toEqual(["A=1", "B=2"]);
    expect(document.origins.get("services.web.environment[0]")).toMatchObject({ file: "/p/f0.yaml", line: 4 });
    expect(document.origins.get("services.web.environment[1]")).toMatchObject({ file: "/p/f1.yaml", line: 4 });
  });
});

describe("!reset and !override", () => {
  it("!reset removes the value", () => {
    const data = merged(
      "services:\n  web:\n    image: a\n    ports: ['8080:80']\n    environment:\n      FOO: BAR\n      KEEP: 'yes'\n",
      "services:\n  web:\n    ports: !reset []\n    environment:\n      FOO: !reset null\n",
    );
    expect(service(data)).toEqual({ image: "a", environment: { KEEP: "yes" } });
  });

  it("!reset removes a key from a list-syntax base", () => {
    const data = merged("services:\n  web:\n    environment: [FOO=BAR, KEEP=1]\n", "services:\n  web:\n    environment:\n      FOO: !reset\n");
    expect(service(data)["environment"]).toEqual(["KEEP=1"]);
  });

  it("!override replaces instead of merging", () => {
    const data = merged(
      "services:\n  web:\n    ports: ['8080:80']\n    environment: {A: '1'}\n",
      "services:\n  web:\n    ports: !override ['8443:443']\n    environment: !override {B: '2'}\n",
    );
    expect(service(data)).toEqual({ ports: ["8443:443"], environment: { B: "2" } });
  });

  it("a value set after a !reset wins", () => {
    const data = merged(
      "services:\n  web:\n    ports: ['80:80']\n",
      "services:\n  web:\n    ports: !reset []\n",
      "services:\n  web:\n    ports: ['81:81']\n",
    );
    expect(service(data)["ports"]).toEqual(["81:81"]);
  });

  it("a !reset in a single file means the key is absent; !override unwraps", () => {
    const data = merged("services:\n  web:\n    image: a\n    ports: !reset ['80:80']\n    command: !override [x]\n");
    expect(service(data)).toEqual({ image: "a", command: ["x"] });
  });

  it("a !reset sequence element is dropped", () => {
    const data = merged("services:\n  web:\n    dns: [a]\n", "services:\n  web:\n    dns: [!reset b, c]\n");
    expect(service(data)["dns"]).toEqual(["a", "c"]);
  });
});

describe("services.*.command, entrypoint, healthcheck.test", () => {
  it("replaces rather than appends", () => {
    const data = merged(
      "services:\n  web:\n    command: [echo, foo]\n    entrypoint: [sh, -c]\n    healthcheck:\n      test: [CMD, a]\n      interval: 5s\n",
      "services:\n  web:\n    command: [echo, bar]\n    entrypoint: /bin/x\n    healthcheck:\n      test: [CMD, b]\n",
    );
    expect(service(data)).toEqual({
      command: ["echo", "bar"],
      entrypoint: "/bin/x",
      healthcheck: { test: ["CMD", "b"], interval: "5s" },
    });
  });

  it("a null command in an override clears it (compose-go's override rule)", () => {
    expect(service(merged("services:\n  web:\n    command: [a]\n", "services:\n  web:\n    command: null\n"))["command"]).toBeNull();
  });
});

describe("services.*.ports", () => {
  it("keeps one port per host ip, published port, target and protocol", () => {
    const data = merged(
      "services:\n  web:\n    ports:\n      - '8080:80'\n      - '127.0.0.1:9090:90'\n      - 53:53/udp\n",
      "services:\n  web:\n    ports:\n      - {target: 80, published: '8080', protocol: tcp}\n      - '9090:90'\n      - '53:53'\n      - '127.0.0.1:9090:90'\n",
    );
    expect(service(data)["ports"]).toEqual([
      { target: 80, published: "8080", protocol: "tcp" },
      "127.0.0.1:9090:90",
      "53:53/udp",
      "9090:90",
      "53:53",
    ]);
  });

  it("treats a bare target number and its string as the same port", () => {
    expect(service(merged("services:\n  web:\n    ports: [80]\n", "services:\n  web:\n    ports: ['80']\n"))["ports"]).toEqual(["80"]);
  });
});

describe("services.*.volumes", () => {
  it("is unique by target, the later definition replacing the earlier", () => {
    const data = merged(
      "services:\n  web:\n    volumes:\n      - foo:/work\n      - type: bind\n        source: ./b\n        target: /b\n",
      "services:\n  web:\n    volumes:\n      - bar:/work\n      - ./c:/b:ro\n      - /anonymous\n",
    );
    expect(service(data)["volumes"]).toEqual(["bar:/work", "./c:/b:ro", "/anonymous"]);
  });
});

describe("services.*.secrets and configs", () => {
  it("are unique by target, a bare name mounting at its default place", () => {
    const data = merged(
      "services:\n  web:\n    secrets: [a, {source: b, target: /etc/b}]\n    configs: [c]\n",
      "services:\n  web:\n    secrets: [{source: a2, target: a}, {source: b2, target: /etc/b}]\n    configs: [{source: c2, target: /c}]\n",
    );
    expect(service(data)["secrets"]).toEqual([
      { source: "a2", target: "a" },
      { source: "b2", target: "/etc/b" },
    ]);
    expect(service(data)["configs"]).toEqual([{ source: "c2", target: "/c" }]);
  });
});

describe.each([["environment"], ["labels"], ["annotations"], ["sysctls"]])("services.*.%s", (attribute) => {
  it("merges two mappings by key into a mapping", () => {
    const data = merged(
      `services:\n  web:\n    ${attribute}:\n      FOO: BAR\n      KEEP: '1'\n`,
      `services:\n  web:\n    ${attribute}:\n      FOO: BAZ\n      EMPTY: ''\n      NIL: null\n`,
    );
    expect(service(data)[attribute]).toEqual({ FOO: "BAZ", KEEP: "1", EMPTY: "", NIL: null });
  });

  it("merges list syntax by key, the first position kept and the last value winning", () => {
    const data = merged(
      `services:\n  web:\n    ${attribute}:\n      - FOO=BAR\n      - KEEP=1\n`,
      `services:\n  web:\n    ${attribute}:\n      - QIX=ZOT\n      - FOO=NEW\n      - NIL\n`,
    );
    expect(service(data)[attribute]).toEqual(["FOO=NEW", "KEEP=1", "QIX=ZOT", "NIL"]);
  });

  it("normalizes a mapping side to KEY=VALUE entries when the other is a list", () => {
    const data = merged(
      `services:\n  web:\n    ${attribute}:\n      Z: 1\n      A: true\n      N: null\n`,
      `services:\n  web:\n    ${attribute}: [A=false]\n`,
    );
    expect(service(data)[attribute]).toEqual(["A=false", "N", "Z=1"]);
  });
});

describe("services.*.build.args and other key/value attributes", () => {
  it("merge by key wherever they are", () => {
    const data = merged(
      "services:\n  web:\n    build:\n      args: {FOO: 1}\n      labels: [a=1]\n    deploy:\n      labels: {x: '1'}\nnetworks:\n  n:\n    labels: {a: '1'}\nvolumes:\n  v:\n    labels: [a=1]\n",
      "services:\n  web:\n    build:\n      args: {FOO: 3}\n      labels: {a: 2}\n    deploy:\n      labels: [x=2]\nnetworks:\n  n:\n    labels: [a=2]\nvolumes:\n  v:\n    labels: {a: '2'}\n",
    );
    expect(service(data)["build"]).toEqual({ args: { FOO: 3 }, labels: ["a=2"] });
    expect(service(data)["deploy"]).toEqual({ labels: ["x=2"] });
    expect(data["networks"]).toEqual({ n: { labels: ["a=2"] } });
    expect(data["volumes"]).toEqual({ v: { labels: ["a=2"] } });
  });
});

describe("services.*.extra_hosts", () => {
  it("keeps every address of a host and drops exact duplicates", () => {
    const data = merged(
      "services:\n  web:\n    extra_hosts:\n      - somehost=162.242.195.82\n      - otherhost=50.31.209.229\n",
      "services:\n  web:\n    extra_hosts:\n      otherhost: [50.31.209.229, 50.31.209.230]\n      myhostv6: '::1'\n",
    );
    expect(service(data)["extra_hosts"]).toEqual([
      "somehost=162.242.195.82",
      "otherhost=50.31.209.229",
      "myhostv6=::1",
      "otherhost=50.31.209.230",
    ]);
  });
});

describe.each([["dns"], ["dns_search"], ["dns_opt"], ["tmpfs"]])("services.*.%s", (attribute) => {
  it("accepts a string or a list and keeps each entry once", () => {
    const data = merged(`services:\n  web:\n    ${attribute}: a\n`, `services:\n  web:\n    ${attribute}: [b, a]\n`);
    expect(service(data)[attribute]).toEqual(["a", "b"]);
  });
});

describe("services.*.cap_add, cap_drop, profiles, security_opt, links", () => {
  it("keep each entry once", () => {
    const data = merged(
      "services:\n  web:\n    cap_add: [NET_ADMIN]\n    profiles: [a]\n    security_opt: ['label:role:ROLE']\n    links: [db]\n",
      "services:\n  web:\n    cap_add: [NET_ADMIN, SYS_TIME]\n    profiles: [a, b]\n    security_opt: ['label:user:USER']\n    links: [db, cache]\n",
    );
    expect(service(data)).toEqual({
      cap_add: ["NET_ADMIN", "SYS_TIME"],
      profiles: ["a", "b"],
      security_opt: ["label:role:ROLE", "label:user:USER"],
      links: ["db", "cache"],
    });
  });
});

describe("services.*.expose", () => {
  it("treats a number and its string as one port", () => {
    expect(service(merged("services:\n  web:\n    expose: [80, '90']\n", "services:\n  web:\n    expose: ['80']\n"))["expose"]).toEqual([
      "80",
      "90",
    ]);
  });
});

describe("services.*.devices", () => {
  it("is unique by the path inside the container", () => {
    const data = merged(
      "services:\n  web:\n    devices: ['/dev/a:/dev/x', /dev/y]\n",
      "services:\n  web:\n    devices: ['/dev/b:/dev/x:rwm']\n",
    );
    expect(service(data)["devices"]).toEqual(["/dev/b:/dev/x:rwm", "/dev/y"]);
  });
});

describe("services.*.env_file", () => {
  it("accepts a string, a list and the long syntax, unique by path", () => {
    const data = merged(
      "services:\n  web:\n    env_file: a.env\n",
      "services:\n  web:\n    env_file:\n      - {path: a.env, required: false}\n      - b.env\n",
    );
    expect(service(data)["env_file"]).toEqual([{ path: "a.env", required: false }, "b.env"]);
  });
});

describe("services.*.build", () => {
  it("merges a string with a mapping as its context", () => {
    expect(service(merged("services:\n  web:\n    build: ./a\n", "services:\n  web:\n    build:\n      target: t\n"))["build"]).toEqual({
      context: "./a",
      target: "t",
    });
    expect(service(merged("services:\n  web:\n    build: {context: ./a, target: t}\n", "services:\n  web:\n    build: ./b\n"))["build"]).toEqual({
      context: "./b",
      target: "t",
    });
  });

  it("keeps build.tags and build.platforms unique", () => {
    const data = merged(
      "services:\n  web:\n    build:\n      tags: ['a:1']\n      platforms: [linux/amd64]\n",
      "services:\n  web:\n    build:\n      tags: ['a:1', 'b:2']\n      platforms: [linux/arm64, linux/amd64]\n",
    );
    expect(service(data)["build"]).toEqual({ tags: ["a:1", "b:2"], platforms: ["linux/amd64", "linux/arm64"] });
  });

  it("merges build.extra_hosts like extra_hosts", () => {
    const data = merged(
      "services:\n  web:\n    build:\n      extra_hosts: [a=1.1.1.1]\n",
      "services:\n  web:\n    build:\n      extra_hosts: [a=1.1.1.1, b=2.2.2.2]\n",
    );
    expect(service(data)["build"]).toEqual({ extra_hosts: ["a=1.1.1.1", "b=2.2.2.2"] });
  });
});

describe("services.*.depends_on", () => {
  it("merges the list syntax as mappings with the default condition", () => {
    const data = merged(
      "services:\n  web:\n    depends_on: [db, cache]\n",
      "services:\n  web:\n    depends_on:\n      db:\n        condition: service_healthy\n",
    );
    expect(service(data)["depends_on"]).toEqual({
      db: { condition: "service_healthy", required: true },
      cache: { condition: "service_started", required: true },
    });
  });

  it("points synthesized entries at the list element", () => {
    const document = mergeFiles("services:\n  web:\n    depends_on:\n      - db\n", "services:\n  web:\n    depends_on: [cache]\n");
    expect(document.origins.get("services.web.depends_on.db.condition")).toMatchObject({ file: "/p/f0.yaml", line: 4 });
    expect(document.origins.get("services.web.depends_on.cache")).toMatchObject({ file: "/p/f1.yaml", line: 3 });
  });
});

describe("services.*.networks", () => {
  it("merges list and mapping syntax, keeping aliases unique", () => {
    const data = merged(
      "services:\n  web:\n    networks:\n      front:\n        aliases: [a1, a2]\n      back:\n",
      "services:\n  web:\n    networks: [front, other]\n",
      "services:\n  web:\n    networks:\n      front:\n        aliases: [a3, a1]\n",
    );
    expect(service(data)["networks"]).toEqual({ front: { aliases: ["a1", "a2", "a3"] }, back: null, other: null });
  });
});

describe("services.*.ulimits", () => {
  it("replaces each limit as a whole", () => {
    const data = merged(
      "services:\n  web:\n    ulimits:\n      nofile: {soft: 20000, hard: 40000}\n      nproc: 65535\n      locks: {soft: 1, hard: 2}\n",
      "services:\n  web:\n    ulimits:\n      nproc: {soft: 65535}\n      locks: {hard: 3}\n",
    );
    expect(service(data)["ulimits"]).toEqual({ nofile: { soft: 20000, hard: 40000 }, nproc: { soft: 65535 }, locks: { hard: 3 } });
  });
});

describe("services.*.logging", () => {
  it("merges options when the driver stays the same or is left out", () => {
    expect(
      service(
        merged(
          "services:\n  web:\n    logging:\n      driver: syslog\n      options: {a: '1', b: '2'}\n",
          "services:\n  web:\n    logging:\n      options: {a: '3'}\n",
        ),
      )["logging"],
    ).toEqual({ driver: "syslog", options: { a: "3", b: "2" } });
  });

  it("drops the options when the driver changes", () => {
    expect(
      service(
        merged(
          "services:\n  web:\n    logging:\n      driver: local\n      options: {max-size: 10m}\n",
          "services:\n  web:\n    logging:\n      driver: syslog\n      options: {syslog-address: 'tcp://h:1'}\n",
        ),
      )["logging"],
    ).toEqual({ driver: "syslog", options: { "syslog-address": "tcp://h:1" } });
  });
});

describe("networks.*.ipam.config", () => {
  it("merges pools with the same subnet and appends new ones", () => {
    const data = merged(
      "networks:\n  n:\n    ipam:\n      config:\n        - subnet: 172.28.0.0/16\n          gateway: 172.28.5.254\n          aux_addresses: {h1: 172.28.1.5}\n        - subnet: 10.0.0.0/8\n",
      "networks:\n  n:\n    ipam:\n      config:\n        - subnet: 172.28.0.0/16\n          ip_range: 172.28.5.0/24\n          aux_addresses: {h2: 172.28.1.6}\n        - subnet: 192.168.0.0/16\n",
    );
    expect(data["networks"]).toEqual({
      n: {
        ipam: {
          config: [
            { subnet: "172.28.0.0/16", gateway: "172.28.5.254", ip_range: "172.28.5.0/24", aux_addresses: { h1: "172.28.1.5", h2: "172.28.1.6" } },
            { subnet: "10.0.0.0/8" },
            { subnet: "192.168.0.0/16" },
          ],
        },
      },
    });
  });
});

describe("services.*.blkio_config devices", () => {
  it("are unique by path", () => {
    const data = merged(
      "services:\n  web:\n    blkio_config:\n      device_read_bps: [{path: /dev/sda, rate: 1mb}]\n",
      "services:\n  web:\n    blkio_config:\n      device_read_bps: [{path: /dev/sda, rate: 2mb}, {path: /dev/sdb, rate: 3mb}]\n",
    );
    expect(service(data)["blkio_config"]).toEqual({
      device_read_bps: [
        { path: "/dev/sda", rate: "2mb" },
        { path: "/dev/sdb", rate: "3mb" },
      ],
    });
  });
});

describe("mergeServices", () => {
  it("merges a service into its base with the service rules", () => {
    const [base, own] = documents("services:\n  a:\n    command: [x]\n    ports: ['80:80']\n", "services:\n  b:\n    command: [y]\n    ports: ['80:80']\n");
    const result = mergeServices(
      { value: service((base as ComposeDocument).data, "a"), origins: (base as ComposeDocument).origins, path: "services.a" },
      { value: service((own as ComposeDocument).data, "b"), origins: (own as ComposeDocument).origins, path: "services.b" },
      "b",
    );
    expect(result.value).toEqual({ command: ["y"], ports: ["80:80"] });
    expect(result.origins.get("services.b.command")).toMatchObject({ file: "/p/f1.yaml" });
    expect(result.origins.get("services.b.ports[0]")).toMatchObject({ file: "/p/f1.yaml" });
  });
});
