// A small tar writer (ustar headers, PAX records for long names, big numbers and xattrs, or GNU
// long-name entries on request) and a tar indexer that finds each entry's content by offset
// without reading it. Used for `docker save` archives and for reading archives given to
// `berth image load`. Layers are never applied here: that is native/unpack's job.

import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import { ImageError, ImageErrorCode } from "./errors.js";

const block = 512;

export type TarEntryType = "file" | "directory" | "symlink" | "link" | "char" | "block" | "fifo";

const typeFlags: Record<TarEntryType, string> = {
  file: "0",
  link: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

export interface TarHeader {
  /** The path as written (no normalization: tests write hostile names on purpose). */
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
  /** Seconds since the epoch; fractions go to a PAX mtime record. */
  readonly mtime?: number;
  /** Hard link or symlink target. */
  readonly linkname?: string;
  /** Content size of a file (given when content comes from a file descriptor). */
  readonly size?: number;
  readonly deviceMajor?: number;
  readonly deviceMinor?: number;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records (values may be binary). */
  readonly xattrs?: Readonly<Record<string, string | Uint8Array>>;
  /** Extra raw PAX records, written as given. */
  readonly pax?: Readonly<Record<string, string | Uint8Array>>;
  /** How names and link names longer than ustar allows are written (default PAX). */
  readonly longNames?: "pax" | "gnu";
}

function octal(value: number, width: number): Buffer {
  const text = value.toString(8).padStart(width - 1, "0");
  if (text.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return Buffer.from(`${text}\0`, "latin1");
}

function fits(value: number | undefined, width: number): boolean {
  return value === undefined || (Number.isInteger(value) && value >= 0 && value < 8 ** (width - 1));
}

function paxRecord(key: string, value: string | Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), Buffer.from(value), Buffer.from("\n")]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** Splits a long name into ustar prefix (≤155 bytes) and name (≤100 bytes), if possible. */
function splitUstarName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let index = Math.min(name.length - 1, 155); index > 0; index--) {
    if (name[index] === 0x2f && name.length - index - 1 <= 100 && name.length - index - 1 > 0) {
      return { prefix: name.subarray(0, index), name: name.subarray(index + 1) };
    }
  }
  return undefined;
}

function encodeHeader(fields: {
  name: Buffer;
  prefix: Buffer;
  linkname: Buffer;
  typeFlag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  deviceMajor: number;
  deviceMinor: number;
}): Buffer {
  const header = Buffer.alloc(block);
  fields.name.subarray(0, 100).copy(header, 0);
  octal(fields.mode, 8).copy(header, 100);
  octal(fits(fields.uid, 8) ? fields.uid : 0, 8).copy(header, 108);
  octal(fits(fields.gid, 8) ? fields.gid : 0, 8).copy(header, 116);
  octal(fits(fields.size, 12) ? fields.size : 0, 12).copy(header, 124);
  octal(fits(fields.mtime, 12) ? fields.mtime : 0, 12).copy(header, 136);
  header.write("        ", 148, "latin1");
  header.write(fields.typeFlag, 156, "latin1");
  fields.linkname.subarray(0, 100).copy(header, 157);
  header.write("ustar\u000000", 257, "latin1");
  header.write(fields.uname.slice(0, 31), 265, "utf8");
  header.write(fields.gname.slice(0, 31), 297, "utf8");
  octal(fields.deviceMajor, 8).copy(header, 329);
  octal(fields.deviceMinor, 8).copy(header, 337);
  fields.prefix.subarray(0, 155).copy(header, 345);
  let sum = 0;
  for (const byte of header) sum += byte;
  Buffer.from(`${sum.toString(8).padStart(6, "0")}\0 `, "latin1").copy(header, 148);
  return header;
}

function padding(size: number): Buffer {
  return Buffer.alloc((block - (size % block)) % block);
}

/** Writes tar entries to a sink, synchronously. */
export class TarWriter {
  readonly #sink: (chunk: Uint8Array) => void;

  constructor(sink: (chunk: Uint8Array) => void) {
    this.#sink = sink;
  }

