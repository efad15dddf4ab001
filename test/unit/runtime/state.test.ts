import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readJsonFile, removeFile, removeTree, runtimePaths, withLock, writeFileAtomic, writeJsonAtomic } from "../../../src/runtime/state.js";

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), "berth-state-"));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

describe("state files", () => {
  it("writes atomically and leaves no temp files", () => {
    const file = path.join(directory, "a", "b.json");
    writeJsonAtomic(file, { x: 1 });
    writeJsonAtomic(file, { x: 2 });
    expect(readJsonFile(file)).toEqual({ x: 2 });
    expect(readdirSync(path.dirname(file))).toEqual(["b.json"]);
  });

  it("takes a mode, and writes per-boot files (no fsync) just as whole", () => {
    const secret = path.join(directory, "config.json");
    writeFileAtomic(secret, "{}\n", { mode: 0o600 });
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    const perBoot = path.join(directory, "run", "endpoint.json");
    writeJsonAtomic(perBoot, { ip: "10.0.0.2" }, { durable: false });
    writeJsonAtomic(perBoot, { ip: "10.0.0.3" }, { durable: false });
    expect(readJsonFile(perBoot)).toEqual({ ip: "10.0.0.3" });
    expect(statSync(perBoot).mode & 0o777).toBe(0o644);
    expect(readdirSync(path.dirname(perBoot))).toEqual(["endpoint.json"]);
  });

  it("reads a missing file as undefined and a corrupt one as an error naming it", () => {
    expect(readJsonFile(path.join(directory, "none.json"))).toBeUndefined();
    const corrupt = path.join(directory, "corrupt.json");
    writeFileSync(corrupt, "{");
    expect(() => readJsonFile(corrupt)).toThrow(corrupt);
  });

  it("takes state roots from the environment", () => {
    expect(runtimePaths({ BERTH_ROOT: "/x", BERTH_RUN_ROOT: "/y" })).toEqual({ stateRoot: "/x", runRoot: "/y" });
    expect(runtimePaths({})).toEqual({ stateRoot: "/var/lib/berth", runRoot: "/run/berth" });
  });
});

describe("removeTree and removeFile", () => {
  it("delete a whole tree, never following a symbolic link out of it", () => {
    const outside = path.join(directory, "outside");
    mkdirSync(path.join(outside, "kept"), { recursive: true });
    writeFileSync(path.join(outside, "kept", "file"), "x");
    const tree = path.join(directory, "tree");
    mkdirSync(path.join(tree, "upper", "deep", "deeper"), { recursive: true });
    mkdirSync(path.join(tree, "work", "work"), { recursive: true });
    writeFileSync(path.join(tree, "upper", "deep", "deeper", "file"), "x");
    writeFileSync(path.join(tree, "config.json"), "{}");
    symlinkSync(outside, path.join(tree, "upper", "link-to-dir"));
    symlinkSync(path.join(directory, "missing"), path.join(tree, "dangling"));
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(path.join(outside, "kept", "file"), "utf8")).toBe("x");
  });

  it("take nothing there as done, and a file given as the tree as a file", () => {
    expect(() => removeTree(path.join(directory, "none"))).not.toThrow();
    expect(() => removeFile(path.join(directory, "none"))).not.toThrow();
    const file = path.join(directory, "plain");
    writeFileSync(file, "x");
    removeTree(file);
    expect(existsSync(file)).toBe(false);
    mkdirSync(path.join(directory, "dir"));
    expect(() => removeFile(path.join(directory, "dir"))).toThrow();
  });
});

describe("withLock", () => {
  it("serialises holders", async () => {
    const lock = path.join(directory, "l.lock");
    const order: string[] = [];
    await Promise.all(
      ["a", "b", "c"].map((name) =>
        withLock(lock, async () => {
          order.push(`${name}+`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          order.push(`${name}-`);
        }),
      ),
    );
    for (let index = 0; index < order.length; index += 2) expect(order[index]?.[0]).toBe(order[index + 1]?.[0]);
  });

  it("takes over a lock whose owner died", async () => {
    const lock = path.join(directory, "stale.lock");
    writeFileSync(lock, "999999999\n");
    await expect(withLock(lock, () => "done", 1000)).resolves.toBe("done");
    expect(() => readFileSync(lock)).toThrow();
  });
});
