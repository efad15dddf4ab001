// Which hosts berth talks to for a registry, and how: mirrors tried before the upstream on pulls
// (like Docker's `registry-mirrors`, but per registry), and the hosts where plain HTTP is allowed.
//
//   /etc/berth/registries.json ($BERTH_REGISTRY_CONFIG moves it):
//     {"mirrors": {"docker.io": ["http://127.0.0.1:5000"]}, "insecure": ["host:port", …]}
//   $BERTH_REGISTRY_MIRRORS="docker.io=http://127.0.0.1:5000,http://…;other.io=https://…"
//
// Mirrors from the environment come first, then the file's. Plain HTTP is allowed only for
// loopback hosts and hosts listed insecure; everything else is HTTPS with verified certificates.
// The seed-images script writes the same file shape.

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { ImageErrorCode, RegistryError } from "../errors.js";
import { defaultDomain } from "../reference.js";

export const defaultRegistryConfigFile = "/etc/berth/registries.json";
/** Where `docker.io` references are served from. */
export const dockerHubRegistryHost = "registry-1.docker.io";

export interface RegistryHosts {
  /** Registry domain (`docker.io`, `ghcr.io`, `127.0.0.1:5000`) → mirror base URLs, in order. */
  readonly mirrors: ReadonlyMap<string, readonly URL[]>;
  /** `host` or `host:port` entries where plain HTTP (and unverified TLS) is allowed. */
  readonly insecure: ReadonlySet<string>;
}

/** One place berth sends requests for a registry: a mirror or the upstream. */
export interface RegistryEndpoint {
  /** How errors and progress name it: `127.0.0.1:5000`, `docker.io`, `mirror 127.0.0.1:5001`. */
  readonly name: string;
  /** `host[:port]` requests go to. */
  readonly host: string;
  /** Schemes to try, in order (the first that answers /v2/ wins). */
  readonly schemes: readonly ("https" | "http")[];
  /** Skip certificate verification (an insecure registry). */
  readonly insecureTls: boolean;
  readonly mirror: boolean;
}

function configError(message: string, source: string): RegistryError {
  return new RegistryError(ImageErrorCode.registryConfig, `${source}: ${message}`, { registry: source, object: source });
}

/** `index.docker.io` and `registry-1.docker.io` are Docker Hub as well. */
export function canonicalDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower === "index.docker.io" || lower === dockerHubRegistryHost ? defaultDomain : lower;
}

function stripPort(hostPort: string): string {
  if (hostPort.startsWith("[")) return hostPort.slice(1, hostPort.indexOf("]"));
  const colon = hostPort.lastIndexOf(":");
  return colon === -1 || hostPort.indexOf(":") !== colon ? hostPort : hostPort.slice(0, colon);
}

/** 127.0.0.0/8, ::1 and localhost: where Docker, too, allows plain HTTP without being told. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = stripPort(hostPort).toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

export function isInsecureHost(hosts: RegistryHosts, hostPort: string): boolean {
  const lower = hostPort.toLowerCase();
  return hosts.insecure.has(lower) || hosts.insecure.has(stripPort(lower));
}

export function allowsPlainHttp(hosts: RegistryHosts, hostPort: string): boolean {
  return isLoopbackHost(hostPort) || isInsecureHost(hosts, hostPort);
}

function parseMirrorUrl(text: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw configError(`mirror ${JSON.stringify(text)} is not a URL (write http://host:port or https://host)`, source);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError(`mirror ${text}: only http:// and https:// are supported`, source);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw configError(`mirror ${text}: give scheme, host and port only (no path, query or credentials)`, source);
  }
  return url;
}

function addMirrors(target: Map<string, URL[]>, domain: string, urls: readonly URL[]): void {
  const key = canonicalDomain(domain);
  const known = target.get(key) ?? [];
  for (const url of urls) if (!known.some((existing) => existing.href === url.href)) known.push(url);
  target.set(key, known);
}

/** The file's JSON, validated. */
export function parseRegistryConfig(text: string, source: string): RegistryHosts {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw configError(`not valid JSON: ${(error as Error).message}`, source);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw configError("expected a JSON object", source);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== "mirrors" && key !== "insecure") throw configError(`unknown key ${JSON.stringify(key)} (known: mirrors, insecure)`, source);
  }
  const mirrors = new Map<string, URL[]>();
  const rawMirrors = record["mirrors"] ?? {};
  if (rawMirrors === null || typeof rawMirrors !== "object" || Array.isArray(rawMirrors)) {
    throw configError("mirrors must be an object of registry → list of URLs", source);
  }
  for (const [domain, list] of Object.entries(rawMirrors as Record<string, unknown>)) {
    if (!Array.isArray(list) || !list.every((entry) => typeof entry === "string")) {
      throw configError(`mirrors.${domain} must be a list of URLs`, source);
    }
    addMirrors(mirrors, domain, (list as string[]).map((entry) => parseMirrorUrl(entry, source)));
  }
  const rawInsecure = record["insecure"] ?? [];
  if (!Array.isArray(rawInsecure) || !rawInsecure.every((entry) => typeof entry === "string" && entry.trim() !== "")) {
    throw configError("insecure must be a list of host[:port] strings", source);
  }
  const insecure = new Set((rawInsecure as string[]).map((entry) => entry.trim().toLowerCase()));
  return { mirrors, insecure };
}

