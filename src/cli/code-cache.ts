// The launcher's code caches (./launcher.ts): one file per command (dist/cache/<command>.v8), so
// that a small command does not deserialize the code of every command run before it. A file is
// a 4-byte length, a JSON header naming the bundle it was made from (size and mtime, because V8
// itself only checks the source's length) and the Node that made it, then V8's data. Pure but
// for reading and writing those files; every failure here only costs speed.

import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface CacheHeader {
  /** `<size>:<mtimeMs>` of the bundle the data was made from. */
  readonly bundle: string;
  readonly node: string;
}

export interface Cache {
  readonly header: CacheHeader;
  readonly data: Buffer;
}

/** Global options that take a value: their value is not a command word. */
const valueOptions = new Set(["-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile", "--progress"]);

/** Verbs whose next word names a subcommand (`container run`); after any other verb, words are arguments. */
const groupVerbs = new Set(["container", "image", "volume", "network", "system"]);

/**
 * The command words of argv (`container run`, `pull`), skipping global options and their values:
 * one word, or two after a group verb. Arguments and option values (`login -u carol`) are never
 * part of it, so the caches stay one per command.
 */
export function commandSignature(argv: readonly string[]): string {
  const words: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument.startsWith("-")) {
      if (words.length === 0 && valueOptions.has(argument)) index++;
      continue;
    }
    words.push(argument);
    if (words.length === 2 || !groupVerbs.has(words[0] as string)) break;
  }
  return words.join(" ");
}

/** dist/cache/<command>.v8 for a signature made of command words; undefined for anything else (an image name, a path). */
export function cacheFileFor(directory: string, signature: string): string | undefined {
  if (signature === "") return path.join(directory, "_.v8");
  if (!/^[a-z][a-z-]{0,30}( [a-z][a-z-]{0,30})?$/.test(signature)) return undefined;
  return path.join(directory, `${signature.replace(" ", "_")}.v8`);
}

export function encodeCache(cache: Cache): Buffer {
  const header = Buffer.from(JSON.stringify(cache.header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, cache.data]);
}

/** The cache in `bytes`, or undefined when it is not one (truncated, garbled). */
export function decodeCache(bytes: Buffer): Cache | undefined {
  if (bytes.length < 4) return undefined;
  const length = bytes.readUInt32LE(0);
  if (4 + length > bytes.length) return undefined;
  try {
    const header = JSON.parse(bytes.subarray(4, 4 + length).toString("utf8")) as CacheHeader;
    if (typeof header.bundle !== "string" || typeof header.node !== "string") return undefined;
    return { header, data: bytes.subarray(4 + length) };
  } catch {
    return undefined;
  }
}

/** The cache in `file` if it was made from this bundle by this Node. */
export function readCache(file: string, bundleId: string, node: string = process.version): Cache | undefined {
  let cache: Cache | undefined;
  try {
    cache = decodeCache(readFileSync(file));
  } catch {
    return undefined;
  }
  return cache !== undefined && cache.header.bundle === bundleId && cache.header.node === node ? cache : undefined;
}

/** Replaces `file` atomically (a temporary file, then rename); quietly does nothing where it cannot write. */
export function writeCache(file: string, cache: Cache): void {
  const temporary = `${file}.${process.pid}`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(temporary, encodeCache(cache));
    renameSync(temporary, file);
  } catch {
    // A read-only checkout, or dist/ rebuilt meanwhile: the next run tries again.
    try {
      unlinkSync(temporary);
    } catch {
      // never written
    }
  }
}
