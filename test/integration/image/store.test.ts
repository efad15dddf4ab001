// The store's guarantees: verified content only, nothing stored on failure, save → load round
// trips, Docker's rules for tag / rm / prune, layers shared and garbage-collected, and one unpack
// per layer even when two processes resolve the same image at once.

import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chainIds, openImageStore, sha256Of, type ImageStore } from "../../../src/runtime/image/index.js";
import {
  buildImage,
  ensureUnpacker,
  freshRoots,
  isRoot,
  makeLayer,
  makeTestImage,
  makeTestLayers,
  makeTestRoot,
  repositoryRoot,
  tarEntries,
  testImageConfig,
  unpackerBinary,
  writeOciLayout,
  type BuiltImage,
  type TestLayers,
  type TestRoot,
} from "../../support/images.js";

function listing(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory).sort() : [];
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as { code?: string; message: string },
  );
}

describe.skipIf(!isRoot)("image store (needs root: unpacking sets owners, devices, trusted xattrs)", () => {
  let root: TestRoot;
  let layers: TestLayers;
  let image: BuiltImage;
  let layout: string;

  beforeAll(() => {
    ensureUnpacker();
    root = makeTestRoot("store");
    layers = makeTestLayers(path.join(root.work, "layers"));
    image = makeTestImage(layers);
    layout = path.join(root.work, "oci");
    writeOciLayout(layout, [{ image, names: ["busybox:test"] }]);
  }, 120_000);

  afterAll(() => root?.remove());

  describe("verification", () => {
    const expectNothingStored = async (paths: { stateRoot: string }, store: ImageStore): Promise<void> => {
      expect(listing(path.join(paths.stateRoot, "blobs", "sha256"))).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "layers"))).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "tmp"))).toEqual([]);
      expect(existsSync(path.join(paths.stateRoot, "images", "index.json"))).toBe(false);
      expect(await store.list()).toEqual([]);
    };

    it("refuses a layer blob whose sha256 is not its descriptor's digest, and stores nothing", async () => {
      const directory = path.join(root.work, "bad-blob");
      writeOciLayout(directory, [{ image, names: ["bad:blob"] }]);
      const victim = image.layers[2]?.digest.slice(7) ?? "";
      const file = path.join(directory, "blobs", "sha256", victim);
      const bytes = readFileSync(file);
      bytes[bytes.length - 600] = (bytes[bytes.length - 600] ?? 0) ^ 0xff;
      writeFileSync(file, bytes);
      const paths = freshRoots(root, "bad-blob");
      const store = openImageStore(paths);
      const error = await rejection(store.load(directory));
      expect(error.code).toBe("E_IMAGE_DIGEST");
      expect(error.message).toContain(victim);
      await expectNothingStored(paths, store);
    });

    it("refuses a layer whose uncompressed digest is not the config's diff_id, and stores nothing", async () => {
      const base = layers.base;
      const lying = buildImage({ layers: [{ ...base, diffId: sha256Of("something else") }] });
      const directory = path.join(root.work, "bad-diff-id");
      writeOciLayout(directory, [{ image: lying, names: ["bad:diffid"] }]);
      const paths = freshRoots(root, "bad-diff-id");
      const store = openImageStore(paths);
      const error = await rejection(store.load(directory));
      expect(error.code).toBe("E_IMAGE_DIGEST");
      expect(error.message).toContain(base.diffId);
      await expectNothingStored(paths, store);
    });

    it("refuses a manifest or config blob that does not match its digest", async () => {
      const directory = path.join(root.work, "bad-config");
      writeOciLayout(directory, [{ image, names: ["bad:config"] }]);
      writeFileSync(path.join(directory, "blobs", "sha256", image.configDigest.slice(7)), "{}");
      const paths = freshRoots(root, "bad-config");
      const store = openImageStore(paths);
      expect((await rejection(store.load(directory))).code).toBe("E_IMAGE_DIGEST");
      await expectNothingStored(paths, store);
    });

    it("refuses an archive that is neither layout", async () => {
      const directory = path.join(root.work, "not-an-image");
      mkdirSync(directory, { recursive: true });
      writeFileSync(path.join(directory, "hello.txt"), "hi");
      const store = openImageStore(freshRoots(root, "not-an-image"));
      expect((await rejection(store.load(directory))).code).toBe("E_IMAGE_ARCHIVE");
    });
  });

  describe("lookups", () => {
    let store: ImageStore;
    beforeAll(async () => {
      store = openImageStore(freshRoots(root, "lookups"));
      await store.load(layout);
    });

    it("finds an image by familiar name, full name, id, bare hex, id prefix and manifest digest", async () => {
      const id = image.configDigest;
      for (const reference of [
        "busybox:test",
        "docker.io/library/busybox:test",
        "index.docker.io/library/busybox:test",
        id,
        id.slice(7),
        id.slice(7, 19),
        `sha256:${id.slice(7, 15)}`,
        `busybox@${image.manifestDigest}`,
      ]) {
        expect((await store.inspect(reference)).Id, reference).toBe(id);
      }
    });

    it("throws E_IMAGE_NOT_FOUND naming the image as Docker does", async () => {
      const error = await rejection(store.resolve("busybox"));
      expect(error.code).toBe("E_IMAGE_NOT_FOUND");
      expect(error.message).toBe("No such image: busybox:latest");
      expect((await rejection(store.inspect("ffffffffffff"))).code).toBe("E_IMAGE_NOT_FOUND");
    });

    it("throws E_IMAGE_REFERENCE for names Docker's grammar rejects", async () => {
      expect((await rejection(store.resolve("Busybox"))).code).toBe("E_IMAGE_REFERENCE");
      expect((await rejection(store.tag("busybox:test", "bad name"))).code).toBe("E_IMAGE_REFERENCE");
    });

    it("unpacks a missing layer again on resolve, from its blob", async () => {
      const paths = freshRoots(root, "relayer");
      const other = openImageStore(paths);
      await other.load(layout);
      const top = chainIds(image.layers.map((layer) => layer.diffId)).at(-1)?.slice(7) ?? "";
      rmSync(path.join(paths.stateRoot, "layers", top), { recursive: true });
      const resolved = await other.resolve("busybox:test");
      expect(existsSync(path.join(resolved.layerPaths.at(-1) ?? "", "gnu"))).toBe(true);
    });
  });

  describe("tag, rm and prune", () => {
    let paths: { stateRoot: string; runRoot: string };
    let store: ImageStore;
    let small: BuiltImage;

    beforeAll(async () => {
      paths = freshRoots(root, "lifecycle");
      store = openImageStore(paths);
      small = buildImage({ layers: [layers.base, makeLayer(tarEntries([{ header: { name: "small", type: "file" }, content: "s" }]), "none")] });
      const directory = path.join(root.work, "lifecycle-oci");
      writeOciLayout(directory, [
        { image, names: ["busybox:test"] },
        { image: small, names: ["small:1"] },
      ]);
      await store.load(directory);
    });

    it("tags, untags one name at a time, and deletes the image with its last name", async () => {
      await store.tag("busybox:test", "registry.example:5000/team/busybox:v2");
      await store.tag(image.configDigest, "busybox:other");
      const summary = (await store.list()).find((candidate) => candidate.Id === image.configDigest);
      expect(summary?.RepoTags).toEqual(["busybox:other", "busybox:test", "registry.example:5000/team/busybox:v2"]);
      expect(await store.remove("busybox:other", { force: false })).toEqual(["Untagged: busybox:other"]);
      expect(await store.remove("registry.example:5000/team/busybox:v2", { force: false })).toEqual([
        "Untagged: registry.example:5000/team/busybox:v2",
      ]);
      // Sharing: the base layer stays for small:1.
      const lines = await store.remove("busybox:test", { force: false });
      const chains = chainIds(image.layers.map((layer) => layer.diffId));
      expect(lines).toEqual(["Untagged: busybox:test", `Deleted: ${image.configDigest}`, ...chains.slice(1).reverse().map((chain) => `Deleted: ${chain}`)]);
      expect(listing(path.join(paths.stateRoot, "layers"))).toEqual(
        chainIds(small.layers.map((layer) => layer.diffId))
          .map((chain) => chain.slice(7))
          .sort(),
      );
      const blobs = listing(path.join(paths.stateRoot, "blobs", "sha256"));
      expect(blobs).not.toContain(image.configDigest.slice(7));
      expect(blobs).toContain(layers.base.digest.slice(7));
      expect((await rejection(store.resolve("busybox:test"))).code).toBe("E_IMAGE_NOT_FOUND");
      expect((await store.resolve("small:1")).layerPaths).toHaveLength(2);
    });

    it("refuses to delete by id an image with several names unless forced", async () => {
      await store.tag("small:1", "small:2");
      const error = await rejection(store.remove(small.configDigest, { force: false }));
      expect(error.code).toBe("E_IMAGE_CONFLICT");
      expect(error.message).toContain("must be forced");
      const lines = await store.remove(small.configDigest.slice(7, 19), { force: true });
      expect(lines.slice(0, 3)).toEqual(["Untagged: small:1", "Untagged: small:2", `Deleted: ${small.configDigest}`]);
      expect(listing(path.join(paths.stateRoot, "layers"))).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "blobs", "sha256"))).toEqual([]);
    });

    it("keeps images a container uses: rm refuses without -f, -f only untags, prune skips them", async () => {
      await store.load(path.join(root.work, "lifecycle-oci"));
      const inUse = (id: string): boolean => id === image.configDigest;
      const containerUsing = (id: string): string | undefined => (inUse(id) ? "c0ffee".repeat(10) + "abcd" : undefined);
      const error = await rejection(store.remove("busybox:test", { force: false, isInUse: inUse, containerUsing }));
      expect(error.code).toBe("E_IMAGE_CONFLICT");
      // Docker's words, naming the container.
      expect(error.message).toBe(`conflict: unable to remove repository reference "busybox:test" (must force) - container c0ffeec0ffee is using its referenced image ${image.configDigest.slice(7, 19)}`);
      expect(await store.remove("busybox:test", { force: true, isInUse: inUse })).toEqual(["Untagged: busybox:test"]);
      const dangling = (await store.list()).find((summary) => summary.Id === image.configDigest);
      expect(dangling?.RepoTags).toEqual([]);
      expect((await rejection(store.remove(image.configDigest, { force: true, isInUse: inUse }))).code).toBe("E_IMAGE_CONFLICT");
      expect(await store.prune({ all: false, isInUse: inUse })).toEqual([]);
      expect((await store.resolve(image.configDigest)).id).toBe(image.configDigest);
      // No longer used: a dangling-only prune removes it and leaves the tagged image.
      const report = await store.pruneWithReport({ all: false });
      expect(report.lines[0]).toBe(`Deleted: ${image.configDigest}`);
      expect(report.reclaimedBytes).toBeGreaterThan(0);
      expect((await store.list()).map((summary) => summary.RepoTags)).toEqual([["small:1"]]);
      // prune -a removes every unused image.
      expect(await store.prune({ all: true })).toEqual(
        expect.arrayContaining(["Untagged: small:1", `Deleted: ${small.configDigest}`]),
      );
      expect(await store.list()).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "layers"))).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "blobs", "sha256"))).toEqual([]);
    });
  });

  describe("save", () => {
    it("round-trips through its own docker-save archive: same id, diff ids, config and names", async () => {
      const source = openImageStore(freshRoots(root, "save-source"));
      await source.load(layout);
      await source.tag("busybox:test", "localhost:5000/copy:9");
      const archive = path.join(root.work, "saved.tar");
      await source.save(["busybox:test", "localhost:5000/copy:9"], archive);
      const members = execFileSync("tar", ["-tf", archive], { encoding: "utf8" }).trim().split("\n");
      expect(members).toEqual(expect.arrayContaining(["index.json", "manifest.json", "oci-layout", "repositories", "blobs/sha256/"]));
      const manifest = JSON.parse(execFileSync("tar", ["-xOf", archive, "manifest.json"], { encoding: "utf8" })) as {
        Config: string;
        RepoTags: string[];
        Layers: string[];
      }[];
      expect(manifest).toHaveLength(1);
      expect(manifest[0]?.RepoTags).toEqual(["busybox:test", "localhost:5000/copy:9"]);
      // Layers are written uncompressed, named by their diff ids, as docker save does.
      expect(manifest[0]?.Layers).toEqual(image.layers.map((layer) => `blobs/sha256/${layer.diffId.slice(7)}`));
      const layerBytes = execFileSync("tar", ["-xOf", archive, manifest[0]?.Layers[1] ?? ""], { maxBuffer: 1 << 30 });
      expect(sha256Of(layerBytes)).toBe(image.layers[1]?.diffId);

      const target = openImageStore(freshRoots(root, "save-target"));
      expect(await target.load(archive)).toEqual(["docker.io/library/busybox:test", "localhost:5000/copy:9"]);
      const copy = await target.resolve("localhost:5000/copy:9");
      expect(copy.id).toBe(image.configDigest);
      expect(copy.config).toEqual(testImageConfig);
      expect((await target.inspect("busybox:test")).RootFS.Layers).toEqual(image.layers.map((layer) => layer.diffId));
    });

    it("saves a whole repository when no tag is given, and nothing named when saved by id", async () => {
      const source = openImageStore(freshRoots(root, "save-repo"));
      await source.load(layout);
      await source.tag("busybox:test", "busybox:second");
      const archive = path.join(root.work, "repo.tar");
      await source.save(["busybox"], archive);
      const target = openImageStore(freshRoots(root, "save-repo-target"));
      expect(await target.load(archive)).toEqual(["docker.io/library/busybox:second", "docker.io/library/busybox:test"]);
      const byId = path.join(root.work, "by-id.tar");
      await source.save([image.configDigest], byId);
      const anonymous = openImageStore(freshRoots(root, "save-id-target"));
      expect(await anonymous.load(byId)).toEqual([image.configDigest]);
    });
  });

  describe("concurrency", () => {
    it("two processes resolving one image unpack each layer once", async () => {
      const paths = freshRoots(root, "concurrent");
      const store = openImageStore(paths);
      await store.load(layout);
      rmSync(path.join(paths.stateRoot, "layers"), { recursive: true });
      // A wrapper around berth-unpack that logs each call and is slow enough for the two to overlap.
      const log = path.join(root.work, "unpack-calls.log");
      const wrapper = path.join(root.work, "berth-unpack-wrapper");
      writeFileSync(wrapper, `#!/bin/sh\necho "$$ $*" >> ${log}\nsleep 0.3\nexec ${unpackerBinary} "$@"\n`);
      chmodSync(wrapper, 0o755);
      const script = path.join(root.work, "resolve.mjs");
      await build({
        stdin: {
          contents: `import { openImageStore } from "./src/runtime/image/index.js";
const store = openImageStore({ stateRoot: process.env.BERTH_ROOT, runRoot: process.env.BERTH_RUN_ROOT });
const resolved = await store.resolve(process.argv[2]);
process.stdout.write(JSON.stringify(resolved.layerPaths));`,
          resolveDir: repositoryRoot,
          loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: script,
        logLevel: "error",
      });
      const run = (): Promise<{ status: number | null; stdout: string; stderr: string }> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [script, "busybox:test"], {
            env: { ...process.env, BERTH_ROOT: paths.stateRoot, BERTH_RUN_ROOT: paths.runRoot, BERTH_UNPACK: wrapper },
          });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
          child.on("close", (status) => resolve({ status, stdout, stderr }));
        });
      const [first, second] = await Promise.all([run(), run()]);
      expect(first.stderr).toBe("");
      expect(second.stderr).toBe("");
      expect(first.status).toBe(0);
      expect(first.stdout).toBe(second.stdout);
      const calls = readFileSync(log, "utf8").trim().split("\n");
      expect(calls).toHaveLength(image.layers.length);
      expect(new Set(calls.map((call) => call.split(" ").at(-1))).size).toBe(image.layers.length);
      const layerPaths = JSON.parse(first.stdout) as string[];
      for (const layerPath of layerPaths) expect(existsSync(path.join(path.dirname(layerPath), "layer.json"))).toBe(true);
      expect(listing(path.join(paths.stateRoot, "tmp"))).toEqual([]);
      expect(listing(path.join(paths.stateRoot, "locks"))).toEqual([]);
    }, 60_000);
  });
});
