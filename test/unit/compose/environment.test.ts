import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import type { FileReader } from "../../../src/compose/context.js";
import { resolveEnvironment, selectEnvFiles, type EnvironmentRequest } from "../../../src/compose/environment.js";

/** In-memory files; a path ending in "/" in `directories` is a directory. Reads of unknown paths throw. */
function memoryFiles(files: Readonly<Record<string, string>>, directories: readonly string[] = []): FileReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readText(file) {
      reads.push(file);
      const text = files[file];
      if (text === undefined) throw new Error(`unexpected read of ${file}`);
      return text;
    },
    exists: (file) => Object.hasOwn(files, file) || directories.includes(file),
    isDirectory: (file) => directories.includes(file),
  };
}

function request(overrides: Partial<EnvironmentRequest> & Pick<EnvironmentRequest, "files">): EnvironmentRequest {
  return { projectDirectory: "/project", envFiles: undefined, osEnvironment: {}, ...overrides };
}

function resolveError(input: EnvironmentRequest): ComposeError {
  try {
    resolveEnvironment(input);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error("expected a ComposeError");
}

describe("resolveEnvironment", () => {
  it("uses the OS environment, dropping undefined values", () => {
    const environment = resolveEnvironment(request({ files: memoryFiles({}), osEnvironment: { A: "1", B: undefined, C: "" } }));
    expect(environment).toEqual({ A: "1", C: "" });
  });

  it("reads <projectDirectory>/.env by default, and the OS environment wins over it", () => {
    const files = memoryFiles({ "/project/.env": "A=from-file\nB=from-file\n" });
    const environment = resolveEnvironment(request({ files, osEnvironment: { A: "from-os" } }));
    expect(environment).toEqual({ A: "from-os", B: "from-file" });
  });

  it("lets the OS environment win inside the file's own interpolation too", () => {
    const files = memoryFiles({ "/project/.env": "FOO=file\nBAR=${FOO}\n" });
    expect(resolveEnvironment(request({ files, osEnvironment: { FOO: "os" } }))).toEqual({ FOO: "os", BAR: "os" });
  });

  it.each<[string, Readonly<Record<string, string>>, readonly string[], Record<string, string | undefined>, Record<string, string>]>([
    ["no .env at all", {}, [], {}, {}],
    [".env is a directory", {}, ["/project/.env"], {}, {}],
    ["COMPOSE_DISABLE_ENV_FILE=true", { "/project/.env": "A=1" }, [], { COMPOSE_DISABLE_ENV_FILE: "true" }, { COMPOSE_DISABLE_ENV_FILE: "true" }],
    ["COMPOSE_DISABLE_ENV_FILE=1", { "/project/.env": "A=1" }, [], { COMPOSE_DISABLE_ENV_FILE: "1" }, { COMPOSE_DISABLE_ENV_FILE: "1" }],
    ["COMPOSE_DISABLE_ENV_FILE=false", { "/project/.env": "A=1" }, [], { COMPOSE_DISABLE_ENV_FILE: "false" }, { COMPOSE_DISABLE_ENV_FILE: "false", A: "1" }],
    ["COMPOSE_DISABLE_ENV_FILE=F", { "/project/.env": "A=1" }, [], { COMPOSE_DISABLE_ENV_FILE: "F" }, { COMPOSE_DISABLE_ENV_FILE: "F", A: "1" }],
  ])("default .env: %s", (_name, contents, directories, osEnvironment, expected) => {
    expect(resolveEnvironment(request({ files: memoryFiles(contents, directories), osEnvironment }))).toEqual(expected);
  });

  it("rejects a COMPOSE_DISABLE_ENV_FILE that is not a boolean", () => {
    const error = resolveError(request({ files: memoryFiles({}), osEnvironment: { COMPOSE_DISABLE_ENV_FILE: "" } }));
    expect(error.code).toBe("E_COMPOSE_ENV_FILE");
  });

  it("reads explicit files in order: later files override and can use earlier values", () => {
    const files = memoryFiles({
      "/env/one": "A=1\nB=one\n",
      "/env/two": "B=two\nC=${A}-${B}\n",
      "/project/.env": "IGNORED=1",
    });
    const environment = resolveEnvironment(request({ files, envFiles: ["/env/one", "/env/two"] }));
    expect(environment).toEqual({ A: "1", B: "two", C: "1-two" });
    expect(files.reads).toEqual(["/env/one", "/env/two"]);
  });

  it("reads explicit files even when COMPOSE_DISABLE_ENV_FILE is set", () => {
    const files = memoryFiles({ "/env/one": "A=1" });
    const environment = resolveEnvironment(request({ files, envFiles: ["/env/one"], osEnvironment: { COMPOSE_DISABLE_ENV_FILE: "true" } }));
    expect(environment["A"]).toBe("1");
  });

  it("treats an empty envFiles list like no list", () => {
    const files = memoryFiles({ "/project/.env": "A=1" });
    expect(resolveEnvironment(request({ files, envFiles: [] }))).toEqual({ A: "1" });
  });

  it.each<[string, Record<string, string>, string[], string[]]>([
    ["relative to the working directory", { COMPOSE_ENV_FILES: "a.env,../b.env" }, [], ["/work/a.env", "/b.env"]],
    ["empty entries dropped", { COMPOSE_ENV_FILES: ",a.env,,/abs.env," }, [], ["/work/a.env", "/abs.env"]],
    ["--env-file wins over it", { COMPOSE_ENV_FILES: "a.env" }, ["/flag.env"], ["/flag.env"]],
    ["empty means the default .env", { COMPOSE_ENV_FILES: "" }, [], ["/project/.env"]],
    ["it wins over COMPOSE_DISABLE_ENV_FILE", { COMPOSE_ENV_FILES: "a.env", COMPOSE_DISABLE_ENV_FILE: "true" }, [], ["/work/a.env"]],
  ])("COMPOSE_ENV_FILES: %s", (_name, osEnvironment, envFiles, expected) => {
    const files = memoryFiles({ "/project/.env": "" });
    expect(selectEnvFiles(request({ files, osEnvironment, envFiles, workingDirectory: "/work" }))).toEqual(expected);
  });

  it("reads the files COMPOSE_ENV_FILES names", () => {
    const files = memoryFiles({ "/work/a.env": "A=1", "/work/b.env": "B=${A}2" });
    const environment = resolveEnvironment(
      request({ files, osEnvironment: { COMPOSE_ENV_FILES: "a.env,b.env" }, workingDirectory: "/work" }),
    );
    expect(environment).toMatchObject({ A: "1", B: "12" });
  });

  it.each<[string, Partial<EnvironmentRequest>]>([
    ["a missing --env-file", { envFiles: ["/env/missing"] }],
    ["a directory as --env-file", { envFiles: ["/env/dir"] }],
    ["a missing COMPOSE_ENV_FILES entry", { osEnvironment: { COMPOSE_ENV_FILES: "/env/missing" } }],
  ])("rejects %s", (_name, overrides) => {
    const error = resolveError(request({ files: memoryFiles({}, ["/env/dir"]), ...overrides }));
    expect(error.code).toBe("E_COMPOSE_ENV_FILE");
    expect(error.file).toMatch(/^\/env\//);
  });

  it("reports a syntax error with the env file's position", () => {
    const files = memoryFiles({ "/env/one": "A=1", "/env/two": "B=2\nBAD KEY=3\n" });
    const error = resolveError(request({ files, envFiles: ["/env/one", "/env/two"] }));
    expect([error.code, error.file, error.line, error.column]).toEqual(["E_COMPOSE_ENV_FILE", "/env/two", 2, 1]);
  });

  it("passes unset-variable warnings on", () => {
    const warnings: string[] = [];
    const files = memoryFiles({ "/project/.env": "A=${MISSING}" });
    resolveEnvironment(request({ files, warn: (message) => warnings.push(message) }));
    expect(warnings).toEqual(['The "MISSING" variable is not set. Defaulting to a blank string.']);
  });

  it("adds PWD from the working directory when the shell has none, as Compose does", () => {
    const files = memoryFiles({});
    expect(resolveEnvironment(request({ files, workingDirectory: "/work" }))).toEqual({ PWD: "/work" });
    expect(resolveEnvironment(request({ files, workingDirectory: "/work", osEnvironment: { PWD: "/elsewhere" } }))).toEqual({
      PWD: "/elsewhere",
    });
  });

  it("keeps a __proto__ key as a plain key", () => {
    const files = memoryFiles({ "/project/.env": "__proto__=x\n" });
    const environment = resolveEnvironment(request({ files }));
    expect(Object.getPrototypeOf(environment)).toBe(Object.prototype);
    expect(Object.keys(environment)).toEqual(["__proto__"]);
  });
});
