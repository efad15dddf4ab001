// `berth image …` through the real CLI (bin/berth after `npm run build`): what Docker's
// `docker image …` prints, `--format json`, exit statuses.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { berthBin, cleanEnvironment, ensureBuilt, runBerth, type BerthRun } from "../../e2e/run-berth.js";
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
  writeDockerSaveLegacy,
  writeOciLayout,
  type BuiltImage,
  type TestRoot,
} from "../../support/images.js";

describe.skipIf(!isRoot)("berth image (CLI; needs root to unpack layers)", () => {
  let root: TestRoot;
  let image: BuiltImage;
  let layout: string;
  let legacy: string;
  let env: Record<string, string>;

  const berth = (args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): BerthRun =>
    runBerth(args, { cwd: root.work, env: options.env ?? env, ...(options.input === undefined ? {} : { input: options.input }) });
  const ok = (args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): string => {
    const result = berth(args, options);
    expect(result.stderr, `berth ${args.join(" ")}`).toBe("");
    expect(result.status, `berth ${args.join(" ")}`).toBe(0);
    return result.stdout;
  };
  const shortId = (id: string): string => id.slice(7, 19);
  /** For binary stdin/stdout (archives): runBerth speaks text. */
  const binary = (args: readonly string[], input?: Buffer): { status: number | null; stdout: Buffer; stderr: string } => {
    const result = spawnSync(process.execPath, ["--", berthBin, ...args], {
      cwd: root.work,
      env: cleanEnvironment(env),
      input: input ?? Buffer.alloc(0),
      maxBuffer: 1 << 30,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString() };
  };

  beforeAll(() => {
    ensureUnpacker();
    ensureBuilt();
    root = makeTestRoot("cli");
    env = { ...root.env };
    const layers = makeTestLayers(path.join(root.work, "layers"));
    image = makeTestImage(layers);
    layout = path.join(root.work, "oci");
    writeOciLayout(layout, [{ image, names: ["docker.io/berth-test/busybox:1.0"] }]);
    legacy = path.join(root.work, "legacy.tar");
    const tiny = buildImage({ layers: [makeLayer(tarEntries([{ header: { name: "hello", type: "file" }, content: "hi" }]), "none")] });
    writeDockerSaveLegacy(legacy, root.work, [{ image: tiny, names: ["tiny:1"] }]);
  }, 180_000);

  afterAll(() => root?.remove());

  it("loads an OCI layout with -i and a docker save archive from stdin (berth load)", () => {
    expect(ok(["image", "load", "-i", layout])).toBe("Loaded image: berth-test/busybox:1.0\n");
    const loaded = binary(["load"], readFileSync(legacy));
    expect(loaded.stderr).toBe("");
    expect(loaded.stdout.toString()).toBe("Loaded image: tiny:1\n");
  });

  it("lists images as docker image ls does", () => {
    const lines = ok(["image", "ls"]).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$/);
    const row = lines.find((line) => line.startsWith("berth-test/busybox"));
    expect(row).toMatch(new RegExp(`^berth-test/busybox\\s{3}1\\.0\\s+${shortId(image.configDigest)}\\s{3}\\d+ (months|years) ago\\s{3}\\d(\\.\\d+)?MB$`));
    expect(lines).toHaveLength(3);
  });

  it("prints one JSON object per line with --format json, ids with -q", () => {
    const objects = ok(["image", "ls", "--format", "json"])
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, string>);
    const busybox = objects.find((object) => object["Repository"] === "berth-test/busybox");
    expect(Object.keys(busybox ?? {})).toEqual([
      "Containers",
      "CreatedAt",
      "CreatedSince",
      "Digest",
      "ID",
      "Repository",
      "SharedSize",
      "Size",
      "Tag",
      "UniqueSize",
      "VirtualSize",
    ]);
    expect(busybox).toMatchObject({ Tag: "1.0", ID: shortId(image.configDigest), Digest: "<none>", Containers: "N/A" });
    expect(busybox?.["CreatedAt"]).toMatch(/^2024-01-02 /);
    expect(ok(["image", "ls", "-q", "berth-test/busybox"])).toBe(`${shortId(image.configDigest)}\n`);
    expect(ok(["image", "ls", "-q", "--no-trunc", "berth-test/busybox:1.0"])).toBe(`${image.configDigest}\n`);
    expect(ok(["image", "ls", "--digests", "--format", "{{.Repository}} {{.Digest}}", "berth-test/busybox"])).toBe(
      `berth-test/busybox ${image.manifestDigest}\n`,
    );
  });

  it("shows an untagged image as <none> <none>", () => {
    const untagged = path.join(root.work, "untagged");
    const lone = buildImage({ layers: [makeLayer(tarEntries([{ header: { name: "lone", type: "file" }, content: "1" }]), "zstd")] });
    writeOciLayout(untagged, [{ image: lone }]);
    expect(ok(["image", "load", "-i", untagged])).toBe(`Loaded image ID: ${lone.configDigest}\n`);
    const row = ok(["image", "ls"]).split("\n").find((line) => line.includes(shortId(lone.configDigest)));
    expect(row).toMatch(/^<none>\s{3,}<none>\s{3,}[0-9a-f]{12}\s{3}\d+ (months|years) ago\s{3}\d+B$/);
    expect(ok(["image", "ls", "-q", "--filter", "dangling=true"])).toBe(`${shortId(lone.configDigest)}\n`);
    expect(ok(["image", "rm", shortId(lone.configDigest)])).toMatch(new RegExp(`^Deleted: ${lone.configDigest}\n`));
  });

  it("tags, inspects (Docker-shaped JSON, Go templates) and refuses bad names", () => {
    ok(["image", "tag", "berth-test/busybox:1.0", "localhost:5000/mirror/busybox"]);
    const inspected = JSON.parse(ok(["image", "inspect", "localhost:5000/mirror/busybox"])) as Record<string, unknown>[];
    expect(inspected).toHaveLength(1);
    const record = inspected[0] ?? {};
    for (const key of ["Id", "RepoTags", "RepoDigests", "Created", "Config", "Architecture", "Os", "Size", "RootFS"]) expect(record).toHaveProperty(key);
    expect(record["Id"]).toBe(image.configDigest);
    expect(record["RepoTags"]).toEqual(["berth-test/busybox:1.0", "localhost:5000/mirror/busybox:latest"]);
    expect(record["RootFS"]).toEqual({ Type: "layers", Layers: image.layers.map((layer) => layer.diffId) });
    expect(ok(["image", "inspect", "-f", "{{.Id}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}", shortId(image.configDigest)])).toBe(
      `${image.configDigest} /home/app ["/bin/sh","-c"]\n`,
    );
    const missing = berth(["image", "inspect", "nope"]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe("[]\n");
    expect(missing.stderr).toBe("No such image: nope:latest\n");
    const bad = berth(["image", "tag", "tiny:1", "Busybox:1"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/must be lowercase/);
  });

  it("saves with -o and to stdout (berth save), and the archive loads elsewhere", () => {
    const file = path.join(root.work, "saved.tar");
    ok(["image", "save", "-o", file, "berth-test/busybox:1.0", "tiny:1"]);
    const piped = binary(["save", "tiny:1"]);
    expect(piped.status).toBe(0);
    writeFileSync(path.join(root.work, "piped.tar"), piped.stdout);
    const other = freshRoots(root, "cli-other");
    const otherEnv = { BERTH_ROOT: other.stateRoot, BERTH_RUN_ROOT: other.runRoot };
    expect(ok(["load", "-i", file], { env: otherEnv })).toBe("Loaded image: berth-test/busybox:1.0\nLoaded image: tiny:1\n");
    expect(ok(["image", "load", "-i", path.join(root.work, "piped.tar")], { env: otherEnv })).toBe("Loaded image: tiny:1\n");
    expect(ok(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], { env: otherEnv }).split("\n").sort().join("\n")).toContain(
      `berth-test/busybox:1.0 ${shortId(image.configDigest)}`,
    );
  });

  it("removes images as docker image rm does, with exit 1 for what it could not remove", () => {
    ok(["image", "tag", "tiny:1", "tiny:2"]);
    expect(ok(["image", "rm", "tiny:2"])).toBe("Untagged: tiny:2\n");
    const conflict = berth(["image", "rm", shortId(image.configDigest)]);
    expect(conflict.status).toBe(1);
    expect(conflict.stderr).toMatch(/^conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories\n$/);
    const mixed = berth(["image", "rm", "nope", "tiny:1"]);
    expect(mixed.status).toBe(1);
    expect(mixed.stderr).toBe("No such image: nope:latest\n");
    expect(mixed.stdout).toMatch(/^Untagged: tiny:1\nDeleted: sha256:[0-9a-f]{64}\n(Deleted: sha256:[0-9a-f]{64}\n)+$/);
  });

  it("prunes: asks first, -f does not, -a takes tagged images too", () => {
    ok(["image", "tag", "berth-test/busybox:1.0", "keep:1"]);
    ok(["image", "rm", "localhost:5000/mirror/busybox"]);
    const declined = ok(["image", "prune", "-a"], { input: "n\n" });
    expect(declined).toBe(
      "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ",
    );
    expect(ok(["image", "prune", "-f"])).toBe("Total reclaimed space: 0B\n");
    const pruned = ok(["image", "prune", "-a", "-f"]);
    expect(pruned).toMatch(/^Deleted Images:\nuntagged: berth-test\/busybox:1\.0\nuntagged: keep:1\ndeleted: sha256:[0-9a-f]{64}\n(deleted: sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: \d+(\.\d+)?MB\n$/);
    expect(ok(["image", "ls", "-q"])).toBe("");
  });

  it("refuses a hostile archive with one line naming the entry, exit 1", () => {
    const hostile = path.join(root.work, "hostile");
    const layer = makeLayer(
      tarEntries([
        { header: { name: "link", type: "symlink", linkname: "/tmp" } },
        { header: { name: "link/pwned", type: "file" }, content: "x" },
      ]),
      "gzip",
    );
    writeOciLayout(hostile, [{ image: buildImage({ layers: [layer] }), names: ["hostile:1"] }]);
    const result = berth(["image", "load", "-i", hostile]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^layer sha256:[0-9a-f]{64}: refused: entry "link\/pwned": path traverses the symlink "link"\n$/);
    expect(ok(["image", "ls", "-q"])).toBe("");
  });
});
