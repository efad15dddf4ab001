// A real registry for tests: Debian's docker-registry (the CNCF distribution server) on
// 127.0.0.1 (plain HTTP or TLS), open, behind htpasswd Basic auth, or behind bearer tokens from a small token server
// written here (RS256 JWTs carrying the signing certificate in `x5c`, which the registry checks
// against its rootcertbundle). Plus a counting HTTP proxy that can cut or corrupt a blob response,
// and raw distribution-API helpers to put images and indexes into a registry without berth.
// Every process is started here and stopped by its pid; nothing binds anything but 127.0.0.1.
// Not a test file itself (no `.test.ts`).

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID, sign } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import type { BuiltImage } from "./images.js";

export const registryBinary = "/usr/bin/docker-registry";
export const skopeoBinary = "/usr/bin/skopeo";

export function haveRegistryTools(): boolean {
  return spawnSync(registryBinary, ["--version"]).status === 0 && spawnSync(skopeoBinary, ["--version"]).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------- token server

export interface TokenRequestRecord {
  readonly user: string | undefined;
  readonly scopes: readonly string[];
  readonly status: number;
}

export interface TokenServerOptions {
  readonly users: Readonly<Record<string, string>>;
  /** Anonymous callers get pull access (Docker Hub's public repositories). */
  readonly anonymousPull?: boolean;
  /** Which field carries the token (Docker Hub sends both). */
  readonly tokenField?: "token" | "access_token" | "both";
  readonly expiresInSeconds?: number;
}

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly certificateFile: string;
  readonly requests: TokenRequestRecord[];
  /** The next `count` tokens are signed for the wrong audience: the registry refuses them with 401. */
  issueBadTokens(count: number): void;
  stop(): Promise<void>;
}

const base64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

export async function startTokenServer(directory: string, options: TokenServerOptions): Promise<TokenServer> {
  mkdirSync(directory, { recursive: true });
  const keyFile = path.join(directory, "token-key.pem");
  const certificateFile = path.join(directory, "token-cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certificateFile, "-days", "2", "-subj", "/CN=berth-test-token"], {
    stdio: "ignore",
  });
  const key = readFileSync(keyFile);
  const certificateDer = Buffer.from(
    readFileSync(certificateFile, "utf8")
      .replace(/-----[^-]+-----/g, "")
      .replace(/\s+/g, ""),
    "base64",
  );
  const service = "berth-test-registry";
  const issuer = "berth-test-issuer";
  const requests: TokenRequestRecord[] = [];
  let badTokens = 0;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    let user: string | undefined;
    const authorization = request.headers.authorization;
    if (authorization?.startsWith("Basic ")) {
      const [name = "", password = ""] = Buffer.from(authorization.slice(6), "base64").toString("utf8").split(/:(.*)/s);
      if (options.users[name] !== password) {
        requests.push({ user: name, scopes: url.searchParams.getAll("scope"), status: 401 });
        response.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ details: "incorrect username or password" }));
        return;
      }
      user = name;
    }
    const scopes = url.searchParams.getAll("scope").flatMap((scope) => scope.split(" "));
    requests.push({ user, scopes, status: 200 });
    const access = scopes.flatMap((scope) => {
      const [type = "", name = "", actions = ""] = scope.split(":");
      const wanted = actions.split(",");
      const granted = user !== undefined ? wanted : options.anonymousPull ? wanted.filter((action) => action === "pull") : [];
      return granted.length === 0 ? [] : [{ type, name, actions: granted }];
    });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresInSeconds ?? 300;
    const header = { alg: "RS256", typ: "JWT", x5c: [certificateDer.toString("base64")] };
    const audience = badTokens > 0 ? "someone-else" : service;
    if (badTokens > 0) badTokens--;
    const claims = { iss: issuer, sub: user ?? "", aud: audience, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${base64url(sign("sha256", Buffer.from(signingInput), key))}`;
    const field = options.tokenField ?? "token";
    const body = {
      ...(field === "token" || field === "both" ? { token } : {}),
      ...(field === "access_token" || field === "both" ? { access_token: token } : {}),
      expires_in: expiresIn,
      issued_at: new Date().toISOString(),
    };
    response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificateFile,
    requests,
    issueBadTokens: (count) => {
      badTokens = count;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- the registry

export type RegistryAuth = { readonly kind: "none" } | { readonly kind: "htpasswd"; readonly users: Readonly<Record<string, string>> } | { readonly kind: "token"; readonly tokenServer: TokenServer };

export interface RunningRegistry {
  /** `127.0.0.1:<port>`: the registry part of image references. */
  readonly host: string;
  readonly storage: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** With `tls`, the registry speaks only HTTPS, with a self-signed certificate for 127.0.0.1. */
export async function startRegistry(directory: string, auth: RegistryAuth = { kind: "none" }, options: { tls?: boolean } = {}): Promise<RunningRegistry> {
  mkdirSync(directory, { recursive: true });
  const storage = path.join(directory, "storage");
  const port = await freePort();
  let tlsSection = "";
  if (options.tls === true) {
    const certificate = path.join(directory, "registry.crt");
    const key = path.join(directory, "registry.key");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate], {
      stdio: "ignore",
    });
    tlsSection = `  tls:\n    certificate: ${certificate}\n    key: ${key}`;
  }
  let authSection = "";
  if (auth.kind === "htpasswd") {
    const htpasswdFile = path.join(directory, "htpasswd");
    const lines = Object.entries(auth.users).map(([user, password]) => execFileSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" }).trim());
    writeFileSync(htpasswdFile, `${lines.join("\n")}\n`);
    authSection = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${htpasswdFile}\n`;
  } else if (auth.kind === "token") {
    const server = auth.tokenServer;
    authSection = `auth:\n  token:\n    realm: ${server.realm}\n    service: ${server.service}\n    issuer: ${server.issuer}\n    rootcertbundle: ${server.certificateFile}\n`;
  }
  const config = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  secret: berth-test-secret",
    tlsSection,
    authSection,
  ].join("\n");
  const configFile = path.join(directory, "config.yml");
  writeFileSync(configFile, config);
  const log = openSync(path.join(directory, "registry.log"), "a");
  const child = spawn(registryBinary, ["serve", configFile], { stdio: ["ignore", log, log] });
  closeSync(log);
  const host = `127.0.0.1:${port}`;
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(path.join(directory, "registry.log"), "utf8")}`);
        // A TLS port answers this plain request with 400: up, too.
        const response = await fetch(`http://${host}/v2/`);
        await response.arrayBuffer();
        return response.status === 200 || response.status === 401 || (options.tls === true && response.status === 400);
      },
      15_000,
      `docker-registry on ${host}`,
    );
  } catch (error) {
    await stopProcess(child);
    throw error;
  }
  return { host, storage, pid: child.pid as number, stop: () => stopProcess(child) };
}

