import { describe, expect, it } from "vitest";
import { TaggedValue, type Mapping } from "../../../src/compose/document.js";
import {
  compilePathTable,
  leadingSegments,
  overlappingRows,
  pathRules,
  resolveRelativePaths,
  ruleForPath,
  serviceNameOf,
  splitVolumeSpec,
} from "../../../src/compose/paths.js";

const base = "/project";
const home = "/home/me";

function resolveService(service: Mapping): Mapping {
  return (resolveRelativePaths({ services: { web: service } }, base, home)["services"] as Mapping)["web"] as Mapping;
}

describe("path table", () => {
  it("has no concrete path matching two rows", () => {
    expect(overlappingRows(pathRules)).toEqual([]);
  });

  it("matches wildcards against names and list indexes, the first row winning", () => {
    const table = compilePathTable([
      ["services.*.ports", "ports"],
      ["services.web.ports", "web ports"],
      ["services.*.volumes.*", "volume"],
    ]);
    expect(ruleForPath(table, ["services", "db", "ports"])).toBe("ports");
    expect(ruleForPath(table, ["services", "web", "ports"])).toBe("ports");
    expect(ruleForPath(table, ["services", "web", "volumes", 3])).toBe("volume");
    expect(ruleForPath(table, ["services", "web"])).toBeUndefined();
    expect(overlappingRows(table.rows)).toEqual([["services.*.ports", "services.web.ports"]]);
  });
});

describe("leadingSegments", () => {
  it("reads plain, quoted and index segments", () => {
    expect(leadingSegments("services.web.ports[0]", 2)).toEqual(["services", "web"]);
    expect(leadingSegments('services["my.app"].image', 3)).toEqual(["services", "my.app", "image"]);
    expect(leadingSegments("include[2].path", 3)).toEqual(["include", 2, "path"]);
  });

  it("finds the service a path lies under", () => {
    expect(serviceNameOf("services.web.ports[0]")).toBe("web");
    expect(serviceNameOf("services.web")).toBe("web");
    expect(serviceNameOf('services["my.app"].image')).toBe("my.app");
    expect(serviceNameOf("services")).toBeUndefined();
    expect(serviceNameOf("services_x.web")).toBeUndefined();
    expect(serviceNameOf("volumes.data")).toBeUndefined();
  });
});

describe("splitVolumeSpec", () => {
  it.each([
    ["./data:/data:ro", { source: "./data", target: "/data", options: "ro" }],
    ["data:/data", { source: "data", target: "/data", options: undefined }],
    ["/anonymous", { source: undefined, target: "/anonymous", options: undefined }],
    ["C:\\data:/data", { source: "C:\\data", target: "/data", options: undefined }],
    ["${HOME:-/x}:/y", { source: "${HOME:-/x}", target: "/y", options: undefined }],
  ])("splits %s", (spec, parts) => {
    expect(splitVolumeSpec(spec)).toEqual(parts);
  });

  it("rejects empty sections and too many colons", () => {
    expect(splitVolumeSpec("ab::c")).toBeUndefined();
    expect(splitVolumeSpec("aa:/b:ro:x")).toBeUndefined();
  });
});

