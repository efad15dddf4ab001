// ~/.docker/config.json: keys, base64 auth, lookups under Docker's other spellings, and writes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  credentialKey,
  decodeAuth,
  dockerConfigFile,
  encodeAuth,
  eraseCredentials,
  lookupCredentials,
  storeCredentials,
} from "../../../../../src/runtime/image/registry/credentials.js";

describe("docker config credentials", () => {
  let directory: string;
  let environment: Record<string, string>;
  const write = (value: unknown): void => {
    mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, "config.json"), JSON.stringify(value));
  };

  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), "berth-docker-config-"));
    environment = { DOCKER_CONFIG: directory, HOME: "/nonexistent" };
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it("encodes and decodes the auth field (passwords may hold colons)", () => {
    expect(encodeAuth("alice", "wonder:land")).toBe(Buffer.from("alice:wonder:land").toString("base64"));
    expect(decodeAuth(encodeAuth("alice", "wonder:land"))).toEqual({ username: "alice", password: "wonder:land" });
    expect(decodeAuth(Buffer.from("no-colon").toString("base64"))).toBeUndefined();
  });

  it("keys Docker Hub as https://index.docker.io/v1/ and other registries by host", () => {
    for (const server of ["", "docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"]) {
      expect(credentialKey(server), server).toBe("https://index.docker.io/v1/");
    }
    expect(credentialKey("https://127.0.0.1:5000/v2/")).toBe("127.0.0.1:5000");
    expect(credentialKey("GHCR.io")).toBe("ghcr.io");
  });

  it("finds DOCKER_CONFIG's file, else ~/.docker", () => {
    expect(dockerConfigFile({ DOCKER_CONFIG: "/x" })).toBe("/x/config.json");
    expect(dockerConfigFile({ HOME: "/home/u" })).toBe("/home/u/.docker/config.json");
  });

  it("looks credentials up under any spelling of the server, and identity tokens too", async () => {
    write({
      auths: {
        "https://127.0.0.1:5000": { auth: encodeAuth("alice", "pw") },
        "https://index.docker.io/v1/": { auth: encodeAuth("bob", ""), identitytoken: "refresh-me" },
      },
    });
    expect(await lookupCredentials("127.0.0.1:5000", environment)).toEqual({ username: "alice", password: "pw" });
    expect(await lookupCredentials("docker.io", environment)).toEqual({ username: "bob", password: "", identityToken: "refresh-me" });
    expect(await lookupCredentials("ghcr.io", environment)).toBeUndefined();
  });

  it("stores atomically with mode 0600, keeps other fields, and erases", async () => {
    write({ auths: { "https://127.0.0.1:5000/v2/": { auth: encodeAuth("old", "old") } }, psFormat: "table" });
    expect(await storeCredentials("127.0.0.1:5000", { username: "alice", password: "pw" }, environment)).toBe("127.0.0.1:5000");
    const file = path.join(directory, "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: { "127.0.0.1:5000": { auth: encodeAuth("alice", "pw") } }, psFormat: "table" });
    expect(await eraseCredentials("http://127.0.0.1:5000", environment)).toEqual({ key: "127.0.0.1:5000", removed: true });
    expect(await eraseCredentials("127.0.0.1:5000", environment)).toEqual({ key: "127.0.0.1:5000", removed: false });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: {}, psFormat: "table" });
  });

  it("names the file when it is not JSON, and reports a missing credential helper", async () => {
    writeFileSync(path.join(directory, "config.json"), "{oops");
    await expect(lookupCredentials("127.0.0.1:5000", environment)).rejects.toMatchObject({ code: "E_REGISTRY_CREDENTIALS", message: expect.stringContaining("config.json") });
    write({ credHelpers: { "127.0.0.1:5000": "berth-no-such-helper" } });
    await expect(lookupCredentials("127.0.0.1:5000", { ...environment, PATH: "/nonexistent" })).rejects.toMatchObject({
      code: "E_REGISTRY_CREDENTIALS",
      message: expect.stringContaining("docker-credential-berth-no-such-helper"),
    });
  });
});
