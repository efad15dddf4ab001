// Compose's .env syntax, as compose-go's dotenv/parser.go reads it: comments, blank
// lines, `export KEY=...`, `KEY: value`, unquoted values (inline ` #` comments trimmed),
// single quotes (literal), double quotes (escapes, multi-line) and `${VAR}` interpolation
// in unquoted and double-quoted values. A bare `KEY` line inherits KEY from `lookup`.

import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import { missingVariableMessage, substituteTemplate } from "./interpolate.js";

export interface DotEnvOptions {
  /** For error positions: the .env file's path. */
  readonly file: string;
  /**
   * Consulted first, for `${VAR}` and for a bare `KEY` line. As in Compose, the shell
   * (or project) environment wins over keys defined in the file itself.
   */
  readonly lookup: (name: string) => string | undefined;
  /** Consulted for `${VAR}` after the file's own earlier keys: values of env files read before this one. */
  readonly fallback?: ((name: string) => string | undefined) | undefined;
  /** Receives "variable is not set" warnings from `${VAR}` in values. */
  readonly warn?: ((message: string) => void) | undefined;
}

const byteOrderMark = "\uFEFF";

/** Parse .env text into ordered KEY → value pairs. Throws ComposeError E_COMPOSE_ENV_FILE (or E_COMPOSE_REQUIRED_VARIABLE for `${X:?}`). */
export function parseDotEnv(text: string, options: DotEnvOptions): Map<string, string> {
  // Editors on Windows like to add a BOM; it would otherwise become part of the first key.
  const source = text.startsWith(byteOrderMark) ? text.slice(1) : text;
  const values = new Map<string, string>();
  const fail = (message: string, offset: number, code: string = ErrorCode.composeEnvFile): never => {
    throw new ComposeError(code, message, { position: positionAt(options.file, source, offset) });
  };
  const expand = (template: string, valueOffset: number): string =>
    substituteTemplate(template, {
      lookup: (name) => options.lookup(name) ?? values.get(name) ?? options.fallback?.(name),
      warn: (message) => options.warn?.(message),
      invalid: () => fail(`Invalid template: ${JSON.stringify(template)}`, valueOffset),
      missing: (variable, reason) =>
        fail(missingVariableMessage(variable, reason), valueOffset, ErrorCode.composeRequiredVariable),
    });

  let offset = 0;
  for (;;) {
    offset = statementStart(source, offset);
    if (offset >= source.length) break;
    offset = afterExport(source, offset);
    if (offset >= source.length) fail("zero length string", offset);

    const keyStart = offset;
    let keyEnd = offset;
    let separator: string | undefined;
    while (keyEnd < source.length) {
      const code = source.codePointAt(keyEnd) ?? 0;
      if (code === 0x3d /* = */ || code === 0x3a /* : */ || code === 0x0a /* \n */) {
        separator = source.charAt(keyEnd);
        break;
      }
      if (!isInlineSpace(code) && !isKeyCharacter(code)) {
        const lineEnd = source.indexOf("\n", keyStart);
        const line = source.slice(keyStart, lineEnd < 0 ? source.length : lineEnd);
        fail(`unexpected character ${JSON.stringify(String.fromCodePoint(code))} in variable name ${JSON.stringify(line)}`, keyEnd);
      }
      keyEnd += code > 0xffff ? 2 : 1;
    }
    const key = trimEndSpace(source.slice(keyStart, keyEnd));
    if (key.includes(" ")) fail("key cannot contain a space", keyStart);

    if (separator !== "=" && separator !== ":") {
      // A bare KEY (at a line end, or at the end of the file) takes its value from the environment.
      const inherited = options.lookup(key);
      if (inherited !== undefined) values.set(key, inherited);
      offset = keyEnd + 1;
      continue;
    }

    const valueStart = skipInlineSpace(source, keyEnd + 1);
    const quote = source.charAt(valueStart);
    if (quote === '"' || quote === "'") {
      const quoted = readQuoted(source, valueStart);
      if (quoted === undefined) {
        const lineEnd = source.indexOf("\n", valueStart);
        fail(`unterminated quoted value ${source.slice(valueStart, lineEnd < 0 ? source.length : lineEnd)}`, valueStart);
      } else {
        values.set(key, quote === '"' ? expand(expandEscapes(quoted.content), valueStart) : quoted.content);
        // Whatever follows the closing quote is read as the next statement (a comment, usually).
        offset = quoted.end + 1;
      }
      continue;
    }

    let lineEnd = source.indexOf("\n", valueStart);
    if (lineEnd < 0) lineEnd = source.length;
    let raw = source.slice(valueStart, lineEnd);
    const comment = raw.indexOf(" #");
    if (comment >= 0) raw = raw.slice(0, comment);
    values.set(key, expand(trimEndSpace(raw), valueStart));
    offset = lineEnd + 1;
  }
  return values;
}

