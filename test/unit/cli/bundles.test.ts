// Which bundle runs which verb (src/cli/bundles.ts), and that every family has its entry.
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bundleFor, bundleVerbs } from "../../../src/cli/bundles.js";

const entries = path.join(import.meta.dirname, "..", "..", "..", "src", "cli", "entries");

describe("bundleFor", () => {
  it.each([
    ["container", "container"],
    ["pull", "image"],
    ["login", "image"],
    ["image", "image"],
    ["config", "config"],
    ["version", "version"],
    ["", "berth"],
    ["help", "berth"],
    ["up", "berth"],
  ])("runs %j from %s.cjs", (verb, bundle) => {
    expect(bundleFor(verb)).toBe(bundle);
  });

  it("names each verb in one family only", () => {
    const verbs = Object.values(bundleVerbs).flat();
    expect(new Set(verbs).size).toBe(verbs.length);
  });

  it("has an entry module for every family and no other", () => {
    const files = readdirSync(entries).filter((file) => file.endsWith(".ts")).map((file) => file.slice(0, -3)).sort();
    expect(files).toEqual(Object.keys(bundleVerbs).sort());
  });
});
