// One table per Compose struct, shared by the binder (document → model) and the serializer
// (model → `docker compose config`): each row names the Compose key, the model field and a
// codec that decodes the normalized value and encodes it back as Compose prints it. Rows are
// in Compose's output order (compose-go types/*.go field order, v2.9.1 as Docker Compose
// v2.40 ships it); `Fields<T>` makes the compiler check that every model field has a row of
// the right type, so a new attribute costs one row.

import type { Environment } from "./context.js";
import { indexSuffix, isMapping, joinPath, type Mapping } from "./document.js";
import type {
  BindOptions,
  BlkioConfig,
  Build,
  Config,
  CredentialSpec,
  DependsOn,
  DependsOnCondition,
  Deploy,
  Develop,
  DeviceMapping,
  DeviceRequest,
  Extensions,
  ExtendsReference,
  FileReference,
  GenericResource,
  Healthcheck,
  ImageMountOptions,
  Ipam,
  IpamPool,
  Logging,
  Model,
  Mount,
  MountType,
  Network,
  NullableStringMap,
  Placement,
  PortMapping,
  PortMode,
  PortProtocol,
  Provider,
  Resource,
  Resources,
  RestartPolicy,
  Secret,
  Service,
  ServiceHook,
  ServiceModel,
  ServiceNetwork,
  SshKey,
  StringMap,
  ThrottleDevice,
  TmpfsOptions,
  Ulimit,
  UpdateConfig,
  Volume,
  VolumeOptions,
  WatchRule,
} from "./model.js";
import {
  compareBytes,
  compareKeys,
  formatDuration,
  goScalarString,
  parseByteSize,
  parseDuration,
  splitShellWords,
  toFloat32,
} from "./units.js";

export type OutputFormat = "yaml" | "json";

/** What decoding may use: a way to fail at a path, and the project environment. */
export interface DecodeScope {
  fail(path: string, message: string): never;
  readonly environment: Environment;
}

export interface Codec<V> {
  /** `value` is undefined when the key is absent. */
  decode(value: unknown, path: string, scope: DecodeScope): V;
  /** undefined: the key is omitted. */
  encode(value: V, format: OutputFormat): unknown;
}

export interface Field<V> {
  readonly key: string;
  /** The key Go's encoding/json uses when it differs (untagged struct fields). */
  readonly jsonKey?: string;
  readonly codec: Codec<V>;
  /** What JSON prints when the value is absent (Go fields without `omitempty` in their json tag). */
  readonly jsonWhenAbsent?: unknown;
}

export type Fields<T> = { readonly [K in keyof T]-?: Field<T[K]> };

/** Sort mapping keys as the output format does (yaml.v3 natural order, or JSON byte order). */
export function sortedKeys(keys: readonly string[], format: OutputFormat): string[] {
  return [...keys].sort(format === "json" ? compareBytes : compareKeys);
}

function field<V>(key: string, codec: Codec<V>, extra: { jsonKey?: string; jsonWhenAbsent?: unknown } = {}): Field<V> {
  return { key, codec, ...extra };
}

// ---------------------------------------------------------------- scalar codecs

function scalarText(value: unknown, path: string, scope: DecodeScope): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return goScalarString(value);
  return scope.fail(path, `${path} must be a string`);
}

/** A string that Compose omits when empty. */
export const text: Codec<string | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    const decoded = scalarText(value, path, scope);
    return decoded === "" ? undefined : decoded;
  },
  encode: (value) => (value === undefined || value === "" ? undefined : value),
};

/** A string that is always present (`fallback` when absent) and always printed. */
function requiredText(fallback: string): Codec<string> {
  return {
    decode: (value, path, scope) => (value === undefined || value === null ? fallback : scalarText(value, path, scope)),
    encode: (value) => value,
  };
}

function parseBoolean(value: unknown, path: string, scope: DecodeScope): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
    if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  }
  return scope.fail(path, `${path} must be a boolean`);
}

/** A boolean Compose prints only when true. */
export const flag: Codec<boolean> = {
  decode: (value, path, scope) => (value === undefined || value === null ? false : parseBoolean(value, path, scope)),
  encode: (value) => (value ? true : undefined),
};

/** A boolean that is printed whenever set (Go `*bool`). */
export const optionalFlag: Codec<boolean | undefined> = {
  decode: (value, path, scope) => (value === undefined || value === null ? undefined : parseBoolean(value, path, scope)),
  encode: (value) => value,
};

/** A boolean that is always printed (Go `bool` without omitempty). */
const requiredFlag = (fallback: boolean): Codec<boolean> => ({
  decode: (value, path, scope) => (value === undefined || value === null ? fallback : parseBoolean(value, path, scope)),
  encode: (value) => value,
});

function parseInteger(value: unknown, path: string, scope: DecodeScope): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^[-+]?[0-9]+$/.test(value.trim())) return Number(value.trim());
  return scope.fail(path, `${path} must be an integer`);
}

/** An integer Compose omits when 0. */
export const integer: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    const decoded = parseInteger(value, path, scope);
    return decoded === 0 ? undefined : decoded;
  },
  encode: (value) => (value === undefined || value === 0 ? undefined : value),
};

/** An integer printed whenever set, 0 included (Go `*int`). */
export const pointerInteger: Codec<number | undefined> = {
  decode: (value, path, scope) => (value === undefined || value === null ? undefined : parseInteger(value, path, scope)),
  encode: (value) => value,
};

function parseFloatValue(value: unknown, path: string, scope: DecodeScope): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return scope.fail(path, `${path} must be a number`);
}

/** A Go float32 that Compose omits when 0 (`cpus`, `cpu_percent`, `max_failure_ratio`). */
export const float32: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    const decoded = toFloat32(parseFloatValue(value, path, scope));
    if (!Number.isFinite(decoded)) return scope.fail(path, `${path}: value out of range`);
    return decoded === 0 ? undefined : decoded;
  },
  encode: (value) => (value === undefined || value === 0 ? undefined : value),
};

