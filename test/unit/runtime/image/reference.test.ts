// Image references: Docker's grammar and normalization (github.com/distribution/reference).
import { describe, expect, it } from "vitest";
import { familiarString, normalizeReference, parseReference } from "../../../../src/runtime/image/index.js";

const digest = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("normalizeReference", () => {
  it.each([
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.35", "docker.io/library/busybox:1.35"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/library/busybox:1.35", "docker.io/library/busybox:1.35"],
    ["index.docker.io/library/busybox:1", "docker.io/library/busybox:1"],
    ["user/app", "docker.io/user/app:latest"],
    ["user/app/sub:v2", "docker.io/user/app/sub:v2"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/app:v1", "localhost:5000/app:v1"],
    ["registry.example.com/team/app", "registry.example.com/team/app:latest"],
    ["Registry.Example.com/app", "Registry.Example.com/app:latest"],
    ["UPPER/app", "UPPER/app:latest"],
    ["[::1]:5000/app", "[::1]:5000/app:latest"],
    ["127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"],
    [`busybox@${digest}`, `docker.io/library/busybox@${digest}`],
    [`busybox:1.35@${digest}`, `docker.io/library/busybox:1.35@${digest}`],
    ["my_app.v2__x-y:Tag_1.0-rc", "docker.io/library/my_app.v2__x-y:Tag_1.0-rc"],
    ["a--b", "docker.io/library/a--b:latest"],
    [`x:${"t".repeat(128)}`, `docker.io/library/x:${"t".repeat(128)}`],
  ])("%s → %s", (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it.each([
    ["Busybox", /must be lowercase/],
    ["a/B", /must be lowercase/],
    ["", /empty/],
    ["busybox:", /invalid reference format/],
    [":tag", /invalid reference format/],
    ["busybox@sha256:abc", /invalid reference format/],
    [`busybox@sha512:${"a".repeat(128)}`, /unsupported digest/],
    ["0123456789abcdef".repeat(4), /cannot specify 64-byte hexadecimal strings/],
    ["-app", /invalid reference format/],
    ["app-", /invalid reference format/],
    ["a..b", /invalid reference format/],
    ["a/", /invalid reference format/],
    ["http://x/app", /invalid reference format/],
    ["busybox:a b", /invalid reference format/],
    [`x:${"t".repeat(129)}`, /invalid reference format/],
    [`${"a".repeat(250)}/b`, /255 characters/],
  ])("refuses %j", (input, message) => {
    expect(() => normalizeReference(input)).toThrow(message);
    try {
      normalizeReference(input);
    } catch (error) {
      expect((error as { code?: string }).code).toBe("E_IMAGE_REFERENCE");
    }
  });
});

describe("familiar forms", () => {
  it.each([
    ["docker.io/library/busybox:latest", "busybox:latest"],
    ["docker.io/user/app:1", "user/app:1"],
    ["docker.io/library/a/b:1", "library/a/b:1"],
    ["localhost:5000/x:1", "localhost:5000/x:1"],
    [`docker.io/library/busybox@${digest}`, `busybox@${digest}`],
  ])("%s → %s", (input, expected) => {
    expect(familiarString(parseReference(input))).toBe(expected);
  });

  it("splits domain, path, tag and digest", () => {
    expect(parseReference(`localhost:5000/team/app:v1@${digest}`)).toEqual({
      domain: "localhost:5000",
      path: "team/app",
      tag: "v1",
      digest,
    });
  });
});
