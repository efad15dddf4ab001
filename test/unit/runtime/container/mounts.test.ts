// Mount resolution (binds, named and anonymous volumes, tmpfs, image VOLUMEs), moby's tmpfs
// option merge, Docker's default mounts and their order; names and ids.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import { mergeTmpfsOptions, ociMounts, resolveMounts } from "../../../../src/runtime/container/mounts.js";
import { generateId, randomName, validateContainerName } from "../../../../src/runtime/container/names.js";
import type { MountSpec } from "../../../../src/runtime/container/spec.js";

const volumeDataPath = (name: string): string => `/state/volumes/${name}/_data`;

function resolve(mounts: MountSpec[], imageVolumes: string[] = []): ReturnType<typeof resolveMounts> {
  let counter = 0;
  return resolveMounts({ mounts, imageVolumes, volumeDataPath, anonymousVolumeName: () => `anon${++counter}` });
}

describe("resolveMounts", () => {
  it("resolves each kind with Docker's fields", () => {
    expect(
      resolve([
        { type: "bind", source: "/srv//data/", target: "/data/", readOnly: true, createHostPath: true },
        { type: "volume", source: "cache", target: "/cache", noCopy: true },
        { type: "volume", target: "/scratch" },
        { type: "tmpfs", target: "/run", sizeBytes: 1536, mode: 0o700, options: ["exec"] },
      ]),
    ).toEqual([
      { type: "bind", source: "/srv/data", destination: "/data", readWrite: false, propagation: "rprivate", mode: "ro", createHostPath: true },
      { type: "volume", name: "cache", source: "/state/volumes/cache/_data", destination: "/cache", readWrite: true, propagation: "", mode: "", noCopy: true },
      { type: "volume", name: "anon1", source: "/state/volumes/anon1/_data", destination: "/scratch", readWrite: true, propagation: "", mode: "", anonymous: true },
      { type: "tmpfs", source: "", destination: "/run", readWrite: true, propagation: "", mode: "", tmpfsOptions: ["nosuid", "nodev", "rprivate", "exec", "size=1536", "mode=700"] },
    ]);
  });

  it("gives each image VOLUME not covered by a mount an anonymous volume", () => {
    const mounts = resolve([{ type: "volume", source: "db", target: "/var/lib/db" }], ["/var/lib/db", "/logs/"]);
    expect(mounts.map((mount) => [mount.destination, mount.name, mount.anonymous ?? false])).toEqual([
      ["/var/lib/db", "db", false],
      ["/logs", "anon1", true],
    ]);
  });

  const invalid: [string, MountSpec[], string][] = [
    ["a relative target", [{ type: "tmpfs", target: "run" }], "mount path must be absolute"],
    ["a relative bind source", [{ type: "bind", source: "data", target: "/data" }], "mount path must be absolute"],
    ["the root as target", [{ type: "volume", target: "/" }], "destination can't be '/'"],
    ["two mounts on one target", [{ type: "tmpfs", target: "/x" }, { type: "volume", target: "/x/" }], "Duplicate mount point: /x"],
    ["a bad volume name", [{ type: "volume", source: "a/b", target: "/x" }], "includes invalid characters"],
    ["a one-character volume name", [{ type: "volume", source: "a", target: "/x" }], "too short"],
    ["a bad tmpfs option", [{ type: "tmpfs", target: "/x", options: ["bogus=1"] }], 'Invalid tmpfs option "bogus=1"'],
  ];
  it.each(invalid)("refuses %s", (_name, mounts, message) => {
    expect(() => resolve(mounts)).toThrow(BerthError);
    expect(() => resolve(mounts)).toThrow(message);
  });
});

describe("mergeTmpfsOptions", () => {
  it("keeps the last of each flag pair and data key, in place", () => {
    expect(mergeTmpfsOptions(["noexec", "nosuid", "nodev", "rprivate", "rw", "exec", "size=64m", "size=1g", "shared"])).toEqual(["nosuid", "nodev", "rw", "exec", "size=1g", "shared"]);
    expect(mergeTmpfsOptions(["defaults", "ro", "mode=1777", "uid=1000"])).toEqual(["ro", "mode=1777", "uid=1000"]);
  });
});

describe("ociMounts", () => {
  const networkFiles = { hostname: "/b/hostname", hosts: "/b/hosts", resolvConf: "/b/resolv.conf" };
  it("drops defaults a mount replaces and sorts the container's mounts parents first", () => {
    const mounts = ociMounts({
      mounts: resolve([
        { type: "volume", source: "deep", target: "/a/b/c" },
        { type: "tmpfs", target: "/dev/shm", sizeBytes: 1024 * 1024 },
        { type: "bind", source: "/h", target: "/a", propagation: "rshared" },
        { type: "bind", source: "/myhosts", target: "/etc/hosts", readOnly: true },
      ]),
      networkFiles,
      readOnlyRootfs: false,
      shmSizeBytes: 64 << 20,
      privileged: false,
      cgroupMount: false,
    });
    expect(mounts.map((mount) => `${mount.destination} ${mount.type} ${mount.source} ${(mount.options ?? []).join(",")}`)).toEqual([
      "/proc proc proc nosuid,noexec,nodev",
      "/dev tmpfs tmpfs nosuid,strictatime,mode=755,size=65536k",
      "/dev/pts devpts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5",
      "/sys sysfs sysfs nosuid,noexec,nodev,ro",
      "/dev/mqueue mqueue mqueue nosuid,noexec,nodev",
      "/a bind /h rbind,rshared",
      "/dev/shm tmpfs tmpfs noexec,nosuid,nodev,rprivate,size=1m",
      "/etc/hosts bind /myhosts rbind,ro,rprivate",
      "/etc/resolv.conf bind /b/resolv.conf rbind,rprivate",
      "/etc/hostname bind /b/hostname rbind,rprivate",
      "/a/b/c bind /state/volumes/deep/_data rbind,rprivate",
    ]);
  });
});

describe("names and ids", () => {
  it("makes 64-hex ids whose short form is never all digits", () => {
    let calls = 0;
    const digitsFirst = Buffer.from("1234567890120000000000000000000000000000000000000000000000000000", "hex");
    const id = generateId((size) => (++calls === 1 ? digitsFirst.subarray(0, size) : Buffer.alloc(size, 0xab)));
    expect(calls).toBe(2);
    expect(id).toBe("ab".repeat(32));
    expect(generateId()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("makes adjective_surname names, never boring_wozniak, with a digit on retry", () => {
    expect(randomName()).toMatch(/^[a-z]+_[a-z]+$/);
    expect(randomName(1)).toMatch(/^[a-z]+_[a-z]+\d$/);
    const picks = [0, 0, 5, 0];
    expect(randomName(0, () => picks.shift() ?? 0)).toMatch(/^admiring_agnesi$/);
  });

  it("checks container names as Docker does", () => {
    expect(validateContainerName("/web-1.a_b")).toBe("web-1.a_b");
    expect(() => validateContainerName("-x")).toThrow("Invalid container name (-x)");
    expect(() => validateContainerName("a")).toThrow(BerthError);
    expect(() => validateContainerName("a b")).toThrow(BerthError);
  });
});
