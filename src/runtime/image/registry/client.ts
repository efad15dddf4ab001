// One registry endpoint, authenticated: the `/v2/` ping picks the scheme and learns the
// challenge; requests carry Basic credentials or a bearer token for their scopes, fetched from
// the challenge's realm exactly as Docker Hub's auth works (GET realm?service=…&scope=…, Basic
// credentials when known, `token` or `access_token`, `expires_in`, `issued_at`) and cached per
// (realm, service, scopes) until shortly before it expires. A 401 drops the token and retries
// once with the challenge the 401 carried. Redirects (blob storage elsewhere) are followed
// without the Authorization header when they leave the registry's origin.

import { ImageErrorCode, RegistryError } from "../errors.js";
import { parseWwwAuthenticate, preferredChallenge, type AuthChallenge } from "./challenge.js";
import { allowsPlainHttp, type RegistryEndpoint, type RegistryHosts } from "./config.js";
import type { Credentials } from "./credentials.js";
import { send, type HttpRequest, type HttpResponse, type RequestBody } from "./transport.js";

/** A token expiring within this margin is fetched again rather than sent. */
const tokenExpiryMarginMs = 10_000;
const maxRedirects = 5;

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

interface PingResult {
  readonly base: URL;
  readonly challenge: AuthChallenge | undefined;
}

/** Pings and tokens are shared by every client of the process: a pull's parallel blob requests reuse them. */
const pings = new Map<string, Promise<PingResult>>();
const tokens = new Map<string, CachedToken>();

export interface RegistryRequest {
  readonly method: HttpRequest["method"];
  /** A path under the endpoint (`/v2/library/busybox/manifests/latest`) or an absolute URL (upload locations). */
  readonly path: string | URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** Token scopes the request needs (`repository:library/busybox:pull`). */
  readonly scopes: readonly string[];
  /** Follow 3xx redirects (blob downloads). */
  readonly followRedirects?: boolean;
}

export interface RegistryClientOptions {
  readonly endpoint: RegistryEndpoint;
  readonly hosts: RegistryHosts;
  readonly credentials?: Credentials | undefined;
  readonly clock?: () => number;
}

interface RegistryErrorBody {
  readonly errors?: readonly { readonly code?: unknown; readonly message?: unknown; readonly detail?: unknown }[];
}

/** The registry's own error code (`MANIFEST_UNKNOWN`) and message, from a JSON error body. */
function firstError(body: Buffer): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as RegistryErrorBody;
    const first = parsed.errors?.[0];
    if (first === undefined) return undefined;
    return { code: typeof first.code === "string" ? first.code : "", message: typeof first.message === "string" ? first.message : "" };
  } catch {
    return undefined;
  }
}

/** Docker's wording for an errcode: `MANIFEST_UNKNOWN` → `manifest unknown`. */
const spokenCode = (code: string): string => code.toLowerCase().replaceAll("_", " ");

/** A registry's non-success answer as a typed error; reads (a bounded part of) the body. */
export async function responseError(response: HttpResponse, registry: string, what: string): Promise<RegistryError> {
  let body: Buffer = Buffer.alloc(0);
  try {
    body = await response.buffer(64 * 1024);
  } catch {
    // the status alone will do
  }
  const registryError = firstError(body);
  const status = response.status;
  const text = registryError === undefined ? "" : `${spokenCode(registryError.code)}${registryError.message ? `: ${registryError.message}` : ""}`;
  const options = { registry, status, object: what };
  switch (registryError?.code) {
    case "NAME_UNKNOWN":
      return new RegistryError(ImageErrorCode.registryNameUnknown, text, options);
    case "MANIFEST_UNKNOWN":
      return new RegistryError(ImageErrorCode.registryManifestUnknown, text, options);
    case "UNAUTHORIZED":
      return new RegistryError(ImageErrorCode.registryUnauthorized, text, { ...options, hint: `log in with \`berth login ${registry}\`` });
    case "DENIED":
      return new RegistryError(ImageErrorCode.registryDenied, text, options);
    default:
      break;
  }
  if (status === 401) {
    return new RegistryError(ImageErrorCode.registryUnauthorized, text || "unauthorized: authentication required", {
      ...options,
      hint: `log in with \`berth login ${registry}\``,
    });
  }
  if (status === 403) return new RegistryError(ImageErrorCode.registryDenied, text || "denied: requested access to the resource is denied", options);
  if (status === 404 && what.startsWith("manifest")) return new RegistryError(ImageErrorCode.registryManifestUnknown, text || "manifest unknown", options);
  if (status === 404 && what.startsWith("repository")) return new RegistryError(ImageErrorCode.registryNameUnknown, text || "name unknown", options);
  return new RegistryError(
    ImageErrorCode.registryProtocol,
    `${what}: unexpected answer ${status}${response.body.statusMessage ? ` ${response.body.statusMessage}` : ""}${text ? `: ${text}` : ""}`,
    options,
  );
}