function parseDurationValue(value: unknown, path: string, scope: DecodeScope): number {
  try {
    return parseDuration(goScalarString(value));
  } catch (error) {
    return scope.fail(path, `${path}: ${(error as Error).message}`);
  }
}

/** A duration printed whenever set (Go `*Duration`), in nanoseconds. */
export const duration: Codec<number | undefined> = {
  decode: (value, path, scope) => (value === undefined || value === null ? undefined : parseDurationValue(value, path, scope)),
  encode: (value) => (value === undefined ? undefined : formatDuration(value)),
};

/** A duration Compose omits when 0 (Go `Duration` with omitempty). */
export const durationOmitZero: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    const decoded = parseDurationValue(value, path, scope);
    return decoded === 0 ? undefined : decoded;
  },
  encode: (value) => (value === undefined || value === 0 ? undefined : formatDuration(value)),
};

/** A byte size (Go `UnitBytes`): `512m` → bytes; Compose prints it as a decimal string, omitted when 0. */
export const byteSize: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    let decoded: number | undefined;
    if (typeof value === "number") decoded = Number.isInteger(value) ? value : undefined;
    else if (typeof value === "string") {
      try {
        decoded = parseByteSize(value);
      } catch (error) {
        return scope.fail(path, `${path}: ${(error as Error).message}`);
      }
    } else return scope.fail(path, `${path} must be a size`);
    return decoded === 0 ? undefined : decoded;
  },
  encode: (value) => (value === undefined || value === 0 ? undefined : String(value)),
};

/** A file mode: `"0440"` (octal text) or a number; printed as `"0440"`. */
export const fileMode: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number" && Number.isInteger(value)) return value;
    if (typeof value === "string" && /^[0-7]+$/.test(value)) return Number.parseInt(value, 8);
    return scope.fail(path, `${path}: invalid file mode ${goScalarString(value)}`);
  },
  encode: (value) => (value === undefined ? undefined : `0${value.toString(8)}`),
};

// ---------------------------------------------------------------- list and map codecs

function listOf<V>(element: Codec<V>, options: { acceptString?: boolean } = {}): Codec<readonly V[]> {
  return {
    decode(value, path, scope) {
      if (value === undefined || value === null) return [];
      if (options.acceptString === true && typeof value === "string") return [element.decode(value, path, scope)];
      if (!Array.isArray(value)) return scope.fail(path, `${path} must be a list`);
      const result: V[] = [];
      for (let index = 0; index < value.length; index++) result.push(element.decode(value[index], path + indexSuffix(index), scope));
      return result;
    },
    encode(value, format) {
      if (value.length === 0) return undefined;
      return value.map((item) => element.encode(item, format) ?? null);
    },
  };
}

const listItemText: Codec<string> = {
  decode: (value, path, scope) => (value === null || value === undefined ? "" : scalarText(value, path, scope)),
  encode: (value) => value,
};

/** `[]string`: a list of strings. */
export const stringList = listOf(listItemText);
/** `StringList`: one string or a list of strings. */
export const stringOrList = listOf(listItemText, { acceptString: true });

/** `Mapping`, `Labels`, `Options`: a map (or a `KEY=VALUE` list) of strings; null and `KEY` alone are "". */
export const stringMap: Codec<StringMap> = {
  decode(value, path, scope) {
    const result: Record<string, string> = {};
    if (value === undefined || value === null) return result;
    if (Array.isArray(value)) {
      for (const entry of value) {
        const entryText = goScalarString(entry);
        const equals = entryText.indexOf("=");
        if (equals < 0) result[entryText] = "";
        else result[entryText.slice(0, equals)] = entryText.slice(equals + 1);
      }
      return result;
    }
    if (!isMapping(value)) return scope.fail(path, `${path} must be a mapping`);
    for (const key in value) {
      const entry = value[key];
      result[key] = entry === null || entry === undefined ? "" : goScalarString(entry);
    }
    return result;
  },
  encode(value, format) {
    const keys = Object.keys(value);
    if (keys.length === 0) return undefined;
    const result: Record<string, string> = {};
    for (const key of sortedKeys(keys, format)) result[key] = value[key] ?? "";
    return result;
  },
};

/** `MappingWithEquals` (`environment`, `build.args`): null means declared without a value. */
export const nullableStringMap: Codec<NullableStringMap> = {
  decode(value, path, scope) {
    const result: Record<string, string | null> = {};
    if (value === undefined || value === null) return result;
    if (Array.isArray(value)) {
      for (const entry of value) {
        const entryText = goScalarString(entry);
        const equals = entryText.indexOf("=");
        if (equals < 0) result[entryText] = null;
        else result[entryText.slice(0, equals)] = entryText.slice(equals + 1);
      }
      return result;
    }
    if (!isMapping(value)) return scope.fail(path, `${path} must be a mapping`);
    for (const key in value) {
      const entry = value[key];
      result[key] = entry === null || entry === undefined ? null : goScalarString(entry);
    }
    return result;
  },
  encode(value, format) {
    const keys = Object.keys(value);
    if (keys.length === 0) return undefined;
    const result: Record<string, string | null> = {};
    for (const key of sortedKeys(keys, format)) result[key] = value[key] ?? null;
    return result;
  },
};

/** A map of structs keyed by user names, printed in key order; null values allowed when `nullable`. */
function mapOf<V>(element: Codec<V>): Codec<Readonly<Record<string, V>>> {
  return {
    decode(value, path, scope) {
      const result: Record<string, V> = {};
      if (value === undefined || value === null) return result;
      if (!isMapping(value)) return scope.fail(path, `${path} must be a mapping`);
      for (const key in value) result[key] = element.decode(value[key], joinPath(path, key), scope);
      return result;
    },
    encode(value, format) {
      const keys = Object.keys(value);
      if (keys.length === 0) return undefined;
      const result: Mapping = {};
      for (const key of sortedKeys(keys, format)) result[key] = element.encode(value[key] as V, format) ?? null;
      return result;
    },
  };
}

