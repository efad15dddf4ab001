// Hostile layers: each crafted tar must be refused with an error naming the entry, write nothing
// outside the layer directory, and (through `load`) leave nothing in the store.

import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openImageStore } from "../../../src/runtime/image/index.js";
import {
  buildImage,
  ensureUnpacker,
  freshRoots,
  isRoot,
  makeLayer,
  makeTestRoot,
  tarEntries,
  unpackerBinary,
  writeOciLayout,
  type TarEntrySpec,
  type TestRoot,
} from "../../support/images.js";

const unique = `${process.pid}-${Date.now().toString(36)}`;

interface HostileCase {
  readonly name: string;
  readonly entries: readonly TarEntrySpec[];
  /** The entry the error must name. */
  readonly entry: string;
  /** Host paths that must not exist afterwards (relative ones are inside the sandbox around the target). */
  readonly mustNotExist: readonly string[];
  readonly unpackArgs?: readonly string[];
}

const longComponent = "c".repeat(110);

const hostileCases: readonly HostileCase[] = [
  {
    name: "../ at the start",
    entries: [{ header: { name: `../escape-${unique}`, type: "file" }, content: "x" }],
    entry: `../escape-${unique}`,
    mustNotExist: [`escape-${unique}`],
  },
  {
    name: ".. climbing past the root mid-path",
    entries: [{ header: { name: `dir/../../escape2-${unique}`, type: "file" }, content: "x" }],
    entry: `dir/../../escape2-${unique}`,
    mustNotExist: [`escape2-${unique}`],
  },
  {
    name: "a symlink to /tmp, then a write through it",
    entries: [
      { header: { name: "link", type: "symlink", linkname: "/tmp" } },
      { header: { name: `link/pwned-${unique}`, type: "file" }, content: "pwned" },
    ],
    entry: `link/pwned-${unique}`,
    mustNotExist: [`/tmp/pwned-${unique}`],
  },
  {
    name: "a relative symlink climbing out, then a write through it",
    entries: [
      { header: { name: "up", type: "symlink", linkname: "../.." } },
      { header: { name: `up/escape3-${unique}`, type: "file" }, content: "x" },
    ],
    entry: `up/escape3-${unique}`,
    mustNotExist: [`escape3-${unique}`, `../escape3-${unique}`],
  },
  {
    name: "a symlink to /etc, then a directory through it",
    entries: [
      { header: { name: "etc", type: "symlink", linkname: "/etc" } },
      { header: { name: `etc/berth-${unique}/`, type: "directory" } },
    ],
    entry: `etc/berth-${unique}/`,
    mustNotExist: [`/etc/berth-${unique}`],
  },
  {
    name: "a hard link to /etc/passwd",
    entries: [{ header: { name: "evil", type: "link", linkname: "/etc/passwd" } }],
    entry: "evil",
    mustNotExist: ["target/evil"],
  },
  {
    name: "a hard link climbing out with ..",
    entries: [{ header: { name: "evil", type: "link", linkname: "../../../../../../etc/passwd" } }],
    entry: "evil",
    mustNotExist: ["target/evil"],
  },
  {
    name: "a hard link through a symlink",
    entries: [
      { header: { name: "s", type: "symlink", linkname: "/etc" } },
      { header: { name: "evil", type: "link", linkname: "s/passwd" } },
    ],
    entry: "evil",
    mustNotExist: ["target/evil"],
  },
  {
    name: "a long GNU link name climbing out",
    entries: [{ header: { name: "evil", type: "link", linkname: `${"../".repeat(40)}etc/passwd`, longNames: "gnu" } }],
    entry: "evil",
    mustNotExist: ["target/evil"],
  },
  {
    name: ".. inside a long PAX name",
    entries: [{ header: { name: `a/${"b".repeat(120)}/../../../${longComponent}`, type: "file" }, content: "x" }],
    entry: longComponent.slice(0, 50),
    mustNotExist: [longComponent],
  },
  {
    name: "a whiteout that would hide ..",
    entries: [{ header: { name: "dir/.wh...", type: "file" } }],
    entry: "dir/.wh...",
    mustNotExist: [],
  },
  {
    name: "overlay's own xattrs smuggled in",
    entries: [{ header: { name: "redirect", type: "directory", xattrs: { "trusted.overlay.redirect": "/etc" } } }],
    entry: "redirect",
    mustNotExist: [],
  },
  {
    name: "a device node where devices are not allowed",
    entries: [{ header: { name: "mem", type: "char", deviceMajor: 1, deviceMinor: 1 } }],
    entry: "mem",
    mustNotExist: ["target/mem"],
    unpackArgs: ["--no-devices"],
  },
];

