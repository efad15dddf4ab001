// Manifests over the distribution API: the full Accept list (a registry answers 404 for an OCI
// manifest when the client does not accept OCI types), the kind decided from the body's
// mediaType or else the Content-Type, and every body checked against the digest asked for or
// announced in Docker-Content-Digest.

import { sha256Of } from "../digest.js";
import { ImageErrorCode, RegistryError } from "../errors.js";
import { isIndexType, isManifestType, MediaType } from "../media-types.js";
import type { OciIndex, OciManifest } from "../types.js";
import type { RegistryClient } from "./client.js";
import { responseError } from "./client.js";

export const manifestAcceptTypes: readonly string[] = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest];
const manifestAccept = manifestAcceptTypes.join(", ");
const manifestSizeLimit = 4 * 1024 * 1024;

export type DecodedManifest =
  | { readonly kind: "index"; readonly mediaType: string; readonly index: OciIndex }
  | { readonly kind: "manifest"; readonly mediaType: string; readonly manifest: OciManifest };

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly decoded: DecodedManifest;
}

function protocolError(registry: string, message: string): RegistryError {
  return new RegistryError(ImageErrorCode.registryProtocol, message, { registry });
}

/** Parses a manifest or index; the body's mediaType wins, then the Content-Type (umoci writes none). */
export function decodeManifest(bytes: Buffer, contentType: string | undefined, registry: string, what: string): DecodedManifest {
  let value: Record<string, unknown>;
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    value = parsed as Record<string, unknown>;
  } catch (error) {
    throw protocolError(registry, `${what}: not valid JSON: ${(error as Error).message}`);
  }
  const headerType = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  const mediaType = typeof value["mediaType"] === "string" && value["mediaType"] !== "" ? value["mediaType"] : headerType;
  if (value["schemaVersion"] === 1) throw protocolError(registry, `${what}: Docker image manifest v1 (schema 1) is not supported`);
  const looksLikeIndex = Array.isArray(value["manifests"]);
  const looksLikeManifest = typeof value["config"] === "object" && Array.isArray(value["layers"]);
  if (isIndexType(mediaType) || (!isManifestType(mediaType) && looksLikeIndex && !looksLikeManifest)) {
    if (!looksLikeIndex) throw protocolError(registry, `${what}: index without a manifests list`);
    return { kind: "index", mediaType: mediaType && isIndexType(mediaType) ? mediaType : MediaType.ociIndex, index: value as unknown as OciIndex };
  }
  if (isManifestType(mediaType) || looksLikeManifest) {
    if (!looksLikeManifest) throw protocolError(registry, `${what}: manifest without config and layers`);
    return { kind: "manifest", mediaType: mediaType && isManifestType(mediaType) ? mediaType : MediaType.ociManifest, manifest: value as unknown as OciManifest };
  }
  throw protocolError(registry, `${what}: unsupported manifest type ${mediaType ?? "(none)"}`);
}

/** The digest a manifest answer must have: the one asked for, else the one the registry announced. */
export function verifyManifestDigest(bytes: Buffer, expected: string | undefined, announced: string | undefined, registry: string, what: string): string {
  const actual = sha256Of(bytes);
  const wanted = expected ?? (announced?.startsWith("sha256:") ? announced : undefined);
  if (wanted !== undefined && wanted !== actual) {
    throw new RegistryError(ImageErrorCode.digest, `${what}: digest mismatch: expected ${wanted}, content is ${actual}`, { registry, object: what });
  }
  return actual;
}

export function manifestPath(repositoryPath: string, tagOrDigest: string): string {
  return `/v2/${repositoryPath}/manifests/${tagOrDigest}`;
}

/** HEAD of a manifest: its digest without its body (undefined when the registry does not say). */
export async function headManifest(client: RegistryClient, repositoryPath: string, tagOrDigest: string, scopes: readonly string[]): Promise<string | undefined> {
  const response = await client.request({ method: "HEAD", path: manifestPath(repositoryPath, tagOrDigest), headers: { Accept: manifestAccept }, scopes });
  response.discard();
  if (response.status !== 200) return undefined;
  const digest = response.header("docker-content-digest");
  return digest !== undefined && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : undefined;
}

export async function fetchManifest(client: RegistryClient, repositoryPath: string, tagOrDigest: string, scopes: readonly string[]): Promise<FetchedManifest> {
  const what = `manifest ${repositoryPath}:${tagOrDigest}`.replace(":sha256:", "@sha256:");
  const response = await client.request({ method: "GET", path: manifestPath(repositoryPath, tagOrDigest), headers: { Accept: manifestAccept }, scopes });
  if (response.status !== 200) throw await responseError(response, client.name, what);
  const bytes = await response.buffer(manifestSizeLimit);
  const expected = tagOrDigest.startsWith("sha256:") ? tagOrDigest : undefined;
  const digest = verifyManifestDigest(bytes, expected, response.header("docker-content-digest"), client.name, what);
  return { bytes, digest, decoded: decodeManifest(bytes, response.header("content-type"), client.name, what) };
}
