import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import { parseDotEnv } from "../../../src/compose/dotenv.js";

interface ParseSetup {
  readonly shell?: Readonly<Record<string, string>>;
  readonly earlier?: Readonly<Record<string, string>>;
  readonly warnings?: string[];
}

function parse(text: string, setup: ParseSetup = {}): Record<string, string> {
  const shell = setup.shell ?? {};
  const earlier = setup.earlier ?? {};
  const values = parseDotEnv(text, {
    file: "/project/.env",
    lookup: (name) => (Object.hasOwn(shell, name) ? shell[name] : undefined),
    fallback: (name) => (Object.hasOwn(earlier, name) ? earlier[name] : undefined),
    warn: (message) => setup.warnings?.push(message),
  });
  return Object.fromEntries(values);
}

function parseError(text: string, setup: ParseSetup = {}): ComposeError {
  try {
    parse(text, setup);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error(`expected a ComposeError for ${JSON.stringify(text)}`);
}

describe("parseDotEnv: values", () => {
  it.each<[string, string, Record<string, string>]>([
    ["unquoted", "FOO=bar", { FOO: "bar" }],
    ["spaces before =", "FOO =bar", { FOO: "bar" }],
    ["spaces after =", "FOO= bar", { FOO: "bar" }],
    ["leading whitespace", " KEY =value\n\tOTHER=x", { KEY: "value", OTHER: "x" }],
    ["trailing whitespace trimmed", "FOO=bar \t", { FOO: "bar" }],
    ["several = in the value", "FOO=foobar=", { FOO: "foobar=" }],
    ["yaml style", "OPTION_A: 1", { OPTION_A: "1" }],
    ["yaml style with = in value", "OPTION_A: Foo=bar", { OPTION_A: "Foo=bar" }],
    ["colon inside the value", "OPTION_A=1:B", { OPTION_A: "1:B" }],
    ["empty value", "OPTION_G=", { OPTION_G: "" }],
    ["empty value with spaces", "OPTION_F = \nNEXT=1", { OPTION_F: "", NEXT: "1" }],
    ["empty quoted values", "A=''\nB=\"\"", { A: "", B: "" }],
    ["blank lines and comments", "\n# comment\n\t # indented comment\n\nA=1\n\n", { A: "1" }],
    ["inline comment", "FOO=bar # this is foo", { FOO: "bar" }],
    ["inline comment without space after #", "FOO=bar #this is foo", { FOO: "bar" }],
    ["bare # at the end", "FOO=bar #", { FOO: "bar" }],
    ["# without a space before is data", "FOO=123#not-an-inline-comment", { FOO: "123#not-an-inline-comment" }],
    ["a value that starts with # is data", "FOO= #comment", { FOO: "#comment" }],
    ["# inside double quotes", 'FOO="bar#baz" # comment', { FOO: "bar#baz" }],
    ["# inside single quotes", "FOO='bar#baz' # comment", { FOO: "bar#baz" }],
    ["comment right after the closing quote", 'FOO="bar#baz"#', { FOO: "bar#baz" }],
    ["export", "export OPTION_A=2", { OPTION_A: "2" }],
    ["export with a tab", "export\tOPTION_A=2", { OPTION_A: "2" }],
    ["indented export", "  export OPTION_A=2", { OPTION_A: "2" }],
    ["export as a key prefix", "exportFOO=2\nexport_FOO =2\nexport.FOO= 2", { exportFOO: "2", export_FOO: "2", "export.FOO": "2" }],
    ["export before a key starting with export", "export exportFoo=2", { exportFoo: "2" }],
    ["export inside a quoted value", 'export OPTION_A="export A"', { OPTION_A: "export A" }],
    ["dots, dashes and brackets in keys", "VAR.WITH.DOTS=dots\nVAR-WITH-DASHES=dashes\na[1]=c", { "VAR.WITH.DOTS": "dots", "VAR-WITH-DASHES": "dashes", "a[1]": "c" }],
    ["unicode keys", "árvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép", { "árvíztűrő-TÜKÖRFÚRÓGÉP": "ÁRVÍZTŰRŐ-tükörfúrógép" }],
    ["keys starting with a digit", "456 = ABC", { "456": "ABC" }],
    ["an empty key", '="value"', { "": "value" }],
    ["later keys win", "A=1\nA=2", { A: "2" }],
    ["single quotes are literal", "BAR='quote $FOO \\n'", { BAR: "quote $FOO \\n" }],
    ["escaped single quote", "OPTION_K='Let\\'s go!'", { OPTION_K: "Let's go!" }],
    ["double quotes inside single quotes", "A='say \"hi\"'", { A: 'say "hi"' }],
    ["single quotes inside double quotes", "FOO=\"'d'\"", { FOO: "'d'" }],
    ["escaped double quotes", 'FOO="escaped\\"bar"\nBAR="\\"quoted\\""', { FOO: 'escaped"bar', BAR: '"quoted"' }],
    ["\\n in double quotes", 'FOO="bar\\nbaz"', { FOO: "bar\nbaz" }],
    ["\\t unquoted stays literal", "FOO=a\\tb", { FOO: "a\\tb" }],
    ["\\t in double quotes", 'FOO="a\\tb"', { FOO: "a\tb" }],
    ["shell escapes", 'KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', { KEY: "Z\u0007Z\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ" }],
    ["unknown escapes stay", 'A="\\x07"\nB="\\u12e4"\nC="\\c"', { A: "\\x07", B: "\\u12e4", C: "\\c" }],
    ["backslash before a space stays", 'FOO="bar\\n\\ b\\az"', { FOO: "bar\n\\ b\u0007z" }],
    ["escaped backslash then n", 'FOO="bar\\\\r\\ b\\az"', { FOO: "bar\\r\\ b\u0007z" }],
    ["trailing escaped backslash", 'FOO="bar\\nbaz\\\\"', { FOO: "bar\nbaz\\" }],
    ["octal needs three octal digits", 'A="\\0"\nB="\\01"\nC="\\0400"\nD="\\0089"', { A: "\\", B: "\\1", C: "\\400", D: "\\089" }],
    ["multi-line double quotes", 'A="line one\nline two"\nB=2', { A: "line one\nline two", B: "2" }],
    ["multi-line single quotes", "OPTION_J = 'first line\nsecond line\nand so on'\nZ=last", { OPTION_J: "first line\nsecond line\nand so on", Z: "last" }],
    ["CRLF line endings", "A=1\r\nB='2'\r\nC=\"3\"\r\n", { A: "1", B: "2", C: "3" }],
    ["a UTF-8 byte order mark", "\uFEFFOPTION_A=1\nOPTION_B=2", { OPTION_A: "1", OPTION_B: "2" }],
    ["a value after the closing quote starts a new statement", 'A="1"B=2', { A: "1", B: "2" }],
  ])("%s", (_name, text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it("keeps keys in file order", () => {
    expect([...parseDotEnv("B=1\nA=2\nC=3", { file: ".env", lookup: () => undefined }).keys()]).toEqual(["B", "A", "C"]);
  });
});

describe("parseDotEnv: interpolation", () => {
  it.each<[string, string, ParseSetup, Record<string, string>]>([
    ["$VAR from an earlier key", "FOO=test\nBAR=$FOO", {}, { FOO: "test", BAR: "test" }],
    ["${VAR} from an earlier key", "FOO=test\nBAR=${FOO}bar", {}, { FOO: "test", BAR: "testbar" }],
    ["unset expands to empty", "BAR=$FOO", {}, { BAR: "" }],
    ["double quotes interpolate", 'FOO=test\nBAR="quote $FOO"', {}, { FOO: "test", BAR: "quote test" }],
    ["single quotes do not", "FOO=test\nBAR='quote $FOO'", {}, { FOO: "test", BAR: "quote $FOO" }],
    ["\\$ in double quotes is a literal $", 'FOO="foo\\$BAR"', { shell: { BAR: "x" } }, { FOO: "foo$BAR" }],
    ["\\${ in double quotes is literal", 'FOO=test\nBAR="foo\\${FOO} ${FOO}"', {}, { FOO: "test", BAR: "foo${FOO} test" }],
    ["$$ is a literal $", "FOO=$$BAR", { shell: { BAR: "x" } }, { FOO: "$BAR" }],
    ["later keys do not exist yet", "A=${B}\nB=1", {}, { A: "", B: "1" }],
    ["lookup wins over the file's own keys", "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B", { shell: { OPTION_A: "5" } }, { OPTION_A: "1", OPTION_B: "5", OPTION_C: "5" }],
    ["defaults", "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}_${UNSET-x}", {}, { OPTION_A: "1", OPTION_B: "1_x" }],
    ["defaults with the variable in the lookup", "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}", { shell: { OPTION_A: "5" } }, { OPTION_A: "5", OPTION_B: "5" }],
    ["-, :- and :+ on an empty key", "E=\nA=${E-d}\nB=${E:-d}\nC=${E:+alt}\nD=${E+alt}", {}, { E: "", A: "", B: "d", C: "", D: "alt" }],
    ["fallback after the file's own keys", "A=${EARLY}\nEARLY=mine\nB=${EARLY}", { earlier: { EARLY: "before" } }, { A: "before", EARLY: "mine", B: "mine" }],
    ["multi-line values interpolate", 'A=x\nB="${A}\n${A}"', {}, { A: "x", B: "x\nx" }],
  ])("%s", (_name, text, setup, expected) => {
    expect(parse(text, setup)).toEqual(expected);
  });

  it("warns about unset variables, in Compose's words", () => {
    const warnings: string[] = [];
    parse("A=${NOPE}\nB=${NOPE:-fine}", { warnings });
    expect(warnings).toEqual(['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });
});

describe("parseDotEnv: bare KEY lines", () => {
  it.each<[string, string, ParseSetup, Record<string, string>]>([
    ["inherits from the lookup", "foo=bar\nVAR_FROM_OS\nbar=baz\n", { shell: { VAR_FROM_OS: "x" } }, { foo: "bar", VAR_FROM_OS: "x", bar: "baz" }],
    ["is left out when the lookup has nothing", "VARIABLE_NOT_FOUND\n", {}, {}],
    ["inherits an empty value", "EMPTY\n", { shell: { EMPTY: "" } }, { EMPTY: "" }],
    ["does not use the fallback", "EARLY\n", { earlier: { EARLY: "x" } }, {}],
    ["works with export", "export VAR\n", { shell: { VAR: "v" } }, { VAR: "v" }],
    ["works at the end of the file", "A=1\nVAR", { shell: { VAR: "v" } }, { A: "1", VAR: "v" }],
    ["ignores trailing blanks", "VAR \t\r\n", { shell: { VAR: "v" } }, { VAR: "v" }],
  ])("%s", (_name, text, setup, expected) => {
    expect(parse(text, setup)).toEqual(expected);
  });
});

describe("parseDotEnv: errors", () => {
  it.each<[string, string, string, number, number]>([
    ["a $ in the key", "lol$wut", "E_COMPOSE_ENV_FILE", 1, 4],
    ["punctuation in the key", "%!(EXTRA string)=foo", "E_COMPOSE_ENV_FILE", 1, 1],
    ["a quote in the key", "A=1\n  FOO'=1", "E_COMPOSE_ENV_FILE", 2, 6],
    ["a space in the key", '# some comments\nfoo="\n  a\n  multine\n  value\n"\nINVALID LINE\nzot=qix', "E_COMPOSE_ENV_FILE", 7, 1],
    ["a space in a bare key", "A=1\nTWO WORDS\n", "E_COMPOSE_ENV_FILE", 2, 1],
    ["junk after a closing quote", "FOO=\"a\" 'b'", "E_COMPOSE_ENV_FILE", 1, 9],
    ['unterminated "', 'KEY="', "E_COMPOSE_ENV_FILE", 1, 5],
    ['unterminated "value', 'KEY="value', "E_COMPOSE_ENV_FILE", 1, 5],
    ["unterminated: escaped closing quote", 'KEY="value\\"', "E_COMPOSE_ENV_FILE", 1, 5],
    ["unterminated: other quote", "KEY=\"value'", "E_COMPOSE_ENV_FILE", 1, 5],
    ["unterminated '", "KEY='", "E_COMPOSE_ENV_FILE", 1, 5],
    ["unterminated: escaped single quote", "KEY='value\\'", "E_COMPOSE_ENV_FILE", 1, 5],
    ["unterminated across lines", 'A=1\nB = "open\nC=2\n', "E_COMPOSE_ENV_FILE", 2, 5],
    ["export and nothing else", "export   ", "E_COMPOSE_ENV_FILE", 1, 10],
    ["invalid interpolation, unquoted", "A=1\nFOO=${BAR", "E_COMPOSE_ENV_FILE", 2, 5],
    ["invalid interpolation, double quoted", 'FOO= "${BAR baz}"', "E_COMPOSE_ENV_FILE", 1, 6],
    ["required variable missing", "A=1\n\nFOO=${BAR:?need BAR}", "E_COMPOSE_REQUIRED_VARIABLE", 3, 5],
    ["required variable empty", "BAR=\nFOO=\"${BAR:?}\"", "E_COMPOSE_REQUIRED_VARIABLE", 2, 5],
  ])("%s", (_name, text, code, line, column) => {
    const error = parseError(text);
    expect(error.code).toBe(code);
    expect(error.file).toBe("/project/.env");
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
  });
});