function listTree(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, encoding: "utf8" }).sort();
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!isRoot)("hostile layers (needs root: mknod, chown)", () => {
  let root: TestRoot;
  const passwdLinks = (): number => statSync("/etc/passwd").nlink;
  let passwdLinksBefore = 0;

  beforeAll(() => {
    ensureUnpacker();
    root = makeTestRoot("hostile");
    passwdLinksBefore = passwdLinks();
  });

  afterAll(() => {
    root?.remove();
    expect(passwdLinks()).toBe(passwdLinksBefore);
  });

  describe("berth-unpack refuses them (exit 3, the entry named on one line of stderr)", () => {
    it.each(hostileCases)("$name", (hostile) => {
      const sandbox = path.join(root.work, `sandbox-${hostileCases.indexOf(hostile)}`);
      const target = path.join(sandbox, "target");
      mkdirSync(target, { recursive: true });
      const layer = tarEntries(hostile.entries);
      const result = spawnSync(unpackerBinary, [...(hostile.unpackArgs ?? []), target], { input: layer });
      expect(result.status).toBe(3);
      const stderr = result.stderr.toString();
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toContain(hostile.entry);
      expect(stderr).toMatch(/^berth-unpack: refused: entry "/);
      expect(result.stdout.toString()).toBe("");
      for (const forbidden of hostile.mustNotExist) {
        expect(exists(path.isAbsolute(forbidden) ? forbidden : path.join(sandbox, forbidden))).toBe(false);
      }
      // Nothing appeared next to the target.
      expect(readdirSync(sandbox)).toEqual(["target"]);
    });
  });

  describe("load refuses them with E_IMAGE_LAYER_UNSAFE and stores nothing", () => {
    it.each(hostileCases.filter((hostile) => hostile.unpackArgs === undefined))("$name", async (hostile) => {
      const position = hostileCases.indexOf(hostile);
      const layout = path.join(root.work, `layout-${position}`);
      const layer = makeLayer(tarEntries(hostile.entries), position % 2 === 0 ? "gzip" : "zstd");
      writeOciLayout(layout, [{ image: buildImage({ layers: [layer] }), names: [`hostile/case:${position}`] }]);
      const paths = freshRoots(root, `hostile-${position}`);
      const store = openImageStore(paths);
      const error = await store.load(layout).then(
        () => undefined,
        (caught: unknown) => caught as { code?: string; message?: string },
      );
      expect(error?.code).toBe("E_IMAGE_LAYER_UNSAFE");
      expect(error?.message).toContain(hostile.entry);
      expect(listTree(path.join(paths.stateRoot, "blobs"))).toEqual([]);
      expect(listTree(path.join(paths.stateRoot, "layers"))).toEqual([]);
      expect(listTree(path.join(paths.stateRoot, "images"))).toEqual([]);
      expect(listTree(path.join(paths.stateRoot, "tmp"))).toEqual([]);
      for (const forbidden of hostile.mustNotExist.filter((file) => path.isAbsolute(file))) expect(exists(forbidden)).toBe(false);
      expect(await store.list()).toEqual([]);
    });
  });

  it("makes absolute paths relative, as Docker does, instead of writing to the host", () => {
    const target = path.join(root.work, "absolute", "target");
    mkdirSync(target, { recursive: true });
    const name = `/berth-absolute-${unique}`;
    const layer = tarEntries([
      { header: { name, type: "file" }, content: "inside\n" },
      { header: { name: `/../..${name}-2`, type: "file" }, content: "inside too\n" },
    ]);
    const result = spawnSync(unpackerBinary, [target], { input: layer });
    expect(result.status).toBe(0);
    expect(exists(name)).toBe(false);
    expect(exists(`${name}-2`)).toBe(false);
    expect(listTree(target)).toEqual([`berth-absolute-${unique}`, `berth-absolute-${unique}-2`]);
  });

  it("replaces an earlier symlink with a later file instead of writing through it", () => {
    const target = path.join(root.work, "replace", "target");
    mkdirSync(target, { recursive: true });
    const outside = `/tmp/berth-victim-${unique}`;
    const layer = tarEntries([
      { header: { name: "victim", type: "symlink", linkname: outside } },
      { header: { name: "victim", type: "file", mode: 0o600 }, content: "replaced\n" },
      { header: { name: "was-file", type: "file" }, content: "x" },
      { header: { name: "was-file/", type: "directory", mode: 0o700 } },
      { header: { name: "was-file/inside", type: "file" }, content: "y" },
      { header: { name: "hard", type: "link", linkname: "victim" } },
    ]);
    const result = spawnSync(unpackerBinary, [target], { input: layer });
    expect(result.stderr.toString()).toBe("");
    expect(result.status).toBe(0);
    expect(exists(outside)).toBe(false);
    expect(lstatSync(path.join(target, "victim")).isFile()).toBe(true);
    expect(statSync(path.join(target, "hard")).ino).toBe(statSync(path.join(target, "victim")).ino);
    expect(statSync(path.join(target, "was-file")).isDirectory()).toBe(true);
    expect(listTree(target)).toEqual(["hard", "victim", "was-file", "was-file/inside"]);
  });

  it("refuses a corrupt compressed stream as a layer error, not a crash", () => {
    const target = path.join(root.work, "corrupt", "target");
    mkdirSync(target, { recursive: true });
    const layer = makeLayer(tarEntries([{ header: { name: "a", type: "file" }, content: "a".repeat(10_000) }]), "gzip").blob;
    const truncated = layer.subarray(0, layer.length - 20);
    const result = spawnSync(unpackerBinary, [target], { input: truncated });
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toMatch(/gzip/);
  });

  it("refuses a header with a bad checksum", () => {
    const target = path.join(root.work, "checksum", "target");
    mkdirSync(target, { recursive: true });
    const layer = tarEntries([{ header: { name: "a", type: "file" }, content: "a" }]);
    layer[0] = "b".charCodeAt(0);
    const file = path.join(root.work, "checksum", "layer.tar");
    writeFileSync(file, layer);
    const result = spawnSync(unpackerBinary, [target], { input: layer });
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toContain("checksum");
  });
});
