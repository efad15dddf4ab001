// Loading images made from busybox-static: every layer entry type must land exactly as the tar
// says (owners, modes, setuid, file capabilities, hard links, devices, long names), whiteouts
// must become overlayfs whiteouts, and every archive shape Docker and OCI tools write must load.

import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openImageStore, type ImageStore, type ResolvedImage } from "../../../src/runtime/image/index.js";
import {
  buildImage,
  compress,
  ensureUnpacker,
  freshRoots,
  gnuLongName,
  gnuLongTarget,
  isRoot,
  longDirectory,
  makeTestImage,
  makeTestLayers,
  makeTestRoot,
  netBindServiceCapability,
  testImageConfig,
  writeDockerSaveLegacy,
  writeDockerSaveOci,
  writeOciArchive,
  writeOciLayout,
  type BuiltImage,
  type TestLayers,
  type TestRoot,
} from "../../support/images.js";

const reference = "docker.io/berth-test/busybox:1.0";

function xattrHex(file: string, name: string): string | undefined {
  const result = spawnSync("getfattr", ["--absolute-names", "-n", name, "-e", "hex", "--only-values", file]);
  if (result.status !== 0) return undefined;
  return result.stdout.toString("hex");
}

function deviceNumbers(file: string): [number, number] {
  const rdev = lstatSync(file).rdev;
  return [Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
}

describe.skipIf(!isRoot)("image load (as root: mknod, chown, trusted xattrs)", () => {
  let root: TestRoot;
  let layers: TestLayers;
  let image: BuiltImage;
  let store: ImageStore;
  let resolved: ResolvedImage;

  beforeAll(async () => {
    ensureUnpacker();
    root = makeTestRoot("load");
    layers = makeTestLayers(path.join(root.work, "layers"));
    image = makeTestImage(layers);
    writeOciLayout(path.join(root.work, "oci"), [{ image, names: [reference] }]);
    store = openImageStore(root.paths);
    expect(await store.load(path.join(root.work, "oci"))).toEqual([reference]);
    resolved = await store.resolve("berth-test/busybox:1.0");
  }, 120_000);

  afterAll(() => root?.remove());

  it("resolves the loaded image: id, names, config, one layer directory per layer, bottom first", () => {
    expect(resolved.id).toBe(image.configDigest);
    expect(resolved.references).toEqual([reference]);
    expect(resolved.config).toEqual(testImageConfig);
    expect(resolved.created).toBe("2024-01-02T03:04:05Z");
    expect(resolved.layerPaths).toHaveLength(4);
    for (const layerPath of resolved.layerPaths) {
      expect(layerPath.startsWith(path.join(root.paths.stateRoot, "layers"))).toBe(true);
      expect(path.basename(layerPath)).toBe("diff");
    }
    expect(existsFile(path.join(resolved.layerPaths[0] ?? "", "bin", "busybox"))).toBe(true);
  });

  it("keeps busybox's applet links as written inside the rootfs", () => {
    const base = resolved.layerPaths[0] ?? "";
    expect(readlinkSync(path.join(base, "bin", "sh"))).toBe("/bin/busybox");
    expect(statSync(path.join(base, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(path.join(base, "root")).mode & 0o7777).toBe(0o700);
    const home = statSync(path.join(base, "home", "app"));
    expect([home.uid, home.gid, home.mode & 0o7777]).toEqual([1000, 1000, 0o750]);
    expect(readFileSync(path.join(base, "etc", "passwd"), "utf8")).toContain("app:x:1000:1000");
  });

  it("applies ownership, modes, setuid/setgid/sticky, xattrs and capabilities exactly", () => {
    const special = path.join(resolved.layerPaths[2] ?? "", "special");
    const data = statSync(path.join(special, "data.txt"));
    expect([data.uid, data.gid, data.mode & 0o7777]).toEqual([1000, 1000, 0o644]);
    expect(statSync(path.join(special, "setuid")).mode & 0o7777).toBe(0o4755);
    const setgid = statSync(path.join(special, "setgid-dir"));
    expect([setgid.gid, setgid.mode & 0o7777]).toEqual([1000, 0o2775]);
    expect(statSync(path.join(special, "sticky")).mode & 0o7777).toBe(0o1777);
    const nobody = statSync(path.join(special, "nobody"));
    expect([nobody.uid, nobody.gid, nobody.mode & 0o7777]).toEqual([65534, 65534, 0o600]);
    expect(xattrHex(path.join(special, "cap"), "security.capability")).toBe(netBindServiceCapability.toString("hex"));
    expect(statSync(path.join(special, "cap")).mode & 0o7777).toBe(0o755);
    expect(Buffer.from(xattrHex(path.join(special, "user-xattr"), "user.berth") ?? "", "hex").toString()).toBe("test-value");
  });

  it("makes hard links share an inode, and keeps symlinks unresolved", () => {
    const special = path.join(resolved.layerPaths[2] ?? "", "special");
    const data = statSync(path.join(special, "data.txt"));
    const link = statSync(path.join(special, "hardlink"));
    expect(link.ino).toBe(data.ino);
    expect(data.nlink).toBe(2);
    expect(readlinkSync(path.join(special, "link"))).toBe("data.txt");
    expect(readlinkSync(path.join(special, "abs-link"))).toBe("/etc/passwd");
  });

  it("creates device nodes and fifos with their numbers and modes", () => {
    const special = path.join(resolved.layerPaths[2] ?? "", "special");
    const nullDevice = lstatSync(path.join(special, "null"));
    expect(nullDevice.isCharacterDevice()).toBe(true);
    expect(deviceNumbers(path.join(special, "null"))).toEqual([1, 3]);
    expect(nullDevice.mode & 0o7777).toBe(0o666);
    const loop = lstatSync(path.join(special, "loop9"));
    expect(loop.isBlockDevice()).toBe(true);
    expect(deviceNumbers(path.join(special, "loop9"))).toEqual([7, 9]);
    const fifo = lstatSync(path.join(special, "fifo"));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.mode & 0o7777).toBe(0o640);
  });

  it("writes long names from PAX and from GNU long-name entries", () => {
    const deep = path.join(resolved.layerPaths[2] ?? "", longDirectory, "file.txt");
    expect(`${longDirectory}/file.txt`.length).toBeGreaterThan(100);
    expect(readFileSync(deep, "utf8")).toBe("deep\n");
    const gnu = resolved.layerPaths[3] ?? "";
    expect(readFileSync(path.join(gnu, gnuLongName), "utf8")).toBe("long name\n");
    expect(readlinkSync(path.join(gnu, "gnu", "longlink"))).toBe(gnuLongTarget);
    expect(statSync(path.join(gnu, "gnu", "hard-to-long")).ino).toBe(statSync(path.join(gnu, gnuLongName)).ino);
  });

  it("keeps mtimes, including on directories written to later", () => {
    const whiteouts = resolved.layerPaths[1] ?? "";
    expect(statSync(path.join(whiteouts, "usr", "share", "layer2.txt")).mtimeMs).toBe(1_700_000_000_500);
    expect(statSync(path.join(whiteouts, "var", "cache")).mtimeMs).toBe(1_700_000_000_000);
    const layer2 = statSync(path.join(whiteouts, "usr", "share", "layer2.txt"));
    expect([layer2.uid, layer2.gid, layer2.mode & 0o7777]).toEqual([1000, 1000, 0o640]);
  });

  it("turns .wh. files into 0:0 character devices and .wh..wh..opq into trusted.overlay.opaque", () => {
    const whiteouts = resolved.layerPaths[1] ?? "";
    const hello = lstatSync(path.join(whiteouts, "etc", "hello"));
    expect(hello.isCharacterDevice()).toBe(true);
    expect(hello.rdev).toBe(0);
    expect(Buffer.from(xattrHex(path.join(whiteouts, "var", "cache"), "trusted.overlay.opaque") ?? "", "hex").toString()).toBe("y");
    expect(existsFile(path.join(whiteouts, "etc", ".wh.hello"))).toBe(false);
    expect(existsFile(path.join(whiteouts, "var", "cache", ".wh..wh..opq"))).toBe(false);
  });

  it("gives overlayfs the view Docker gives: deleted files gone, opaque dirs replaced, busybox runs", () => {
    const merged = path.join(root.work, "merged");
    mkdirSync(merged, { recursive: true });
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${[...resolved.layerPaths].reverse().join(":")}`, merged]);
    try {
      expect(existsFile(path.join(merged, "etc", "hello"))).toBe(false);
      expect(existsFile(path.join(merged, "var", "cache", "old"))).toBe(false);
      expect(readFileSync(path.join(merged, "var", "cache", "new.txt"), "utf8")).toBe("new\n");
      expect(readFileSync(path.join(merged, "special", "data.txt"), "utf8")).toBe("data\n");
      const output = execFileSync("chroot", [merged, "/bin/sh", "-c", "echo $((6*7)) && cat /special/link"], { encoding: "utf8" });
      expect(output).toBe("42\ndata\n");
    } finally {
      execFileSync("umount", [merged]);
    }
  });

  it("records the image: ls shows it with its size, inspect is Docker-shaped", async () => {
    const [summary] = await store.list();
    expect(summary?.Id).toBe(image.configDigest);
    expect(summary?.RepoTags).toEqual(["berth-test/busybox:1.0"]);
    expect(summary?.RepoDigests).toEqual([`berth-test/busybox@${image.manifestDigest}`]);
    expect(summary?.Size).toBeGreaterThan(1_000_000);
    expect(summary?.Labels).toEqual({ "org.example.test": "berth" });
    const inspect = await store.inspect(image.configDigest.slice(7, 19));
    expect(inspect.Id).toBe(image.configDigest);
    expect(inspect.RootFS).toEqual({ Type: "layers", Layers: image.layers.map((layer) => layer.diffId) });
    expect(inspect.Config.Entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(inspect.Os).toBe("linux");
    expect(inspect.Created).toBe("2024-01-02T03:04:05Z");
  });

  it("stores blobs by sha256 and layers by chain id", () => {
    for (const digest of [image.configDigest, image.manifestDigest, ...image.layers.map((layer) => layer.digest)]) {
      const blob = readFileSync(path.join(root.paths.stateRoot, "blobs", "sha256", digest.slice(7)));
      expect(`sha256:${sha256Hex(blob)}`).toBe(digest);
    }
    expect(path.basename(path.dirname(resolved.layerPaths[0] ?? ""))).toBe(image.layers[0]?.diffId.slice(7));
  });

  describe("archive shapes", () => {
    const loadInto = async (name: string, file: string): Promise<{ store: ImageStore; loaded: readonly string[] }> => {
      const other = openImageStore(freshRoots(root, name));
      return { store: other, loaded: await other.load(file) };
    };

    it("an OCI layout as a tar, names in io.containerd.image.name", async () => {
      const file = path.join(root.work, "oci.tar");
      writeOciArchive(file, root.work, [{ image, names: ["docker.io/library/bb:2"] }], "containerd");
      const { store: other, loaded } = await loadInto("oci-tar", file);
      expect(loaded).toEqual(["docker.io/library/bb:2"]);
      expect((await other.resolve("bb:2")).id).toBe(image.configDigest);
    });

    it("a gzip-compressed OCI archive", async () => {
      const plain = path.join(root.work, "oci-plain.tar");
      writeOciArchive(plain, root.work, [{ image, names: ["localhost:5000/test/bb:gz"] }]);
      const file = path.join(root.work, "oci.tar.gz");
      writeFileSync(file, compress(readFileSync(plain), "gzip"));
      const { loaded } = await loadInto("oci-gz", file);
      expect(loaded).toEqual(["localhost:5000/test/bb:gz"]);
    });

    it("a docker save archive in the legacy layout, a shared layer written as a symlink", async () => {
      const second = buildImage({ layers: [layers.base, layers.special], config: { Cmd: ["/bin/sh"] } });
      const file = path.join(root.work, "legacy.tar");
      writeDockerSaveLegacy(file, root.work, [
        { image, names: ["busybox:legacy"] },
        { image: second, names: ["other:1"] },
      ]);
      const { store: other, loaded } = await loadInto("legacy", file);
      expect(loaded).toEqual(["docker.io/library/busybox:legacy", "docker.io/library/other:1"]);
      const first = await other.resolve("busybox:legacy");
      expect(first.id).toBe(image.configDigest);
      const shared = await other.resolve("other:1");
      expect(shared.layerPaths[0]).toBe(first.layerPaths[0]);
      // A synthesized manifest is not a registry digest: no RepoDigests.
      expect((await other.inspect("busybox:legacy")).RepoDigests).toEqual([]);
    });

    it("a docker save archive in Docker 25's OCI form", async () => {
      const file = path.join(root.work, "docker25.tar");
      writeDockerSaveOci(file, root.work, [{ image, names: ["busybox:25"] }]);
      const { store: other, loaded } = await loadInto("docker25", file);
      expect(loaded).toEqual(["docker.io/library/busybox:25"]);
      expect((await other.resolve("busybox:25")).config).toEqual(testImageConfig);
    });

    it("a multi-platform image index: this machine's platform is chosen, attestations skipped", async () => {
      const directory = path.join(root.work, "multi-platform");
      const foreign = buildImage({ layers: [layers.special], architecture: "s390x", config: { Cmd: ["foreign"] } });
      const native = buildImage({ layers: [layers.base, layers.special], config: { Cmd: ["native"] } });
      writeOciLayout(directory, [{ image: foreign }, { image: native }]);
      const descriptor = (built: BuiltImage, platform: object, annotations?: object): object => ({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: built.manifestDigest,
        size: built.manifestBytes.length,
        platform,
        ...(annotations === undefined ? {} : { annotations }),
      });
      const nested = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: [
            descriptor(foreign, { os: "linux", architecture: "s390x" }),
            descriptor(foreign, { os: "unknown", architecture: "unknown" }, { "vnd.docker.reference.type": "attestation-manifest" }),
            descriptor(native, { os: "linux", architecture: process.arch === "x64" ? "amd64" : process.arch }),
          ],
        }),
      );
      const nestedDigest = `sha256:${sha256Hex(nested)}`;
      writeFileSync(path.join(directory, "blobs", "sha256", nestedDigest.slice(7)), nested);
      writeFileSync(
        path.join(directory, "index.json"),
        JSON.stringify({
          schemaVersion: 2,
          manifests: [
            {
              mediaType: "application/vnd.oci.image.index.v1+json",
              digest: nestedDigest,
              size: nested.length,
              annotations: { "org.opencontainers.image.ref.name": "docker.io/library/multi:1" },
            },
          ],
        }),
      );
      const { store: other, loaded } = await loadInto("multi-platform", directory);
      expect(loaded).toEqual(["docker.io/library/multi:1"]);
      const resolvedMulti = await other.resolve("multi:1");
      expect(resolvedMulti.id).toBe(native.configDigest);
      expect(resolvedMulti.config.Cmd).toEqual(["native"]);
      expect((await other.list()).map((summary) => summary.Id)).toEqual([native.configDigest]);
    });

    it("loading the same archive again changes nothing and unpacks nothing", async () => {
      const paths = freshRoots(root, "again");
      const other = openImageStore(paths);
      const directory = path.join(root.work, "oci");
      await other.load(directory);
      const index = readFileSync(path.join(paths.stateRoot, "images", "index.json"), "utf8");
      const layerDirectories = statSync(path.join(paths.stateRoot, "layers")).mtimeMs;
      expect(await other.load(directory)).toEqual([reference]);
      expect(statSync(path.join(paths.stateRoot, "layers")).mtimeMs).toBe(layerDirectories);
      const reloaded = JSON.parse(readFileSync(path.join(paths.stateRoot, "images", "index.json"), "utf8")) as {
        references: object;
        images: Record<string, { manifests: unknown[] }>;
      };
      const before = JSON.parse(index) as typeof reloaded;
      expect(reloaded.references).toEqual(before.references);
      expect(reloaded.images[image.configDigest]?.manifests).toEqual(before.images[image.configDigest]?.manifests);
    });

    it("an OCI layout whose ref.name is only a tag loads untagged, by id", async () => {
      const directory = path.join(root.work, "tag-only");
      writeOciLayout(directory, [{ image, names: ["1.0"] }], "tag-only");
      const { store: other, loaded } = await loadInto("tag-only", directory);
      expect(loaded).toEqual([image.configDigest]);
      expect((await other.list())[0]?.RepoTags).toEqual([]);
    });
  });
});

function existsFile(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function sha256Hex(data: Buffer): string {
  return execFileSync("sha256sum", { input: data, encoding: "utf8" }).slice(0, 64);
}