/** A struct that may be null (`networks: {front: null}`). */
function nullable<V>(codec: Codec<V | undefined>): Codec<V | null> {
  return {
    decode: (value, path, scope) => (value === null || value === undefined ? null : (codec.decode(value, path, scope) ?? null)),
    encode: (value, format) => (value === null ? null : codec.encode(value, format)),
  };
}

/** `extra_hosts`: `host=ip`, `host:ip` (list) or `{host: ip | [ips]}` → host → addresses. */
export const extraHosts: Codec<Readonly<Record<string, readonly string[]>>> = {
  decode(value, path, scope) {
    const result: Record<string, string[]> = {};
    if (value === undefined || value === null) return result;
    if (Array.isArray(value)) {
      value.forEach((entry, index) => {
        const entryText = goScalarString(entry);
        const separator = entryText.includes("=") ? "=" : entryText.includes(":") ? ":" : undefined;
        if (separator === undefined) scope.fail(joinPath(path, index), `invalid additional host, missing IP: ${entryText}`);
        const at = entryText.indexOf(separator ?? "=");
        const host = entryText.slice(0, at);
        (result[host] ??= []).push(...entryText.slice(at + 1).split(","));
      });
    } else if (isMapping(value)) {
      for (const [host, entry] of Object.entries(value)) {
        if (Array.isArray(entry)) {
          result[host] = entry.map((item, index) =>
            item !== null && typeof item === "object" ? scope.fail(joinPath(joinPath(path, host), index), `unexpected value type for extra_hosts entry`) : goScalarString(item),
          );
        }
        // Compose keeps `a,b` as one address here but splits it when it reads its own output back.
        else if (entry === null || typeof entry === "string") result[host] = (entry ?? "").split(",");
        else scope.fail(joinPath(path, host), `unexpected value type for extra_hosts entry`);
      }
    } else return scope.fail(path, `${path}: unexpected value type for extra_hosts`);
    for (const [host, addresses] of Object.entries(result)) {
      if (host === "" || host.includes(":") || host.includes("=")) scope.fail(path, `bad host name '${host}'`);
      result[host] = addresses.map((address) => (address.length > 2 && address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address));
    }
    return result;
  },
  encode(value) {
    const list: string[] = [];
    for (const [host, addresses] of Object.entries(value)) for (const address of addresses) list.push(`${host}=${address}`);
    if (list.length === 0) return undefined;
    return list.sort(compareBytes);
  },
};

/** `command`, `entrypoint`: a string is split into words as Compose splits it. */
export const shellCommand: Codec<readonly string[] | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") {
      try {
        return splitShellWords(value);
      } catch (error) {
        return scope.fail(path, `${path}: ${(error as Error).message}`);
      }
    }
    if (Array.isArray(value)) return value.map((item, index) => listItemText.decode(item, joinPath(path, index), scope));
    return scope.fail(path, `${path} must be a string or a list`);
  },
  encode: (value) => value,
};

const healthcheckTest: Codec<readonly string[] | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return ["CMD-SHELL", value];
    if (Array.isArray(value)) return value.map((item, index) => listItemText.decode(item, joinPath(path, index), scope));
    return scope.fail(path, `unexpected value type for healthcheck.test`);
  },
  encode: (value) => (value === undefined || value.length === 0 ? undefined : value),
};

const ulimit: Codec<Ulimit> = {
  decode(value, path, scope) {
    if (isMapping(value)) {
      return {
        soft: value["soft"] === undefined ? 0 : parseInteger(value["soft"], joinPath(path, "soft"), scope),
        hard: value["hard"] === undefined ? 0 : parseInteger(value["hard"], joinPath(path, "hard"), scope),
      };
    }
    return { single: parseInteger(value, path, scope) };
  },
  encode(value, format) {
    if ("single" in value && value.single !== 0) return value.single;
    const soft = "soft" in value ? value.soft : 0;
    const hard = "hard" in value ? value.hard : 0;
    if (format === "yaml") return { soft, hard };
    const result: Mapping = {};
    if (soft !== 0) result["soft"] = soft;
    if (hard !== 0) result["hard"] = hard;
    return result;
  },
};

const ulimits = mapOf(ulimit);

const sshKeys: Codec<readonly SshKey[]> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) {
      // The printed form: `default` or `id=path`.
      return value.map((entry) => {
        const entryText = goScalarString(entry);
        const equals = entryText.indexOf("=");
        return equals < 0 ? { id: entryText } : { id: entryText.slice(0, equals), path: entryText.slice(equals + 1) };
      });
    }
    if (!isMapping(value)) return scope.fail(path, `invalid ssh config type`);
    return Object.keys(value)
      .sort(compareBytes)
      .map((id) => {
        const keyPath = value[id];
        return keyPath === null || keyPath === undefined || keyPath === "" ? { id } : { id, path: goScalarString(keyPath) };
      });
  },
  // Compose writes `id: path` here, which it cannot read back; berth writes the `id=path` it reads.
  encode: (value) => (value.length === 0 ? undefined : value.map((key) => (key.path === undefined ? key.id : `${key.id}=${key.path}`))),
};

const deviceCount: Codec<number | undefined> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") {
      if (value.toLowerCase() === "all") return -1;
      if (/^[-+]?[0-9]+$/.test(value)) return Number(value);
      return scope.fail(path, `invalid value ${JSON.stringify(value)}, the only value allowed is 'all' or a number`);
    }
    return parseInteger(value, path, scope);
  },
  encode: (value) => (value === undefined || value === 0 ? undefined : value),
};

/** `Provider.options`: every value becomes a list of strings. */
const multiOptions: Codec<Readonly<Record<string, readonly string[]>>> = {
  decode(value, path, scope) {
    const result: Record<string, string[]> = {};
    if (value === undefined || value === null) return result;
    if (!isMapping(value)) return scope.fail(path, `${path} must be a mapping`);
    for (const [key, entry] of Object.entries(value)) {
      result[key] = Array.isArray(entry) ? entry.map((item) => goScalarString(item)) : [goScalarString(entry)];
    }
    return result;
  },
  encode(value, format) {
    const keys = Object.keys(value);
    if (keys.length === 0) return undefined;
    const result: Mapping = {};
    for (const key of sortedKeys(keys, format)) result[key] = value[key];
    return result;
  },
};