const basicAuthorization = (credentials: Credentials): string =>
  `Basic ${Buffer.from(`${credentials.username ?? ""}:${credentials.password ?? ""}`, "utf8").toString("base64")}`;

const hasBasicCredentials = (credentials: Credentials | undefined): credentials is Credentials =>
  credentials?.username !== undefined && credentials.password !== undefined;

export class RegistryClient {
  readonly endpoint: RegistryEndpoint;
  readonly #hosts: RegistryHosts;
  readonly #credentials: Credentials | undefined;
  readonly #clock: () => number;

  constructor(options: RegistryClientOptions) {
    this.endpoint = options.endpoint;
    this.#hosts = options.hosts;
    this.#credentials = options.credentials;
    this.#clock = options.clock ?? Date.now;
  }

  get name(): string {
    return this.endpoint.name;
  }

  #pingKey(): string {
    return `${this.endpoint.host}|${this.endpoint.schemes.join(",")}|${this.endpoint.insecureTls}`;
  }

  /** GET /v2/ on each scheme in turn: the first that answers over HTTP decides the base URL. */
  ping(): Promise<PingResult> {
    const key = this.#pingKey();
    let pending = pings.get(key);
    if (pending === undefined) {
      pending = this.#ping();
      pings.set(key, pending);
      pending.catch(() => pings.delete(key));
    }
    return pending;
  }

  async #ping(): Promise<PingResult> {
    let lastError: unknown;
    for (const scheme of this.endpoint.schemes) {
      const base = new URL(`${scheme}://${this.endpoint.host}/`);
      let response: HttpResponse;
      try {
        response = await send({ method: "GET", url: new URL("/v2/", base), registry: this.name, insecureTls: this.endpoint.insecureTls });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (response.status === 200 || response.status === 401) {
        const header = response.header("www-authenticate");
        response.discard();
        return { base, challenge: header === undefined ? undefined : preferredChallenge(parseWwwAuthenticate(header)) };
      }
      // A plain-HTTP request to a TLS port gets 400 from Go's server: try the next scheme.
      lastError = await responseError(response, this.name, `ping ${base.origin}/v2/`);
    }
    throw lastError instanceof RegistryError
      ? lastError
      : new RegistryError(ImageErrorCode.registryConnection, String(lastError), { registry: this.name });
  }

  #tokenKey(challenge: AuthChallenge, scopes: readonly string[]): string {
    return `${challenge.parameters["realm"] ?? ""}|${challenge.parameters["service"] ?? ""}|${this.#credentials?.username ?? ""}|${[...scopes].sort().join(" ")}`;
  }

  /** A bearer token from the realm, as Docker Hub hands them out. */
  async fetchToken(challenge: AuthChallenge, scopes: readonly string[], options: { offline?: boolean } = {}): Promise<CachedToken> {
    const realmText = challenge.parameters["realm"];
    let realm: URL;
    try {
      realm = new URL(realmText ?? "");
    } catch {
      throw new RegistryError(ImageErrorCode.registryUnauthorized, `the registry's bearer challenge has no usable realm (${JSON.stringify(realmText)})`, {
        registry: this.name,
      });
    }
    if (realm.protocol === "http:" && !allowsPlainHttp(this.#hosts, realm.host)) {
      throw new RegistryError(ImageErrorCode.registryTls, `token realm ${realm.origin} is plain HTTP; refusing to send credentials there`, {
        registry: this.name,
        hint: `list ${realm.host} under "insecure" in the registry config if that is intended`,
      });
    }
    const service = challenge.parameters["service"];
    const credentials = this.#credentials;
    let response: HttpResponse;
    if (credentials?.identityToken !== undefined) {
      // OAuth2 refresh-token grant, as Docker does for identity tokens.
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credentials.identityToken, client_id: "berth" });
      if (service !== undefined) form.set("service", service);
      if (scopes.length > 0) form.set("scope", scopes.join(" "));
      response = await send({
        method: "POST",
        url: realm,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: Buffer.from(form.toString()),
        registry: this.name,
        insecureTls: this.endpoint.insecureTls,
      });
    } else {
      const url = new URL(realm);
      if (service !== undefined) url.searchParams.set("service", service);
      for (const scope of scopes) url.searchParams.append("scope", scope);
      if (options.offline) {
        url.searchParams.set("offline_token", "true");
        url.searchParams.set("client_id", "berth");
      }
      response = await send({
        method: "GET",
        url,
        headers: hasBasicCredentials(credentials) ? { Authorization: basicAuthorization(credentials) } : {},
        registry: this.name,
        insecureTls: this.endpoint.insecureTls,
      });
    }
    if (response.status === 401 || response.status === 403) {
      response.discard();
      const why = credentials === undefined ? "authentication required" : "incorrect username or password";
      throw new RegistryError(ImageErrorCode.registryUnauthorized, `unauthorized: ${why}`, {
        registry: this.name,
        status: response.status,
        hint: `log in with \`berth login ${this.name.replace(/^mirror /, "")}\``,
      });
    }
    if (response.status !== 200) throw await responseError(response, this.name, `token from ${realm.origin}`);
    let answer: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      answer = JSON.parse((await response.buffer(1024 * 1024)).toString("utf8")) as typeof answer;
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      throw new RegistryError(ImageErrorCode.registryProtocol, `token from ${realm.origin}: answer is not JSON`, { registry: this.name });
    }
    const token = typeof answer.token === "string" && answer.token !== "" ? answer.token : typeof answer.access_token === "string" ? answer.access_token : "";
    if (token === "") throw new RegistryError(ImageErrorCode.registryProtocol, `token from ${realm.origin}: no token in the answer`, { registry: this.name });
    // Docker's rule: less than 60 s (or nothing) means 60 s.
    const lifetimeSeconds = typeof answer.expires_in === "number" && answer.expires_in >= 60 ? answer.expires_in : 60;
    const issuedAt = typeof answer.issued_at === "string" ? Date.parse(answer.issued_at) : Number.NaN;
    const start = Number.isNaN(issuedAt) ? this.#clock() : Math.min(issuedAt, this.#clock());
    return { token, expiresAt: start + lifetimeSeconds * 1000 };
  }

  async #authorization(challenge: AuthChallenge | undefined, scopes: readonly string[]): Promise<string | undefined> {
    if (this.#credentials?.registryToken !== undefined) return `Bearer ${this.#credentials.registryToken}`;
    if (challenge === undefined) return undefined;
    if (challenge.scheme === "basic") return hasBasicCredentials(this.#credentials) ? basicAuthorization(this.#credentials) : undefined;
    if (challenge.scheme !== "bearer") return undefined;
    const key = this.#tokenKey(challenge, scopes);
    const cached = tokens.get(key);
    if (cached !== undefined && cached.expiresAt - tokenExpiryMarginMs > this.#clock()) return `Bearer ${cached.token}`;
    const fresh = await this.fetchToken(challenge, scopes);
    tokens.set(key, fresh);
    return `Bearer ${fresh.token}`;
  }

  /** Sends a request with auth; one retry after a 401 with a fresh token. Non-2xx answers are returned, not thrown. */
  async request(request: RegistryRequest): Promise<HttpResponse> {
    const { base, challenge: pinged } = await this.ping();
    let challenge = pinged;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.#authorization(challenge, request.scopes);
      const response = await this.#sendFollowing(base, request, authorization);
      if (response.status !== 401 || attempt > 0) return response;
      const header = response.header("www-authenticate");
      const offered = header === undefined ? undefined : preferredChallenge(parseWwwAuthenticate(header));
      // Only a bearer token can have expired or lack a scope; the same Basic credentials would get the same 401.
      if (offered?.scheme !== "bearer" && challenge?.scheme !== "bearer") return response;
      response.discard();
      if (challenge?.scheme === "bearer") tokens.delete(this.#tokenKey(challenge, request.scopes));
      challenge = offered ?? challenge;
    }
  }

  /**
   * The URL and headers `request` would be sent with (its Authorization included), for a caller
   * that speaks to the registry over its own connection. Redirects and 401s are the caller's to
   * hand back to request().
   */
  async prepare(request: Pick<RegistryRequest, "path" | "headers" | "scopes">): Promise<{ url: URL; headers: Record<string, string> }> {
    const { base, challenge } = await this.ping();
    const authorization = await this.#authorization(challenge, request.scopes);
    const headers: Record<string, string> = { ...request.headers };
    if (authorization !== undefined) headers["Authorization"] = authorization;
    return { url: typeof request.path === "string" ? new URL(request.path, base) : request.path, headers };
  }

  async #sendFollowing(base: URL, request: RegistryRequest, authorization: string | undefined): Promise<HttpResponse> {
    let url = typeof request.path === "string" ? new URL(request.path, base) : request.path;
    let sendAuthorization = authorization;
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { ...request.headers };
      if (sendAuthorization !== undefined) headers["Authorization"] = sendAuthorization;
      const response = await send({
        method: request.method,
        url,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        registry: this.name,
        insecureTls: this.endpoint.insecureTls,
      });
      const location = response.header("location");
      const isRedirect = [301, 302, 303, 307, 308].includes(response.status);
      if (!request.followRedirects || !isRedirect || location === undefined || redirects >= maxRedirects) return response;
      response.discard();
      const next = new URL(location, url);
      if (next.protocol === "http:" && url.protocol === "https:" && !allowsPlainHttp(this.#hosts, next.host)) {
        throw new RegistryError(ImageErrorCode.registryTls, `redirect from HTTPS to plain HTTP (${next.origin}) refused`, { registry: this.name });
      }
      if (next.origin !== url.origin) sendAuthorization = undefined;
      url = next;
    }
  }
}

/** For tests: forget pings and tokens (a registry restarted on the same port). */
export function resetRegistrySessions(): void {
  pings.clear();
  tokens.clear();
}
