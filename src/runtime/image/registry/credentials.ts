// Registry credentials where Docker keeps them: ~/.docker/config.json ($DOCKER_CONFIG moves the
// directory). `auths` entries hold base64 "user:password" (or an identity token); `credHelpers`
// (per registry) and `credsStore` (for all) name a `docker-credential-<helper>` program that
// answers `get`, `store` and `erase` over stdin/stdout. `berth login` and `logout` write the same
// file (0600, atomically) and the same helpers, so Docker and berth share logins.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { writeFileAtomic } from "../../state.js";
import { ImageErrorCode, RegistryError } from "../errors.js";
import { defaultDomain } from "../reference.js";
import { canonicalDomain } from "./config.js";

/** Docker Hub's key in config.json, for historical reasons. */
export const dockerHubCredentialKey = "https://index.docker.io/v1/";

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth refresh token (`identitytoken`): exchanged at the token realm. */
  readonly identityToken?: string;
  /** A bearer token to send as is (`registrytoken`). */
  readonly registryToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

type Environment = Readonly<Record<string, string | undefined>>;

export function dockerConfigDirectory(environment: Environment = process.env): string {
  return environment["DOCKER_CONFIG"] || path.join(environment["HOME"] || homedir(), ".docker");
}

export function dockerConfigFile(environment: Environment = process.env): string {
  return path.join(dockerConfigDirectory(environment), "config.json");
}

function credentialsError(message: string, file: string, cause?: unknown): RegistryError {
  return new RegistryError(ImageErrorCode.registryCredentials, message, { registry: "", object: file, ...(cause === undefined ? {} : { cause }) });
}

/** `https://host:5000/v2/` → `host:5000`, as Docker's ConvertToHostname does. */
export function hostnameOf(server: string): string {
  let value = server.trim();
  value = value.replace(/^https?:\/\//i, "");
  return value.split("/", 1)[0]?.toLowerCase() ?? "";
}

/** The config.json key for a registry domain or a `berth login SERVER` argument. */
export function credentialKey(server: string): string {
  const host = hostnameOf(server);
  if (host === "" || canonicalDomain(host) === defaultDomain) return dockerHubCredentialKey;
  return host;
}

export function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

export function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const text = Buffer.from(auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/\0+$/, "") };
}

function readConfig(file: string): DockerConfigFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw credentialsError(`${file}: ${(error as Error).message}`, file, error);
  }
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
    return value as DockerConfigFile;
  } catch (error) {
    throw credentialsError(`${file}: ${(error as Error).message}`, file, error);
  }
}

function writeConfig(file: string, config: DockerConfigFile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600 });
}

/** The auths entry for a key, matching the other spellings Docker accepts (`https://host/v2/`). */
function findAuthEntry(config: DockerConfigFile, key: string): [string, AuthEntry] | undefined {
  const auths = config.auths ?? {};
  const exact = auths[key];
  if (exact !== undefined) return [key, exact];
  const host = key === dockerHubCredentialKey ? undefined : key;
  for (const [name, entry] of Object.entries(auths)) {
    if (host === undefined ? credentialKey(name) === dockerHubCredentialKey : hostnameOf(name) === host) return [name, entry];
  }
  return undefined;
}

function helperFor(config: DockerConfigFile, key: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  return helpers[key] ?? helpers[hostnameOf(key)] ?? (config.credsStore || undefined);
}

interface HelperResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runHelper(helper: string, action: "get" | "store" | "erase", input: string, environment: Environment): Promise<HelperResult> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...environment } as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (error) =>
      reject(credentialsError(`credential helper ${program}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not found in PATH" : error.message}`, program, error)),
    );
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.on("error", () => undefined); // a helper that exits without reading
    child.stdin.end(input);
  });
}

const notFoundOutput = /credentials not found/i;

