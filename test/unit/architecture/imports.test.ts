// DESIGN.md's "may import" table, enforced: layers by data flow, imports point down,
// and a folder is entered only through its index.ts.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const sourceRoot = path.resolve(import.meta.dirname, "../../../src");

/** Which top-level folders of src/ each folder may import (values); `type` = only with `import type`. */
const allowed: Record<string, { values: readonly string[]; types: readonly string[] }> = {
  compose: { values: ["errors", "compare"], types: [] },
  plan: { values: ["errors", "compare", "compose"], types: ["runtime", "network"] },
  reconcile: { values: ["errors", "compare", "plan", "compose"], types: ["runtime", "network"] },
  runtime: { values: ["errors", "compare", "network"], types: [] },
  network: { values: ["errors", "compare"], types: [] },
  cli: { values: ["errors", "compare", "compose", "plan", "reconcile", "runtime", "network"], types: [] },
  // The leaves every layer shares: typed errors, and ordering text the same way everywhere.
  errors: { values: ["compare"], types: [] },
  compare: { values: [], types: [] },
};

/** Node modules that would give the pure layers side effects. */
const forbiddenBuiltins: Record<string, readonly RegExp[]> = {
  compose: [/^node:child_process$/, /^node:net$/, /^node:http/],
  plan: [/^node:/],
};

interface ImportStatement {
  readonly file: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

function importsOf(file: string): ImportStatement[] {
  const text = readFileSync(file, "utf8");
  const statements: ImportStatement[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?[^;'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;
  for (const match of text.matchAll(pattern)) {
    const specifier = match[3] ?? match[4];
    if (specifier !== undefined) statements.push({ file, specifier, typeOnly: match[2] !== undefined });
  }
  return statements;
}

/** `compose` for src/compose/x.ts, `errors` for src/errors.ts. */
function layerOf(file: string): string {
  const relative = path.relative(sourceRoot, file).split(path.sep);
  const head = relative[0] ?? "";
  return relative.length === 1 ? head.replace(/\.ts$/, "") : head;
}

const files = sourceFiles(sourceRoot);
const statements = files.flatMap(importsOf);

describe("import boundaries", () => {
  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it("imports only point down the data flow", () => {
    const violations: string[] = [];
    for (const statement of statements) {
      if (!statement.specifier.startsWith(".")) continue;
      const from = layerOf(statement.file);
      const target = path.resolve(path.dirname(statement.file), statement.specifier).replace(/\.js$/, ".ts");
      if (!target.startsWith(sourceRoot)) continue;
      const to = layerOf(target);
      if (to === from) continue;
      const rule = allowed[from];
      const ok = rule !== undefined && (rule.values.includes(to) || (statement.typeOnly && rule.types.includes(to)));
      if (!ok) violations.push(`${path.relative(sourceRoot, statement.file)} imports ${statement.specifier}`);
    }
    expect(violations).toEqual([]);
  });

  it("enters another folder only through its index.ts", () => {
    const violations: string[] = [];
    for (const statement of statements) {
      if (!statement.specifier.startsWith(".")) continue;
      const target = path.resolve(path.dirname(statement.file), statement.specifier);
      const from = layerOf(statement.file);
      const to = layerOf(target.replace(/\.js$/, ".ts"));
      if (to === from || to === "errors" || to === "compare") continue;
      if (path.basename(target) !== "index.js") violations.push(`${path.relative(sourceRoot, statement.file)} imports ${statement.specifier}`);
    }
    expect(violations).toEqual([]);
  });

  it("keeps the pure layers free of side-effecting built-ins", () => {
    const violations: string[] = [];
    for (const statement of statements) {
      const rules = forbiddenBuiltins[layerOf(statement.file)] ?? [];
      if (rules.some((rule) => rule.test(statement.specifier)) && !statement.typeOnly) {
        violations.push(`${path.relative(sourceRoot, statement.file)} imports ${statement.specifier}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("keeps src/compose from writing files", () => {
    const writers = /\b(writeFileSync|writeFile|appendFile|mkdirSync|rmSync|renameSync|unlinkSync|createWriteStream)\b/;
    const offenders = files.filter((file) => layerOf(file) === "compose" && writers.test(readFileSync(file, "utf8")));
    expect(offenders.map((file) => path.relative(sourceRoot, file))).toEqual([]);
  });
});
