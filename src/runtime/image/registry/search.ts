// `berth search TERM`: repository names containing TERM, from registries that offer the v2
// catalog (`GET /v2/_catalog`, paged with `n` and the Link header). `host:port/term` searches that
// registry; a plain term searches Docker Hub's mirrors (Docker Hub itself has no catalog).

import { ImageErrorCode, RegistryError } from "../errors.js";
import { defaultDomain } from "../reference.js";
import { RegistryClient, responseError } from "./client.js";
import { canonicalDomain, pullEndpoints, readRegistryHosts } from "./config.js";
import { lookupCredentials } from "./credentials.js";

type Environment = Readonly<Record<string, string | undefined>>;

const catalogPageSize = 1000;
const maxCatalogPages = 50;

export interface SearchResult {
  /** As `docker search` prints it: `busybox`, `team/app`, `127.0.0.1:5000/team/app`. */
  readonly name: string;
  /** Catalogs carry no descriptions: empty. */
  readonly description: string;
}

export interface SearchRequest {
  readonly term: string;
  readonly limit?: number;
  readonly environment?: Environment;
}

/** `127.0.0.1:5000/bus` → registry and term; `bus` → docker.io. */
export function splitSearchTerm(term: string): { domain: string; term: string } {
  const slash = term.indexOf("/");
  const head = slash === -1 ? "" : term.slice(0, slash);
  if (slash !== -1 && (/[.:]/.test(head) || head === "localhost")) return { domain: canonicalDomain(head), term: term.slice(slash + 1) };
  return { domain: defaultDomain, term };
}

/** The next page from a Link header: `</v2/_catalog?last=x&n=100>; rel="next"`. */
export function nextCatalogPage(link: string | undefined): string | undefined {
  if (link === undefined) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

async function readCatalog(client: RegistryClient): Promise<string[]> {
  const names: string[] = [];
  let path: string | undefined = `/v2/_catalog?n=${catalogPageSize}`;
  for (let page = 0; path !== undefined && page < maxCatalogPages; page++) {
    const response = await client.request({ method: "GET", path, scopes: ["registry:catalog:*"] });
    if (response.status === 404 || response.status === 405) {
      response.discard();
      throw new RegistryError(ImageErrorCode.registryUnsupported, "the registry does not offer a catalog (/v2/_catalog)", {
        registry: client.name,
        status: response.status,
      });
    }
    if (response.status !== 200) throw await responseError(response, client.name, "catalog");
    let body: { repositories?: unknown };
    try {
      body = JSON.parse((await response.buffer(64 * 1024 * 1024)).toString("utf8")) as { repositories?: unknown };
    } catch {
      throw new RegistryError(ImageErrorCode.registryProtocol, "catalog: answer is not JSON", { registry: client.name });
    }
    if (!Array.isArray(body.repositories)) throw new RegistryError(ImageErrorCode.registryProtocol, "catalog: no repositories list", { registry: client.name });
    names.push(...body.repositories.filter((name): name is string => typeof name === "string"));
    path = nextCatalogPage(response.header("link"));
  }
  return names;
}

function displayName(domain: string, repositoryPath: string): string {
  if (domain !== defaultDomain) return `${domain}/${repositoryPath}`;
  return repositoryPath.startsWith("library/") && !repositoryPath.slice("library/".length).includes("/") ? repositoryPath.slice("library/".length) : repositoryPath;
}

export async function searchRegistry(request: SearchRequest): Promise<SearchResult[]> {
  const environment = request.environment ?? process.env;
  const { domain, term } = splitSearchTerm(request.term);
  const hosts = readRegistryHosts(environment);
  const endpoints = pullEndpoints(hosts, domain);
  let lastError: unknown;
  for (const endpoint of endpoints) {
    try {
      const credentials = await lookupCredentials(endpoint.mirror ? endpoint.host : domain, environment);
      const names = await readCatalog(new RegistryClient({ endpoint, hosts, credentials }));
      const needle = term.toLowerCase();
      const matches = names.filter((name) => name.toLowerCase().includes(needle)).map((name) => ({ name: displayName(domain, name), description: "" }));
      return matches.slice(0, request.limit ?? 25);
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError instanceof RegistryError) {
    throw new RegistryError(lastError.code as ImageErrorCode, `search ${request.term}: registry ${lastError.registry}: ${lastError.message}`, {
      registry: lastError.registry,
      cause: lastError,
      ...(domain === defaultDomain ? { hint: "Docker Hub offers no catalog; configure a mirror for docker.io or search HOST:PORT/TERM" } : {}),
    });
  }
  throw lastError;
}