function oneOf<V extends string>(allowed: readonly V[], what: string, fallback?: V): Codec<V> {
  return {
    decode(value, path, scope) {
      if ((value === undefined || value === null) && fallback !== undefined) return fallback;
      const decoded = typeof value === "string" ? value : goScalarString(value);
      if (!(allowed as readonly string[]).includes(decoded)) {
        return scope.fail(path, `${path}: invalid ${what} ${JSON.stringify(decoded)} (expected ${allowed.join(", ")})`);
      }
      return decoded as V;
    },
    encode: (value) => value,
  };
}

// ---------------------------------------------------------------- structs

/** Decode the `x-*` keys of a mapping. */
export function decodeExtensions(value: Mapping): Extensions {
  let result: Record<string, unknown> | undefined;
  for (const key in value) {
    if (key.startsWith("x-")) (result ??= {})[key] = value[key];
  }
  return result ?? emptyExtensions;
}

const emptyExtensions: Extensions = Object.freeze({});

/** Extensions are printed (sorted) in YAML and dropped by Go's encoding/json. */
export function encodeExtensions(extensions: Extensions, target: Mapping, format: OutputFormat): void {
  if (format === "json") return;
  for (const key of sortedKeys(Object.keys(extensions), format)) target[key] = extensions[key];
}

interface StructOptions {
  /** The struct has an `extensions` field (x-* keys). */
  readonly extensions: boolean;
  /** Go value struct with omitempty: YAML omits it when nothing in it prints; JSON always prints it. */
  readonly valueStruct?: boolean;
}

interface CompiledField {
  readonly name: string;
  readonly key: string;
  /** `.key`: a field's path is its parent's plus this, one concatenation (decoding builds one per field). */
  readonly pathSuffix: string;
  readonly jsonKey: string;
  readonly codec: Codec<unknown>;
  /** The (frozen, shared) model value of an absent key, or undefined when absent means absent. */
  readonly absent: unknown;
  /** Absent keys must still go through the codec (it rejects them). */
  readonly required: boolean;
  readonly jsonWhenAbsent: unknown;
}

interface CompiledTable {
  readonly fields: readonly CompiledField[];
  readonly byKey: ReadonlyMap<string, CompiledField>;
  readonly required: readonly CompiledField[];
  /** Every field that has a value when absent, in table order: decoded objects start as a copy. */
  readonly template: Readonly<Record<string, unknown>>;
}

const compiledTables = new WeakMap<object, CompiledTable>();

const probeScope: DecodeScope = {
  environment: {},
  fail(): never {
    throw new Error("required");
  },
};

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The table as an array, with the value each field takes when its key is absent worked out once. */
function compile<T>(table: Fields<T>): CompiledTable {
  const cached = compiledTables.get(table);
  if (cached !== undefined) return cached;
  const fields = Object.keys(table).map((name): CompiledField => {
    const spec = table[name as keyof T] as Field<unknown>;
    let absent: unknown;
    let required = false;
    try {
      absent = deepFreeze(spec.codec.decode(undefined, spec.key, probeScope));
    } catch {
      required = true;
    }
    return {
      name,
      key: spec.key,
      pathSuffix: `.${spec.key}`,
      jsonKey: spec.jsonKey ?? spec.key,
      codec: spec.codec,
      absent,
      required,
      jsonWhenAbsent: spec.jsonWhenAbsent,
    };
  });
  const withDefaults = fields.filter((field) => field.absent !== undefined);
  // Built by JSON.parse so that the template (and every `{...template}` copy) has fast properties.
  const template = JSON.parse(JSON.stringify(Object.fromEntries(withDefaults.map((field) => [field.name, null])))) as Record<string, unknown>;
  for (const field of withDefaults) template[field.name] = field.absent;
  const compiled: CompiledTable = {
    fields,
    byKey: new Map(fields.map((field) => [field.key, field])),
    required: fields.filter((field) => field.required),
    template: Object.freeze(template),
  };
  compiledTables.set(table, compiled);
  return compiled;
}

/** What a decoded object starts as: every field that has a value when its key is absent. */
export function templateOf<T>(fields: Fields<T>): Readonly<Record<string, unknown>> {
  return compile(fields).template;
}

/** Decode a mapping with a field table into a model object. */
export function decodeFields<T>(fields: Fields<T>, value: Mapping, path: string, scope: DecodeScope): T {
  return decodeCompiled(compile(fields), value, path, scope) as T;
}

function decodeCompiled(table: CompiledTable, value: Mapping, path: string, scope: DecodeScope): Record<string, unknown> {
  const result: Record<string, unknown> = { ...table.template };
  decodeIntoCompiled(table, value, path, scope, result);
  return result;
}

/**
 * Decode the keys `value` has into `result`, which starts as a copy of the table's template.
 * Returns its `x-*` keys, as decodeExtensions does (one walk over the keys instead of two).
 */
export function decodeInto<T>(fields: Fields<T>, value: Mapping, path: string, scope: DecodeScope, result: Record<string, unknown>): Extensions {
  return decodeIntoCompiled(compile(fields), value, path, scope, result);
}

function decodeIntoCompiled(table: CompiledTable, value: Mapping, path: string, scope: DecodeScope, result: Record<string, unknown>): Extensions {
  let extensions: Record<string, unknown> | undefined;
  for (const key in value) {
    const field = table.byKey.get(key);
    const raw = value[key];
    if (key.startsWith("x-")) (extensions ??= {})[key] = raw;
    if (field === undefined || raw === undefined) continue;
    // Compose keys are plain identifiers, so the child path is a plain join.
    const decoded = field.codec.decode(raw, path === "" ? key : path + field.pathSuffix, scope);
    // undefined (an empty string, a zero…) leaves the template's value, or no key at all.
    if (decoded !== undefined) result[field.name] = decoded;
  }
  const required = table.required;
  for (let index = 0; index < required.length; index++) {
    const field = required[index] as CompiledField;
    if (value[field.key] === undefined) field.codec.decode(undefined, path === "" ? field.key : path + field.pathSuffix, scope);
  }
  return extensions ?? emptyExtensions;
}

