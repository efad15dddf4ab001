// Manifest decoding: the kind from the body's mediaType, else from Content-Type, and digest checks.
import { describe, expect, it } from "vitest";
import { sha256Of } from "../../../../../src/runtime/image/digest.js";
import { decodeManifest, manifestAcceptTypes, verifyManifestDigest } from "../../../../../src/runtime/image/registry/manifests.js";

const manifest = { schemaVersion: 2, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 2 }, layers: [] };
const index = { schemaVersion: 2, manifests: [] };

describe("manifests", () => {
  it("accepts all four manifest types (an OCI manifest is 404 to a client that does not accept it)", () => {
    expect(manifestAcceptTypes).toEqual([
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v2+json",
    ]);
  });

  it("decides the kind from Content-Type when the body has no mediaType (umoci's manifests)", () => {
    const bytes = Buffer.from(JSON.stringify(manifest));
    expect(decodeManifest(bytes, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", "r", "m")).toMatchObject({ kind: "manifest", mediaType: "application/vnd.oci.image.manifest.v1+json" });
    expect(decodeManifest(Buffer.from(JSON.stringify(index)), "application/vnd.oci.image.index.v1+json", "r", "m")).toMatchObject({ kind: "index" });
    expect(decodeManifest(bytes, "application/octet-stream", "r", "m")).toMatchObject({ kind: "manifest", mediaType: "application/vnd.oci.image.manifest.v1+json" });
  });

  it("lets the body's mediaType win over the header", () => {
    const docker = Buffer.from(JSON.stringify({ ...manifest, mediaType: "application/vnd.docker.distribution.manifest.v2+json" }));
    expect(decodeManifest(docker, "application/json", "r", "m")).toMatchObject({ kind: "manifest", mediaType: "application/vnd.docker.distribution.manifest.v2+json" });
  });

  it("refuses schema 1, non-JSON and unknown types with E_REGISTRY_PROTOCOL", () => {
    for (const body of ['{"schemaVersion":1,"fsLayers":[]}', "nope", '{"schemaVersion":2,"mediaType":"application/vnd.example+json"}']) {
      expect(() => decodeManifest(Buffer.from(body), undefined, "r", "m"), body).toThrow(expect.objectContaining({ code: "E_REGISTRY_PROTOCOL" }));
    }
  });

  it("checks the body against the digest asked for, else the one announced", () => {
    const bytes = Buffer.from("{}");
    const digest = sha256Of(bytes);
    expect(verifyManifestDigest(bytes, digest, undefined, "r", "m")).toBe(digest);
    expect(verifyManifestDigest(bytes, undefined, digest, "r", "m")).toBe(digest);
    expect(verifyManifestDigest(bytes, undefined, undefined, "r", "m")).toBe(digest);
    expect(() => verifyManifestDigest(bytes, `sha256:${"0".repeat(64)}`, undefined, "r", "m")).toThrow(expect.objectContaining({ code: "E_IMAGE_DIGEST" }));
    expect(() => verifyManifestDigest(bytes, undefined, `sha256:${"0".repeat(64)}`, "r", "m")).toThrow(expect.objectContaining({ code: "E_IMAGE_DIGEST" }));
  });
});
