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

export function noSuchImage(reference: string): ImageError {
  return new ImageError(ImageErrorCode.notFound, `No such image: ${reference}`, { object: `image ${reference}` });
}