  /** A writer to a file descriptor (a pipe left non-blocking by someone else is waited on). */
  static toFd(fd: number): TarWriter {
    return new TarWriter((chunk) => {
      let offset = 0;
      while (offset < chunk.length) {
        try {
          offset += writeSync(fd, chunk, offset, chunk.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
        }
      }
    });
  }

  #writeHeaders(header: TarHeader, size: number): void {
    const nameBytes = Buffer.from(header.name, "utf8");
    const linkBytes = Buffer.from(header.linkname ?? "", "utf8");
    const longNames = header.longNames ?? "pax";
    const records: Buffer[] = [];
    let split = splitUstarName(nameBytes);
    let linkname = linkBytes;
    const mtime = header.mtime ?? 0;
    const uid = header.uid ?? 0;
    const gid = header.gid ?? 0;

    if (longNames === "gnu") {
      if (nameBytes.length > 100) {
        this.#writeGnuLong("L", nameBytes);
        split = { prefix: Buffer.alloc(0), name: nameBytes.subarray(0, 100) };
      }
      if (linkBytes.length > 100) {
        this.#writeGnuLong("K", linkBytes);
        linkname = linkBytes.subarray(0, 100);
      }
    } else {
      if (split === undefined) records.push(paxRecord("path", nameBytes));
      if (linkBytes.length > 100) records.push(paxRecord("linkpath", linkBytes));
    }
    if (split === undefined) split = { prefix: Buffer.alloc(0), name: nameBytes.subarray(0, 100) };
    if (!fits(uid, 8)) records.push(paxRecord("uid", String(uid)));
    if (!fits(gid, 8)) records.push(paxRecord("gid", String(gid)));
    if (!fits(size, 12)) records.push(paxRecord("size", String(size)));
    if (!Number.isInteger(mtime) || !fits(mtime, 12)) records.push(paxRecord("mtime", String(mtime)));
    for (const [key, value] of Object.entries(header.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${key}`, value));
    for (const [key, value] of Object.entries(header.pax ?? {})) records.push(paxRecord(key, value));
    if (records.length > 0) {
      const body = Buffer.concat(records);
      const paxName = Buffer.from(`PaxHeaders/${path.posix.basename(header.name) || "root"}`.slice(0, 99), "utf8");
      this.#sink(
        encodeHeader({
          name: paxName,
          prefix: Buffer.alloc(0),
          linkname: Buffer.alloc(0),
          typeFlag: "x",
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: body.length,
          mtime: 0,
          uname: "",
          gname: "",
          deviceMajor: 0,
          deviceMinor: 0,
        }),
      );
      this.#sink(body);
      this.#sink(padding(body.length));
    }
    this.#sink(
      encodeHeader({
        name: split.name,
        prefix: split.prefix,
        linkname,
        typeFlag: typeFlags[header.type],
        mode: header.mode ?? (header.type === "directory" ? 0o755 : header.type === "symlink" ? 0o777 : 0o644),
        uid,
        gid,
        size,
        mtime: Math.floor(mtime),
        uname: header.uname ?? "",
        gname: header.gname ?? "",
        deviceMajor: header.deviceMajor ?? 0,
        deviceMinor: header.deviceMinor ?? 0,
      }),
    );
  }

  #writeGnuLong(typeFlag: "L" | "K", value: Buffer): void {
    const body = Buffer.concat([value, Buffer.alloc(1)]);
    this.#sink(
      encodeHeader({
        name: Buffer.from("././@LongLink"),
        prefix: Buffer.alloc(0),
        linkname: Buffer.alloc(0),
        typeFlag,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
        uname: "root",
        gname: "root",
        deviceMajor: 0,
        deviceMinor: 0,
      }),
    );
    this.#sink(body);
    this.#sink(padding(body.length));
  }

  /** An entry with its content in memory (files only carry content). */
  add(header: TarHeader, content: Uint8Array = new Uint8Array()): void {
    const size = header.type === "file" ? content.length : 0;
    this.#writeHeaders(header, size);
    if (size > 0) {
      this.#sink(content);
      this.#sink(padding(size));
    }
  }

  /** A file entry whose content is copied from a file, in chunks. */
  addFile(header: Omit<TarHeader, "type" | "size">, sourcePath: string): void {
    const fd = openSync(sourcePath, "r");
    try {
      const size = fstatSync(fd).size;
      this.#writeHeaders({ ...header, type: "file" }, size);
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      let copied = 0;
      while (copied < size) {
        const count = readSync(fd, buffer, 0, Math.min(buffer.length, size - copied), copied);
        if (count === 0) throw new Error(`tar: ${sourcePath} shrank while being archived`);
        this.#sink(buffer.subarray(0, count));
        copied += count;
      }
      this.#sink(padding(size));
    } finally {
      closeSync(fd);
    }
  }

  /** The end-of-archive marker: two zero blocks. */
  finish(): void {
    this.#sink(Buffer.alloc(block * 2));
  }
}

/** A whole tar archive in memory (tests, small metadata archives). */
export function tarBuffer(entries: readonly { readonly header: TarHeader; readonly content?: Uint8Array }[]): Buffer {
  const chunks: Uint8Array[] = [];
  const writer = new TarWriter((chunk) => chunks.push(Buffer.from(chunk)));
  for (const entry of entries) writer.add(entry.header, entry.content);
  writer.finish();
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- reading

export interface TarIndexEntry {
  /** Normalized: no leading `./` or `/`, no trailing `/`. */
  readonly name: string;
  readonly type: TarEntryType | "other";
  /** Byte offset of the content in the archive. */
  readonly offset: number;
  readonly size: number;
  readonly linkname: string;
}

function cString(buffer: Buffer, start: number, length: number): string {
  const field = buffer.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
}

function parseNumber(buffer: Buffer, start: number, length: number): number {
  const first = buffer[start] ?? 0;
  if (first & 0x80) {
    let value = first & 0x7f;
    for (let index = 1; index < length; index++) value = value * 256 + (buffer[start + index] ?? 0);
    return value;
  }
  const text = cString(buffer, start, length).trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let position = 0;
  while (position < body.length) {
    const space = body.indexOf(0x20, position);
    if (space === -1) break;
    const length = Number.parseInt(body.subarray(position, space).toString("latin1"), 10);
    if (!Number.isInteger(length) || length <= 0 || position + length > body.length) break;
    const record = body.subarray(space + 1, position + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals > 0) records.set(record.subarray(0, equals).toString("utf8"), record.subarray(equals + 1).toString("utf8"));
    position += length;
  }
  return records;
}

/** `./a/b/` → `a/b`; undefined for names that climb out of the archive. */
export function normalizeArchiveName(name: string): string | undefined {
  const normalized = path.posix.normalize(`/${name}`).replace(/\/+$/, "").slice(1);
  if (normalized.split("/").includes("..")) return undefined;
  return normalized;
}

const entryTypes: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "directory",
  "6": "fifo",
};

/** Lists the entries of a tar archive (uncompressed) by reading only its headers. */
export function indexTar(fd: number, archiveName: string): Map<string, TarIndexEntry> {
  const entries = new Map<string, TarIndexEntry>();
  const header = Buffer.alloc(block);
  const archiveSize = fstatSync(fd).size;
  let position = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  const corrupt = (why: string): ImageError =>
    new ImageError(ImageErrorCode.archive, `${archiveName}: not a valid tar archive (${why} at byte ${position})`, {
      object: `archive ${archiveName}`,
    });
  for (;;) {
    const count = readSync(fd, header, 0, block, position);
    if (count === 0) break;
    if (count < block) throw corrupt("truncated header");
    if (header.every((byte) => byte === 0)) break;
    let sum = 0;
    for (let index = 0; index < block; index++) sum += index >= 148 && index < 156 ? 0x20 : (header[index] ?? 0);
    if (parseNumber(header, 148, 8) !== sum) throw corrupt("bad header checksum");
    const typeFlag = String.fromCharCode(header[156] ?? 0);
    const sizeField = parseNumber(header, 124, 12);
    const metadata = typeFlag === "x" || typeFlag === "g" || typeFlag === "L" || typeFlag === "K";
    const size = !metadata && pax.has("size") ? Number(pax.get("size")) : sizeField;
    const contentOffset = position + block;
    if (contentOffset + size > archiveSize) throw corrupt("entry extends past the end of the archive");
    position = contentOffset + Math.ceil(size / block) * block;
    if (metadata) {
      if (size > 16 * 1024 * 1024) throw corrupt("metadata entry too large");
      const body = Buffer.alloc(size);
      readSync(fd, body, 0, size, contentOffset);
      if (typeFlag === "x") pax = new Map([...pax, ...parsePax(body)]);
      else if (typeFlag === "L") longName = cString(body, 0, body.length);
      else if (typeFlag === "K") longLink = cString(body, 0, body.length);
      continue;
    }
    const ustar = header.subarray(257, 263).toString("latin1") === "ustar\0";
    const prefix = ustar ? cString(header, 345, 155) : "";
    const rawName = pax.get("path") ?? longName ?? (prefix === "" ? cString(header, 0, 100) : `${prefix}/${cString(header, 0, 100)}`);
    const linkname = pax.get("linkpath") ?? longLink ?? cString(header, 157, 100);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    let type: TarEntryType | "other" = entryTypes[typeFlag] ?? "other";
    if (type === "file" && rawName.endsWith("/")) type = "directory";
    const name = normalizeArchiveName(rawName);
    if (name === undefined) continue;
    entries.set(name, { name, type, offset: contentOffset, size: type === "file" ? size : 0, linkname });
  }
  return entries;
}
