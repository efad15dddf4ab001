#!/usr/bin/env node
// A longer run of the loader fuzzer (test/unit/compose/fuzz.test.ts) than the test suite's ~300 runs.
//
//   node scripts/fuzz-loader.mjs [RUNS] [SECONDS] [SEED]
//
// Defaults: 30000 runs, 120 seconds, a random seed; it stops at whichever limit comes first. Both
// are totals, split evenly over the three input sources (random strings, YAML-ish documents,
// mutated corpus files). On a failure fast-check prints the counterexample, shrunk, and this script
// prints the command that replays it. Same arbitraries and checks as the unit test, so what this
// finds, the test suite can pin with the seed.

import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const testFile = "test/unit/compose/fuzz.test.ts";

function positive(text, fallback, name) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`usage: node scripts/fuzz-loader.mjs [RUNS] [SECONDS] [SEED]  (${name} must be a positive integer)`);
    process.exit(2);
  }
  return value;
}

const runs = positive(process.argv[2], 30_000, "RUNS");
const seconds = positive(process.argv[3], 120, "SECONDS");
const seed = positive(process.argv[4], randomInt(1, 2 ** 31 - 1), "SEED");

console.log(`fuzzing the loader: up to ${runs} runs or ${seconds} s, seed ${seed}`);
const vitest = path.join(repoRoot, "node_modules", "vitest", "vitest.mjs");
const result = spawnSync(process.execPath, [vitest, "run", testFile], {
  cwd: repoRoot,
  stdio: "inherit",
  env: {
    ...process.env,
    BERTH_FUZZ_RUNS: String(runs),
    BERTH_FUZZ_SECONDS: String(seconds),
    BERTH_FUZZ_SEED: String(seed),
  },
});
if (result.status !== 0) {
  console.error(`\nfuzzing found a problem; replay with: node scripts/fuzz-loader.mjs ${runs} ${seconds} ${seed}`);
  process.exit(result.status ?? 1);
}
