// `berth login` / `berth logout`: check the credentials against the registry's /v2/ (Basic
// directly, or by fetching a bearer token with them, as `docker login` does), then record them
// in ~/.docker/config.json or the configured credential helper.

import { ImageErrorCode, RegistryError } from "../errors.js";
import { defaultDomain } from "../reference.js";
import { RegistryClient, responseError } from "./client.js";
import { canonicalDomain, readRegistryHosts, upstreamEndpoint } from "./config.js";
import { eraseCredentials, hostnameOf, storeCredentials, type Credentials } from "./credentials.js";

type Environment = Readonly<Record<string, string | undefined>>;

export interface LoginRequest {
  /** `SERVER` as typed (`127.0.0.1:5000`, `https://ghcr.io`); Docker Hub when absent. */
  readonly server?: string;
  readonly username: string;
  readonly password: string;
  readonly environment?: Environment;
}

export interface LoginResult {
  /** The config.json key the login was stored under. */
  readonly serverKey: string;
}

/** The registry domain a SERVER argument names. */
function domainOf(server: string | undefined): string {
  if (server === undefined || server.trim() === "") return defaultDomain;
  return canonicalDomain(hostnameOf(server));
}

/** Verifies credentials against the registry; throws E_REGISTRY_UNAUTHORIZED when it refuses them. */
export async function verifyCredentials(domain: string, credentials: Credentials, environment: Environment): Promise<void> {
  const hosts = readRegistryHosts(environment);
  const client = new RegistryClient({ endpoint: upstreamEndpoint(hosts, domain), hosts, credentials });
  // With bearer auth the token server checks the password (a refusal throws); the token then has to open /v2/.
  const response = await client.request({ method: "GET", path: "/v2/", scopes: [] });
  if (response.status === 200) {
    response.discard();
    return;
  }
  if (response.status === 401) {
    response.discard();
    throw new RegistryError(ImageErrorCode.registryUnauthorized, "unauthorized: incorrect username or password", { registry: client.name, status: 401 });
  }
  throw await responseError(response, client.name, "login");
}

export async function loginRegistry(request: LoginRequest): Promise<LoginResult> {
  const environment = request.environment ?? process.env;
  const domain = domainOf(request.server);
  const credentials: Credentials = { username: request.username, password: request.password };
  try {
    await verifyCredentials(domain, credentials, environment);
  } catch (error) {
    if (error instanceof RegistryError) {
      throw new RegistryError(error.code as ImageErrorCode, `login to ${domain}: ${error.message}`, {
        registry: error.registry,
        ...(error.status === undefined ? {} : { status: error.status }),
        cause: error,
      });
    }
    throw error;
  }
  const serverKey = await storeCredentials(request.server ?? defaultDomain, credentials, environment);
  return { serverKey };
}

export async function logoutRegistry(request: { readonly server?: string; readonly environment?: Environment }): Promise<{ serverKey: string; removed: boolean }> {
  const { key, removed } = await eraseCredentials(request.server ?? defaultDomain, request.environment ?? process.env);
  return { serverKey: key, removed };
}
