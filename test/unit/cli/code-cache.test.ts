// The launcher's code cache file: command signatures, the file's format, and the checks that keep
// a cache made from another bundle or another Node from being used.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cacheFileFor, commandSignature, decodeCache, encodeCache, readCache, writeCache, type Cache } from "../../../src/cli/code-cache.js";

const directory = mkdtempSync(path.join(tmpdir(), "berth-code-cache-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const sample: Cache = { header: { bundle: "1680557:1700000000000", node: "v20.20.2" }, data: Buffer.from([1, 2, 3, 250]) };

describe("commandSignature", () => {
  it.each([
    [["container", "run", "--rm", "busybox", "true"], "container run"],
    [["-f", "compose.yaml", "-p", "bench", "config", "-q"], "config"],
    [["--project-directory", "examples/hello", "config"], "config"],
    [["--file=compose.yaml", "--dry-run", "image", "ls"], "image ls"],
    [["version"], "version"],
    [["pull", "busybox:1.35"], "pull"],
    [["login", "-u", "carol", "127.0.0.1:5000"], "login"],
    [["search", "--format", "json", "app"], "search"],
    [["network", "--help"], "network"],
    [["volume", "-q", "ls"], "volume ls"],
    [["--help"], ""],
    [[], ""],
  ])("%j → %j", (argv, signature) => {
    expect(commandSignature(argv)).toBe(signature);
  });
});

describe("cacheFileFor", () => {
  it.each([
    ["container run", "/d/container_run.v8"],
    ["config", "/d/config.v8"],
    ["", "/d/_.v8"],
    ["image ls", "/d/image_ls.v8"],
  ])("%j → %s", (signature, file) => {
    expect(cacheFileFor("/d", signature)).toBe(file);
  });

  it.each(["busybox:1.35 true", "../../etc passwd", "Container run", "x".repeat(40)])("has no file for %j", (signature) => {
    expect(cacheFileFor("/d", signature)).toBeUndefined();
  });
});

describe("the cache file", () => {
  it("decodes what it encodes", () => {
    const decoded = decodeCache(encodeCache(sample));
    expect(decoded?.header).toEqual(sample.header);
    expect(decoded?.data.equals(sample.data)).toBe(true);
  });

  it.each([
    ["empty", Buffer.alloc(0)],
    ["a header longer than the file", Buffer.from([200, 0, 0, 0, 123])],
    ["a header that is not JSON", Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from("{{{")])],
    ["a header without a node version", encodeCache({ ...sample, header: { bundle: "1:2" } as Cache["header"] })],
  ])("refuses %s", (_name, bytes) => {
    expect(decodeCache(bytes)).toBeUndefined();
  });

  it("reads back only a cache made from this bundle by this Node", () => {
    const file = path.join(directory, "berth.cjs.cache");
    writeCache(file, sample);
    expect(readCache(file, sample.header.bundle, sample.header.node)?.data.equals(sample.data)).toBe(true);
    expect(readCache(file, "1680557:1700000000001", sample.header.node)).toBeUndefined();
    expect(readCache(file, sample.header.bundle, "v22.0.0")).toBeUndefined();
    expect(readCache(path.join(directory, "missing.cache"), sample.header.bundle, sample.header.node)).toBeUndefined();
    writeFileSync(file, "garbage");
    expect(readCache(file, sample.header.bundle, sample.header.node)).toBeUndefined();
  });

  it("writes atomically and gives up quietly where it cannot write", () => {
    const missing = path.join(directory, "missing");
    writeCache(path.join(directory, "ok.cache"), sample);
    expect(readdirSync(directory).filter((name) => name.startsWith("ok.cache."))).toEqual([]);
    expect(decodeCache(readFileSync(path.join(directory, "ok.cache")))?.header).toEqual(sample.header);
    // The cache directory is made on first use.
    writeCache(path.join(missing, "x.v8"), sample);
    expect(existsSync(path.join(missing, "x.v8"))).toBe(true);
    // Where nothing can be written (a file in the way of the directory), nothing escapes.
    writeFileSync(path.join(directory, "blocker"), "");
    expect(() => writeCache(path.join(directory, "blocker", "x.v8"), sample)).not.toThrow();
  });
});