describe("resolveRelativePaths", () => {
  it("resolves build as a string and build.context, leaving remote contexts", () => {
    expect(resolveService({ build: "./app" })["build"]).toBe("/project/app");
    expect(resolveService({ build: "./a/./b/../c//d/" })["build"]).toBe("/project/a/c/d");
    expect(resolveService({ build: "a/.hidden/..x" })["build"]).toBe("/project/a/.hidden/..x");
    expect(resolveService({ build: "app/" })["build"]).toBe("/project/app");
    expect(resolveService({ build: "." })["build"]).toBe("/project");
    expect(resolveService({ build: { context: "..", dockerfile: "Dockerfile.dev" } })["build"]).toEqual({
      context: "/",
      dockerfile: "Dockerfile.dev",
    });
    for (const remote of ["https://github.com/x/y.git", "git@github.com:x/y.git", "github.com/x/y", "ssh://h/r"]) {
      expect(resolveService({ build: remote })["build"]).toBe(remote);
      expect(resolveService({ build: { context: remote } })["build"]).toEqual({ context: remote });
    }
  });

  it("resolves additional contexts that are paths, in both syntaxes", () => {
    expect(
      resolveService({ build: { additional_contexts: { lib: "../lib", image: "docker-image://alpine", other: "service:base" } } })["build"],
    ).toEqual({ additional_contexts: { lib: "/lib", image: "docker-image://alpine", other: "service:base" } });
    expect(resolveService({ build: { additional_contexts: ["lib=./lib", "img=docker-image://alpine"] } })["build"]).toEqual({
      additional_contexts: ["lib=/project/lib", "img=docker-image://alpine"],
    });
  });

  it("resolves ssh key paths but not the default agent", () => {
    expect(resolveService({ build: { ssh: ["default", "key=./id_rsa"] } })["build"]).toEqual({ ssh: ["default", "key=/project/id_rsa"] });
  });

  it("resolves env_file in every syntax, and label_file", () => {
    expect(resolveService({ env_file: ".env" })["env_file"]).toBe("/project/.env");
    expect(resolveService({ env_file: ["a.env", { path: "./b.env", required: false }] })["env_file"]).toEqual([
      "/project/a.env",
      { path: "/project/b.env", required: false },
    ]);
    expect(resolveService({ label_file: ["./labels"] })["label_file"]).toEqual(["/project/labels"]);
  });

  it("resolves bind sources in short syntax, leaving named volumes and anonymous ones", () => {
    expect(resolveService({ volumes: ["./data:/data:ro", "~/cache:/cache", "data:/x", "/abs:/abs", "/anon", ".:/src"] })["volumes"]).toEqual([
      "/project/data:/data:ro",
      "/home/me/cache:/cache",
      "data:/x",
      "/abs:/abs",
      "/anon",
      "/project:/src",
    ]);
  });

  it("resolves bind sources in long syntax only", () => {
    expect(
      resolveService({
        volumes: [
          { type: "bind", source: "../shared", target: "/s" },
          { type: "volume", source: "data", target: "/d" },
        ],
      })["volumes"],
    ).toEqual([
      { type: "bind", source: "/shared", target: "/s" },
      { type: "volume", source: "data", target: "/d" },
    ]);
  });

  it("resolves extends.file and develop.watch paths", () => {
    expect(resolveService({ extends: { file: "common.yaml", service: "base" }, develop: { watch: [{ path: "./src", action: "sync" }] } })).toEqual({
      extends: { file: "/project/common.yaml", service: "base" },
      develop: { watch: [{ path: "/project/src", action: "sync" }] },
    });
  });

  it("resolves top-level secrets, configs, local bind volumes and include entries", () => {
    const data = resolveRelativePaths(
      {
        secrets: { s: { file: "./secret.txt" }, e: { environment: "X" } },
        configs: { c: { file: "~/config.json" } },
        volumes: {
          bound: { driver: "local", driver_opts: { type: "none", o: "bind", device: "./host" } },
          plain: { driver: "local", driver_opts: { device: "./not-a-bind" } },
        },
        include: ["a/compose.yaml", { path: ["b.yaml", "/abs/c.yaml"], project_directory: "..", env_file: "x.env" }],
      },
      base,
      home,
    );
    expect(data).toEqual({
      secrets: { s: { file: "/project/secret.txt" }, e: { environment: "X" } },
      configs: { c: { file: "/home/me/config.json" } },
      volumes: {
        bound: { driver: "local", driver_opts: { type: "none", o: "bind", device: "/project/host" } },
        plain: { driver: "local", driver_opts: { device: "./not-a-bind" } },
      },
      include: [
        "/project/a/compose.yaml",
        { path: ["/project/b.yaml", "/abs/c.yaml"], project_directory: "/", env_file: "/project/x.env" },
      ],
    });
  });

  it("expands ~ only as the home directory, and leaves absolute paths", () => {
    expect(resolveService({ env_file: ["~", "~/a", "/etc/a", "~other/a"] })["env_file"]).toEqual([
      "/home/me",
      "/home/me/a",
      "/etc/a",
      "/project/~other/a",
    ]);
  });

  it("looks inside !reset and !override values", () => {
    const resolved = resolveService({ volumes: new TaggedValue("override", ["./a:/a"]) });
    expect(resolved["volumes"]).toEqual(new TaggedValue("override", ["/project/a:/a"]));
  });

  it("returns a new tree, sharing untouched subtrees and never mutating the input", () => {
    const untouched = { image: "nginx", environment: { A: "./not-a-path" } };
    const input = Object.freeze({
      services: Object.freeze({ web: Object.freeze({ build: "./app" }), db: untouched }),
    });
    const output = resolveRelativePaths(input, base, home);
    expect(output).not.toBe(input);
    expect((output["services"] as Mapping)["db"]).toBe(untouched);
    expect(input.services.web.build).toBe("./app");
  });
});