/** `docker.io=http://a,http://b;other.io=https://c` → domain → URLs. */
export function parseMirrorEnvironment(value: string, source = "BERTH_REGISTRY_MIRRORS"): Map<string, URL[]> {
  const mirrors = new Map<string, URL[]>();
  for (const group of value.split(";")) {
    if (group.trim() === "") continue;
    const equals = group.indexOf("=");
    if (equals <= 0) throw configError(`expected registry=URL[,URL…], found ${JSON.stringify(group)}`, source);
    const domain = group.slice(0, equals).trim();
    const urls = group
      .slice(equals + 1)
      .split(",")
      .filter((entry) => entry.trim() !== "")
      .map((entry) => parseMirrorUrl(entry, source));
    if (urls.length === 0) throw configError(`no mirror URL for ${domain}`, source);
    addMirrors(mirrors, domain, urls);
  }
  return mirrors;
}

/** Environment mirrors first, then the file's; insecure hosts from the file. Plain-HTTP mirrors are checked. */
export function mergeRegistryHosts(file: RegistryHosts, environmentMirrors: ReadonlyMap<string, readonly URL[]>): RegistryHosts {
  const mirrors = new Map<string, URL[]>();
  for (const [domain, urls] of environmentMirrors) addMirrors(mirrors, domain, urls);
  for (const [domain, urls] of file.mirrors) addMirrors(mirrors, domain, urls);
  const merged: RegistryHosts = { mirrors, insecure: file.insecure };
  for (const [domain, urls] of mirrors) {
    for (const url of urls) {
      if (url.protocol === "http:" && !allowsPlainHttp(merged, url.host)) {
        throw configError(
          `mirror ${url.origin} for ${domain}: plain HTTP is allowed only for loopback hosts and hosts listed in "insecure"`,
          "registry mirrors",
        );
      }
    }
  }
  return merged;
}

/** The configuration in effect: the file (missing is fine) and the environment. */
export function readRegistryHosts(environment: Readonly<Record<string, string | undefined>> = process.env): RegistryHosts {
  const file = environment["BERTH_REGISTRY_CONFIG"] || defaultRegistryConfigFile;
  let fromFile: RegistryHosts = { mirrors: new Map(), insecure: new Set() };
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw configError((error as Error).message, file);
  }
  if (text !== undefined) fromFile = parseRegistryConfig(text, file);
  const fromEnvironment = environment["BERTH_REGISTRY_MIRRORS"] ? parseMirrorEnvironment(environment["BERTH_REGISTRY_MIRRORS"]) : new Map<string, URL[]>();
  return mergeRegistryHosts(fromFile, fromEnvironment);
}

/** Where requests for a registry domain go, without mirrors (pushes, logins, the upstream of pulls). */
export function upstreamEndpoint(hosts: RegistryHosts, domain: string): RegistryEndpoint {
  const canonical = canonicalDomain(domain);
  const host = canonical === defaultDomain ? dockerHubRegistryHost : canonical;
  const insecure = isInsecureHost(hosts, host);
  // Insecure registries, as Docker does: HTTPS first (unverified), then HTTP. On loopback, HTTP
  // first: the answer is the same (one port speaks one of them; a TLS port answers a plain
  // request with 400, and HTTPS comes next), and a local plain-HTTP registry, the usual kind,
  // is reached without loading TLS or failing a handshake first.
  const schemes: ("https" | "http")[] = isLoopbackHost(host) ? ["http", "https"] : insecure ? ["https", "http"] : ["https"];
  return { name: canonical, host, schemes, insecureTls: insecure || isLoopbackHost(host), mirror: false };
}

/** Mirrors of the domain in order, then the upstream: the endpoints a pull tries. */
export function pullEndpoints(hosts: RegistryHosts, domain: string): RegistryEndpoint[] {
  const mirrors = hosts.mirrors.get(canonicalDomain(domain)) ?? [];
  return [
    ...mirrors.map(
      (url): RegistryEndpoint => ({
        name: `mirror ${url.host}`,
        host: url.host,
        schemes: [url.protocol === "http:" ? "http" : "https"],
        insecureTls: isInsecureHost(hosts, url.host),
        mirror: true,
      }),
    ),
    upstreamEndpoint(hosts, domain),
  ];
}
