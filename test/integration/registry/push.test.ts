// Pushes to a real registry, cross-checked with skopeo: what berth pushes, skopeo inspects and
// copies out; what skopeo pushes (OCI and Docker v2 schema 2), berth pulls. Blob existence
// checks, monolithic and chunked uploads, and cross-repository mounts, counted at a proxy.

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openImageStore, type ImageStore, type PushProgressEvent } from "../../../src/runtime/image/index.js";
import {
  buildImage,
  ensureUnpacker,
  freshRoots,
  isRoot,
  makeLayer,
  makeTestImage,
  makeTestLayers,
  makeTestRoot,
  tarEntries,
  writeOciLayout,
  type BuiltImage,
  type TestRoot,
} from "../../support/images.js";
import { haveRegistryTools, skopeo, startProxy, startRegistry, type RegistryProxy, type RunningRegistry } from "../../support/registry.js";

const ready = isRoot && haveRegistryTools();

describe.skipIf(!ready)("registry push (needs root and docker-registry + skopeo)", () => {
  let root: TestRoot;
  let registry: RunningRegistry;
  let proxy: RegistryProxy;
  let image: BuiltImage;
  /** Docker manifests cannot carry zstd layers: the gzip and plain layers only. */
  let dockerableImage: BuiltImage;
  let store: ImageStore;
  let environment: Record<string, string>;

  beforeAll(async () => {
    ensureUnpacker();
    root = makeTestRoot("registry-push");
    registry = await startRegistry(path.join(root.work, "registry"));
    proxy = await startProxy(registry.host);
    const layers = makeTestLayers(path.join(root.work, "layers"));
    image = makeTestImage(layers);
    dockerableImage = buildImage({ layers: [layers.base, layers.special] });
    const layout = path.join(root.work, "oci");
    writeOciLayout(layout, [{ image, names: [`${proxy.host}/berth/busybox:1.0`] }]);
    store = openImageStore(freshRoots(root, "source"));
    await store.load(layout);
    environment = { ...process.env, DOCKER_CONFIG: path.join(root.work, "docker-config"), BERTH_REGISTRY_CONFIG: path.join(root.work, "none.json") } as Record<string, string>;
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    root?.remove();
  });

  it("pushes the stored blobs byte for byte; skopeo reads and copies what berth pushed", async () => {
    proxy.clear();
    const events: PushProgressEvent[] = [];
    const result = await store.push(`${proxy.host}/berth/busybox:1.0`, { environment, onProgress: (event) => events.push(event) });
    expect(result).toMatchObject({ tag: "1.0", digest: image.manifestDigest, size: image.manifestBytes.length });
    expect(events.filter((event) => event.type === "layer" && event.status === "Pushed")).toHaveLength(4);
    // Small blobs: one POST and one PUT each, after a HEAD that said "not here".
    expect(proxy.requests.filter((request) => request.method === "PATCH")).toEqual([]);
    expect(proxy.requests.filter((request) => request.method === "HEAD" && request.path.includes("/blobs/"))).toHaveLength(5);

    const inspected = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${registry.host}/berth/busybox:1.0`])) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(image.manifestDigest);
    expect(inspected.Layers).toEqual(image.layers.map((layer) => layer.digest));
    const rawConfig = JSON.parse(skopeo(["inspect", "--tls-verify=false", "--config", `docker://${registry.host}/berth/busybox:1.0`])) as { config?: { Env?: string[] } };
    expect(rawConfig.config?.Env).toContain("GREETING=hello");
    const copy = path.join(root.work, "skopeo-copy");
    skopeo(["copy", "--src-tls-verify=false", `docker://${registry.host}/berth/busybox:1.0`, `oci:${copy}:copied`]);
    // skopeo verified every blob it copied; the config it wrote is berth's, byte for byte.
    expect(readFileSync(path.join(copy, "blobs", "sha256", image.configDigest.slice(7)))).toEqual(image.configBytes);

    // RepoDigests now name the pushed repository, as after docker push.
    expect((await store.inspect(`${proxy.host}/berth/busybox:1.0`)).RepoDigests).toEqual([`${proxy.host}/berth/busybox@${image.manifestDigest}`]);
  });

  it("a second push only checks: every blob already exists", async () => {
    proxy.clear();
    const events: PushProgressEvent[] = [];
    await store.push(`${proxy.host}/berth/busybox:1.0`, { environment, onProgress: (event) => events.push(event) });
    expect(events.filter((event) => event.type === "layer" && event.status === "Layer already exists")).toHaveLength(4);
    expect(proxy.requests.filter((request) => request.method === "POST" || request.method === "PATCH")).toEqual([]);
  });

  it("mounts blobs from another repository of the same registry instead of uploading them", async () => {
    await store.tag(`${proxy.host}/berth/busybox:1.0`, `${proxy.host}/other/copy:2`);
    proxy.clear();
    const events: PushProgressEvent[] = [];
    await store.push(`${proxy.host}/other/copy:2`, { environment, onProgress: (event) => events.push(event) });
    const mounts = proxy.requests.filter((request) => request.method === "POST" && request.path.includes("mount="));
    expect(mounts).toHaveLength(5);
    expect(mounts.every((request) => request.path.includes("from=berth%2Fbusybox") && request.status === 201)).toBe(true);
    expect(proxy.requests.filter((request) => request.method === "PUT" && request.path.includes("/blobs/"))).toEqual([]);
    expect(events.filter((event) => event.type === "layer" && event.status === "Mounted from" && event.detail === "berth/busybox")).toHaveLength(4);
    expect(JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${registry.host}/other/copy:2`])).Digest).toBe(image.manifestDigest);
  });

  it("uploads large blobs in PATCH chunks with Content-Range, then a closing PUT", async () => {
    const big = buildImage({
      layers: [makeLayer(tarEntries([{ header: { name: "big.bin", type: "file", mode: 0o644 }, content: Buffer.alloc(700_000, 7) }]), "none")],
    });
    const layout = path.join(root.work, "oci-big");
    writeOciLayout(layout, [{ image: big, names: [`${proxy.host}/berth/big:1`] }]);
    await store.load(layout);
    proxy.clear();
    await store.push(`${proxy.host}/berth/big:1`, { environment, chunkSizeBytes: 256 * 1024 });
    const patches = proxy.requests.filter((request) => request.method === "PATCH");
    const layerSize = big.layers[0]?.blob.length as number;
    expect(patches.map((request) => request.contentRange)).toEqual([
      `0-${256 * 1024 - 1}`,
      `${256 * 1024}-${512 * 1024 - 1}`,
      `${512 * 1024}-${layerSize - 1}`,
    ]);
    const closing = proxy.requests.filter((request) => request.method === "PUT" && request.path.includes(`digest=${encodeURIComponent(big.layers[0]?.digest as string)}`));
    expect(closing).toHaveLength(1);
    const inspected = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${registry.host}/berth/big:1`])) as { Layers: string[] };
    expect(inspected.Layers).toEqual([big.layers[0]?.digest]);
    // skopeo fetches (and verifies) every blob of it.
    skopeo(["copy", "--src-tls-verify=false", `docker://${registry.host}/berth/big:1`, `oci:${path.join(root.work, "big-copy")}:big`]);
  });

  it("pulls what skopeo pushed, as OCI and as Docker v2 schema 2, and berth's push round-trips through a fresh store", async () => {
    const source = path.join(root.work, "skopeo-source");
    mkdirSync(source, { recursive: true });
    writeOciLayout(source, [{ image, names: ["skopeo:1.0"] }, { image: dockerableImage, names: ["skopeo:docker"] }], "tag-only");
    skopeo(["copy", "--dest-tls-verify=false", `oci:${source}:1.0`, `docker://${registry.host}/skopeo/oci:1.0`]);
    skopeo(["copy", "--format", "v2s2", "--dest-tls-verify=false", `oci:${source}:docker`, `docker://${registry.host}/skopeo/v2s2:1.0`]);

    const fresh = openImageStore(freshRoots(root, "from-skopeo"));
    const oci = await fresh.pull(`${registry.host}/skopeo/oci:1.0`, { environment });
    expect(oci.imageId).toBe(image.configDigest);
    const v2s2 = await fresh.pull(`${registry.host}/skopeo/v2s2:1.0`, { environment });
    expect(v2s2.imageId).not.toBe(image.configDigest); // skopeo rewrote the config as a Docker one
    expect((await fresh.inspect(`${registry.host}/skopeo/v2s2:1.0`)).RootFS.Layers).toEqual(dockerableImage.layers.map((layer) => layer.diffId));
    const docker = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/skopeo/v2s2:1.0`])) as { mediaType: string };
    expect(docker.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const resolved = await fresh.resolve(`${registry.host}/skopeo/v2s2:1.0`);
    expect(readFileSync(path.join(resolved.layerPaths[0] as string, "etc", "hello"), "utf8")).toBe("hello from layer 1\n");

    // And berth pushes the Docker-typed manifest back under a new name with its own media type intact.
    await fresh.tag(`${registry.host}/skopeo/v2s2:1.0`, `${registry.host}/berth/v2s2-again:1`);
    const pushed = await fresh.push(`${registry.host}/berth/v2s2-again:1`, { environment });
    expect(pushed.digest).toBe(v2s2.digest);
    const again = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/berth/v2s2-again:1`])) as { mediaType: string };
    expect(again.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
  });

  it("refuses to push what the store does not hold, naming it", async () => {
    const failure = await store.push(`${proxy.host}/berth/absent:1`, { environment }).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string },
    );
    expect(failure?.code).toBe("E_IMAGE_NOT_FOUND");
    expect(failure?.message).toContain(`${proxy.host}/berth/absent`);
  });
});
