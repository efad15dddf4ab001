// Test images made here from real binaries (Debian's busybox-static), never from the internet:
// layers as tars (GNU tar for real directory trees, berth's own tar writer for crafted entries),
// compressed with zlib or the zstd CLI, wrapped as OCI image layouts (directory or tar) and as
// `docker save` archives (the legacy layout and the OCI form Docker 25+ writes).
// Not a test file itself (no `.test.ts`).

import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { MediaType, TarWriter, sha256Of, tarBuffer, type OciImageConfig, type TarHeader } from "../../src/runtime/image/index.js";

export type Compression = "none" | "gzip" | "zstd";

export const busyboxPath = "/bin/busybox";
export const isRoot = process.getuid?.() === 0;

export function compress(data: Buffer, compression: Compression): Buffer {
  if (compression === "none") return data;
  if (compression === "gzip") return gzipSync(data);
  const result = spawnSync("zstd", ["-q", "-c", "-3"], { input: data, maxBuffer: 1024 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`zstd failed: ${result.stderr.toString()}`);
  return result.stdout;
}

export interface LayerBlob {
  /** The uncompressed tar. */
  readonly tar: Buffer;
  /** The blob as stored (compressed or not). */
  readonly blob: Buffer;
  readonly diffId: string;
  readonly digest: string;
  readonly mediaType: string;
}

export function makeLayer(tar: Buffer, compression: Compression): LayerBlob {
  const blob = compress(tar, compression);
  const mediaType = compression === "gzip" ? MediaType.ociLayerGzip : compression === "zstd" ? MediaType.ociLayerZstd : MediaType.ociLayer;
  return { tar, blob, diffId: sha256Of(tar), digest: sha256Of(blob), mediaType };
}

/** A tar of a real directory tree with GNU tar: numeric owners, sorted, mtime 0, PAX xattrs. */
export function tarDirectory(directory: string): Buffer {
  return execFileSync(
    "tar",
    [
      "--xattrs",
      "--xattrs-include=*",
      "--numeric-owner",
      "--sort=name",
      "--mtime=@0",
      "--format=posix",
      "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
      "-C",
      directory,
      "-cf",
      "-",
      ".",
    ],
    { maxBuffer: 1024 * 1024 * 1024 },
  );
}

export interface TarEntrySpec {
  readonly header: TarHeader;
  readonly content?: string | Uint8Array;
}

/** A tar of crafted entries, written by berth's own tar writer. */
export function tarEntries(entries: readonly TarEntrySpec[]): Buffer {
  return tarBuffer(
    entries.map((entry) => ({
      header: entry.header,
      ...(entry.content === undefined ? {} : { content: typeof entry.content === "string" ? Buffer.from(entry.content) : entry.content }),
    })),
  );
}

export const passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n";
export const group = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\n";

/** A busybox-static root filesystem: applet links made inside it (so they are not host paths). */
export function makeBusyboxRootfs(directory: string): void {
  for (const sub of ["bin", "etc", "tmp", "root", "home/app", "var/cache/old", "proc", "sys", "dev"]) mkdirSync(path.join(directory, sub), { recursive: true });
  copyFileSync(busyboxPath, path.join(directory, "bin", "busybox"));
  chmodSync(path.join(directory, "bin", "busybox"), 0o755);
  execFileSync("chroot", [directory, "/bin/busybox", "--install", "-s", "/bin"]);
  writeFileSync(path.join(directory, "etc", "passwd"), passwd);
  writeFileSync(path.join(directory, "etc", "group"), group);
  writeFileSync(path.join(directory, "etc", "hello"), "hello from layer 1\n");
  writeFileSync(path.join(directory, "var", "cache", "old", "stale.txt"), "stale\n");
  chmodSync(path.join(directory, "tmp"), 0o1777);
  chmodSync(path.join(directory, "root"), 0o700);
  chownSync(path.join(directory, "home", "app"), 1000, 1000);
  chmodSync(path.join(directory, "home", "app"), 0o750);
}

/** cap_net_bind_service+ep as a VFS_CAP_REVISION_2 security.capability value. */
export const netBindServiceCapability = Buffer.from("0100000200040000000000000000000000000000", "hex");

export const longDirectory = `special/long/${"a".repeat(80)}/${"b".repeat(80)}`;
export const gnuLongName = `gnu/${"c".repeat(150)}`;
export const gnuLongTarget = `${"d".repeat(150)}`;

/** A tree with every special kind of entry, owned and moded in unusual ways, for a GNU tar layer. */
export function makeSpecialTree(directory: string): void {
  const special = path.join(directory, "special");
  mkdirSync(path.join(directory, longDirectory), { recursive: true });
  writeFileSync(path.join(special, "data.txt"), "data\n");
  chownSync(path.join(special, "data.txt"), 1000, 1000);
  linkSync(path.join(special, "data.txt"), path.join(special, "hardlink"));
  writeFileSync(path.join(special, "setuid"), "#!/bin/sh\necho setuid\n");
  chmodSync(path.join(special, "setuid"), 0o4755);
  mkdirSync(path.join(special, "setgid-dir"));
  chownSync(path.join(special, "setgid-dir"), 0, 1000);
  chmodSync(path.join(special, "setgid-dir"), 0o2775);
  mkdirSync(path.join(special, "sticky"));
  chmodSync(path.join(special, "sticky"), 0o1777);
  writeFileSync(path.join(special, "cap"), "capable\n");
  chmodSync(path.join(special, "cap"), 0o755);
  execFileSync("setfattr", ["-n", "security.capability", "-v", `0x${netBindServiceCapability.toString("hex")}`, path.join(special, "cap")]);
  writeFileSync(path.join(special, "user-xattr"), "x\n");
  execFileSync("setfattr", ["-n", "user.berth", "-v", "test-value", path.join(special, "user-xattr")]);
  writeFileSync(path.join(special, "nobody"), "nobody's\n");
  chownSync(path.join(special, "nobody"), 65534, 65534);
  chmodSync(path.join(special, "nobody"), 0o600);
  symlinkSync("data.txt", path.join(special, "link"));
  symlinkSync("/etc/passwd", path.join(special, "abs-link"));
  execFileSync("mknod", ["-m", "0666", path.join(special, "null"), "c", "1", "3"]);
  execFileSync("mknod", ["-m", "0660", path.join(special, "loop9"), "b", "7", "9"]);
  execFileSync("mkfifo", ["-m", "0640", path.join(special, "fifo")]);
  writeFileSync(path.join(directory, longDirectory, "file.txt"), "deep\n");
}

export interface ImageSpec {
  readonly layers: readonly LayerBlob[];
  readonly config?: OciImageConfig;
  readonly created?: string;
  readonly architecture?: string;
}

export interface BuiltImage {
  readonly layers: readonly LayerBlob[];
  readonly configBytes: Buffer;
  /** The image id. */
  readonly configDigest: string;
  readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
}

export function goArchitecture(): string {
  return process.arch === "x64" ? "amd64" : process.arch;
}

export function buildImage(spec: ImageSpec): BuiltImage {
  const configBytes = Buffer.from(
    JSON.stringify({
      created: spec.created ?? "2024-01-02T03:04:05Z",
      architecture: spec.architecture ?? goArchitecture(),
      os: "linux",
      config: spec.config ?? {},
      rootfs: { type: "layers", diff_ids: spec.layers.map((layer) => layer.diffId) },
      history: spec.layers.map((_layer, position) => ({ created: "2024-01-02T03:04:05Z", created_by: `berth test layer ${position}` })),
    }),
  );
  const configDigest = sha256Of(configBytes);
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
      layers: spec.layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.blob.length })),
    }),
  );
  return { layers: spec.layers, configBytes, configDigest, manifestBytes, manifestDigest: sha256Of(manifestBytes) };
}

