// `berth image push`: the stored manifest and its blobs, byte for byte as stored (compressed
// layers stay compressed, so digests survive a pull → push round trip). Per blob: HEAD (already
// there?), a cross-repository mount when the blob is known to live in another repository of the
// same registry, else an upload: one PUT for small blobs, PATCH chunks with Content-Range then a
// closing PUT for large ones. The manifest goes last, with its own media type.

import { createReadStream, statSync } from "node:fs";
import { withLock } from "../../state.js";
import { readBlob } from "../blobs.js";
import { mapLimit } from "../concurrency.js";
import { digestHex, sha256Of } from "../digest.js";
import { ImageError, ImageErrorCode, RegistryError } from "../errors.js";
import { blobPath, imageOfManifest, indexLockFile, readIndex, writeIndex, type ImageRecord, type StoredManifest, type StoreLayout } from "../layout.js";
import { isLayerType } from "../media-types.js";
import { familiarString, formatReference, parseReference, repositoryName, withDefaultTag } from "../reference.js";
import type { OciDescriptor, PushOptions, PushProgressEvent, PushResult } from "../types.js";
import { blobSources, recordBlobSources } from "./blob-sources.js";
import { repositoryScope } from "./challenge.js";
import { RegistryClient, responseError } from "./client.js";
import { readRegistryHosts, upstreamEndpoint } from "./config.js";
import { lookupCredentials } from "./credentials.js";
import { decodeManifest } from "./manifests.js";
import { contextualize } from "./pull.js";
import type { HttpResponse } from "./transport.js";

const uploadConcurrency = 3;
export const defaultChunkSizeBytes = 16 * 1024 * 1024;

const shortHex = (digest: string): string => digestHex(digest).slice(0, 12);

interface PushContext {
  readonly layout: StoreLayout;
  readonly client: RegistryClient;
  readonly repositoryPath: string;
  readonly domain: string;
  readonly chunkSizeBytes: number;
  readonly emit: (event: PushProgressEvent) => void;
}

function protocolError(context: PushContext, message: string, status?: number): RegistryError {
  return new RegistryError(ImageErrorCode.registryProtocol, message, { registry: context.client.name, ...(status === undefined ? {} : { status }) });
}

/** The upload URL a 202 names (relative Locations resolve against the request). */
function uploadLocation(context: PushContext, response: HttpResponse, what: string): URL {
  const location = response.header("location");
  response.discard();
  if (location === undefined) throw protocolError(context, `${what}: the registry answered ${response.status} without a Location`);
  return new URL(location, response.url);
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url;
}

const fileBody = (file: string, start: number, length: number) => ({
  length,
  open: () => createReadStream(file, { start, end: start + length - 1 }),
});

async function uploadBlob(context: PushContext, location: URL, descriptor: OciDescriptor, scopes: readonly string[], onSent: (bytes: number) => void): Promise<void> {
  const file = blobPath(context.layout, descriptor.digest);
  const size = descriptor.size;
  const what = `upload of blob ${descriptor.digest}`;
  let current = location;
  if (size > context.chunkSizeBytes) {
    for (let start = 0; start < size; start += context.chunkSizeBytes) {
      const length = Math.min(context.chunkSizeBytes, size - start);
      const response = await context.client.request({
        method: "PATCH",
        path: current,
        headers: { "Content-Type": "application/octet-stream", "Content-Range": `${start}-${start + length - 1}` },
        body: fileBody(file, start, length),
        scopes,
      });
      if (response.status !== 202) throw await responseError(response, context.client.name, what);
      current = uploadLocation(context, response, what);
      onSent(start + length);
    }
    const closing = await context.client.request({ method: "PUT", path: withDigest(current, descriptor.digest), scopes });
    if (closing.status !== 201) throw await responseError(closing, context.client.name, what);
    closing.discard();
    return;
  }
  const response = await context.client.request({
    method: "PUT",
    path: withDigest(current, descriptor.digest),
    headers: { "Content-Type": "application/octet-stream" },
    body: size === 0 ? Buffer.alloc(0) : fileBody(file, 0, size),
    scopes,
  });
  if (response.status !== 201) throw await responseError(response, context.client.name, what);
  response.discard();
  onSent(size);
}

