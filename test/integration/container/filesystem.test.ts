// What a container's filesystem is made of, on the real kernel: the overlay over image layers,
// a read-only root, tmpfs mounts, bind mounts, named volumes (filled from the image on first use,
// kept after the container is gone), anonymous volumes (gone with rm -v), and cp in and out of
// running and stopped containers.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disposeWithoutLeaks, loadTestImage, makeFixture, runToExit, skipReason, type Fixture } from "./harness.js";

const skip = skipReason();
const image = "filesystem:1";

describe.skipIf(skip !== undefined)(`container filesystem${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const created: string[] = [];
  beforeAll(async () => {
    fixture = makeFixture("fs");
    await loadTestImage(fixture, {
      name: image,
      baseFiles: { "srv/seed/base.txt": "from the base layer\n", "etc/motd": "base motd\n" },
      // A second layer adds to the same directory: filling a volume must merge both layers.
      extraLayer: { "srv/seed/top.txt": "from the top layer\n", "srv/seed/nested/deep.txt": "deep\n" },
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"], Volumes: { "/declared": {} } },
    });
  }, 120_000);
  afterAll(() => disposeWithoutLeaks(fixture, created));

  const run = async (spec: Parameters<Fixture["engine"]["containers"]["create"]>[0]): ReturnType<typeof runToExit> => {
    const result = await runToExit(fixture.engine, spec);
    created.push(result.id);
    return result;
  };

  it("writes into the container's own upper layer, never the image's", async () => {
    const first = await run({ image, cmd: ["/bin/sh", "-c", "echo changed > /etc/motd; rm /etc/hostname.bak 2>/dev/null; cat /etc/motd"] });
    expect(first.stdout).toBe("changed\n");
    const second = await run({ image, cmd: ["cat", "/etc/motd"] });
    expect(second.stdout).toBe("base motd\n");
    const upper = path.join(fixture.paths.stateRoot, "containers", first.id, "upper", "etc", "motd");
    expect(readFileSync(upper, "utf8")).toBe("changed\n");
  });

  it("makes the root read-only with readOnly, tmpfs mounts still writable", async () => {
    const result = await run({
      image,
      readOnly: true,
      mounts: [{ type: "tmpfs", target: "/scratch", sizeBytes: 1024 * 1024, mode: 0o1777 }],
      cmd: ["/bin/sh", "-c", "touch /etc/x 2>/dev/null && echo root-writable; echo ok > /scratch/f && cat /scratch/f; stat -c %a /scratch; grep ' /scratch ' /proc/mounts"],
    });
    expect(result.stdout).toMatch(/^ok\n1777\ntmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    expect(result.stdout).not.toContain("root-writable");
  });

  it("binds host directories, creating them for -v, read-only when asked", async () => {
    const hostDirectory = path.join(fixture.work, "bind-created");
    const readOnly = path.join(fixture.work, "bind-ro");
    mkdirSync(readOnly);
    writeFileSync(path.join(readOnly, "given.txt"), "from the host\n");
    const result = await run({
      image,
      mounts: [
        { type: "bind", source: hostDirectory, target: "/out", createHostPath: true },
        { type: "bind", source: readOnly, target: "/in", readOnly: true },
      ],
      cmd: ["/bin/sh", "-c", "echo written > /out/file; cat /in/given.txt; touch /in/x 2>/dev/null || echo read-only"],
    });
    expect(result.stdout).toBe("from the host\nread-only\n");
    expect(readFileSync(path.join(hostDirectory, "file"), "utf8")).toBe("written\n");
    const missing = await fixture.engine.containers.create({ image, mounts: [{ type: "bind", source: path.join(fixture.work, "absent"), target: "/x" }], cmd: ["true"] });
    created.push(missing.id);
    await expect(fixture.engine.containers.start(missing.id)).rejects.toThrow("bind source path does not exist");
  });

  it("fills a new named volume from the image (both layers) and keeps it after the container is removed", async () => {
    const first = await run({ image, mounts: [{ type: "volume", source: "seeded", target: "/srv/seed" }], cmd: ["/bin/sh", "-c", "ls -R /srv/seed; echo mine > /srv/seed/added.txt"] });
    expect(first.stdout).toContain("base.txt");
    expect(first.stdout).toContain("top.txt");
    expect(first.stdout).toContain("deep.txt");
    await fixture.engine.containers.remove(first.id, { volumes: true });
    const volume = await fixture.engine.volumes.inspect("seeded");
    expect(volume).toMatchObject({ Name: "seeded", Driver: "local", Scope: "local" });
    expect(readFileSync(path.join(volume.Mountpoint, "added.txt"), "utf8")).toBe("mine\n");
    // Not empty any more: a second container sees the data, not a fresh copy.
    const second = await run({ image, mounts: [{ type: "volume", source: "seeded", target: "/srv/seed" }], cmd: ["cat", "/srv/seed/added.txt", "/srv/seed/nested/deep.txt"] });
    expect(second.stdout).toBe("mine\ndeep\n");
    await expect(fixture.engine.volumes.remove("seeded")).rejects.toMatchObject({ code: "E_VOLUME_IN_USE" });
    // nocopy leaves a new volume empty.
    const empty = await run({ image, mounts: [{ type: "volume", source: "unseeded", target: "/srv/seed", noCopy: true }], cmd: ["ls", "-A", "/srv/seed"] });
    expect(empty.stdout).toBe("");
  });

  it("removes anonymous volumes (declared by the image or given) only with rm -v", async () => {
    const result = await run({ image, mounts: [{ type: "volume", target: "/anon" }], cmd: ["/bin/sh", "-c", "echo a > /anon/f; echo d > /declared/f"] });
    const inspect = await fixture.engine.containers.inspect(result.id);
    const names = inspect.Mounts.filter((mount) => mount.Type === "volume").map((mount) => mount.Name ?? "");
    expect(inspect.Mounts.map((mount) => mount.Destination).sort()).toEqual(["/anon", "/declared"]);
    expect(names.every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(true);
    for (const name of names) expect((await fixture.engine.volumes.inspect(name)).Labels).toEqual({ "com.docker.volume.anonymous": "" });
    await fixture.engine.containers.remove(result.id, { volumes: true });
    for (const name of names) await expect(fixture.engine.volumes.inspect(name)).rejects.toMatchObject({ code: "E_VOLUME_NOT_FOUND" });

    const kept = await run({ image, cmd: ["true"] });
    const keptName = (await fixture.engine.containers.inspect(kept.id)).Mounts[0]?.Name ?? "";
    await fixture.engine.containers.remove(kept.id);
    expect((await fixture.engine.volumes.inspect(keptName)).Name).toBe(keptName);
    const pruned = await fixture.engine.volumes.prune();
    expect(pruned.volumesDeleted).toContain(keptName);
    expect(pruned.volumesDeleted).not.toContain("unseeded");
  });

  it("copies files in and out of a running container, through its volumes too", async () => {
    const { id } = await fixture.engine.containers.create({ image, mounts: [{ type: "volume", source: "cpvol", target: "/vol" }], cmd: ["sleep", "60"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    const source = path.join(fixture.work, "cp-in");
    mkdirSync(path.join(source, "sub"), { recursive: true });
    writeFileSync(path.join(source, "a.txt"), "alpha\n");
    writeFileSync(path.join(source, "sub", "b.txt"), "beta\n");
    await fixture.engine.containers.copyTo(id, source, "/tmp");
    await fixture.engine.containers.copyTo(id, path.join(source, "a.txt"), "/vol/renamed.txt");
    const listing = await fixture.engine.containers.exec(id, { cmd: ["/bin/sh", "-c", "cat /tmp/cp-in/a.txt /tmp/cp-in/sub/b.txt /vol/renamed.txt; stat -c %u /tmp/cp-in/a.txt"], stdio: "pipe" });
    expect(listing).toMatchObject({ exitCode: 0, stdout: "alpha\nbeta\nalpha\n0\n" });
    const out = path.join(fixture.work, "cp-out");
    await fixture.engine.containers.copyFrom(id, "/etc/motd", out);
    expect(readFileSync(out, "utf8")).toBe("base motd\n");
    const outDirectory = path.join(fixture.work, "cp-out-dir");
    mkdirSync(outDirectory);
    await fixture.engine.containers.copyFrom(id, "/tmp/cp-in", outDirectory);
    expect(readdirSync(path.join(outDirectory, "cp-in")).sort()).toEqual(["a.txt", "sub"]);
    await expect(fixture.engine.containers.copyFrom(id, "/no/such", out)).rejects.toThrow("Could not find the file /no/such");
    // A tar stream out, with the top entry named as asked.
    const tar = new PassThrough();
    const chunks: Buffer[] = [];
    tar.on("data", (chunk: Buffer) => chunks.push(chunk));
    await fixture.engine.containers.copyFrom(id, "/tmp/cp-in/", tar);
    const names = spawnSync("tar", ["-tf", "-"], { input: Buffer.concat(chunks), encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort();
    expect(names).toEqual(["cp-in/", "cp-in/a.txt", "cp-in/sub/", "cp-in/sub/b.txt"]);
    await fixture.engine.containers.remove(id, { force: true });
  });

  it("copies into a stopped container through a temporary mount, and symlinks stay inside it", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "ln -s / /root/evil; ln -s /etc /root/etc-link; cat /root/note.txt"] });
    created.push(id);
    const note = path.join(fixture.work, "note.txt");
    writeFileSync(note, "copied while stopped\n");
    await fixture.engine.containers.copyTo(id, note, "/root/note.txt");
    const upper = path.join(fixture.paths.stateRoot, "containers", id, "upper");
    expect(statSync(path.join(upper, "root", "note.txt")).isFile()).toBe(true);
    expect(readdirSync(path.join(fixture.paths.stateRoot, "containers", id, "merged"))).toEqual([]);
    await fixture.engine.containers.start(id);
    expect((await fixture.engine.containers.wait(id)).StatusCode).toBe(0);
    // Absolute symlinks made inside the container resolve against its root, never the host's.
    const marker = `berth-escape-${process.pid}.txt`;
    await fixture.engine.containers.copyTo(id, note, `/root/evil/etc/${marker}`);
    await fixture.engine.containers.copyTo(id, note, `/root/etc-link/${marker}.2`);
    expect(statSync(path.join(upper, "etc", marker)).isFile()).toBe(true);
    expect(statSync(path.join(upper, "etc", `${marker}.2`)).isFile()).toBe(true);
    expect(() => statSync(path.join("/etc", marker))).toThrow();
    const out = path.join(fixture.work, "from-stopped.txt");
    await fixture.engine.containers.copyFrom(id, "/root/evil/root/note.txt", out);
    expect(readFileSync(out, "utf8")).toBe("copied while stopped\n");
  });
});