export const testImageConfig: OciImageConfig = {
  Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
  Entrypoint: ["/bin/sh", "-c"],
  Cmd: ["echo $GREETING"],
  WorkingDir: "/home/app",
  User: "app",
  ExposedPorts: { "8080/tcp": {} },
  Volumes: { "/data": {} },
  Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 5_000_000_000, Timeout: 2_000_000_000, StartPeriod: 1_000_000_000, Retries: 3 },
  Labels: { "org.example.test": "berth" },
  StopSignal: "SIGTERM",
};

export interface TestLayers {
  /** busybox rootfs (GNU tar, gzip). */
  readonly base: LayerBlob;
  /** whiteouts: deletes /etc/hello, makes /var/cache opaque (berth's tar writer, zstd). */
  readonly whiteouts: LayerBlob;
  /** every special entry kind (GNU tar, plain). */
  readonly special: LayerBlob;
  /** GNU long names and link names (berth's tar writer in GNU mode, gzip). */
  readonly gnu: LayerBlob;
}

/** The four layers of the standard test image; `work` is a scratch directory the caller removes. */
export function makeTestLayers(work: string): TestLayers {
  const rootfs = path.join(work, "rootfs");
  makeBusyboxRootfs(rootfs);
  const base = makeLayer(tarDirectory(rootfs), "gzip");
  const whiteouts = makeLayer(
    tarEntries([
      { header: { name: "etc/", type: "directory", mode: 0o755, mtime: 1_700_000_000 } },
      { header: { name: "etc/.wh.hello", type: "file", mode: 0o644 } },
      { header: { name: "var/", type: "directory", mode: 0o755 } },
      { header: { name: "var/cache/", type: "directory", mode: 0o755, mtime: 1_700_000_000 } },
      { header: { name: "var/cache/.wh..wh..opq", type: "file", mode: 0o644 } },
      { header: { name: "var/cache/new.txt", type: "file", mode: 0o644 }, content: "new\n" },
      { header: { name: "usr/share/layer2.txt", type: "file", mode: 0o640, uid: 1000, gid: 1000, mtime: 1_700_000_000.5 }, content: "two\n" },
    ]),
    "zstd",
  );
  const tree = path.join(work, "special-tree");
  makeSpecialTree(tree);
  const special = makeLayer(tarDirectory(tree), "none");
  const gnu = makeLayer(
    tarEntries([
      { header: { name: "gnu/", type: "directory", mode: 0o755 } },
      { header: { name: gnuLongName, type: "file", mode: 0o644, longNames: "gnu" }, content: "long name\n" },
      { header: { name: "gnu/longlink", type: "symlink", linkname: gnuLongTarget, longNames: "gnu" } },
      { header: { name: "gnu/hard-to-long", type: "link", linkname: gnuLongName, longNames: "gnu" } },
    ]),
    "gzip",
  );
  return { base, whiteouts, special, gnu };
}