/** One blob onto the registry; returns how it got there. */
async function pushBlob(context: PushContext, descriptor: OciDescriptor): Promise<"exists" | "mounted" | "uploaded"> {
  const id = shortHex(descriptor.digest);
  // Progress rows are the layers', as Docker shows them; the config goes up without a row.
  const emit = isLayerType(descriptor.mediaType) ? context.emit : (): void => undefined;
  const pushScopes = [repositoryScope(context.repositoryPath, ["pull", "push"])];
  const head = await context.client.request({ method: "HEAD", path: `/v2/${context.repositoryPath}/blobs/${descriptor.digest}`, scopes: pushScopes, followRedirects: true });
  head.discard();
  if (head.status === 200) {
    emit({ type: "layer", id, status: "Layer already exists" });
    return "exists";
  }
  if (head.status !== 404) throw await responseError(head, context.client.name, `blob ${descriptor.digest}`);

  let location: URL | undefined;
  const mountFrom = blobSources(context.layout, descriptor.digest)
    .map((source) => parseReference(source))
    .find((source) => source.domain === context.domain && source.path !== context.repositoryPath);
  if (mountFrom !== undefined) {
    const scopes = [...pushScopes, repositoryScope(mountFrom.path, ["pull"])];
    const query = new URLSearchParams({ mount: descriptor.digest, from: mountFrom.path });
    const response = await context.client.request({ method: "POST", path: `/v2/${context.repositoryPath}/blobs/uploads/?${query.toString()}`, scopes });
    if (response.status === 201) {
      response.discard();
      emit({ type: "layer", id, status: "Mounted from", detail: mountFrom.path });
      return "mounted";
    }
    // 202: the registry could not mount and opened an ordinary upload instead.
    if (response.status === 202) location = uploadLocation(context, response, `mount of blob ${descriptor.digest}`);
    else response.discard();
  }
  if (location === undefined) {
    const response = await context.client.request({ method: "POST", path: `/v2/${context.repositoryPath}/blobs/uploads/`, scopes: pushScopes });
    if (response.status !== 202) throw await responseError(response, context.client.name, `upload of blob ${descriptor.digest}`);
    location = uploadLocation(context, response, `upload of blob ${descriptor.digest}`);
  }
  emit({ type: "layer", id, status: "Pushing", current: 0, total: descriptor.size });
  await uploadBlob(context, location, descriptor, pushScopes, (current) => emit({ type: "layer", id, status: "Pushing", current, total: descriptor.size }));
  emit({ type: "layer", id, status: "Pushed" });
  return "uploaded";
}

/** The stored manifest to push: the one the tag names, or the platform manifest when the tag names an index. */
function manifestToPush(layout: StoreLayout, image: ImageRecord, manifestDigest: string): { stored: StoredManifest; bytes: Buffer; mediaType: string; descriptors: OciDescriptor[] } {
  const ordered = [...image.manifests].sort((a, b) => (a.digest === manifestDigest ? -1 : b.digest === manifestDigest ? 1 : 0));
  for (const stored of ordered) {
    const bytes = readBlob(layout, stored.digest);
    const decoded = decodeManifest(bytes, undefined, "", `manifest ${stored.digest}`);
    if (decoded.kind !== "manifest") continue;
    const manifest = decoded.manifest;
    const descriptors = [...manifest.layers, manifest.config];
    return { stored, bytes, mediaType: decoded.mediaType, descriptors };
  }
  throw new ImageError(ImageErrorCode.store, `image ${image.id} has no image manifest to push`, { object: `image ${image.id}` });
}

