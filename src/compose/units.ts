// Value syntaxes Docker Compose borrows from Go libraries, written for berth: durations
// (Go's time.Duration plus `d` and `w`, as go-str2duration reads them), byte sizes (go-units
// RAMInBytes), shell-word splitting (go-shellwords 1.0.12, what compose-go uses for `command`),
// IP address syntax (Go's net.ParseIP), Go's float formatting and yaml.v3's map-key order.
// Every function here is pure and throws a plain Error whose message the caller places.

const nanosecond = 1n;
const microsecond = 1000n * nanosecond;
const millisecond = 1000n * microsecond;
const second = 1000n * millisecond;
const minute = 60n * second;
const hour = 60n * minute;
const day = 24n * hour;

const durationUnits: ReadonlyMap<string, bigint> = new Map([
  ["ns", nanosecond],
  ["us", microsecond],
  ["\u00b5s", microsecond], // U+00B5 micro sign
  ["\u03bcs", microsecond], // U+03BC Greek mu
  ["ms", millisecond],
  ["s", second],
  ["m", minute],
  ["h", hour],
  ["d", day],
  ["w", 7n * day],
]);

const maxDuration = (1n << 63n) - 1n;

/** Nanoseconds per unit, as numbers, for the fast path of parseDuration. */
const durationUnitNumbers: ReadonlyMap<string, number> = new Map([...durationUnits].map(([name, unit]) => [name, Number(unit)]));
const simpleDuration = /^([0-9]+)([^0-9.]+)$/;

