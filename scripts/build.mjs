// Compile the CLI ahead of time: bundles, loaded by a launcher that keeps V8's compiled code
// between commands, with each verb's modules evaluated only when that verb runs.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

// The C programs (shim, layer applier) first: the engine cannot run without them.
execFileSync("make", ["-s", "-C", "native"], { stdio: "inherit" });

// The bundle imports the standalone schema validator: generate it from the schema first.
await (await import("./build-schema.mjs")).writeSchemaValidator();

// Start from an empty dist/: no stale code cache may outlive the bundle it was made from.
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

// The CLI is a set of CommonJS bundles that dist/main.cjs, the launcher, runs through V8's code
// cache (src/cli/launcher.ts): dist/berth.cjs with every command, and one per command family
// (src/cli/entries/<family>.ts, src/cli/bundles.ts) with only that family's modules. Verbs still
// load lazily: esbuild turns each dynamic import of a bundled module into a call that evaluates
// that module on first use.
const common = { bundle: true, platform: "node", target: "node20", sourcemap: "linked", minifySyntax: true, legalComments: "none", logLevel: "warning" };
const entries = { berth: "src/cli/main.ts" };
for (const file of readdirSync(new URL("../src/cli/entries", import.meta.url)).sort()) {
  if (file.endsWith(".ts")) entries[file.slice(0, -".ts".length)] = `src/cli/entries/${file}`;
}
await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      ...common,
      entryPoints: [entry],
      outfile: `dist/${name}.cjs`,
      format: "cjs",
      // The modules that find native/build from their own location read import.meta.url: in the
      // bundle that is the bundle's own file.
      define: { BERTH_VERSION: JSON.stringify(version), "import.meta.url": "__berthModuleUrl" },
      banner: { js: 'const __berthModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    }),
  ),
);
// The launcher is CommonJS too, as is bin/berth: Node's ES module loader costs about 8 ms a start.
await build({
  ...common,
  entryPoints: ["src/cli/launcher.ts"],
  outfile: "dist/main.cjs",
  format: "cjs",
  define: { "import.meta.url": "__berthModuleUrl" },
  banner: { js: 'const __berthModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});

for (const name of Object.keys(entries)) {
  const bundleFile = new URL(`../dist/${name}.cjs`, import.meta.url);
  const bundled = readFileSync(bundleFile, "utf8");
  // A vm.Script has no loader for import(): every dynamic import must have been bundled away.
  const left = /\bimport\((?!\s*\))/.exec(bundled);
  if (left !== null) throw new Error(`dist/${name}.cjs still calls import() (${left[0]}…): import that module statically or bundle it`);
  // ASCII only, so the launcher can read it as latin1: esbuild escapes strings, not regular
  // expressions or comments; a \u escape means the same character in all three.
  writeFileSync(bundleFile, bundled.replace(/[^\x00-\x7f]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`));
}
