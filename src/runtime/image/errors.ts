// The image store's error codes. Library code throws these; src/cli renders them.

import { BerthError, type BerthErrorOptions } from "../../errors.js";

export const ImageErrorCode = {
  /** `No such image: <ref>`. */
  notFound: "E_IMAGE_NOT_FOUND",
  /** A reference that Docker's grammar rejects. */
  reference: "E_IMAGE_REFERENCE",
  /** Removal refused: in use, or referenced in several repositories. */
  conflict: "E_IMAGE_CONFLICT",
  /** A blob or layer whose sha256 is not the one its descriptor or the image config names. */
  digest: "E_IMAGE_DIGEST",
  /** A layer entry that would escape the layer directory, or is otherwise refused as hostile. */
  layerUnsafe: "E_IMAGE_LAYER_UNSAFE",
  /** A layer that could not be applied (corrupt tar or compression, I/O). */
  layer: "E_IMAGE_LAYER",
  /** An archive that is neither an OCI image layout nor a `docker save` archive, or is incomplete. */
  archive: "E_IMAGE_ARCHIVE",
  /** The store on disk is inconsistent (missing blob, unreadable record). */
  store: "E_IMAGE_STORE",
  /** The native layer applier is missing (not built). */
  unpacker: "E_IMAGE_UNPACKER",
  /** The registry has no repository of that name (NAME_UNKNOWN). */
  registryNameUnknown: "E_REGISTRY_NAME_UNKNOWN",
  /** The registry has no manifest for that tag or digest (MANIFEST_UNKNOWN). */
  registryManifestUnknown: "E_REGISTRY_MANIFEST_UNKNOWN",
  /** A manifest list or index without an entry for the requested platform. */
  registryPlatform: "E_REGISTRY_PLATFORM",
  /** Authentication required, refused, or the token server failed (401). */
  registryUnauthorized: "E_REGISTRY_UNAUTHORIZED",
  /** Authenticated but not allowed (403, DENIED). */
  registryDenied: "E_REGISTRY_DENIED",
  /** The TLS handshake or certificate check failed. */
  registryTls: "E_REGISTRY_TLS",
  /** Connection refused, reset, timed out, or the host unknown. */
  registryConnection: "E_REGISTRY_CONNECTION",
  /** An answer the protocol does not allow (unexpected status, malformed manifest, bad upload). */
  registryProtocol: "E_REGISTRY_PROTOCOL",
  /** The registry does not offer what was asked (no /v2/_catalog for search). */
  registryUnsupported: "E_REGISTRY_UNSUPPORTED",
  /** registries.json or $BERTH_REGISTRY_MIRRORS is malformed, or names plain HTTP for a remote host. */
  registryConfig: "E_REGISTRY_CONFIG",
  /** ~/.docker/config.json or a credential helper failed. */
  registryCredentials: "E_REGISTRY_CREDENTIALS",
} as const;
export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

export interface ImageErrorOptions extends BerthErrorOptions {
  /** What the error is about: `layer sha256:…`, `blob sha256:…`, `archive /tmp/x.tar`. */
  readonly object?: string;
}

export class ImageError extends BerthError {
  readonly object: string | undefined;

  constructor(code: ImageErrorCode, message: string, options: ImageErrorOptions = {}) {
    super(code, message, options);
    this.name = "ImageError";
    this.object = options.object;
  }
}

/** A registry failure: the reference and the registry it is about, and why, in one line. */
export class RegistryError extends ImageError {
  /** `127.0.0.1:5000`, `docker.io`: the registry (or mirror) that answered. */
  readonly registry: string;
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;

  constructor(code: ImageErrorCode, message: string, options: ImageErrorOptions & { readonly registry: string; readonly status?: number }) {
    super(code, message, options);
    this.name = "RegistryError";
    this.registry = options.registry;
    this.status = options.status;
  }
}

export function noSuchImage(reference: string): ImageError {
  return new ImageError(ImageErrorCode.notFound, `No such image: ${reference}`, { object: `image ${reference}` });
}