// ---------------------------------------------------------------- a counting, misbehaving proxy

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly contentRange: string | undefined;
  /** The request's Connection header (berth's held-body GETs say `close`). */
  readonly connection: string | undefined;
  status?: number | undefined;
}

export interface ProxyOptions {
  /** Cut the first full GET of this blob after half its bytes (then close the connection). */
  cutBlobOnce?: string;
  /** Flip one byte in every response body of this blob. */
  corruptBlob?: string;
  /** Drop the Range header of the first ranged GET of this blob, so the registry answers 200 with all of it. */
  ignoreRangeOnce?: string;
  /** Answer 404 MANIFEST_UNKNOWN / BLOB_UNKNOWN for every request under /v2/<repository>/. */
  hideRepository?: string;
}

export interface RegistryProxy {
  readonly host: string;
  readonly requests: ProxiedRequest[];
  readonly options: ProxyOptions;
  /** Requests whose path names this blob. */
  blobGets(digest: string): ProxiedRequest[];
  clear(): void;
  stop(): Promise<void>;
}

export async function startProxy(targetHost: string, options: ProxyOptions = {}): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  const [targetHostname, targetPort] = targetHost.split(":");
  const agent = new http.Agent({ keepAlive: true });
  let cutDone = false;
  let rangeIgnored = false;
  const server = http.createServer((incoming, outgoing) => {
    const record: ProxiedRequest = {
      method: incoming.method ?? "",
      path: incoming.url ?? "",
      range: incoming.headers.range,
      contentRange: incoming.headers["content-range"],
      connection: incoming.headers.connection,
    };
    requests.push(record);
    if (options.hideRepository !== undefined && record.path.startsWith(`/v2/${options.hideRepository}/`)) {
      record.status = 404;
      const code = record.path.includes("/blobs/") ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN";
      outgoing.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ errors: [{ code, message: "not on this mirror" }] }));
      incoming.resume();
      return;
    }
    const headers = { ...incoming.headers };
    if (!rangeIgnored && options.ignoreRangeOnce !== undefined && record.range !== undefined && record.path.endsWith(options.ignoreRangeOnce)) {
      rangeIgnored = true;
      delete headers.range;
    }
    const upstream = http.request(
      { host: targetHostname, port: Number(targetPort), method: incoming.method, path: incoming.url, headers, agent },
      (answer) => {
        record.status = answer.statusCode;
        const isBlobGet = record.method === "GET" && /\/blobs\/sha256:/.test(record.path);
        const cut = isBlobGet && !cutDone && options.cutBlobOnce !== undefined && record.path.endsWith(options.cutBlobOnce) && answer.statusCode === 200;
        const corrupt = isBlobGet && options.corruptBlob !== undefined && record.path.endsWith(options.corruptBlob);
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        if (!cut && !corrupt) {
          answer.pipe(outgoing);
          return;
        }
        if (cut) cutDone = true;
        const total = Number(answer.headers["content-length"] ?? 0);
        let sent = 0;
        let flipped = false;
        answer.on("data", (chunk: Buffer) => {
          let data = chunk;
          if (corrupt && !flipped && data.length > 0) {
            data = Buffer.from(data);
            data[data.length - 1] = (data[data.length - 1] as number) ^ 0xff;
            flipped = true;
          }
          if (cut && sent + data.length >= total / 2) {
            const keep = Math.max(1, Math.floor(total / 2) - sent);
            outgoing.write(data.subarray(0, keep), () => outgoing.socket?.destroy());
            answer.destroy();
            sent += keep;
            return;
          }
          sent += data.length;
          outgoing.write(data);
        });
        answer.on("end", () => outgoing.end());
      },
    );
    upstream.on("error", () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    options,
    blobGets: (digest) => requests.filter((request) => request.method === "GET" && request.path.includes(`/blobs/${digest}`)),
    clear: () => {
      requests.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- raw distribution API (no berth)

export interface RawAuth {
  readonly authorization?: string;
}

async function check(response: Response, what: string, expected: number[]): Promise<void> {
  if (!expected.includes(response.status)) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  await response.arrayBuffer().catch(() => undefined);
}

export async function putBlob(host: string, repository: string, bytes: Buffer, auth: RawAuth = {}): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const headers: Record<string, string> = auth.authorization === undefined ? {} : { Authorization: auth.authorization };
  const start = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: "POST", headers });
  await check(start, `POST upload ${repository}`, [202]);
  const location = new URL(start.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", headers: { ...headers, "Content-Type": "application/octet-stream" }, body: bytes });
  await check(put, `PUT blob ${digest}`, [201]);
  return digest;
}

