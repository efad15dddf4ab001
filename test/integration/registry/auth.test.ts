// Authentication against real registries: htpasswd Basic auth, and bearer tokens from a token
// server as Docker Hub hands them out (a JWT with x5c, checked by the registry against its
// rootcertbundle). Credentials come from ~/.docker/config.json ($DOCKER_CONFIG) or a credential
// helper; login verifies and writes them, logout removes them.

import { chmodSync, readFileSync, statSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginRegistry, logoutRegistry, openImageStore } from "../../../src/runtime/image/index.js";
import { resetRegistrySessions } from "../../../src/runtime/image/registry/client.js";
import { buildImage, ensureUnpacker, freshRoots, isRoot, makeLayer, makeTestRoot, tarEntries, writeOciLayout, type BuiltImage, type TestRoot } from "../../support/images.js";
import { haveRegistryTools, skopeo, skopeoAsync, startRegistry, startTokenServer, type RunningRegistry, type TokenServer } from "../../support/registry.js";

const ready = isRoot && haveRegistryTools();

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as { code?: string; message: string },
  );
}

function tinyImage(name: string): BuiltImage {
  return buildImage({ layers: [makeLayer(tarEntries([{ header: { name: `${name}.txt`, type: "file", mode: 0o644 }, content: `${name}\n` }]), "gzip")] });
}

/** Pushes a test image with skopeo (not berth) using the given credentials. */
async function seed(root: TestRoot, host: string, repository: string, image: BuiltImage, credentials: string): Promise<void> {
  const layout = path.join(root.work, `seed-${repository.replaceAll("/", "-")}`);
  writeOciLayout(layout, [{ image, names: ["seed:1"] }], "tag-only");
  await skopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", credentials, `oci:${layout}:1`, `docker://${host}/${repository}:1`]);
}

