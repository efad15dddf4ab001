// WWW-Authenticate parsing as registries send it (Docker Hub, distribution, GitLab, Harbor).
import { describe, expect, it } from "vitest";
import { parseWwwAuthenticate, preferredChallenge, repositoryScope } from "../../../../../src/runtime/image/registry/challenge.js";

describe("parseWwwAuthenticate", () => {
  it("reads Docker Hub's bearer challenge", () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'),
    ).toEqual([
      { scheme: "bearer", parameters: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" } },
    ]);
  });

  it("keeps commas inside quoted values and reads the error parameter", () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="http://t/token",service="reg",scope="repository:a/b:pull,push",error="insufficient_scope"');
    expect(challenge?.parameters).toEqual({ realm: "http://t/token", service: "reg", scope: "repository:a/b:pull,push", error: "insufficient_scope" });
  });

  it("reads Basic, unquoted tokens, odd spacing, upper-case names and escaped quotes", () => {
    expect(parseWwwAuthenticate('Basic realm="basic-realm"')).toEqual([{ scheme: "basic", parameters: { realm: "basic-realm" } }]);
    expect(parseWwwAuthenticate('BEARER  Realm = "x\\"y" , Service=reg')).toEqual([{ scheme: "bearer", parameters: { realm: 'x"y', service: "reg" } }]);
  });

  it("splits several challenges in one header, and prefers bearer", () => {
    const challenges = parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t/token",service="s"');
    expect(challenges.map((challenge) => challenge.scheme)).toEqual(["basic", "bearer"]);
    expect(preferredChallenge(challenges)?.scheme).toBe("bearer");
    expect(preferredChallenge(parseWwwAuthenticate('Basic realm="r"'))?.scheme).toBe("basic");
    expect(preferredChallenge(parseWwwAuthenticate("Negotiate"))).toBeUndefined();
  });

  it("survives garbage", () => {
    expect(parseWwwAuthenticate("")).toEqual([]);
    expect(parseWwwAuthenticate('Bearer realm="unterminated')).toEqual([{ scheme: "bearer", parameters: { realm: "unterminated" } }]);
  });

  it("writes repository scopes as the token server expects them", () => {
    expect(repositoryScope("library/busybox", ["pull"])).toBe("repository:library/busybox:pull");
    expect(repositoryScope("team/app", ["pull", "push"])).toBe("repository:team/app:pull,push");
  });
});