/** Encode a model object with a field table, in table order. */
export function encodeFields<T>(fields: Fields<T>, value: T, format: OutputFormat): Mapping {
  const result: Mapping = {};
  const record = value as Record<string, unknown>;
  for (const field of compile(fields).fields) {
    const fieldValue = record[field.name];
    const key = format === "json" ? field.jsonKey : field.key;
    const encoded = fieldValue === undefined ? undefined : field.codec.encode(fieldValue, format);
    if (encoded !== undefined) result[key] = encoded;
    else if (format === "json" && field.jsonWhenAbsent !== undefined) result[key] = structuredClone(field.jsonWhenAbsent);
  }
  return result;
}

type WithoutExtensions<T> = Omit<T, "extensions">;

/** A Go pointer struct: absent → undefined; present → always printed (even `{}`). */
function struct<T>(fields: Fields<WithoutExtensions<T>>, options: StructOptions): Codec<T | undefined> {
  let table: CompiledTable | undefined;
  return {
    decode(value, path, scope) {
      if (value === undefined || value === null) return undefined;
      if (!isMapping(value)) return scope.fail(path, `${path} must be a mapping`);
      table ??= compile(fields);
      const decoded: Record<string, unknown> = { ...table.template };
      const extensions = decodeIntoCompiled(table, value, path, scope, decoded);
      if (options.extensions) decoded["extensions"] = extensions;
      return decoded as T;
    },
    encode(value, format) {
      if (value === undefined) return undefined;
      const encoded = encodeFields(fields, value as WithoutExtensions<T>, format);
      if (options.extensions) encodeExtensions((value as { extensions: Extensions }).extensions, encoded, format);
      return encoded;
    },
  };
}

/** A Go value struct with omitempty: always present in the model. */
function valueStruct<T>(fields: Fields<WithoutExtensions<T>>, options: StructOptions): Codec<T> {
  const inner = struct<T>(fields, options);
  return {
    decode: (value, path, scope) => inner.decode(value ?? {}, path, scope) as T,
    encode(value, format) {
      const encoded = inner.encode(value, format) as Mapping;
      if (format === "yaml" && Object.keys(encoded).length === 0) return undefined;
      return encoded;
    },
  };
}

/** A list element struct (never absent). */
function element<T>(codec: Codec<T | undefined>, what: string): Codec<T> {
  return {
    decode(value, path, scope) {
      const decoded = codec.decode(value, path, scope);
      return decoded ?? scope.fail(path, `${path}: invalid ${what}`);
    },
    encode: (value, format) => codec.encode(value, format),
  };
}

// ---------------------------------------------------------------- the tables

const fileReferenceFields: Fields<WithoutExtensions<FileReference>> = {
  source: field("source", requiredText("")),
  target: field("target", text),
  uid: field("uid", text),
  gid: field("gid", text),
  mode: field("mode", fileMode),
};
const fileReference = element(struct<FileReference>(fileReferenceFields, { extensions: true }), "reference");
const fileReferences = listOf(fileReference);

const buildFields: Fields<WithoutExtensions<Build>> = {
  context: field("context", requiredText(".")),
  dockerfile: field("dockerfile", text),
  dockerfileInline: field("dockerfile_inline", text),
  entitlements: field("entitlements", stringList),
  args: field("args", nullableStringMap),
  provenance: field("provenance", text),
  sbom: field("sbom", text),
  ssh: field("ssh", sshKeys),
  labels: field("labels", stringMap),
  cacheFrom: field("cache_from", stringOrList),
  cacheTo: field("cache_to", stringOrList),
  noCache: field("no_cache", flag),
  additionalContexts: field("additional_contexts", stringMap),
  pull: field("pull", flag),
  extraHosts: field("extra_hosts", extraHosts),
  isolation: field("isolation", text),
  network: field("network", text),
  target: field("target", text),
  secrets: field("secrets", fileReferences),
  shmSize: field("shm_size", byteSize),
  tags: field("tags", stringOrList),
  ulimits: field("ulimits", ulimits),
  platforms: field("platforms", stringOrList),
  privileged: field("privileged", flag),
};

const serviceHookFields: Fields<WithoutExtensions<ServiceHook>> = {
  command: field("command", shellCommand, { jsonWhenAbsent: null }),
  user: field("user", text),
  privileged: field("privileged", flag),
  workingDir: field("working_dir", text),
  environment: field("environment", nullableStringMap),
};
const serviceHookStruct = struct<ServiceHook>(serviceHookFields, { extensions: true });
const serviceHooks = listOf(element(serviceHookStruct, "hook"));

/** `exec` of a watch rule is a Go value struct: YAML omits it when empty, JSON always prints it. */
const watchExec: Codec<ServiceHook | undefined> = {
  decode: (value, path, scope) => serviceHookStruct.decode(value, path, scope),
  encode(value, format) {
    const encoded = (value === undefined ? { command: null } : serviceHookStruct.encode(value, format)) as Mapping;
    if (format === "yaml") return value === undefined || Object.keys(encoded).length === 0 ? undefined : encoded;
    return encoded;
  },
};

const watchRuleFields: Fields<WithoutExtensions<WatchRule>> = {
  path: field("path", requiredText("")),
  action: field("action", requiredText("")),
  target: field("target", text),
  exec: field("exec", watchExec, { jsonWhenAbsent: { command: null } }),
  include: field("include", stringOrList),
  ignore: field("ignore", stringOrList),
  initialSync: field("initial_sync", flag),
};

const developFields: Fields<WithoutExtensions<Develop>> = {
  watch: field("watch", listOf(element(struct<WatchRule>(watchRuleFields, { extensions: true }), "watch rule"))),
};