/** A Go duration string (`1m30s`, `1.5h`, `2d`, `-5s`, `0`) → nanoseconds. */
export function parseDuration(text: string): number {
  // One whole number and a unit (`30s`), exact in floating point: the loop below, without
  // BigInt arithmetic (a healthcheck has two or three durations, and there is one per service).
  const simple = simpleDuration.exec(text);
  if (simple !== null) {
    const unit = durationUnitNumbers.get(simple[2] as string);
    const product = unit === undefined ? undefined : Number(simple[1]) * unit;
    if (product !== undefined && Number.isSafeInteger(product)) return product;
  }
  const invalid = (): Error => new Error(`invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();
  let total = 0n;
  while (rest !== "") {
    const number = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest);
    const whole = number?.[1] ?? "";
    const fraction = number?.[2];
    if (whole === "" && (fraction === undefined || fraction === "")) throw invalid();
    rest = rest.slice(number?.[0].length ?? 0);
    const unitMatch = /^[^0-9.]+/.exec(rest);
    if (unitMatch === null) throw new Error(`missing unit in duration ${JSON.stringify(text)}`);
    const unitName = unitMatch[0];
    const unit = durationUnits.get(unitName);
    if (unit === undefined) throw new Error(`unknown unit ${JSON.stringify(unitName)} in duration ${JSON.stringify(text)}`);
    rest = rest.slice(unitName.length);
    let value = BigInt(whole === "" ? "0" : whole) * unit;
    if (fraction !== undefined && fraction !== "") {
      // Exact: fraction digits scaled by the unit, truncated as Go does.
      value += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    }
    total += value;
    if (total > maxDuration) throw invalid();
  }
  return Number(negative ? -total : total);
}

/** Nanoseconds → Go's time.Duration.String() (`1m30s`, `1h0m0s`, `1.5s`, `500ms`, `0s`). */
export function formatDuration(nanoseconds: number): string {
  let value = BigInt(Math.trunc(nanoseconds));
  const negative = value < 0n;
  if (negative) value = -value;
  let text: string;
  if (value < second) {
    if (value === 0n) return "0s";
    if (value < microsecond) text = `${value}ns`;
    else if (value < millisecond) text = `${fixedFraction(value, 3)}\u00b5s`;
    else text = `${fixedFraction(value, 6)}ms`;
  } else {
    const seconds = value / second;
    const fraction = fractionDigits(value % second, 9);
    text = `${seconds % 60n}${fraction}s`;
    const minutes = seconds / 60n;
    if (minutes > 0n) {
      text = `${minutes % 60n}m${text}`;
      const hours = minutes / 60n;
      if (hours > 0n) text = `${hours}h${text}`;
    }
  }
  return negative ? `-${text}` : text;
}

function fixedFraction(value: bigint, precision: number): string {
  const scale = 10n ** BigInt(precision);
  return `${value / scale}${fractionDigits(value % scale, precision)}`;
}

function fractionDigits(remainder: bigint, precision: number): string {
  if (remainder === 0n) return "";
  return `.${remainder.toString().padStart(precision, "0").replace(/0+$/, "")}`;
}

const binaryMultipliers: Readonly<Record<string, number>> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** A memory size (`512m`, `1.5GB`, `1gib`, `2048`) → bytes, with binary multipliers (go-units RAMInBytes). */
export function parseByteSize(text: string): number {
  const match = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(text);
  if (match === null) throw new Error(`invalid size: '${text}'`);
  const digits = match[1] ?? "";
  if (digits.split(".").length > 2) throw new Error(`invalid size: '${text}'`);
  const multiplier = binaryMultipliers[(match[2] ?? "").toLowerCase()] ?? 1;
  return Math.trunc(Number(digits) * multiplier);
}

/**
 * Split a command line into words as go-shellwords 1.0.12 does (no environment or backtick
 * expansion): quotes group, a backslash takes the next character literally, and parsing stops
 * at an unquoted `;`, `&`, `|`, `<` or `>`.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let buffer = "";
  let escaped = false;
  let doubleQuoted = false;
  let singleQuoted = false;
  let backQuoted = false;
  let dollarQuoted = false;
  let started = false;
  const invalid = (): Error => new Error("invalid command line string");
  for (const char of line) {
    if (escaped) {
      buffer += char;
      escaped = false;
      started = true;
      continue;
    }
    if (char === "\\") {
      if (singleQuoted) buffer += char;
      else escaped = true;
      continue;
    }
    if (char === " " || char === "\t" || char === "\r" || char === "\n") {
      if (singleQuoted || doubleQuoted || backQuoted || dollarQuoted) buffer += char;
      else if (started) {
        words.push(buffer);
        buffer = "";
        started = false;
      }
      continue;
    }
    let literal = true;
    switch (char) {
      case "`":
        if (!singleQuoted && !doubleQuoted && !dollarQuoted) backQuoted = !backQuoted;
        break;
      case ")":
        if (!singleQuoted && !doubleQuoted && !backQuoted) dollarQuoted = !dollarQuoted;
        break;
      case "(":
        if (!singleQuoted && !doubleQuoted && !backQuoted) {
          if (dollarQuoted || !buffer.endsWith("$")) throw invalid();
          dollarQuoted = true;
        }
        break;
      case '"':
        if (!singleQuoted && !dollarQuoted) {
          doubleQuoted = !doubleQuoted;
          started = true;
          literal = false;
        }
        break;
      case "'":
        if (!doubleQuoted && !dollarQuoted) {
          singleQuoted = !singleQuoted;
          started = true;
          literal = false;
        }
        break;
      case ";":
      case "&":
      case "|":
      case "<":
      case ">":
        if (!singleQuoted && !doubleQuoted && !backQuoted && !dollarQuoted) {
          // `2>file`: a leading digit run belongs to the redirection, not to the words.
          if (char === ">" && buffer !== "" && /^[0-9]/.test(buffer)) started = false;
          if (started) words.push(buffer);
          if (escaped || singleQuoted || doubleQuoted || backQuoted || dollarQuoted) throw invalid();
          return words;
        }
        break;
      default:
        break;
    }
    if (!literal) continue;
    started = true;
    buffer += char;
  }
  if (started) words.push(buffer);
  if (escaped || singleQuoted || doubleQuoted || backQuoted || dollarQuoted) throw invalid();
  return words;
}

/** Go's net.ParseIP syntax: dotted-quad IPv4 or IPv6 (with an optional trailing IPv4), no zone. */
export function isIpAddress(text: string): boolean {
  return isIpv4(text) || isIpv6(text);
}

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

