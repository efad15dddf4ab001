// berth's tar writer against GNU tar, and its indexer: long names (PAX and GNU), links, big ids.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { indexTar } from "../../../../src/runtime/image/tar.js";
import { tarBuffer } from "../../../../src/runtime/image/index.js";

const directory = mkdtempSync(path.join(tmpdir(), "berth-tar-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const longName = `dir/${"x".repeat(120)}/${"y".repeat(120)}.txt`;
const archive = tarBuffer([
  { header: { name: "dir/", type: "directory", mode: 0o755 } },
  { header: { name: "dir/file", type: "file", mode: 0o640, uid: 3_000_000, gid: 12, mtime: 1_700_000_000 }, content: Buffer.from("hello") },
  { header: { name: longName, type: "file" }, content: Buffer.from("long") },
  { header: { name: `gnu/${"z".repeat(130)}`, type: "file", longNames: "gnu" }, content: Buffer.from("gnu") },
  { header: { name: "dir/link", type: "symlink", linkname: `../${"t".repeat(150)}` } },
  { header: { name: "dir/hard", type: "link", linkname: "dir/file" } },
]);

describe("TarWriter", () => {
  it("writes archives GNU tar lists exactly", () => {
    const file = path.join(directory, "a.tar");
    writeFileSync(file, archive);
    const listing = execFileSync("tar", ["--numeric-owner", "-tvf", file], { encoding: "utf8" }).trim().split("\n");
    expect(listing).toHaveLength(6);
    expect(listing[1]).toMatch(/^-rw-r----- 3000000\/12\s+5 2023-11-1[45] \d\d:\d\d dir\/file$/);
    expect(listing[2]).toContain(longName);
    expect(listing[3]).toContain(`gnu/${"z".repeat(130)}`);
    expect(listing[4]).toContain(`dir/link -> ../${"t".repeat(150)}`);
    expect(listing[5]).toContain("dir/hard link to dir/file");
    expect(execFileSync("tar", ["-xOf", file, longName], { encoding: "utf8" })).toBe("long");
  });

  it("pads to 512-byte blocks and ends with two zero blocks", () => {
    expect(archive.length % 512).toBe(0);
    expect(archive.subarray(-1024).every((byte) => byte === 0)).toBe(true);
  });
});

describe("indexTar", () => {
  it("finds each entry's content by offset, with long names resolved", () => {
    const file = path.join(directory, "b.tar");
    writeFileSync(file, archive);
    const fd = openSync(file, "r");
    try {
      const entries = indexTar(fd, file);
      expect([...entries.keys()]).toEqual(["dir", "dir/file", longName, `gnu/${"z".repeat(130)}`, "dir/link", "dir/hard"]);
      const long = entries.get(longName);
      expect(archive.subarray(long?.offset ?? 0, (long?.offset ?? 0) + (long?.size ?? 0)).toString()).toBe("long");
      expect(entries.get("dir/link")).toMatchObject({ type: "symlink", linkname: `../${"t".repeat(150)}` });
      expect(entries.get("dir/hard")).toMatchObject({ type: "link", linkname: "dir/file", size: 0 });
    } finally {
      closeSync(fd);
    }
  });

  it("refuses a corrupt header", () => {
    const corrupt = Buffer.from(archive);
    corrupt[10] = 0x41;
    const file = path.join(directory, "c.tar");
    writeFileSync(file, corrupt);
    const fd = openSync(file, "r");
    try {
      expect(() => indexTar(fd, file)).toThrow(/checksum/);
    } finally {
      closeSync(fd);
    }
  });
});
