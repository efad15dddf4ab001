// `berth pull|push|login|logout|search` through the real CLI (bin/berth after `npm run build`)
// against a real registry: Docker's plain progress lines, `-q`, one-line errors with exit 1, two
// CLI processes pulling one image at once (one GET per blob, counted at a proxy), and the
// config.json that login writes.

import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { berthBin, cleanEnvironment, ensureBuilt } from "../../e2e/run-berth.js";
import { buildImage, ensureUnpacker, isRoot, makeLayer, makeTestRoot, tarEntries, type BuiltImage, type TestRoot } from "../../support/images.js";
import { freePort, haveRegistryTools, putImage, startProxy, startRegistry, type RegistryProxy, type RunningRegistry } from "../../support/registry.js";

const ready = isRoot && haveRegistryTools();

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** bin/berth without blocking the event loop (the proxy answers from this process). */
function berth(args: readonly string[], env: Record<string, string>, input = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--", berthBin, ...args], { env: cleanEnvironment(env), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function image(name: string, layerCount: number, size: number): BuiltImage {
  return buildImage({
    layers: Array.from({ length: layerCount }, (_unused, position) =>
      makeLayer(tarEntries([{ header: { name: `${name}-${position}.bin`, type: "file", mode: 0o644 }, content: Buffer.alloc(size, position + 1) }]), "gzip"),
    ),
    config: { Cmd: ["/bin/sh"] },
  });
}

