// `volumes` of a service: the short syntax `SRC:DST[:MODE]` becomes the long syntax as
// compose-go's format/volume.go (ParseVolume) and transform/volume.go build it: a source
// starting with `.`, `/` or `~` (or a Windows drive) is a bind with `create_host_path: true`,
// anything else a named volume (`volume: {}`), a lone path an anonymous volume; modes `ro`/`rw`,
// `nocopy`, SELinux `z`/`Z` and bind propagation are read, other modes (`cached`,
// `delegated`, `consistent`) are ignored as Compose ignores them. Targets are path-cleaned
// (loader/normalize.go).

import { isMapping, type Mapping } from "./document.js";
import { normalizeError, type NormalizeScope } from "./normalize-tree.js";
import { typeName } from "./normalize-ports.js";

const propagations = new Set(["rprivate", "private", "rshared", "shared", "rslave", "slave"]);

/** `services.*.volumes.*`. */
export function canonicalVolume(value: unknown, path: string, scope: NormalizeScope): unknown {
  if (isMapping(value)) {
    const target = value["target"];
    if (typeof target !== "string") return value;
    const cleaned = target === "" ? "" : cleanPath(target);
    return cleaned === target ? value : { ...value, target: cleaned };
  }
  if (typeof value !== "string") throw normalizeError(scope, path, `${path}: invalid type ${typeName(value)} for service volume mount`);
  try {
    return parseVolumeSpec(value);
  } catch (error) {
    throw normalizeError(scope, path, (error as Error).message);
  }
}

/** One short volume spec → its long form. */
export function parseVolumeSpec(spec: string): Mapping {
  if (spec.length === 0) throw new Error("invalid empty volume spec");
  if (spec.length <= 2) return { type: "volume", target: spec };
  let source = "";
  let target = "";
  let readOnly = false;
  let nocopy = false;
  let selinux: string | undefined;
  let propagation: string | undefined;
  const sections = volumeSections(spec);
  for (let index = 0; index < sections.length; index++) {
    const section = sections[index] as string;
    const atEnd = index === sections.length - 1;
    if (section === "") throw invalidSpec(spec, "empty section between colons");
    if (source === "" && atEnd) target = section;
    else if (source === "") source = section;
    else if (target === "") target = section;
    else if (!atEnd) throw invalidSpec(spec, "too many colons");
    else {
      const options = section.split(",");
      for (let optionIndex = 0; optionIndex < options.length; optionIndex++) {
        const option = options[optionIndex] as string;
        if (option === "ro") readOnly = true;
        else if (option === "rw") readOnly = false;
        else if (option === "nocopy") nocopy = true;
        else if (option === "z" || option === "Z") selinux = option;
        else if (propagations.has(option)) propagation = option;
        // Anything else (cached, delegated, consistent, …) is ignored, as Compose does.
      }
    }
  }

  const volume: Mapping = {};
  const isBind = isFilePath(source);
  volume["type"] = isBind ? "bind" : "volume";
  if (source !== "") volume["source"] = source;
  volume["target"] = target === "" ? "" : cleanPath(target);
  if (readOnly) volume["read_only"] = true;
  if (isBind || selinux !== undefined || propagation !== undefined) {
    const bind: Mapping = {};
    if (selinux !== undefined) bind["selinux"] = selinux;
    if (propagation !== undefined) bind["propagation"] = propagation;
    if (isBind) bind["create_host_path"] = true;
    volume["bind"] = bind;
  }
  if (!isBind || nocopy) volume["volume"] = nocopy ? { nocopy: true } : {};
  return volume;
}

function invalidSpec(spec: string, reason: string): Error {
  return new Error(`invalid spec: ${spec}: ${reason}`);
}

/** `source:target[:options]` with two-character sections at least, and no `${`: what most specs look like. */
const simpleVolumeSpec = /^([^:$]{2,}):([^:$]{2,})(?::([^:$]+))?$/;

/**
 * The colon-separated sections of a spec, as compose-go's ParseVolume reads them: a colon inside
 * `${…}` separates nothing, and neither does a Windows drive's (`C:`, a one-letter section).
 * Sections may be empty; parseVolumeSpec refuses them.
 */
function volumeSections(spec: string): string[] {
  // The common case in one match: no `${`, and no one-letter section that could be a drive.
  const simple = simpleVolumeSpec.exec(spec);
  if (simple !== null) return simple[3] === undefined ? [simple[1] as string, simple[2] as string] : [simple[1] as string, simple[2] as string, simple[3]];
  const sections: string[] = [];
  let buffer = "";
  let substitutionDepth = 0;
  // By code point.
  const chars = [...spec];
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index] as string;
    // `${VAR:-a:b}` survives uninterpolated (config --no-interpolate): its colons are not separators.
    if (char === "$" && chars[index + 1] === "{") {
      substitutionDepth++;
      buffer += char;
      continue;
    }
    if (char === "}" && substitutionDepth > 0) {
      substitutionDepth--;
      buffer += char;
      continue;
    }
    if (char === ":" && buffer.length === 1 && /^\p{L}$/u.test(buffer)) buffer += char; // Windows drive `C:`
    else if (char === ":" && substitutionDepth === 0) {
      sections.push(buffer);
      buffer = "";
    } else buffer += char;
  }
  sections.push(buffer);
  return sections;
}

function isFilePath(source: string): boolean {
  if (source === "") return false;
  const first = source.charAt(0);
  if (first === "." || first === "/" || first === "~") return true;
  if (source.startsWith("\\\\")) return true; // Windows named pipe
  const chars: ArrayLike<string> = surrogate.test(source) ? [...source] : source;
  return chars.length > 1 && /^\p{L}$/u.test(chars[0] ?? "") && chars[1] === ":";
}

const surrogate = /[\uD800-\uDFFF]/;
const cleanSlashPath = /^\/?(?:[^/]+\/)*[^/]+$/;
const dotSegment = /(?:^|\/)\.\.?(?:\/|$)/;

/** Go's path.Clean: the shortest equivalent slash path. */
export function cleanPath(path: string): string {
  if (path === "") return ".";
  // Already clean (`/data`, `srv/www`): no empty, `.` or `..` segment, no trailing slash.
  if (cleanSlashPath.test(path) && !dotSegment.test(path)) return path;
  const rooted = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join("/");
  if (rooted) return `/${joined}`;
  return joined === "" ? "." : joined;
}

