// dist/main.cjs: loads the bundle that runs the command (dist/<family>.cjs, ./bundles.ts) through
// V8's code cache, so that a command does not compile again what its previous run compiled.
// Node 20 caches no code for the modules it loads itself; a vm.Script takes and produces cached
// data. Each command has its own cache (./code-cache.ts), written at the exit of a successful run
// when it was missing, stale or rejected by V8.

import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { bundleFor } from "./bundles.js";
import { cacheFileFor, commandSignature, readCache, writeCache } from "./code-cache.js";

function launch(): void {
  const directory = path.dirname(fileURLToPath(import.meta.url));
  const signature = commandSignature(process.argv.slice(2));
  const bundle = path.join(directory, `${bundleFor(signature.split(" ")[0] ?? "")}.cjs`);
  // The build makes the bundle ASCII-only, so latin1 reads it exactly and twice as fast as UTF-8.
  const source = readFileSync(bundle, "latin1");
  const status = statSync(bundle);
  const bundleId = `${status.size}:${status.mtimeMs}`;
  const cacheFile = cacheFileFor(path.join(directory, "cache"), signature);
  const cache = cacheFile === undefined ? undefined : readCache(cacheFile, bundleId);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cache === undefined ? {} : { cachedData: cache.data }),
  });
  if (cacheFile !== undefined && (cache === undefined || script.cachedDataRejected === true)) {
    process.once("exit", (code) => {
      if (code === 0) writeCache(cacheFile, { header: { bundle: bundleId, node: process.version }, data: script.createCachedData() });
    });
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, directory);
}

launch();