const throttleDeviceFields: Fields<WithoutExtensions<ThrottleDevice>> = {
  path: field("path", requiredText(""), { jsonKey: "Path" }),
  rate: field("rate", { ...byteSize, decode: (value, path, scope) => byteSize.decode(value, path, scope) ?? 0, encode: (value) => String(value) }, { jsonKey: "Rate" }),
};
const throttleDevices = listOf(element(struct<ThrottleDevice>(throttleDeviceFields, { extensions: true }), "throttle device"));

type WeightDevice = BlkioConfig["weightDevice"][number];
const weightDeviceFields: Fields<WithoutExtensions<WeightDevice>> = {
  path: field("path", requiredText(""), { jsonKey: "Path" }),
  weight: field("weight", { decode: (value, path, scope) => (value === undefined || value === null ? 0 : parseInteger(value, path, scope)), encode: (value) => value }, { jsonKey: "Weight" }),
};

const blkioFields: Fields<WithoutExtensions<BlkioConfig>> = {
  weight: field("weight", integer),
  weightDevice: field("weight_device", listOf(element(struct<WeightDevice>(weightDeviceFields, { extensions: true }), "weight device"))),
  deviceReadBps: field("device_read_bps", throttleDevices),
  deviceReadIops: field("device_read_iops", throttleDevices),
  deviceWriteBps: field("device_write_bps", throttleDevices),
  deviceWriteIops: field("device_write_iops", throttleDevices),
};

const credentialSpecFields: Fields<WithoutExtensions<CredentialSpec>> = {
  config: field("config", text),
  file: field("file", text),
  registry: field("registry", text),
};

const dependsOnFields: Fields<WithoutExtensions<DependsOn>> = {
  condition: field("condition", oneOf<DependsOnCondition>(["service_started", "service_healthy", "service_completed_successfully"], "condition", "service_started")),
  restart: field("restart", flag),
  required: field("required", requiredFlag(true)),
};

const deviceRequestFields: Fields<DeviceRequest> = {
  capabilities: field("capabilities", stringList),
  driver: field("driver", text),
  count: field("count", deviceCount),
  deviceIds: field("device_ids", stringList),
  options: field("options", stringMap),
};
const deviceRequests = listOf(element(struct<DeviceRequest>(deviceRequestFields as Fields<WithoutExtensions<DeviceRequest>>, { extensions: false }), "device request"));

type DiscreteResource = NonNullable<GenericResource["discreteResourceSpec"]>;
const discreteResourceFields: Fields<WithoutExtensions<DiscreteResource>> = {
  kind: field("kind", requiredText("")),
  value: field("value", { decode: (value, path, scope) => (value === undefined || value === null ? 0 : parseInteger(value, path, scope)), encode: (value) => value }),
};
const genericResourceFields: Fields<WithoutExtensions<GenericResource>> = {
  discreteResourceSpec: field("discrete_resource_spec", struct<DiscreteResource>(discreteResourceFields, { extensions: true })),
};

const resourceFields: Fields<WithoutExtensions<Resource>> = {
  cpus: field("cpus", float32),
  memory: field("memory", byteSize),
  pids: field("pids", integer),
  devices: field("devices", deviceRequests),
  genericResources: field("generic_resources", listOf(element(struct<GenericResource>(genericResourceFields, { extensions: true }), "generic resource"))),
};
const resource = struct<Resource>(resourceFields, { extensions: true });

const resourcesFields: Fields<WithoutExtensions<Resources>> = {
  limits: field("limits", resource),
  reservations: field("reservations", resource),
};

const updateConfigFields: Fields<WithoutExtensions<UpdateConfig>> = {
  parallelism: field("parallelism", pointerInteger),
  delay: field("delay", durationOmitZero),
  failureAction: field("failure_action", text),
  monitor: field("monitor", durationOmitZero),
  maxFailureRatio: field("max_failure_ratio", float32),
  order: field("order", text),
};
const updateConfig = struct<UpdateConfig>(updateConfigFields, { extensions: true });

const restartPolicyFields: Fields<WithoutExtensions<RestartPolicy>> = {
  condition: field("condition", text),
  delay: field("delay", duration),
  maxAttempts: field("max_attempts", pointerInteger),
  window: field("window", duration),
};

type PlacementPreference = Placement["preferences"][number];
const placementPreferenceFields: Fields<WithoutExtensions<PlacementPreference>> = {
  spread: field("spread", text),
};
const placementFields: Fields<WithoutExtensions<Placement>> = {
  constraints: field("constraints", stringList),
  preferences: field("preferences", listOf(element(struct<PlacementPreference>(placementPreferenceFields, { extensions: true }), "preference"))),
  maxReplicasPerNode: field("max_replicas_per_node", integer),
};

const deployFields: Fields<WithoutExtensions<Deploy>> = {
  mode: field("mode", text),
  replicas: field("replicas", pointerInteger),
  labels: field("labels", stringMap),
  updateConfig: field("update_config", updateConfig),
  rollbackConfig: field("rollback_config", updateConfig),
  resources: field("resources", valueStruct<Resources>(resourcesFields, { extensions: true })),
  restartPolicy: field("restart_policy", struct<RestartPolicy>(restartPolicyFields, { extensions: true })),
  placement: field("placement", valueStruct<Placement>(placementFields, { extensions: true })),
  endpointMode: field("endpoint_mode", text),
};

const deviceMappingFields: Fields<WithoutExtensions<DeviceMapping>> = {
  source: field("source", requiredText("")),
  target: field("target", requiredText("")),
  permissions: field("permissions", requiredText("rwm")),
};

const providerFields: Fields<WithoutExtensions<Provider>> = {
  type: field("type", text),
  options: field("options", multiOptions),
};

const extendsFields: Fields<ExtendsReference> = {
  file: field("file", text),
  service: field("service", requiredText("")),
};

