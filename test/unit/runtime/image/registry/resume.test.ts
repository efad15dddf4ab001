// Range/resume bookkeeping for blob downloads.
import { describe, expect, it } from "vitest";
import { backoffDelay, decideResume, isRetryableStatus, parseContentRange, rangeHeader } from "../../../../../src/runtime/image/registry/resume.js";

describe("resumed downloads", () => {
  it("asks for the rest only when something is held", () => {
    expect(rangeHeader(0)).toBeUndefined();
    expect(rangeHeader(1234)).toBe("bytes=1234-");
  });

  it("parses Content-Range", () => {
    expect(parseContentRange("bytes 100-199/1000")).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange("bytes 100-199/*")).toEqual({ start: 100, end: 199, total: undefined });
    expect(parseContentRange("bytes 200-100/1000")).toBeUndefined();
    expect(parseContentRange("items 1-2/3")).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });

  it("appends a 206 that continues exactly where the held bytes end", () => {
    expect(decideResume(500, 206, "bytes 500-999/1000", 1000)).toEqual({ action: "append" });
  });

  it("refetches from zero when a 206 starts elsewhere, lacks Content-Range, or is of another size", () => {
    expect(decideResume(500, 206, "bytes 400-999/1000", 1000)).toEqual({ action: "refetch" });
    expect(decideResume(500, 206, undefined, 1000)).toEqual({ action: "refetch" });
    expect(decideResume(500, 206, "bytes 500-1999/2000", 1000)).toEqual({ action: "refetch" });
  });

  it("restarts when the server ignores Range (200), and appends a 200 for a fresh start", () => {
    expect(decideResume(500, 200, undefined, 1000)).toEqual({ action: "restart" });
    expect(decideResume(0, 200, undefined, 1000)).toEqual({ action: "append" });
  });

  it("treats 416 at the very end as complete, elsewhere as a refetch; other statuses fail", () => {
    expect(decideResume(1000, 416, "bytes */1000", 1000)).toEqual({ action: "complete" });
    expect(decideResume(10, 416, "bytes */1000", 1000)).toEqual({ action: "refetch" });
    expect(decideResume(0, 404, undefined, 1000)).toEqual({ action: "fail" });
    expect(decideResume(0, 503, undefined, 1000)).toEqual({ action: "fail" });
  });

  it("backs off exponentially up to a cap, and retries only transient statuses", () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, 500, 8000))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect([408, 429, 500, 502, 503].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 416].some(isRetryableStatus)).toBe(false);
  });
});