describe.skipIf(!ready)("registry authentication (needs root and docker-registry + skopeo)", () => {
  let root: TestRoot;
  let counter = 0;
  const configDirectory = (): string => path.join(root.work, `docker-config-${++counter}`);
  const environmentFor = (dockerConfig: string, extra: Record<string, string> = {}): Record<string, string> =>
    ({ ...process.env, DOCKER_CONFIG: dockerConfig, BERTH_REGISTRY_CONFIG: path.join(root.work, "none.json"), ...extra }) as Record<string, string>;

  beforeAll(async () => {
    ensureUnpacker();
    root = makeTestRoot("registry-auth");
  });

  afterAll(() => root?.remove());

  describe("htpasswd Basic auth", () => {
    let registry: RunningRegistry;
    const image = (): BuiltImage => tinyImage("basic");

    beforeAll(async () => {
      registry = await startRegistry(path.join(root.work, "basic-registry"), { kind: "htpasswd", users: { alice: "wonderland" } });
      await seed(root, registry.host, "private/app", image(), "alice:wonderland");
    }, 60_000);
    afterAll(async () => registry?.stop());

    it("refuses an anonymous pull with a clear unauthorized error", async () => {
      const environment = environmentFor(configDirectory());
      const failure = await rejection(openImageStore(freshRoots(root, "basic-anonymous")).pull(`${registry.host}/private/app:1`, { environment }));
      expect(failure.code).toBe("E_REGISTRY_UNAUTHORIZED");
      expect(failure.message).toContain(`pull ${registry.host}/private/app:1: registry ${registry.host}: unauthorized`);
    });

    it("login checks the password, writes config.json (0600) as Docker does; pull and push then work; logout removes it", async () => {
      const dockerConfig = configDirectory();
      const environment = environmentFor(dockerConfig);
      const wrong = await rejection(loginRegistry({ server: registry.host, username: "alice", password: "nope", environment }));
      expect(wrong.code).toBe("E_REGISTRY_UNAUTHORIZED");
      expect(existsSync(path.join(dockerConfig, "config.json"))).toBe(false);

      const result = await loginRegistry({ server: `http://${registry.host}/v2/`, username: "alice", password: "wonderland", environment });
      expect(result.serverKey).toBe(registry.host);
      const file = path.join(dockerConfig, "config.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const config = JSON.parse(readFileSync(file, "utf8")) as { auths: Record<string, { auth: string }> };
      expect(config.auths).toEqual({ [registry.host]: { auth: Buffer.from("alice:wonderland").toString("base64") } });

      const store = openImageStore(freshRoots(root, "basic-logged-in"));
      const pulled = await store.pull(`${registry.host}/private/app:1`, { environment });
      expect(pulled.imageId).toBe(image().configDigest);
      await store.tag(`${registry.host}/private/app:1`, `${registry.host}/private/copy:1`);
      await store.push(`${registry.host}/private/copy:1`, { environment });
      expect(JSON.parse(skopeo(["inspect", "--tls-verify=false", "--creds", "alice:wonderland", `docker://${registry.host}/private/copy:1`])).Digest).toBe(pulled.digest);

      expect(await logoutRegistry({ server: registry.host, environment })).toEqual({ serverKey: registry.host, removed: true });
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: {} });
      expect(await logoutRegistry({ server: registry.host, environment })).toEqual({ serverKey: registry.host, removed: false });
      resetRegistrySessions();
      const after = await rejection(openImageStore(freshRoots(root, "basic-logged-out")).pull(`${registry.host}/private/app:1`, { environment }));
      expect(after.code).toBe("E_REGISTRY_UNAUTHORIZED");
    });

    it("uses a credential helper (credsStore) for login, pull and logout", async () => {
      const dockerConfig = configDirectory();
      const helperDirectory = path.join(root.work, "helper-bin");
      const helperStore = path.join(root.work, "helper-store.json");
      mkdirSync(helperDirectory, { recursive: true });
      mkdirSync(dockerConfig, { recursive: true });
      // A stand-in for docker-credential-pass & co: keeps one secret in a JSON file.
      const helper = path.join(helperDirectory, "docker-credential-berthtest");
      writeFileSync(
        helper,
        `#!/bin/sh
store=${JSON.stringify(helperStore)}
case "$1" in
  store) cat > "$store" ;;
  get) read server; if [ -f "$store" ]; then cat "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) read server; if [ -f "$store" ]; then rm "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`,
      );
      chmodSync(helper, 0o755);
      writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({ credsStore: "berthtest", currentContext: "kept" }));
      const environment = environmentFor(dockerConfig, { PATH: `${helperDirectory}:${process.env["PATH"] ?? ""}` });
      await loginRegistry({ server: registry.host, username: "alice", password: "wonderland", environment });
      expect(JSON.parse(readFileSync(helperStore, "utf8"))).toEqual({ ServerURL: registry.host, Username: "alice", Secret: "wonderland" });
      expect(JSON.parse(readFileSync(path.join(dockerConfig, "config.json"), "utf8"))).toEqual({
        credsStore: "berthtest",
        currentContext: "kept",
        auths: { [registry.host]: {} },
      });
      resetRegistrySessions();
      const pulled = await openImageStore(freshRoots(root, "basic-helper")).pull(`${registry.host}/private/app:1`, { environment });
      expect(pulled.imageId).toBe(image().configDigest);
      expect((await logoutRegistry({ server: registry.host, environment })).removed).toBe(true);
      expect(existsSync(helperStore)).toBe(false);
    });
  });

  describe("bearer tokens from a token server", () => {
    let tokenServer: TokenServer;
    let registry: RunningRegistry;
    const image = tinyImage("token");

    beforeAll(async () => {
      tokenServer = await startTokenServer(path.join(root.work, "token"), { users: { bob: "builder" }, tokenField: "access_token" });
      registry = await startRegistry(path.join(root.work, "token-registry"), { kind: "token", tokenServer });
      await seed(root, registry.host, "secure/app", image, "bob:builder");
    }, 60_000);
    afterAll(async () => {
      await registry?.stop();
      await tokenServer?.stop();
    });

    it("pulls with a token fetched with Basic credentials, asks the token server once per scope, and retries once after a refused token", async () => {
      const dockerConfig = configDirectory();
      mkdirSync(dockerConfig, { recursive: true });
      writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({ auths: { [`https://${registry.host}`]: { auth: Buffer.from("bob:builder").toString("base64") } } }));
      const environment = environmentFor(dockerConfig);
      resetRegistrySessions();
      tokenServer.requests.length = 0;
      const store = openImageStore(freshRoots(root, "token-pull"));
      const pulled = await store.pull(`${registry.host}/secure/app:1`, { environment });
      expect(pulled.imageId).toBe(image.configDigest);
      // One token for repository:secure/app:pull, reused by the manifest, config and layer requests.
      expect(tokenServer.requests).toEqual([{ user: "bob", scopes: ["repository:secure/app:pull"], status: 200 }]);

      // A token the registry refuses (wrong audience): dropped, a fresh one fetched, the request retried once.
      resetRegistrySessions();
      tokenServer.requests.length = 0;
      tokenServer.issueBadTokens(1);
      const again = await openImageStore(freshRoots(root, "token-retry")).pull(`${registry.host}/secure/app:1`, { environment });
      expect(again.imageId).toBe(image.configDigest);
      expect(tokenServer.requests).toHaveLength(2);
    });

    it("refuses without credentials, and login fails with a wrong password and succeeds with the right one", async () => {
      const dockerConfig = configDirectory();
      const environment = environmentFor(dockerConfig);
      resetRegistrySessions();
      const anonymous = await rejection(openImageStore(freshRoots(root, "token-anonymous")).pull(`${registry.host}/secure/app:1`, { environment }));
      expect(anonymous.code).toBe("E_REGISTRY_UNAUTHORIZED");
      const wrong = await rejection(loginRegistry({ server: registry.host, username: "bob", password: "wrong", environment }));
      expect(wrong.code).toBe("E_REGISTRY_UNAUTHORIZED");
      expect(wrong.message).toContain("incorrect username or password");
      await loginRegistry({ server: registry.host, username: "bob", password: "builder", environment });
      resetRegistrySessions();
      const pulled = await openImageStore(freshRoots(root, "token-login")).pull(`${registry.host}/secure/app:1`, { environment });
      expect(pulled.imageId).toBe(image.configDigest);
    });
  });
});
