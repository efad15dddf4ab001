// Pulls from a real registry (Debian's docker-registry on 127.0.0.1), through a counting proxy:
// what lands in the store, what a second pull costs, manifest lists and --platform, zstd and
// plain layers, a corrupted blob, a connection dropped mid-blob, mirrors that lack an image or
// refuse connections, missing tags and repositories, and two pulls of one image at once.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openImageStore, sha256Of, type ImageStore, type PullProgressEvent } from "../../../src/runtime/image/index.js";
import { storeLayout, type StoreLayout } from "../../../src/runtime/image/layout.js";
import { RegistryClient } from "../../../src/runtime/image/registry/client.js";
import { downloadBlob } from "../../../src/runtime/image/registry/download.js";
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
  type LayerBlob,
  type TestRoot,
} from "../../support/images.js";
import {
  freePort,
  haveRegistryTools,
  putImage,
  putManifest,
  registryBlobFile,
  skopeo,
  startProxy,
  startRegistry,
  type RegistryProxy,
  type RunningRegistry,
} from "../../support/registry.js";

const ready = isRoot && haveRegistryTools();

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as { code?: string; message: string },
  );
}

function listing(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory).sort() : [];
}

/** A small image whose single layer holds `name` (so every image here has distinct content). */
function tinyImage(name: string, options: { architecture?: string; size?: number } = {}): BuiltImage {
  const content = options.size === undefined ? `${name}\n` : Buffer.alloc(options.size, name);
  const layer = makeLayer(tarEntries([{ header: { name: `${name}.txt`, type: "file", mode: 0o644 }, content }]), "gzip");
  return buildImage({ layers: [layer], config: { Cmd: ["/bin/sh"] }, ...(options.architecture === undefined ? {} : { architecture: options.architecture }) });
}