export async function putManifest(host: string, repository: string, reference: string, bytes: Buffer, mediaType: string, auth: RawAuth = {}): Promise<string> {
  const headers: Record<string, string> = { "Content-Type": mediaType, ...(auth.authorization === undefined ? {} : { Authorization: auth.authorization }) };
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, { method: "PUT", headers, body: bytes });
  await check(response, `PUT manifest ${repository}:${reference}`, [201]);
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Config, layers and manifest of a built test image, under `reference` (a tag or its digest). */
export async function putImage(host: string, repository: string, reference: string, image: BuiltImage): Promise<string> {
  await putBlob(host, repository, image.configBytes);
  for (const layer of image.layers) await putBlob(host, repository, layer.blob);
  return putManifest(host, repository, reference, image.manifestBytes, "application/vnd.oci.image.manifest.v1+json");
}

/** The registry's own file for a blob (to tamper with it). */
export function registryBlobFile(registry: RunningRegistry, digest: string): string {
  const hex = digest.slice("sha256:".length);
  return path.join(registry.storage, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
}

export function skopeo(args: readonly string[], options: { env?: Record<string, string> } = {}): string {
  const result = spawnSync(skopeoBinary, ["--insecure-policy", ...args], { encoding: "utf8", env: { ...process.env, ...options.env }, timeout: 120_000 });
  if (result.status !== 0) throw new Error(`skopeo ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** skopeo without blocking the event loop: needed when it talks to a server in this process (the token server). */
export function skopeoAsync(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(skopeoBinary, ["--insecure-policy", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      if (status === 0) resolve(stdout);
      else reject(new Error(`skopeo ${args.join(" ")} failed (${status}): ${stderr}`));
    });
  });
}