const healthcheckFields: Fields<WithoutExtensions<Healthcheck>> = {
  test: field("test", healthcheckTest),
  timeout: field("timeout", duration),
  interval: field("interval", duration),
  retries: field("retries", pointerInteger),
  startPeriod: field("start_period", duration),
  startInterval: field("start_interval", duration),
  disable: field("disable", flag),
};

const loggingFields: Fields<WithoutExtensions<Logging>> = {
  driver: field("driver", text),
  options: field("options", stringMap),
};

const serviceModelFields: Fields<WithoutExtensions<ServiceModel>> = {
  endpointVar: field("endpoint_var", text),
  modelVar: field("model_var", text),
};

const serviceNetworkFields: Fields<WithoutExtensions<ServiceNetwork>> = {
  aliases: field("aliases", stringList),
  driverOpts: field("driver_opts", stringMap),
  gwPriority: field("gw_priority", integer),
  interfaceName: field("interface_name", text),
  ipv4Address: field("ipv4_address", text),
  ipv6Address: field("ipv6_address", text),
  linkLocalIps: field("link_local_ips", stringList),
  macAddress: field("mac_address", text),
  priority: field("priority", integer),
};

const portProtocols: readonly PortProtocol[] = ["tcp", "udp", "sctp"];
const portModes: readonly PortMode[] = ["ingress", "host"];

const portTarget: Codec<number> = {
  decode(value, path, scope) {
    if (value === undefined || value === null) return scope.fail(path, `${path}: a port needs a target`);
    const port = parseInteger(value, path, scope);
    if (port < 0 || port > 65535) return scope.fail(path, `${path}: invalid port ${port}`);
    return port;
  },
  encode: (value) => (value === 0 ? undefined : value),
};

const portFields: Fields<WithoutExtensions<PortMapping>> = {
  name: field("name", text),
  mode: field("mode", oneOf(portModes, "port mode", "ingress")),
  hostIp: field("host_ip", text),
  target: field("target", portTarget),
  published: field("published", text),
  protocol: field("protocol", {
    decode: (value, path, scope) => oneOf(portProtocols, "protocol", "tcp").decode(typeof value === "string" ? value.toLowerCase() : value, path, scope),
    encode: (value) => value,
  }),
  appProtocol: field("app_protocol", text),
};

const bindFields: Fields<WithoutExtensions<BindOptions>> = {
  selinux: field("selinux", {
    decode: (value, path, scope) => (value === undefined || value === null || value === "" ? undefined : oneOf(["z", "Z"] as const, "selinux option").decode(value, path, scope)),
    encode: (value) => value,
  }),
  propagation: field("propagation", text),
  createHostPath: field("create_host_path", flag),
  recursive: field("recursive", text),
};

const volumeOptionFields: Fields<WithoutExtensions<VolumeOptions>> = {
  labels: field("labels", stringMap),
  nocopy: field("nocopy", flag),
  subpath: field("subpath", text),
};

const tmpfsFields: Fields<WithoutExtensions<TmpfsOptions>> = {
  size: field("size", byteSize),
  mode: field("mode", integer),
};

const imageMountFields: Fields<WithoutExtensions<ImageMountOptions>> = {
  subpath: field("subpath", text),
};

const mountTypes: readonly MountType[] = ["bind", "volume", "tmpfs", "npipe", "image", "cluster"];

/** The row table of a mount (the `type` row is the discriminant). */
type MountRow = WithoutExtensions<Omit<Mount, "type" | "source">> & { readonly type: MountType; readonly source?: string };
const mountFields: Fields<MountRow> = {
  type: field("type", oneOf(mountTypes, "mount type")),
  source: field("source", text),
  target: field("target", requiredText("")),
  readOnly: field("read_only", flag),
  consistency: field("consistency", text),
  bind: field("bind", struct<BindOptions>(bindFields, { extensions: true })),
  volume: field("volume", struct<VolumeOptions>(volumeOptionFields, { extensions: true })),
  tmpfs: field("tmpfs", struct<TmpfsOptions>(tmpfsFields, { extensions: true })),
  image: field("image", struct<ImageMountOptions>(imageMountFields, { extensions: true })),
};
const mountStruct = struct<MountRow & { readonly extensions: Extensions }>(mountFields, { extensions: true });

const mount: Codec<Mount> = {
  decode(value, path, scope) {
    const decoded = mountStruct.decode(value, path, scope);
    if (decoded === undefined) return scope.fail(path, `${path}: invalid mount`);
    if (decoded.type === "bind" && decoded.source === undefined) {
      return scope.fail(joinPath(path, "source"), `invalid mount config for type "bind": field Source must not be empty`);
    }
    if (decoded.target === "" && decoded.type !== "npipe") return scope.fail(path, `${path}: a mount needs a target`);
    return decoded as Mount;
  },
  encode: (value, format) => mountStruct.encode(value, format),
};

const serviceNetwork = nullable(struct<ServiceNetwork>(serviceNetworkFields, { extensions: true }));
const serviceModel = nullable(struct<ServiceModel>(serviceModelFields, { extensions: true }));

