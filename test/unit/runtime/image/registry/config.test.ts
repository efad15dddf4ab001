// Mirror and insecure-registry configuration: the file, the environment, and the endpoints a pull tries.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  isLoopbackHost,
  mergeRegistryHosts,
  parseMirrorEnvironment,
  parseRegistryConfig,
  pullEndpoints,
  readRegistryHosts,
  upstreamEndpoint,
} from "../../../../../src/runtime/image/registry/config.js";

const hrefs = (urls: readonly URL[] | undefined): string[] => (urls ?? []).map((url) => url.origin);

describe("registry configuration", () => {
  it("parses the file shape the seed-images script writes", () => {
    const hosts = parseRegistryConfig(JSON.stringify({ mirrors: { "docker.io": ["http://127.0.0.1:5000"] }, insecure: ["reg.lan:5000"] }), "f");
    expect(hrefs(hosts.mirrors.get("docker.io"))).toEqual(["http://127.0.0.1:5000"]);
    expect([...hosts.insecure]).toEqual(["reg.lan:5000"]);
  });

  it("refuses malformed files with E_REGISTRY_CONFIG naming the file", () => {
    for (const text of ["{", "[]", '{"mirror": {}}', '{"mirrors": {"docker.io": "http://x"}}', '{"mirrors": {"docker.io": ["ftp://x"]}}', '{"mirrors": {"docker.io": ["http://x:1/path"]}}', '{"insecure": [1]}']) {
      expect(() => parseRegistryConfig(text, "/etc/berth/registries.json"), text).toThrow(
        expect.objectContaining({ code: "E_REGISTRY_CONFIG", message: expect.stringContaining("/etc/berth/registries.json") }),
      );
    }
  });

  it("parses BERTH_REGISTRY_MIRRORS; the environment's mirrors come first", () => {
    const fromEnvironment = parseMirrorEnvironment("docker.io=http://127.0.0.1:5001,http://127.0.0.1:5002;ghcr.io=https://mirror.example");
    expect(hrefs(fromEnvironment.get("docker.io"))).toEqual(["http://127.0.0.1:5001", "http://127.0.0.1:5002"]);
    expect(hrefs(fromEnvironment.get("ghcr.io"))).toEqual(["https://mirror.example"]);
    const file = parseRegistryConfig(JSON.stringify({ mirrors: { "index.docker.io": ["http://127.0.0.1:5000", "http://127.0.0.1:5002"] } }), "f");
    const merged = mergeRegistryHosts(file, fromEnvironment);
    expect(hrefs(merged.mirrors.get("docker.io"))).toEqual(["http://127.0.0.1:5001", "http://127.0.0.1:5002", "http://127.0.0.1:5000"]);
    expect(() => parseMirrorEnvironment("docker.io")).toThrow(expect.objectContaining({ code: "E_REGISTRY_CONFIG" }));
    expect(() => parseMirrorEnvironment("docker.io=")).toThrow(expect.objectContaining({ code: "E_REGISTRY_CONFIG" }));
  });

  it("allows plain HTTP only for loopback hosts and hosts listed insecure", () => {
    expect(["127.0.0.1:5000", "127.9.9.9", "localhost:5000", "[::1]:5000", "::1"].every(isLoopbackHost)).toBe(true);
    expect(["10.0.0.1:5000", "registry.example", "128.0.0.1"].some(isLoopbackHost)).toBe(false);
    const plain = parseMirrorEnvironment("docker.io=http://10.0.0.5:5000");
    expect(() => mergeRegistryHosts({ mirrors: new Map(), insecure: new Set() }, plain)).toThrow(expect.objectContaining({ code: "E_REGISTRY_CONFIG" }));
    expect(hrefs(mergeRegistryHosts({ mirrors: new Map(), insecure: new Set(["10.0.0.5:5000"]) }, plain).mirrors.get("docker.io"))).toEqual(["http://10.0.0.5:5000"]);
  });

  it("lists mirrors in order, then the upstream; Docker Hub's upstream is registry-1.docker.io over HTTPS only", () => {
    const hosts = mergeRegistryHosts({ mirrors: new Map(), insecure: new Set(["reg.lan:5000"]) }, parseMirrorEnvironment("docker.io=http://127.0.0.1:5001,https://m.example"));
    expect(pullEndpoints(hosts, "docker.io").map((endpoint) => [endpoint.name, endpoint.host, endpoint.schemes.join("+"), endpoint.mirror])).toEqual([
      ["mirror 127.0.0.1:5001", "127.0.0.1:5001", "http", true],
      ["mirror m.example", "m.example", "https", true],
      ["docker.io", "registry-1.docker.io", "https", false],
    ]);
    expect(upstreamEndpoint(hosts, "reg.lan:5000")).toMatchObject({ schemes: ["https", "http"], insecureTls: true });
    expect(upstreamEndpoint(hosts, "127.0.0.1:5000")).toMatchObject({ schemes: ["http", "https"] });
    expect(upstreamEndpoint(hosts, "ghcr.io")).toMatchObject({ schemes: ["https"], insecureTls: false });
  });

  it("reads the file from BERTH_REGISTRY_CONFIG; a missing file is no configuration", () => {
    const directory = mkdtempSync(path.join(tmpdir(), "berth-registry-config-"));
    try {
      const file = path.join(directory, "registries.json");
      writeFileSync(file, JSON.stringify({ mirrors: { "docker.io": ["http://127.0.0.1:5000"] } }));
      expect(hrefs(readRegistryHosts({ BERTH_REGISTRY_CONFIG: file }).mirrors.get("docker.io"))).toEqual(["http://127.0.0.1:5000"]);
      const both = readRegistryHosts({ BERTH_REGISTRY_CONFIG: file, BERTH_REGISTRY_MIRRORS: "docker.io=http://127.0.0.1:6000" });
      expect(hrefs(both.mirrors.get("docker.io"))).toEqual(["http://127.0.0.1:6000", "http://127.0.0.1:5000"]);
      expect(readRegistryHosts({ BERTH_REGISTRY_CONFIG: path.join(directory, "absent.json") }).mirrors.size).toBe(0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