/** Credentials for a registry (domain or host), from the helper or the auths entry; undefined when none. */
export async function lookupCredentials(server: string, environment: Environment = process.env): Promise<Credentials | undefined> {
  const file = dockerConfigFile(environment);
  const config = readConfig(file);
  const key = credentialKey(server);
  const helper = helperFor(config, key);
  if (helper !== undefined) {
    const result = await runHelper(helper, "get", key, environment);
    if (result.status !== 0) {
      if (notFoundOutput.test(result.stdout + result.stderr)) return undefined;
      throw credentialsError(`credential helper docker-credential-${helper} get ${key}: ${(result.stdout + result.stderr).trim() || `exit status ${result.status}`}`, file);
    }
    let answer: { Username?: unknown; Secret?: unknown };
    try {
      answer = JSON.parse(result.stdout) as { Username?: unknown; Secret?: unknown };
    } catch {
      throw credentialsError(`credential helper docker-credential-${helper}: answer is not JSON`, file);
    }
    const username = typeof answer.Username === "string" ? answer.Username : "";
    const secret = typeof answer.Secret === "string" ? answer.Secret : "";
    if (secret === "") return undefined;
    // Docker's convention: the user "<token>" means the secret is an identity token.
    return username === "<token>" ? { identityToken: secret } : { username, password: secret };
  }
  const found = findAuthEntry(config, key);
  if (found === undefined) return undefined;
  const entry = found[1];
  let username = typeof entry.username === "string" ? entry.username : undefined;
  let password = typeof entry.password === "string" ? entry.password : undefined;
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = decodeAuth(entry.auth);
    if (decoded === undefined) throw credentialsError(`${file}: auths.${found[0]}.auth is not base64 of user:password`, file);
    ({ username, password } = decoded);
  }
  const credentials: Credentials = {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(typeof entry.identitytoken === "string" && entry.identitytoken !== "" ? { identityToken: entry.identitytoken } : {}),
    ...(typeof entry.registrytoken === "string" && entry.registrytoken !== "" ? { registryToken: entry.registrytoken } : {}),
  };
  return Object.keys(credentials).length === 0 ? undefined : credentials;
}

/** Records a login: in the helper when one is configured (with an empty auths entry, as Docker writes), else in auths. */
export async function storeCredentials(server: string, credentials: Credentials, environment: Environment = process.env): Promise<string> {
  const file = dockerConfigFile(environment);
  const config = readConfig(file);
  const key = credentialKey(server);
  const helper = helperFor(config, key);
  const auths = { ...(config.auths ?? {}) };
  const previous = findAuthEntry(config, key);
  if (previous !== undefined) delete auths[previous[0]];
  if (helper !== undefined) {
    const secret = credentials.identityToken ?? credentials.password ?? "";
    const username = credentials.identityToken !== undefined ? "<token>" : (credentials.username ?? "");
    const result = await runHelper(helper, "store", JSON.stringify({ ServerURL: key, Username: username, Secret: secret }), environment);
    if (result.status !== 0) {
      throw credentialsError(`credential helper docker-credential-${helper} store: ${(result.stdout + result.stderr).trim() || `exit status ${result.status}`}`, file);
    }
    auths[key] = {};
  } else {
    auths[key] =
      credentials.identityToken !== undefined
        ? { auth: encodeAuth(credentials.username ?? "", ""), identitytoken: credentials.identityToken }
        : { auth: encodeAuth(credentials.username ?? "", credentials.password ?? "") };
  }
  writeConfig(file, { ...config, auths });
  return key;
}

/** Forgets a login; false when there was none. */
export async function eraseCredentials(server: string, environment: Environment = process.env): Promise<{ key: string; removed: boolean }> {
  const file = dockerConfigFile(environment);
  const config = readConfig(file);
  const key = credentialKey(server);
  const helper = helperFor(config, key);
  let removed = false;
  if (helper !== undefined) {
    const result = await runHelper(helper, "erase", key, environment);
    if (result.status === 0) removed = true;
    else if (!notFoundOutput.test(result.stdout + result.stderr)) {
      throw credentialsError(`credential helper docker-credential-${helper} erase: ${(result.stdout + result.stderr).trim() || `exit status ${result.status}`}`, file);
    }
  }
  const found = findAuthEntry(config, key);
  if (found !== undefined) {
    const auths = { ...(config.auths ?? {}) };
    delete auths[found[0]];
    writeConfig(file, { ...config, auths });
    removed = true;
  }
  return { key, removed };
}