/** Every service attribute but `name` (the key) and `extensions`, in Compose's output order. */
export const serviceFields: Fields<WithoutExtensions<Omit<Service, "name">>> = {
  profiles: field("profiles", stringList),
  annotations: field("annotations", stringMap),
  attach: field("attach", optionalFlag),
  build: field("build", struct<Build>(buildFields, { extensions: true })),
  develop: field("develop", struct<Develop>(developFields, { extensions: true })),
  blkioConfig: field("blkio_config", struct<BlkioConfig>(blkioFields, { extensions: true })),
  capAdd: field("cap_add", stringList),
  capDrop: field("cap_drop", stringList),
  cgroupParent: field("cgroup_parent", text),
  cgroup: field("cgroup", text),
  cpuCount: field("cpu_count", integer),
  cpuPercent: field("cpu_percent", float32),
  cpuPeriod: field("cpu_period", integer),
  cpuQuota: field("cpu_quota", integer),
  cpuRtPeriod: field("cpu_rt_period", integer),
  cpuRtRuntime: field("cpu_rt_runtime", integer),
  cpus: field("cpus", float32),
  cpuset: field("cpuset", text),
  cpuShares: field("cpu_shares", integer),
  command: field("command", shellCommand, { jsonWhenAbsent: null }),
  configs: field("configs", fileReferences),
  containerName: field("container_name", text),
  credentialSpec: field("credential_spec", struct<CredentialSpec>(credentialSpecFields, { extensions: true })),
  dependsOn: field("depends_on", mapOf(element(struct<DependsOn>(dependsOnFields, { extensions: true }), "dependency"))),
  deploy: field("deploy", struct<Deploy>(deployFields, { extensions: true })),
  deviceCgroupRules: field("device_cgroup_rules", stringList),
  devices: field("devices", listOf(element(struct<DeviceMapping>(deviceMappingFields, { extensions: true }), "device"))),
  dns: field("dns", stringOrList),
  dnsOpt: field("dns_opt", stringList),
  dnsSearch: field("dns_search", stringOrList),
  domainname: field("domainname", text),
  entrypoint: field("entrypoint", shellCommand, { jsonWhenAbsent: null }),
  provider: field("provider", struct<Provider>(providerFields, { extensions: true })),
  environment: field("environment", nullableStringMap),
  expose: field("expose", listOf(listItemText, { acceptString: true })),
  extends: field("extends", struct<ExtendsReference>(extendsFields as Fields<WithoutExtensions<ExtendsReference>>, { extensions: false })),
  externalLinks: field("external_links", stringList),
  extraHosts: field("extra_hosts", extraHosts),
  groupAdd: field("group_add", stringList),
  gpus: field("gpus", deviceRequests),
  hostname: field("hostname", text),
  healthcheck: field("healthcheck", struct<Healthcheck>(healthcheckFields, { extensions: true })),
  image: field("image", text),
  init: field("init", optionalFlag),
  ipc: field("ipc", text),
  isolation: field("isolation", text),
  labels: field("labels", stringMap),
  links: field("links", stringList),
  logging: field("logging", struct<Logging>(loggingFields, { extensions: true })),
  memLimit: field("mem_limit", byteSize),
  memReservation: field("mem_reservation", byteSize),
  memswapLimit: field("memswap_limit", byteSize),
  memSwappiness: field("mem_swappiness", byteSize),
  macAddress: field("mac_address", text),
  models: field("models", mapOf(serviceModel)),
  networkMode: field("network_mode", text),
  networks: field("networks", mapOf(serviceNetwork)),
  oomKillDisable: field("oom_kill_disable", flag),
  oomScoreAdj: field("oom_score_adj", integer),
  pid: field("pid", text),
  pidsLimit: field("pids_limit", integer),
  platform: field("platform", text),
  ports: field("ports", listOf(element(struct<PortMapping>(portFields, { extensions: true }), "port"))),
  privileged: field("privileged", flag),
  pullPolicy: field("pull_policy", text),
  readOnly: field("read_only", flag),
  restart: field("restart", text),
  runtime: field("runtime", text),
  scale: field("scale", pointerInteger),
  secrets: field("secrets", fileReferences),
  securityOpt: field("security_opt", stringList),
  shmSize: field("shm_size", byteSize),
  stdinOpen: field("stdin_open", flag),
  stopGracePeriod: field("stop_grace_period", duration),
  stopSignal: field("stop_signal", text),
  storageOpt: field("storage_opt", stringMap),
  sysctls: field("sysctls", stringMap),
  tmpfs: field("tmpfs", stringOrList),
  tty: field("tty", flag),
  ulimits: field("ulimits", ulimits),
  useApiSocket: field("use_api_socket", flag),
  user: field("user", text),
  usernsMode: field("userns_mode", text),
  uts: field("uts", text),
  volumeDriver: field("volume_driver", text),
  volumes: field("volumes", listOf(mount)),
  volumesFrom: field("volumes_from", stringList),
  workingDir: field("working_dir", text),
  postStart: field("post_start", serviceHooks),
  preStop: field("pre_stop", serviceHooks),
};

const ipamPoolFields: Fields<WithoutExtensions<IpamPool>> = {
  subnet: field("subnet", text),
  gateway: field("gateway", text),
  ipRange: field("ip_range", text),
  auxAddresses: field("aux_addresses", stringMap),
};

const ipamFields: Fields<WithoutExtensions<Ipam>> = {
  driver: field("driver", text),
  config: field("config", listOf(element(struct<IpamPool>(ipamPoolFields, { extensions: true }), "ipam pool"))),
};

export const networkFields: Fields<WithoutExtensions<Network>> = {
  name: field("name", requiredText("")),
  driver: field("driver", text),
  driverOpts: field("driver_opts", stringMap),
  ipam: field("ipam", valueStruct<Ipam>(ipamFields, { extensions: true })),
  external: field("external", flag),
  internal: field("internal", flag),
  attachable: field("attachable", flag),
  labels: field("labels", stringMap),
  enableIpv4: field("enable_ipv4", optionalFlag),
  enableIpv6: field("enable_ipv6", optionalFlag),
};

export const volumeFields: Fields<WithoutExtensions<Volume>> = {
  name: field("name", requiredText("")),
  driver: field("driver", text),
  driverOpts: field("driver_opts", stringMap),
  external: field("external", flag),
  labels: field("labels", stringMap),
};

export const fileObjectFields: Fields<WithoutExtensions<Secret | Config>> = {
  name: field("name", requiredText("")),
  file: field("file", text),
  environment: field("environment", text),
  content: field("content", text),
  external: field("external", flag),
  labels: field("labels", stringMap),
  driver: field("driver", text),
  driverOpts: field("driver_opts", stringMap),
  templateDriver: field("template_driver", text),
};

export const modelFields: Fields<WithoutExtensions<Model>> = {
  name: field("name", text),
  model: field("model", text),
  contextSize: field("context_size", integer),
  runtimeFlags: field("runtime_flags", stringList),
};
