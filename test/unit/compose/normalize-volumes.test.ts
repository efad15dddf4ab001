import { describe, expect, it } from "vitest";
import { parseVolumeSpec } from "../../../src/compose/normalize-volumes.js";
import { composeFile, normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

function volumes(entries: readonly string[], topLevel: readonly string[] = ["volumes:", "  data: {}"]): unknown {
  const text = yaml("services:", "  web:", "    image: nginx", "    volumes:", ...entries.map((entry) => `      - ${entry}`), ...topLevel);
  return serviceOf(normalized(text))["volumes"];
}

describe("normalize: volumes", () => {
  it.each([
    [
      "an absolute bind",
      "/srv/data:/data",
      { type: "bind", source: "/srv/data", target: "/data", bind: { create_host_path: true } },
    ],
    [
      "a read-only bind",
      "/srv/data:/data:ro",
      { type: "bind", source: "/srv/data", target: "/data", read_only: true, bind: { create_host_path: true } },
    ],
    ["a named volume", "data:/data", { type: "volume", source: "data", target: "/data", volume: {} }],
    ["a named volume with nocopy", "data:/data:nocopy", { type: "volume", source: "data", target: "/data", volume: { nocopy: true } }],
    ["an anonymous volume", "/cache", { type: "volume", target: "/cache", volume: {} }],
    [
      "SELinux relabelling",
      "/srv/data:/data:Z",
      { type: "bind", source: "/srv/data", target: "/data", bind: { selinux: "Z", create_host_path: true } },
    ],
    [
      "several modes",
      "/srv/data:/data:ro,z,rshared",
      { type: "bind", source: "/srv/data", target: "/data", read_only: true, bind: { selinux: "z", propagation: "rshared", create_host_path: true } },
    ],
    [
      "consistency modes, which Compose ignores",
      "/srv/data:/data:cached",
      { type: "bind", source: "/srv/data", target: "/data", bind: { create_host_path: true } },
    ],
    [
      "rw after ro",
      "/srv/data:/data:ro,rw,delegated",
      { type: "bind", source: "/srv/data", target: "/data", bind: { create_host_path: true } },
    ],
    [
      "an unclean target",
      "/srv/data:/data/./x/../y/",
      { type: "bind", source: "/srv/data", target: "/data/y", bind: { create_host_path: true } },
    ],
  ])("%s", (_name, entry, expected) => {
    expect(volumes([entry])).toEqual([expected]);
  });

  it("keeps the long syntax and cleans its target", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    volumes:",
      "      - type: tmpfs",
      "        target: /run//x/",
      "        tmpfs:",
      "          size: 64m",
      "          mode: 1777",
      "      - type: volume",
      "        source: data",
      "        target: /data",
      "        read_only: true",
      "        volume:",
      "          subpath: sub",
      "      - type: bind",
      "        source: /srv",
      "        target: /srv",
      "volumes:",
      "  data: {}",
    );
    expect(serviceOf(normalized(text))["volumes"]).toEqual([
      { type: "tmpfs", target: "/run/x", tmpfs: { size: "67108864", mode: 1777 } },
      { type: "volume", source: "data", target: "/data", read_only: true, volume: { subpath: "sub" } },
      { type: "bind", source: "/srv", target: "/srv" },
    ]);
  });

  it("passes sources to the path resolver (relative and ~ paths become absolute)", () => {
    expect(volumes(["./site:/usr/share/nginx/html", "~/cache:/cache"])).toEqual([
      { type: "bind", source: "/project/site", target: "/usr/share/nginx/html", bind: { create_host_path: true } },
      { type: "bind", source: "/home/user/cache", target: "/cache", bind: { create_host_path: true } },
    ]);
  });

  it("treats an uninterpolated ${VAR:-a:b} as one section", () => {
    expect(parseVolumeSpec("${SRC:-/a:b}:/data")).toEqual({ type: "volume", source: "${SRC:-/a:b}", target: "/data", volume: {} });
  });

  it("reads a Windows drive letter as part of the source", () => {
    expect(parseVolumeSpec("C:\\data:/data")).toEqual({ type: "bind", source: "C:\\data", target: "/data", bind: { create_host_path: true } });
  });

  it("reads any one-letter section as a drive, as compose-go does (the quick path must not split it)", () => {
    expect(parseVolumeSpec("a:b:/data")).toEqual({ type: "bind", source: "a:b", target: "/data", bind: { create_host_path: true } });
    expect(parseVolumeSpec("data:c:ro")).toEqual({ type: "volume", source: "data", target: "c:ro", volume: {} });
    expect(parseVolumeSpec("./src:/app/:ro")).toEqual({ type: "bind", source: "./src", target: "/app", read_only: true, bind: { create_host_path: true } });
  });

  it.each([
    ["too many colons", '"/a:/b:ro:extra"', "invalid spec: /a:/b:ro:extra: too many colons"],
    ["an empty section", '"/a::/b"', "invalid spec: /a::/b: empty section between colons"],
  ])("rejects %s at its position", (_name, entry, message) => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    volumes:", "      - /ok", `      - ${entry}`));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.message).toBe(message);
    expect(error.path).toBe("services.web.volumes[1]");
    expect([error.file, error.line, error.column]).toEqual([composeFile, 6, 9]);
  });

  it("rejects an invalid tmpfs size at its position", () => {
    const error = normalizeFailure(
      yaml("services:", "  web:", "    image: nginx", "    volumes:", "      - type: tmpfs", "        target: /t", "        tmpfs:", "          size: lots"),
    );
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.volumes[0].tmpfs.size");
    expect([error.line, error.column]).toEqual([8, 11]);
  });
});