describe.skipIf(!ready)("registry pull (needs root and docker-registry + skopeo)", () => {
  let root: TestRoot;
  let registry: RunningRegistry;
  let proxy: RegistryProxy;
  let image: BuiltImage;
  let environment: Record<string, string>;
  let storeCount = 0;

  /** A fresh, empty store. */
  const freshStore = (): { store: ImageStore; stateRoot: string } => {
    const paths = freshRoots(root, `store${++storeCount}`);
    return { store: openImageStore(paths), stateRoot: paths.stateRoot };
  };

  beforeAll(async () => {
    ensureUnpacker();
    root = makeTestRoot("registry-pull");
    registry = await startRegistry(path.join(root.work, "registry"));
    proxy = await startProxy(registry.host);
    image = makeTestImage(makeTestLayers(path.join(root.work, "layers")));
    await putImage(registry.host, "team/busybox", "1.0", image);
    const configFile = path.join(root.work, "registries.json");
    writeFileSync(configFile, JSON.stringify({ mirrors: {}, insecure: [] }));
    environment = { ...process.env, DOCKER_CONFIG: path.join(root.work, "docker-config"), BERTH_REGISTRY_CONFIG: configFile } as Record<string, string>;
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    root?.remove();
  });

  it("pulls an image (gzip, zstd and plain layers) into the store with its RepoDigests, then a second pull costs one HEAD", async () => {
    const { store, stateRoot } = freshStore();
    const name = `${proxy.host}/team/busybox:1.0`;
    const events: PullProgressEvent[] = [];
    proxy.clear();
    const result = await store.pull(name, { environment, onProgress: (event) => events.push(event) });
    expect(result).toMatchObject({ reference: name, digest: image.manifestDigest, imageId: image.configDigest, status: "downloaded" });
    // A tag this store never pulled cannot be up to date: straight to the manifest, no HEAD first.
    expect(proxy.requests.filter((request) => request.path.includes("/manifests/")).map((request) => request.method)).toEqual(["GET"]);
    for (const layer of image.layers) expect(proxy.blobGets(layer.digest)).toHaveLength(1);
    // Plain HTTP: each layer's body is read off its own connection by berth-unpack.
    for (const layer of image.layers) expect(proxy.blobGets(layer.digest)[0]?.connection).toBe("close");

    const inspect = await store.inspect(name);
    expect(inspect.Id).toBe(image.configDigest);
    expect(inspect.RepoTags).toEqual([name]);
    expect(inspect.RepoDigests).toEqual([`${proxy.host}/team/busybox@${image.manifestDigest}`]);
    expect(inspect.Config.Env).toContain("GREETING=hello");
    // The compressed blobs are stored as the registry served them (push keeps them byte for byte).
    for (const layer of image.layers) {
      expect(sha256Of(readFileSync(path.join(stateRoot, "blobs", "sha256", layer.digest.slice(7))))).toBe(layer.digest);
    }
    const resolved = await store.resolve(name);
    expect(readFileSync(path.join(resolved.layerPaths[0] as string, "etc", "hello"), "utf8")).toBe("hello from layer 1\n");
    expect(readFileSync(path.join(resolved.layerPaths[1] as string, "var", "cache", "new.txt"), "utf8")).toBe("new\n"); // the zstd layer
    expect(existsSync(path.join(resolved.layerPaths[2] as string, "special", "data.txt"))).toBe(true); // the plain layer
    expect(events.filter((event) => event.type === "layer" && event.status === "Pull complete")).toHaveLength(4);

    proxy.clear();
    const again = await store.pull(name, { environment });
    expect(again.status).toBe("up-to-date");
    expect(again.digest).toBe(image.manifestDigest);
    const manifestRequests = proxy.requests.filter((request) => request.path.includes("/manifests/"));
    expect(manifestRequests.map((request) => request.method)).toEqual(["HEAD"]);
    expect(proxy.requests.filter((request) => request.path.includes("/blobs/"))).toEqual([]);
  });

  it("pulls by digest: RepoDigests without a tag, and a second pull by digest asks nothing", async () => {
    const { store } = freshStore();
    const name = `${proxy.host}/team/busybox@${image.manifestDigest}`;
    const result = await store.pull(name, { environment });
    expect(result).toMatchObject({ reference: name, status: "downloaded", imageId: image.configDigest });
    const inspect = await store.inspect(name);
    expect(inspect.RepoTags).toEqual([]);
    expect(inspect.RepoDigests).toEqual([`${proxy.host}/team/busybox@${image.manifestDigest}`]);
    proxy.clear();
    expect((await store.pull(name, { environment })).status).toBe("up-to-date");
    expect(proxy.requests).toEqual([]);
  });

  it("chooses this machine's platform from a manifest list, another with --platform, and names the platform it cannot find", async () => {
    const amd64 = tinyImage("amd64-content", { architecture: "amd64" });
    const arm64 = tinyImage("arm64-content", { architecture: "arm64" });
    const amd64Digest = await putImage(registry.host, "multi/app", amd64.manifestDigest, amd64);
    const arm64Digest = await putImage(registry.host, "multi/app", arm64.manifestDigest, arm64);
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
        manifests: [
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: arm64Digest, size: arm64.manifestBytes.length, platform: { architecture: "arm64", os: "linux", variant: "v8" } },
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd64Digest, size: amd64.manifestBytes.length, platform: { architecture: "amd64", os: "linux" } },
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd64Digest, size: amd64.manifestBytes.length, platform: { architecture: "unknown", os: "unknown" } },
        ],
      }),
    );
    const listDigest = await putManifest(registry.host, "multi/app", "2.0", list, "application/vnd.docker.distribution.manifest.list.v2+json");
    const name = `${proxy.host}/multi/app:2.0`;

    const { store } = freshStore();
    const host = await store.pull(name, { environment });
    const hostImage = process.arch === "arm64" ? arm64 : amd64;
    expect(host).toMatchObject({ digest: listDigest, imageId: hostImage.configDigest });
    const inspect = await store.inspect(name);
    // As Docker shows a multi-platform image: the list's digest.
    expect(inspect.RepoDigests).toEqual([`${proxy.host}/multi/app@${listDigest}`]);
    proxy.clear();
    expect((await store.pull(name, { environment })).status).toBe("up-to-date");
    expect(proxy.requests.filter((request) => request.path.includes("/manifests/")).map((request) => request.method)).toEqual(["HEAD"]);

    const other = freshStore().store;
    const otherPlatform = process.arch === "arm64" ? "linux/amd64" : "linux/arm64";
    const picked = await other.pull(name, { environment, platform: otherPlatform });
    expect(picked.imageId).toBe((process.arch === "arm64" ? amd64 : arm64).configDigest);
    expect((await other.inspect(name)).Architecture).toBe(otherPlatform.split("/")[1]);

    const failure = await rejection(freshStore().store.pull(name, { environment, platform: "linux/s390x" }));
    expect(failure.code).toBe("E_REGISTRY_PLATFORM");
    expect(failure.message).toContain("no matching manifest for linux/s390x in the manifest list entries");
    expect(failure.message).toContain(name.replace(/:2\.0$/, ":2.0"));
  });

  it("says which tag, repository and registry when the tag or the repository does not exist", async () => {
    const { store, stateRoot } = freshStore();
    const missingTag = await rejection(store.pull(`${proxy.host}/team/busybox:nope`, { environment }));
    expect(missingTag.code).toBe("E_REGISTRY_MANIFEST_UNKNOWN");
    expect(missingTag.message).toContain(`${proxy.host}/team/busybox:nope`);
    expect(missingTag.message).toContain(`registry ${proxy.host}`);
    expect(missingTag.message).toContain("manifest unknown");
    const missingRepository = await rejection(store.pull(`${proxy.host}/no/such-repository:1`, { environment }));
    expect(missingRepository.code).toMatch(/^E_REGISTRY_(NAME|MANIFEST)_UNKNOWN$/);
    expect(missingRepository.message).toContain(`${proxy.host}/no/such-repository:1`);
    const port = await freePort();
    const refused = await rejection(store.pull(`127.0.0.1:${port}/team/busybox:1.0`, { environment }));
    expect(refused.code).toBe("E_REGISTRY_CONNECTION");
    expect(refused.message).toContain("connection refused");
    expect(refused.message).toContain(`registry 127.0.0.1:${port}`);
    expect(listing(path.join(stateRoot, "blobs", "sha256"))).toEqual([]);
  });

  it("rejects a blob whose bytes do not match its digest and stores nothing", async () => {
    const victim = tinyImage("corrupted", { size: 300_000 });
    await putImage(registry.host, "bad/app", "1", victim);
    const corrupting = await startProxy(registry.host, { corruptBlob: victim.layers[0]?.digest as string });
    try {
      const { store, stateRoot } = freshStore();
      const failure = await rejection(store.pull(`${corrupting.host}/bad/app:1`, { environment }));
      expect(failure.code).toBe("E_IMAGE_DIGEST");
      expect(failure.message).toContain(victim.layers[0]?.digest);
      expect(listing(path.join(stateRoot, "blobs", "sha256"))).toEqual([]);
      expect(listing(path.join(stateRoot, "tmp", "downloads"))).toEqual([]);
      expect(await store.list()).toEqual([]);
    } finally {
      await corrupting.stop();
    }
  });

  it("rejects a blob the registry's own storage holds tampered, and stores nothing", async () => {
    const victim = tinyImage("tampered", { size: 200_000 });
    await putImage(registry.host, "tampered/app", "1", victim);
    const file = registryBlobFile(registry, victim.layers[0]?.digest as string);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff; // same size, other content
    writeFileSync(file, bytes);
    const { store, stateRoot } = freshStore();
    const failure = await rejection(store.pull(`${registry.host}/tampered/app:1`, { environment }));
    expect(failure.code).toBe("E_IMAGE_DIGEST");
    expect(failure.message).toContain(`pull ${registry.host}/tampered/app:1`);
    expect(listing(path.join(stateRoot, "blobs", "sha256"))).toEqual([]);
    expect(listing(path.join(stateRoot, "layers"))).toEqual([]);
    expect(listing(path.join(stateRoot, "tmp", "downloads"))).toEqual([]);
  });

  it("resumes a blob with Range after the connection drops half way", async () => {
    const big = tinyImage("dropped", { size: 3_000_000 });
    await putImage(registry.host, "drop/app", "1", big);
    const layerDigest = big.layers[0]?.digest as string;
    const cutting = await startProxy(registry.host, { cutBlobOnce: layerDigest });
    try {
      const { store, stateRoot } = freshStore();
      const events: PullProgressEvent[] = [];
      const result = await store.pull(`${cutting.host}/drop/app:1`, { environment, onProgress: (event) => events.push(event) });
      expect(result.imageId).toBe(big.configDigest);
      const gets = cutting.blobGets(layerDigest);
      expect(gets).toHaveLength(2);
      expect(gets[0]?.range).toBeUndefined();
      expect(gets[1]?.range).toMatch(/^bytes=[1-9]\d*-$/);
      expect(gets[1]?.status).toBe(206);
      expect(events.some((event) => event.type === "layer" && event.status === "Retrying")).toBe(true);
      expect(sha256Of(readFileSync(path.join(stateRoot, "blobs", "sha256", layerDigest.slice(7))))).toBe(layerDigest);
    } finally {
      await cutting.stop();
    }
  });

  it("starts over, layer and all, when the registry answers a resumed request with the whole blob", async () => {
    const big = tinyImage("restarted", { size: 3_000_000 });
    await putImage(registry.host, "restart/app", "1", big);
    const layerDigest = big.layers[0]?.digest as string;
    const misbehaving = await startProxy(registry.host, { cutBlobOnce: layerDigest, ignoreRangeOnce: layerDigest });
    try {
      const { store, stateRoot } = freshStore();
      const result = await store.pull(`${misbehaving.host}/restart/app:1`, { environment });
      expect(result.imageId).toBe(big.configDigest);
      const gets = misbehaving.blobGets(layerDigest);
      expect(gets.map((get) => [get.range === undefined, get.status])).toEqual([
        [true, 200],
        [false, 200],
      ]);
      expect(sha256Of(readFileSync(path.join(stateRoot, "blobs", "sha256", layerDigest.slice(7))))).toBe(layerDigest);
      const [layerDirectory] = listing(path.join(stateRoot, "layers"));
      expect(readFileSync(path.join(stateRoot, "layers", layerDirectory as string, "diff", "restarted.txt")).equals(Buffer.alloc(3_000_000, "restarted"))).toBe(true);
    } finally {
      await misbehaving.stop();
    }
  });

  it("hands a fresh layer download's connection to berth-unpack; a download already begun goes through Node", async () => {
    const big = tinyImage("handed", { size: 1_000_000 });
    await putImage(registry.host, "handed/app", "1", big);
    const layer = big.layers[0] as LayerBlob;
    const client = new RegistryClient({
      endpoint: { name: registry.host, host: registry.host, schemes: ["http"], insecureTls: false, mirror: false },
      hosts: { mirrors: new Map(), insecure: new Set() },
    });
    const download = async (name: string, before?: (layout: StoreLayout) => void) => {
      const layout = storeLayout(freshRoots(root, name));
      const directory = path.join(root.work, `${name}-diff`);
      mkdirSync(directory, { recursive: true });
      before?.(layout);
      const progress: number[] = [];
      const result = await downloadBlob(layout, {
        client,
        repositoryPath: "handed/app",
        digest: layer.digest,
        size: layer.blob.length,
        scopes: ["repository:handed/app:pull"],
        unpackInto: { directory, layer: layer.digest },
        onProgress: (event) => (event.status === "downloading" ? progress.push(event.current) : undefined),
      });
      expect(result.applied?.diffId).toBe(layer.diffId);
      expect(readFileSync(result.file).equals(layer.blob)).toBe(true);
      expect(readFileSync(path.join(directory, "handed.txt")).equals(Buffer.alloc(1_000_000, "handed"))).toBe(true);
      expect(progress.at(-1)).toBe(layer.blob.length);
      return result;
    };
    expect((await download("handed-fresh")).direct).toBe(true);
    const resumed = await download("handed-resumed", (layout) => {
      const downloads = path.join(layout.temporaryDirectory, "downloads");
      mkdirSync(downloads, { recursive: true });
      writeFileSync(path.join(downloads, `${layer.digest.slice(7)}.partial`), layer.blob.subarray(0, 1000));
    });
    expect(resumed).toMatchObject({ direct: false, resumes: 1 });
  });

  it("finds a loopback registry that speaks only TLS: the plain-HTTP ping gets 400, HTTPS follows, and the layers come through Node", async () => {
    const secure = await startRegistry(path.join(root.work, "tls-registry"), { kind: "none" }, { tls: true });
    try {
      const small = tinyImage("secured", { size: 500_000 });
      const layout = path.join(root.work, "secured-layout");
      writeOciLayout(layout, [{ image: small, names: ["secured:1"] }]);
      skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:secured:1`, `docker://${secure.host}/secured/app:1`]);
      const { store, stateRoot } = freshStore();
      const result = await store.pull(`${secure.host}/secured/app:1`, { environment });
      expect(result.imageId).toBe(small.configDigest);
      const [layerDirectory] = listing(path.join(stateRoot, "layers"));
      expect(readFileSync(path.join(stateRoot, "layers", layerDirectory as string, "diff", "secured.txt")).equals(Buffer.alloc(500_000, "secured"))).toBe(true);
    } finally {
      await secure.stop();
    }
  });

  it("continues a download an earlier process left half done, replaying the bytes it already has", async () => {
    const big = tinyImage("interrupted", { size: 2_000_000 });
    await putImage(registry.host, "interrupted/app", "1", big);
    const layerDigest = big.layers[0]?.digest as string;
    const blob = readFileSync(registryBlobFile(registry, layerDigest));
    const { store, stateRoot } = freshStore();
    const downloads = path.join(stateRoot, "tmp", "downloads");
    mkdirSync(downloads, { recursive: true });
    const held = Math.floor(blob.length / 3);
    writeFileSync(path.join(downloads, `${layerDigest.slice(7)}.partial`), blob.subarray(0, held));
    proxy.clear();
    const result = await store.pull(`${proxy.host}/interrupted/app:1`, { environment });
    expect(result.imageId).toBe(big.configDigest);
    expect(proxy.blobGets(layerDigest).map((get) => get.range)).toEqual([`bytes=${held}-`]);
    const [layerDirectory] = listing(path.join(stateRoot, "layers"));
    expect(readFileSync(path.join(stateRoot, "layers", layerDirectory as string, "diff", "interrupted.txt")).equals(Buffer.alloc(2_000_000, "interrupted"))).toBe(true);
  });

  it("reports a hostile layer as refused once its bytes match their digest, and stores nothing", async () => {
    const hostile = buildImage({
      layers: [makeLayer(tarEntries([{ header: { name: "../escaped.txt", type: "file", mode: 0o644 }, content: Buffer.alloc(400_000, "x") }]), "gzip")],
    });
    await putImage(registry.host, "hostile/app", "1", hostile);
    const { store, stateRoot } = freshStore();
    const failure = await rejection(store.pull(`${registry.host}/hostile/app:1`, { environment }));
    expect(failure.code).toBe("E_IMAGE_LAYER_UNSAFE");
    expect(failure.message).toContain("../escaped.txt");
    expect(listing(path.join(stateRoot, "blobs", "sha256"))).toEqual([]);
    expect(listing(path.join(stateRoot, "layers"))).toEqual([]);
    const everything = readdirSync(stateRoot, { recursive: true }) as string[];
    expect(everything.filter((name) => name.endsWith("escaped.txt"))).toEqual([]);
  });

  it("falls back from a mirror that lacks the image, and from one that refuses connections, to the upstream", async () => {
    const mirrored = tinyImage("mirrored");
    await putImage(registry.host, "mirror/app", "1", mirrored);
    const emptyMirror = await startRegistry(path.join(root.work, "mirror-registry"));
    const mirrorProxy = await startProxy(emptyMirror.host);
    const refusedPort = await freePort();
    try {
      const upstream = proxy.host;
      const mirrors = `${upstream}=http://127.0.0.1:${refusedPort},http://${mirrorProxy.host}`;
      const { store } = freshStore();
      proxy.clear();
      const result = await store.pull(`${upstream}/mirror/app:1`, { environment: { ...environment, BERTH_REGISTRY_MIRRORS: mirrors } });
      expect(result.registry).toBe(upstream);
      expect(result.imageId).toBe(mirrored.configDigest);
      expect(mirrorProxy.requests.some((request) => request.path.startsWith("/v2/mirror/app/manifests/1"))).toBe(true);
      expect(proxy.blobGets(mirrored.layers[0]?.digest as string)).toHaveLength(1);

      // Once the mirror has it, the upstream is not asked at all.
      await putImage(emptyMirror.host, "mirror/app", "1", mirrored);
      proxy.clear();
      const fromMirror = await freshStore().store.pull(`${upstream}/mirror/app:1`, { environment: { ...environment, BERTH_REGISTRY_MIRRORS: mirrors } });
      expect(fromMirror.registry).toBe(`mirror ${mirrorProxy.host}`);
      expect(proxy.requests).toEqual([]);
    } finally {
      await mirrorProxy.stop();
      await emptyMirror.stop();
    }
  });

  it("downloads each blob once when two pulls of the same image run at once", async () => {
    const shared = buildImage({
      layers: [0, 1, 2].map((position) =>
        makeLayer(tarEntries([{ header: { name: `shared-${position}.bin`, type: "file", mode: 0o644 }, content: Buffer.alloc(1_500_000, position + 1) }]), "gzip"),
      ),
    });
    await putImage(registry.host, "shared/app", "1", shared);
    const paths = freshRoots(root, "concurrent");
    const store = openImageStore(paths);
    proxy.clear();
    const name = `${proxy.host}/shared/app:1`;
    const [first, second] = await Promise.all([store.pull(name, { environment }), openImageStore(paths).pull(name, { environment })]);
    expect(first.imageId).toBe(shared.configDigest);
    expect(second.imageId).toBe(shared.configDigest);
    for (const layer of shared.layers) expect(proxy.blobGets(layer.digest)).toHaveLength(1);
    expect((await store.inspect(name)).RepoTags).toEqual([name]);
  });

  it("records the blob's source so that the store knows where it came from", async () => {
    const { store, stateRoot } = freshStore();
    await store.pull(`${proxy.host}/team/busybox:1.0`, { environment });
    const sources = JSON.parse(readFileSync(path.join(stateRoot, "images", "blob-sources.json"), "utf8")) as Record<string, string[]>;
    expect(sources[image.layers[0]?.digest as string]).toEqual([`${proxy.host}/team/busybox`]);
  });
});