export function makeTestImage(layers: TestLayers): BuiltImage {
  return buildImage({ layers: [layers.base, layers.whiteouts, layers.special, layers.gnu], config: testImageConfig });
}

// ---------------------------------------------------------------- containers of images

export interface NamedImage {
  readonly image: BuiltImage;
  /** Names to record: full references (`docker.io/library/x:tag`) or familiar ones. */
  readonly names?: readonly string[];
}

export type NameStyle = "ref-name" | "containerd" | "tag-only";

function writeBlob(directory: string, digest: string, bytes: Buffer): void {
  const file = path.join(directory, "blobs", "sha256", digest.slice("sha256:".length));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

function annotationsFor(name: string, style: NameStyle): Record<string, string> {
  const tag = name.includes(":") && !name.slice(name.lastIndexOf(":")).includes("/") ? name.slice(name.lastIndexOf(":") + 1) : "latest";
  if (style === "containerd") return { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag };
  if (style === "tag-only") return { "org.opencontainers.image.ref.name": tag };
  return { "org.opencontainers.image.ref.name": name };
}

/** An OCI image layout directory (oci-layout, index.json, blobs/sha256/…). */
export function writeOciLayout(directory: string, images: readonly NamedImage[], style: NameStyle = "ref-name"): void {
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const manifests: object[] = [];
  for (const { image, names } of images) {
    writeBlob(directory, image.configDigest, image.configBytes);
    writeBlob(directory, image.manifestDigest, image.manifestBytes);
    for (const layer of image.layers) writeBlob(directory, layer.digest, layer.blob);
    const descriptor = { mediaType: MediaType.ociManifest, digest: image.manifestDigest, size: image.manifestBytes.length };
    if (names === undefined || names.length === 0) manifests.push(descriptor);
    for (const name of names ?? []) manifests.push({ ...descriptor, annotations: annotationsFor(name, style) });
  }
  writeFileSync(path.join(directory, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}

/** A tar of a directory tree (files, directories, symlinks), written with berth's tar writer. */
export function tarTree(directory: string, file: string): void {
  const fd = openSync(file, "w");
  try {
    const writer = TarWriter.toFd(fd);
    const walk = (relative: string): void => {
      for (const entry of readdirSync(path.join(directory, relative)).sort()) {
        const child = relative === "" ? entry : `${relative}/${entry}`;
        const full = path.join(directory, child);
        const status = lstatSync(full);
        if (status.isSymbolicLink()) writer.add({ name: child, type: "symlink", linkname: readlinkSync(full) });
        else if (status.isDirectory()) {
          writer.add({ name: `${child}/`, type: "directory", mode: 0o755 });
          walk(child);
        } else writer.addFile({ name: child, mode: 0o644 }, full);
      }
    };
    walk("");
    writer.finish();
  } finally {
    closeSync(fd);
  }
}

/** An OCI image layout as a tar file. */
export function writeOciArchive(file: string, work: string, images: readonly NamedImage[], style: NameStyle = "ref-name"): void {
  const directory = path.join(work, `oci-${path.basename(file)}`);
  writeOciLayout(directory, images, style);
  tarTree(directory, file);
}

/** The same image (same config, same id) with its layers stored differently: a new manifest. */
export function withLayers(image: BuiltImage, layers: readonly LayerBlob[]): BuiltImage {
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: image.configDigest, size: image.configBytes.length },
      layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.blob.length })),
    }),
  );
  return { ...image, layers, manifestBytes, manifestDigest: sha256Of(manifestBytes) };
}