/** Skip whitespace and `#` comment lines; the offset of the next statement, or the text length. */
function statementStart(source: string, from: number): number {
  let offset = from;
  for (;;) {
    while (offset < source.length && isUnicodeSpace(source.charCodeAt(offset))) offset++;
    if (offset >= source.length || source.charCodeAt(offset) !== 0x23 /* # */) return offset;
    const lineEnd = source.indexOf("\n", offset);
    if (lineEnd < 0) return source.length;
    offset = lineEnd;
  }
}

/** `export` followed by whitespace (Go's \s, newline included) is dropped, with the spaces after it. */
function afterExport(source: string, offset: number): number {
  if (!source.startsWith("export", offset)) return offset;
  const next = source.charCodeAt(offset + 6);
  const isRegexSpace = next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0c || next === 0x0d;
  return isRegexSpace ? skipInlineSpace(source, offset + 6) : offset;
}

/** The raw characters between quotes: `\<quote>` becomes the quote, other `\x` pairs stay as they are. */
function readQuoted(source: string, start: number): { content: string; end: number } | undefined {
  const quote = source.charAt(start);
  let content = "";
  let escaped = false;
  for (let index = start + 1; index < source.length; index++) {
    const char = source.charAt(index);
    if (char !== quote) {
      if (!escaped && char === "\\") {
        escaped = true;
        continue;
      }
      if (escaped) {
        escaped = false;
        content += "\\";
      }
      content += char;
      continue;
    }
    if (escaped) {
      escaped = false;
      content += char;
      continue;
    }
    return { content, end: index };
  }
  return undefined;
}

/**
 * Double-quoted escapes: \a \b \f \n \r \t \v \" \\ and XSI octal \0NNN. `\$` becomes `$$`
 * so interpolation leaves a literal `$`. Anything else (\x41, \u00e9, \c) stays as written.
 */
export function expandEscapes(text: string): string {
  if (!text.includes("\\")) return text;
  let result = "";
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    if (char !== "\\" || index + 1 >= text.length) {
      result += char;
      index++;
      continue;
    }
    const next = text.charAt(index + 1);
    const simple = simpleEscape(next);
    if (simple !== undefined) {
      result += simple;
      index += 2;
    } else if (next === "0") {
      let end = index + 2;
      while (end < text.length && end < index + 5 && isDigit(text.charCodeAt(end))) end++;
      result += octalEscape(text.slice(index + 2, end));
      index = end;
    } else {
      result += char;
      index++;
    }
  }
  return result;
}

function simpleEscape(char: string): string | undefined {
  switch (char) {
    case "a":
      return "\u0007";
    case "b":
      return "\b";
    case "f":
      return "\f";
    case "n":
      return "\n";
    case "r":
      return "\r";
    case "t":
      return "\t";
    case "v":
      return "\v";
    case '"':
      return '"';
    case "\\":
      return "\\";
    case "$":
      return "$$";
    default:
      return undefined;
  }
}

/** `\0` + up to three digits: exactly three octal digits up to 255 make one character; otherwise `\` + the digits. */
function octalEscape(digits: string): string {
  if (/^[0-7]{3}$/.test(digits)) {
    const code = Number.parseInt(digits, 8);
    if (code <= 0xff) return String.fromCharCode(code);
  }
  return `\\${digits}`;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

const letterOrNumber = /^[\p{L}\p{N}]$/u;

/** [A-Za-z0-9_.\-\[\]] and any Unicode letter or number. */
function isKeyCharacter(code: number): boolean {
  if (code < 0x80) {
    return (
      (code >= 0x41 && code <= 0x5a) ||
      (code >= 0x61 && code <= 0x7a) ||
      isDigit(code) ||
      code === 0x5f ||
      code === 0x2e ||
      code === 0x2d ||
      code === 0x5b ||
      code === 0x5d
    );
  }
  return letterOrNumber.test(String.fromCodePoint(code));
}

/** The parser's "space": blanks that are not a line break. */
function isInlineSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c || code === 0x0d || code === 0x85 || code === 0xa0;
}

function skipInlineSpace(source: string, from: number): number {
  let offset = from;
  while (offset < source.length && isInlineSpace(source.charCodeAt(offset))) offset++;
  return offset;
}

/** Go's unicode.IsSpace (not JavaScript's \s, which differs on U+0085 and U+FEFF). */
function isUnicodeSpace(code: number): boolean {
  if (code <= 0xff) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0x85 || code === 0xa0;
  return (
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

function trimEndSpace(text: string): string {
  let end = text.length;
  while (end > 0 && isUnicodeSpace(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

function positionAt(file: string, source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let index = source.indexOf("\n"); index >= 0 && index < offset; index = source.indexOf("\n", index + 1)) {
    line++;
    lineStart = index + 1;
  }
  return { file, line, column: offset - lineStart + 1 };
}
