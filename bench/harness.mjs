// What the benchmark scripts share: a fresh build, interleaved timing, medians.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
export const berthBin = path.join(repoRoot, "bin", "berth");

/** Build dist/ so a benchmark measures the source as it is now (esbuild takes well under a second). */
export function buildBerth() {
  if (spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" }).status !== 0) process.exit(1);
}

/** A positive integer command-line argument, or the fallback; exits with the usage line otherwise. */
export function positiveIntegerArgument(text, fallback, usage) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value > 0) return value;
  console.error(`usage: ${usage}  (expected a positive integer, got ${JSON.stringify(text)})`);
  process.exit(2);
}

/**
 * Milliseconds per contender over `runs` rounds. Rounds alternate the order (a, b, then b, a) so
 * that drift and cache effects hit every contender alike. `timeOne(name)` returns one duration.
 */
export function timeInterleaved(names, runs, timeOne) {
  const timings = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < runs; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) timings[name].push(timeOne(name));
  }
  return timings;
}

/** Wall-clock milliseconds of a synchronous call. */
export function measure(call) {
  const started = performance.now();
  const result = call();
  return { result, milliseconds: performance.now() - started };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const formatMs = (milliseconds) => `${milliseconds.toFixed(1)} ms`;

/** One line per contender: median, min, max. */
export function printTimings(timings) {
  const width = Math.max(...Object.keys(timings).map((name) => name.length)) + 2;
  for (const [name, values] of Object.entries(timings)) {
    const cells = [median(values), Math.min(...values), Math.max(...values)].map((value) => formatMs(value).padStart(10));
    console.log(`${name.padEnd(width)}median ${cells[0]}   min ${cells[1]}   max ${cells[2]}`);
  }
}