function isIpv6(text: string): boolean {
  if (!text.includes(":")) return false;
  let body = text;
  let groups = 8;
  const lastColon = body.lastIndexOf(":");
  const tail = body.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIpv4(tail)) return false;
    body = `${body.slice(0, lastColon + 1)}0`;
    groups = 7;
  }
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const groupOk = (group: string): boolean => /^[0-9a-fA-F]{1,4}$/.test(group);
  const split = (half: string): string[] | undefined => {
    if (half === "") return [];
    const parts = half.split(":");
    return parts.every(groupOk) ? parts : undefined;
  };
  if (halves.length === 1) {
    const parts = split(body);
    return parts !== undefined && parts.length === groups;
  }
  const head = split(halves[0] ?? "");
  const rest = split(halves[1] ?? "");
  return head !== undefined && rest !== undefined && head.length + rest.length < groups;
}

/** fmt.Sprint of a Go float64: shortest digits, exponent form below 1e-4 and from 1e21. */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const exponent = Math.floor(Math.log10(Math.abs(value)));
  if (exponent < -4 || exponent >= 21) {
    const [mantissa, power] = value.toExponential().split("e");
    const sign = (power ?? "+0").startsWith("-") ? "-" : "+";
    const digits = (power ?? "0").replace(/^[+-]/, "").padStart(2, "0");
    return `${mantissa}e${sign}${digits}`;
  }
  return String(value);
}

/** How a Go float32 value prints: the shortest decimal that rounds to the same float32. */
export function toFloat32(value: number): number {
  const single = Math.fround(value);
  if (!Number.isFinite(single) || single === 0) return single;
  for (let precision = 1; precision <= 9; precision++) {
    const candidate = Number(single.toPrecision(precision));
    if (Math.fround(candidate) === single) return candidate;
  }
  return single;
}

/** Stringify a scalar the way Go's fmt.Sprint prints what yaml.v3 decoded. */
export function goScalarString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 1e21 ? String(value) : formatGoFloat(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value === null || value === undefined) return "<nil>";
  return String(value);
}

/**
 * The order go-yaml (v3) writes map keys in: letters compare as characters, digit runs compare
 * as numbers, and a digit sorts before a letter. `docker compose config` (YAML) uses it.
 */
export function compareKeys(a: string, b: string): number {
  // ASCII strings index by character; others by code point.
  const left: ArrayLike<string> = isAscii(a) ? a : [...a];
  const right: ArrayLike<string> = isAscii(b) ? b : [...b];
  for (let index = 0; index < left.length && index < right.length; index++) {
    const l = left[index] ?? "";
    const r = right[index] ?? "";
    if (l === r) continue;
    const leftLetter = isLetter(l);
    const rightLetter = isLetter(r);
    if (leftLetter && rightLetter) return l < r ? -1 : 1;
    if (leftLetter || rightLetter) return rightLetter ? -1 : 1;
    let leftNumber = 0;
    let rightNumber = 0;
    if (l === "0" || r === "0") {
      // After a non-zero digit run prefix, compare the rest as numbers with a common lead.
      for (let back = index - 1; back >= 0 && isDigit(left[back] ?? ""); back--) {
        if (left[back] !== "0") {
          leftNumber = 1;
          rightNumber = 1;
          break;
        }
      }
    }
    let leftEnd = index;
    for (; leftEnd < left.length && isDigit(left[leftEnd] ?? ""); leftEnd++) leftNumber = leftNumber * 10 + Number(left[leftEnd]);
    let rightEnd = index;
    for (; rightEnd < right.length && isDigit(right[rightEnd] ?? ""); rightEnd++) rightNumber = rightNumber * 10 + Number(right[rightEnd]);
    if (leftNumber !== rightNumber) return leftNumber < rightNumber ? -1 : 1;
    if (leftEnd !== rightEnd) return leftEnd < rightEnd ? -1 : 1;
    return l < r ? -1 : 1;
  }
  return left.length - right.length;
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

function isLetter(char: string): boolean {
  const code = char.charCodeAt(0);
  if (code < 0x80) return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
  return /^\p{L}$/u.test(char);
}

function isDigit(char: string): boolean {
  const code = char.charCodeAt(0);
  if (code < 0x80) return code >= 48 && code <= 57;
  return /^\p{Nd}$/u.test(char);
}

/** Byte-wise order, as Go's encoding/json writes map keys. */
export function compareBytes(a: string, b: string): number {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return Buffer.compare(left, right);
}
