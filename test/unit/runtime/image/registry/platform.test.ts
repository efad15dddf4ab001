// Platform parsing and the choice of one manifest from a manifest list.
import { describe, expect, it } from "vitest";
import { formatPlatform, parsePlatform, selectManifest } from "../../../../../src/runtime/image/registry/platform.js";
import type { OciDescriptor } from "../../../../../src/runtime/image/types.js";

const entry = (name: string, platform: { os: string; architecture: string; variant?: string }, annotations?: Record<string, string>): OciDescriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${name.padEnd(64, "0")}`,
  size: 1,
  platform,
  ...(annotations === undefined ? {} : { annotations }),
});

const list = [
  entry("a1", { os: "linux", architecture: "amd64" }),
  entry("a2", { os: "linux", architecture: "arm", variant: "v6" }),
  entry("a3", { os: "linux", architecture: "arm", variant: "v7" }),
  entry("a4", { os: "linux", architecture: "arm64", variant: "v8" }),
  entry("a5", { os: "windows", architecture: "amd64" }),
  entry("a6", { os: "unknown", architecture: "unknown" }, { "vnd.docker.reference.type": "attestation-manifest" }),
];

describe("platforms", () => {
  it("parses os/arch[/variant] and normalizes aliases", () => {
    expect(parsePlatform("linux/arm64")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/aarch64/v8")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/x86_64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/arm")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(parsePlatform("linux/arm/6")).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(parsePlatform("arm64")).toEqual({ os: "linux", architecture: "arm64" });
    expect(formatPlatform(parsePlatform("linux/arm/v7"))).toBe("linux/arm/v7");
    expect(() => parsePlatform("linux/arm64/v8/extra")).toThrow(expect.objectContaining({ code: "E_REGISTRY_PLATFORM" }));
    expect(() => parsePlatform("linux//")).toThrow(expect.objectContaining({ code: "E_REGISTRY_PLATFORM" }));
  });

  it("selects the entry for the platform, arm64 with or without its v8 variant", () => {
    expect(selectManifest(list, { os: "linux", architecture: "amd64" }, "r").digest).toBe(list[0]?.digest);
    expect(selectManifest(list, { os: "linux", architecture: "arm64" }, "r").digest).toBe(list[3]?.digest);
    expect(selectManifest(list, { os: "windows", architecture: "amd64" }, "r").digest).toBe(list[4]?.digest);
  });

  it("prefers the exact arm variant, and falls back to older compatible ones", () => {
    expect(selectManifest(list, parsePlatform("linux/arm/v7"), "r").digest).toBe(list[2]?.digest);
    expect(selectManifest(list, parsePlatform("linux/arm/v6"), "r").digest).toBe(list[1]?.digest);
    expect(selectManifest([list[1] as OciDescriptor], parsePlatform("linux/arm/v7"), "r").digest).toBe(list[1]?.digest);
    expect(() => selectManifest([list[2] as OciDescriptor], parsePlatform("linux/arm/v6"), "r")).toThrow(/linux\/arm\/v6/);
  });

  it("never picks an attestation, and names the missing platform as Docker does", () => {
    expect(() => selectManifest([list[5] as OciDescriptor], { os: "linux", architecture: "amd64" }, "registry.example")).toThrow(
      expect.objectContaining({ code: "E_REGISTRY_PLATFORM", message: "no matching manifest for linux/amd64 in the manifest list entries", registry: "registry.example" }),
    );
    expect(() => selectManifest(list, parsePlatform("linux/s390x"), "r")).toThrow("no matching manifest for linux/s390x in the manifest list entries");
  });
});