/**
 * `docker save` as Docker before 25 wrote it: <id>/layer.tar, <id>/json, <id>/VERSION,
 * <config hex>.json, manifest.json, repositories. A layer shared with an earlier image is a
 * symlink to that image's layer.tar, as Docker writes it.
 */
export function writeDockerSaveLegacy(file: string, work: string, images: readonly NamedImage[]): void {
  const directory = path.join(work, `legacy-${path.basename(file)}`);
  mkdirSync(directory, { recursive: true });
  const manifest: object[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Map<string, string>();
  for (const { image, names } of images) {
    const configName = `${image.configDigest.slice("sha256:".length)}.json`;
    writeFileSync(path.join(directory, configName), image.configBytes);
    const layerPaths: string[] = [];
    let parent = "";
    for (const layer of image.layers) {
      const v1Id = sha256Of(`${parent} ${layer.diffId}`).slice("sha256:".length);
      mkdirSync(path.join(directory, v1Id), { recursive: true });
      writeFileSync(path.join(directory, v1Id, "VERSION"), "1.0");
      writeFileSync(path.join(directory, v1Id, "json"), JSON.stringify({ id: v1Id, ...(parent ? { parent } : {}) }));
      const previous = written.get(layer.diffId);
      if (previous !== undefined && previous !== `${v1Id}/layer.tar`) {
        symlinkSync(`../${previous}`, path.join(directory, v1Id, "layer.tar"));
      } else if (previous === undefined) {
        writeFileSync(path.join(directory, v1Id, "layer.tar"), layer.tar);
        written.set(layer.diffId, `${v1Id}/layer.tar`);
      }
      layerPaths.push(`${v1Id}/layer.tar`);
      parent = v1Id;
    }
    manifest.push({ Config: configName, RepoTags: names ?? null, Layers: layerPaths });
    for (const name of names ?? []) {
      const colon = name.lastIndexOf(":");
      repositories[name.slice(0, colon)] = { ...(repositories[name.slice(0, colon)] ?? {}), [name.slice(colon + 1)]: parent };
    }
  }
  writeFileSync(path.join(directory, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(path.join(directory, "repositories"), JSON.stringify(repositories));
  tarTree(directory, file);
}

/** `docker save` as Docker 25+ writes it: an OCI layout with uncompressed layers plus manifest.json. */
export function writeDockerSaveOci(file: string, work: string, images: readonly NamedImage[]): void {
  const directory = path.join(work, `docker25-${path.basename(file)}`);
  mkdirSync(directory, { recursive: true });
  const uncompressed = images.map(({ image, names }) => ({
    image: withLayers(
      image,
      image.layers.map((layer) => ({ ...layer, blob: layer.tar, digest: layer.diffId, mediaType: MediaType.ociLayer })),
    ),
    names: (names ?? []).map((name) => (name.includes("/") ? `docker.io/${name}` : `docker.io/library/${name}`)),
  }));
  writeOciLayout(directory, uncompressed, "containerd");
  writeFileSync(
    path.join(directory, "manifest.json"),
    JSON.stringify(
      uncompressed.map(({ image }, position) => ({
        Config: `blobs/sha256/${image.configDigest.slice(7)}`,
        RepoTags: images[position]?.names ?? null,
        Layers: image.layers.map((layer) => `blobs/sha256/${layer.diffId.slice(7)}`),
      })),
    ),
  );
  tarTree(directory, file);
}

// ---------------------------------------------------------------- throwaway state roots

export interface TestRoot {
  /** BERTH_ROOT and BERTH_RUN_ROOT for this test file. */
  readonly paths: { readonly stateRoot: string; readonly runRoot: string };
  readonly env: Readonly<Record<string, string>>;
  /** A scratch directory next to the roots (images, archives). */
  readonly work: string;
  remove(): void;
}

export function makeTestRoot(prefix: string): TestRoot {
  const base = mkdtempSync(path.join(tmpdir(), `berth-image-${prefix}-`));
  const paths = { stateRoot: path.join(base, "state"), runRoot: path.join(base, "run") };
  const work = path.join(base, "work");
  mkdirSync(work, { recursive: true });
  return {
    paths,
    env: { BERTH_ROOT: paths.stateRoot, BERTH_RUN_ROOT: paths.runRoot },
    work,
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** A second, empty pair of roots inside the same base (for round trips). */
export function freshRoots(root: TestRoot, name: string): { readonly stateRoot: string; readonly runRoot: string } {
  return { stateRoot: path.join(root.work, `${name}-state`), runRoot: path.join(root.work, `${name}-run`) };
}

/** Builds native/build/berth-unpack if needed (only that target, so other native work cannot break it). */
export function ensureUnpacker(): void {
  execFileSync("make", ["-s", "-C", path.join(repositoryRoot, "native"), "build/berth-unpack"], { stdio: "inherit" });
}

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const unpackerBinary = path.join(repositoryRoot, "native", "build", "berth-unpack");