export async function pushImage(layout: StoreLayout, reference: string, options: PushOptions = {}): Promise<PushResult> {
  const environment = options.environment ?? process.env;
  const parsed = parseReference(reference);
  if (parsed.digest !== undefined) {
    throw new ImageError(ImageErrorCode.reference, `cannot push a digest reference (${reference}): push a tag`, { object: `reference ${reference}` });
  }
  const target = withDefaultTag(parsed);
  const tag = target.tag as string;
  const normalized = formatReference(target);
  const familiar = familiarString(target);
  const index = readIndex(layout);
  const manifestDigest = index.references[normalized];
  const image = manifestDigest === undefined ? undefined : imageOfManifest(index, manifestDigest);
  if (manifestDigest === undefined || image === undefined) {
    throw new ImageError(ImageErrorCode.notFound, `An image does not exist locally with the tag: ${familiarString({ ...target, tag: undefined })}`, {
      object: `image ${familiar}`,
      hint: "tag an image with `berth image tag SOURCE " + familiar + "` first",
    });
  }
  const chosen = manifestToPush(layout, image, manifestDigest);
  const emit = options.onProgress ?? ((): void => undefined);
  const repository = repositoryName(target);
  try {
    const hosts = readRegistryHosts(environment);
    const endpoint = upstreamEndpoint(hosts, target.domain);
    const credentials = await lookupCredentials(target.domain, environment);
    const client = new RegistryClient({ endpoint, hosts, credentials });
    const context: PushContext = {
      layout,
      client,
      repositoryPath: target.path,
      domain: target.domain,
      chunkSizeBytes: options.chunkSizeBytes ?? defaultChunkSizeBytes,
      emit,
    };
    emit({ type: "start", repository: familiarString({ ...target, tag: undefined }) });
    // Non-distributable (foreign) layers stay where their manifest says they live, as Docker leaves them.
    const blobs = chosen.descriptors.filter((descriptor) => !/nondistributable|foreign/.test(descriptor.mediaType));
    for (const descriptor of blobs) {
      const file = blobPath(layout, descriptor.digest);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new ImageError(ImageErrorCode.store, `blob ${descriptor.digest} of ${familiar} is missing from the store`, { hint: "pull or load the image again" });
      }
      if (size !== descriptor.size) throw new ImageError(ImageErrorCode.store, `blob ${descriptor.digest}: ${size} bytes stored, manifest says ${descriptor.size}`);
    }
    const layers = blobs.filter((descriptor) => isLayerType(descriptor.mediaType));
    emit({ type: "layers", layers: layers.map((layer) => ({ id: shortHex(layer.digest), size: layer.size })) });
    for (const layer of layers) emit({ type: "layer", id: shortHex(layer.digest), status: "Preparing" });
    await mapLimit(blobs, uploadConcurrency, (descriptor) => pushBlob(context, descriptor));

    const response = await client.request({
      method: "PUT",
      path: `/v2/${target.path}/manifests/${tag}`,
      headers: { "Content-Type": chosen.mediaType },
      body: chosen.bytes,
      scopes: [repositoryScope(target.path, ["pull", "push"])],
    });
    if (response.status !== 201 && response.status !== 200) throw await responseError(response, client.name, `manifest ${familiar}`);
    response.discard();
    const digest = sha256Of(chosen.bytes);
    const announced = response.header("docker-content-digest");
    if (announced !== undefined && announced !== digest) {
      throw protocolError(context, `manifest ${familiar}: the registry stored ${announced}, the manifest pushed is ${digest}`);
    }
    await recordBlobSources(layout, blobs.map((descriptor) => descriptor.digest), repository);
    await recordPushedRepository(layout, image.id, chosen.stored.digest, repository);
    return { reference: normalized, tag, digest, size: chosen.bytes.length };
  } catch (error) {
    throw contextualize(error, "push", familiar);
  }
}

/** The pushed manifest is now a registry's: RepoDigests show it for that repository, as after a docker push. */
async function recordPushedRepository(layout: StoreLayout, imageId: string, manifestDigest: string, repository: string): Promise<void> {
  await withLock(indexLockFile(layout), () => {
    const index = readIndex(layout);
    const image = index.images[imageId];
    if (image === undefined) return;
    const manifests = image.manifests.map((manifest) =>
      manifest.digest === manifestDigest
        ? { ...manifest, distributable: true, repositories: [...new Set([...(manifest.repositories ?? []), repository])].sort() }
        : manifest,
    );
    writeIndex(layout, { version: 1, references: index.references, images: { ...index.images, [imageId]: { ...image, manifests } } });
  });
}

