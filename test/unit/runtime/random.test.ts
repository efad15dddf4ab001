import { describe, expect, it } from "vitest";
import { randomBytes, randomInt } from "../../../src/runtime/random.js";

describe("random", () => {
  it("gives the requested number of bytes, different each time", () => {
    expect(randomBytes(0)).toHaveLength(0);
    const first = randomBytes(32);
    expect(first).toHaveLength(32);
    expect(first.equals(randomBytes(32))).toBe(false);
  });

  it("gives integers in [0, max) that cover the range", () => {
    const seen = new Set<number>();
    for (let draw = 0; draw < 2000; draw++) {
      const value = randomInt(7);
      expect(Number.isInteger(value) && value >= 0 && value < 7).toBe(true);
      seen.add(value);
    }
    expect(seen.size).toBe(7);
    expect(randomInt(1)).toBe(0);
  });

  it("refuses bounds it cannot honour", () => {
    for (const bad of [0, -1, 1.5, 2 ** 32 + 1]) expect(() => randomInt(bad)).toThrow(RangeError);
  });
});
