// Compile the CLI ahead of time: one ESM bundle per entry, split so that each verb's
// modules load only when that verb runs.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

// The C programs (shim, layer applier) first: the engine cannot run without them.
execFileSync("make", ["-s", "-C", "native"], { stdio: "inherit" });

// The bundle imports the standalone schema validator: generate it from the schema first.
await (await import("./build-schema.mjs")).writeSchemaValidator();

// Chunk names carry content hashes: start from an empty dist/ so stale chunks never pile up.
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

await build({
  entryPoints: { main: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  define: { BERTH_VERSION: JSON.stringify(version) },
  // Bundled CommonJS dependencies (ajv) call require(); give them Node's.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
});
