// The root tag every berth link's alias carries: sha256 of the state root, kept in the run root
// so that later processes need not load node:crypto for it.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rootTag } from "../../../../src/runtime/network/records.js";

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), "berth-root-tag-"));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

const expected = (stateRoot: string): string => `berth:${createHash("sha256").update(stateRoot).digest("hex").slice(0, 8)}`;

describe("rootTag", () => {
  it("hashes the state root and keeps the tag in the run root", () => {
    const paths = { stateRoot: path.join(directory, "state-a"), runRoot: directory };
    expect(rootTag(paths)).toBe(expected(paths.stateRoot));
    expect(readFileSync(path.join(directory, "root-tag"), "utf8")).toBe(`${expected(paths.stateRoot)} ${paths.stateRoot}`);
  });

  it("takes the kept tag when it is for this state root, and hashes again when it is not", () => {
    const mine = { stateRoot: path.join(directory, "state-b"), runRoot: directory };
    writeFileSync(path.join(directory, "root-tag"), `berth:0123abcd ${mine.stateRoot}`);
    expect(rootTag(mine)).toBe("berth:0123abcd");
    const other = { stateRoot: path.join(directory, "state-c"), runRoot: directory };
    expect(rootTag(other)).toBe(expected(other.stateRoot));
    writeFileSync(path.join(directory, "root-tag"), `not a tag ${path.join(directory, "state-d")}`);
    expect(rootTag({ stateRoot: path.join(directory, "state-d"), runRoot: directory })).toBe(expected(path.join(directory, "state-d")));
  });
});
