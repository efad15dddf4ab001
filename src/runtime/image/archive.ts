// What `berth image load` reads from: a directory (an OCI image layout) or a tar archive (an OCI
// layout, a `docker save` archive, either possibly gzip- or zstd-compressed). Both are seen
// through one interface that names members by their path inside the archive. Member names come
// from untrusted JSON (manifest.json), so every lookup is confined to the archive.

import { closeSync, fstatSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { ImageError, ImageErrorCode } from "./errors.js";
import { indexTar, normalizeArchiveName, type TarIndexEntry } from "./tar.js";
import { decompressLayer } from "./unpacker.js";

/** A member's bytes: `size` bytes of `fd` from `offset`. The fd stays owned by the source. */
export interface MemberRange {
  readonly fd: number;
  readonly offset: number;
  readonly size: number;
}

export interface ArchiveSource {
  readonly description: string;
  has(name: string): boolean;
  /** A member's content, refused when larger than `limit` bytes. */
  read(name: string, limit: number): Buffer;
  range(name: string): MemberRange;
  close(): void;
}

function archiveError(source: string, message: string): ImageError {
  return new ImageError(ImageErrorCode.archive, `${source}: ${message}`, { object: `archive ${source}` });
}

function readRange(range: MemberRange, limit: number, source: string, name: string): Buffer {
  if (range.size > limit) throw archiveError(source, `${name} is larger than ${limit} bytes`);
  const buffer = Buffer.alloc(range.size);
  let done = 0;
  while (done < range.size) {
    const count = readSync(range.fd, buffer, done, range.size - done, range.offset + done);
    if (count === 0) throw archiveError(source, `${name} is truncated`);
    done += count;
  }
  return buffer;
}

class DirectorySource implements ArchiveSource {
  readonly description: string;
  readonly #root: string;
  readonly #open = new Map<string, number>();

  constructor(directory: string) {
    this.description = directory;
    this.#root = realpathSync(directory);
  }

  #resolve(name: string): string | undefined {
    const normalized = normalizeArchiveName(name);
    if (normalized === undefined || normalized === "") return undefined;
    try {
      const real = realpathSync(path.join(this.#root, normalized));
      if (!real.startsWith(`${this.#root}${path.sep}`)) return undefined;
      return statSync(real).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }

  has(name: string): boolean {
    return this.#resolve(name) !== undefined;
  }

  range(name: string): MemberRange {
    const file = this.#resolve(name);
    if (file === undefined) throw archiveError(this.description, `${name} is missing`);
    let fd = this.#open.get(file);
    if (fd === undefined) {
      fd = openSync(file, "r");
      this.#open.set(file, fd);
    }
    return { fd, offset: 0, size: fstatSync(fd).size };
  }

  read(name: string, limit: number): Buffer {
    return readRange(this.range(name), limit, this.description, name);
  }

  close(): void {
    for (const fd of this.#open.values()) closeSync(fd);
    this.#open.clear();
  }
}

class TarSource implements ArchiveSource {
  readonly description: string;
  readonly #fd: number;
  readonly #entries: Map<string, TarIndexEntry>;
  readonly #cleanup: () => void;

  constructor(description: string, fd: number, cleanup: () => void) {
    this.description = description;
    this.#fd = fd;
    this.#cleanup = cleanup;
    try {
      this.#entries = indexTar(fd, description);
    } catch (error) {
      closeSync(fd);
      cleanup();
      throw error;
    }
  }

  /** Follows hard links and symlinks (docker save links identical layers) inside the archive. */
  #resolve(name: string): TarIndexEntry | undefined {
    let key = normalizeArchiveName(name);
    for (let depth = 0; key !== undefined && depth < 16; depth++) {
      const entry = this.#entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.type === "file") return entry;
      if (entry.type === "link") key = normalizeArchiveName(entry.linkname);
      else if (entry.type === "symlink") {
        key = entry.linkname.startsWith("/")
          ? normalizeArchiveName(entry.linkname)
          : normalizeArchiveName(path.posix.join(path.posix.dirname(entry.name), entry.linkname));
      } else return undefined;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.#resolve(name) !== undefined;
  }

  range(name: string): MemberRange {
    const entry = this.#resolve(name);
    if (entry === undefined) throw archiveError(this.description, `${name} is missing`);
    return { fd: this.#fd, offset: entry.offset, size: entry.size };
  }

  read(name: string, limit: number): Buffer {
    return readRange(this.range(name), limit, this.description, name);
  }

  close(): void {
    closeSync(this.#fd);
    this.#cleanup();
  }
}

function compressionOf(file: string): "gzip" | "zstd" | undefined {
  const fd = openSync(file, "r");
  try {
    const magic = Buffer.alloc(4);
    const count = readSync(fd, magic, 0, 4, 0);
    if (count >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) return "gzip";
    if (count >= 4 && magic.readUInt32LE(0) === 0xfd2fb528) return "zstd";
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Opens `file` (a directory or a tar, possibly compressed) for reading members. */
export async function openArchive(file: string, stagingDirectory: string): Promise<ArchiveSource> {
  let status;
  try {
    status = statSync(file);
  } catch (error) {
    throw archiveError(file, `cannot open: ${(error as Error).message}`);
  }
  if (status.isDirectory()) return new DirectorySource(file);
  if (!status.isFile()) throw archiveError(file, "not a file or directory");
  if (compressionOf(file) === undefined) return new TarSource(file, openSync(file, "r"), () => {});
  // A compressed archive: members need random access, so decompress it once into staging.
  const directory = mkdtempSync(path.join(stagingDirectory, "archive-"));
  const plain = path.join(directory, "archive.tar");
  try {
    await decompressLayer(file, plain, file);
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw archiveError(file, `cannot decompress: ${(error as Error).message}`);
  }
  return new TarSource(file, openSync(plain, "r"), () => rmSync(directory, { recursive: true, force: true }));
}
