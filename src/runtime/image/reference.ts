// Image references with Docker's grammar (github.com/distribution/reference) and its
// normalization: docker.io as the default registry, `library/` for single-component names on
// Docker Hub, `latest` when neither a tag nor a digest is given.

import { ImageError, ImageErrorCode } from "./errors.js";

export const defaultDomain = "docker.io";
const legacyDefaultDomain = "index.docker.io";
const officialRepositoryPrefix = "library/";
const nameTotalLengthMax = 255;

const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const ipv6Address = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainAndPort = `(?:${domainName}|${ipv6Address})(?::[0-9]+)?`;
const tagPattern = "[\\w][\\w.-]{0,127}";
const digestPattern = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

const referenceRegExp = new RegExp(
  `^((?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*)(?::(${tagPattern}))?(?:@(${digestPattern}))?$`,
);
const tagRegExp = new RegExp(`^${tagPattern}$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;
const sha256Digest = /^sha256:[a-f0-9]{64}$/;

/** A parsed, normalized reference: `domain/path`, plus a tag and/or a digest. */
export interface ImageReference {
  readonly domain: string;
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

function invalid(message: string, reference: string): ImageError {
  return new ImageError(ImageErrorCode.reference, message, { object: `reference ${JSON.stringify(reference)}` });
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const head = slash === -1 ? "" : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(head) && head !== "localhost" && head.toLowerCase() === head)) {
    domain = defaultDomain;
    remainder = name;
  } else {
    domain = head;
    remainder = name.slice(slash + 1);
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes("/")) remainder = `${officialRepositoryPrefix}${remainder}`;
  return { domain, remainder };
}

/**
 * Parse as Docker's ParseNormalizedNamed does: the familiar form (`busybox`, `user/app:1`) or
 * the full one (`docker.io/library/busybox:latest`, `localhost:5000/x@sha256:…`).
 * No default tag is added here; see normalizeReference.
 */
export function parseReference(reference: string): ImageReference {
  if (anchoredIdentifier.test(reference)) {
    throw invalid(`invalid repository name (${reference}), cannot specify 64-byte hexadecimal strings`, reference);
  }
  if (reference === "") throw invalid("invalid reference format: empty reference", reference);
  const { domain, remainder } = splitDockerDomain(reference);
  const remoteName = remainder.split(/[:@]/, 1)[0] ?? "";
  if (remoteName.toLowerCase() !== remoteName) {
    throw invalid(`invalid reference format: repository name (${remoteName}) must be lowercase`, reference);
  }
  const match = referenceRegExp.exec(`${domain}/${remainder}`);
  if (match === null) throw invalid(`invalid reference format: ${reference}`, reference);
  const name = match[1] ?? "";
  if (name.length > nameTotalLengthMax) {
    throw invalid(`invalid reference format: repository name must not be more than ${nameTotalLengthMax} characters`, reference);
  }
  const digest = match[3];
  if (digest !== undefined && !sha256Digest.test(digest)) {
    throw invalid(`invalid reference format: unsupported digest ${digest} (only sha256 with 64 lowercase hex digits)`, reference);
  }
  return { domain, path: name.slice(domain.length + 1), tag: match[2], digest };
}

/** The repository name without tag or digest: `docker.io/library/busybox`. */
export function repositoryName(reference: ImageReference): string {
  return `${reference.domain}/${reference.path}`;
}

export function formatReference(reference: ImageReference): string {
  return `${repositoryName(reference)}${reference.tag === undefined ? "" : `:${reference.tag}`}${
    reference.digest === undefined ? "" : `@${reference.digest}`
  }`;
}

/** Adds `latest` when the reference has neither a tag nor a digest (Docker's TagNameOnly). */
export function withDefaultTag(reference: ImageReference): ImageReference {
  return reference.tag === undefined && reference.digest === undefined ? { ...reference, tag: "latest" } : reference;
}

/** `busybox` → `docker.io/library/busybox:latest`; throws E_IMAGE_REFERENCE for invalid input. */
export function normalizeReference(reference: string): string {
  return formatReference(withDefaultTag(parseReference(reference)));
}

/** The repository as Docker prints it: `busybox`, `user/app`, `localhost:5000/app`. */
export function familiarRepository(reference: ImageReference): string {
  if (reference.domain !== defaultDomain) return repositoryName(reference);
  const path = reference.path;
  if (path.startsWith(officialRepositoryPrefix) && !path.slice(officialRepositoryPrefix.length).includes("/")) {
    return path.slice(officialRepositoryPrefix.length);
  }
  return path;
}

/** `docker.io/library/busybox:1.35` → `busybox:1.35`. */
export function familiarString(reference: ImageReference): string {
  return `${familiarRepository(reference)}${reference.tag === undefined ? "" : `:${reference.tag}`}${
    reference.digest === undefined ? "" : `@${reference.digest}`
  }`;
}

export function familiarize(normalized: string): string {
  try {
    return familiarString(parseReference(normalized));
  } catch {
    return normalized;
  }
}

export function isValidTag(tag: string): boolean {
  return tagRegExp.test(tag);
}

/** A full image id (`sha256:<64 hex>` or the bare 64 hex digits), normalized with its prefix. */
export function asImageId(value: string): string | undefined {
  if (sha256Digest.test(value)) return value;
  if (anchoredIdentifier.test(value)) return `sha256:${value}`;
  return undefined;
}

/** A possible id prefix: hex digits, optionally after `sha256:`. Returns the hex part. */
export function asIdPrefix(value: string): string | undefined {
  const hex = value.startsWith("sha256:") ? value.slice("sha256:".length) : value;
  return /^[a-f0-9]{1,64}$/.test(hex) ? hex : undefined;
}