describe.skipIf(!ready)("berth pull / push / login / logout / search (CLI)", () => {
  let root: TestRoot;
  let registry: RunningRegistry;
  let proxy: RegistryProxy;
  let app: BuiltImage;
  let env: Record<string, string>;
  let stateCount = 0;
  const freshState = (): Record<string, string> => ({
    ...env,
    BERTH_ROOT: path.join(root.work, `state-${++stateCount}`),
    BERTH_RUN_ROOT: path.join(root.work, `run-${stateCount}`),
  });

  beforeAll(async () => {
    ensureUnpacker();
    ensureBuilt();
    root = makeTestRoot("registry-cli");
    registry = await startRegistry(path.join(root.work, "registry"));
    proxy = await startProxy(registry.host);
    app = image("app", 2, 400_000);
    await putImage(registry.host, "team/app", "1.0", app);
    const configFile = path.join(root.work, "registries.json");
    writeFileSync(configFile, JSON.stringify({ mirrors: {}, insecure: [] }));
    env = { DOCKER_CONFIG: path.join(root.work, "docker-config"), BERTH_REGISTRY_CONFIG: configFile };
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    root?.remove();
  });

  it("prints Docker's plain pull lines, then `Image is up to date`; -q prints only the name; inspect shows RepoDigests", async () => {
    const state = freshState();
    const name = `${registry.host}/team/app:1.0`;
    const first = await berth(["pull", name], state);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const ids = app.layers.map((layer) => layer.digest.slice(7, 19));
    const lines = first.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("1.0: Pulling from team/app");
    for (const id of ids) {
      expect(lines).toContain(`${id}: Pulling fs layer`);
      expect(lines).toContain(`${id}: Download complete`);
      expect(lines).toContain(`${id}: Pull complete`);
    }
    expect(lines.slice(-3)).toEqual([`Digest: ${app.manifestDigest}`, `Status: Downloaded newer image for ${name}`, name]);

    const second = await berth(["image", "pull", name], state);
    expect(second.stdout.trimEnd().split("\n")).toEqual(["1.0: Pulling from team/app", `Digest: ${app.manifestDigest}`, `Status: Image is up to date for ${name}`, name]);
    const quiet = await berth(["pull", "-q", name], state);
    expect(quiet.stdout).toBe(`${name}\n`);

    const inspect = await berth(["image", "inspect", "--format", "{{json .RepoDigests}}", name], state);
    expect(inspect.stdout.trim()).toBe(JSON.stringify([`${registry.host}/team/app@${app.manifestDigest}`]));
  });

  it("one line, exit 1, naming the reference, the registry and why", async () => {
    const missing = await berth(["pull", `${registry.host}/team/app:nope`], freshState());
    expect(missing.status).toBe(1);
    expect(missing.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain(`pull ${registry.host}/team/app:nope: registry ${registry.host}: manifest unknown`);
    const port = await freePort();
    const refused = await berth(["pull", `127.0.0.1:${port}/team/app:1.0`], freshState());
    expect(refused.status).toBe(1);
    expect(refused.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(new RegExp(`^pull 127\\.0\\.0\\.1:${port}/team/app:1\\.0: registry 127\\.0\\.0\\.1:${port}: connection refused`));
    const otherPlatform = process.arch === "arm64" ? "linux/amd64" : "linux/arm64";
    const platform = await berth(["pull", "--platform", otherPlatform, `${registry.host}/team/app:1.0`], freshState());
    expect(platform.status).toBe(1);
    expect(platform.stderr).toContain(`does not match the specified platform: wanted ${otherPlatform}`);
    expect(refused.stderr).not.toContain("    at ");
  });

  it("two CLI processes pulling one image at once download each blob once", async () => {
    const shared = image("shared", 3, 2_000_000);
    await putImage(registry.host, "team/shared", "1", shared);
    const state = freshState();
    proxy.clear();
    const name = `${proxy.host}/team/shared:1`;
    const [first, second] = await Promise.all([berth(["pull", "-q", name], state), berth(["pull", "-q", name], state)]);
    expect([first.status, second.status, first.stderr, second.stderr]).toEqual([0, 0, "", ""]);
    for (const layer of shared.layers) expect(proxy.blobGets(layer.digest)).toHaveLength(1);
    expect(proxy.blobGets(shared.configDigest).length).toBeLessThanOrEqual(2);
  });

  it("pushes with Docker's lines, and search lists the catalog as a table and as JSON", async () => {
    const state = freshState();
    const source = `${registry.host}/team/app:1.0`;
    expect((await berth(["pull", "-q", source], state)).status).toBe(0);
    expect((await berth(["image", "tag", source, `${registry.host}/copies/app:2`], state)).status).toBe(0);
    const pushed = await berth(["push", `${registry.host}/copies/app:2`], state);
    expect(pushed.stderr).toBe("");
    const lines = pushed.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`The push refers to repository [${registry.host}/copies/app]`);
    for (const layer of app.layers) expect(lines).toContain(`${layer.digest.slice(7, 19)}: Mounted from team/app`);
    expect(lines.at(-1)).toBe(`2: digest: ${app.manifestDigest} size: ${app.manifestBytes.length}`);

    const table = await berth(["search", `${registry.host}/app`], state);
    expect(table.stdout.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^NAME\s+DESCRIPTION$/),
      `${registry.host}/copies/app`,
      `${registry.host}/team/app`,
    ]);
    const json = await berth(["search", "--format", "json", "--limit", "1", `${registry.host}/app`], state);
    expect(json.stdout).toBe(`${JSON.stringify({ Name: `${registry.host}/copies/app`, Description: "" })}\n`);
  });

  it("login with --password-stdin writes config.json, logout removes the entry", async () => {
    const dockerConfig = path.join(root.work, "login-config");
    const state = { ...freshState(), DOCKER_CONFIG: dockerConfig };
    const login = await berth(["login", "-u", "carol", "--password-stdin", registry.host], state, "s3cret\n");
    expect(login.status).toBe(0);
    expect(login.stdout).toBe("Login Succeeded\n");
    const file = path.join(dockerConfig, "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: { [registry.host]: { auth: Buffer.from("carol:s3cret").toString("base64") } } });
    const noTty = await berth(["login", registry.host], state);
    expect(noTty.status).toBe(1);
    expect(noTty.stderr).toContain("Cannot perform an interactive login from a non TTY device");
    const logout = await berth(["logout", registry.host], state);
    expect(logout.stdout).toBe(`Removing login credentials for ${registry.host}\n`);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: {} });
    expect((await berth(["logout", registry.host], state)).stdout).toBe(`Not logged in to ${registry.host}\n`);
  });
});
