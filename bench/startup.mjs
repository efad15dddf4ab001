#!/usr/bin/env node
// Start-up cost: `berth version` against Node doing nothing (`node -e 0`).
//
//   node bench/startup.mjs [RUNS]      (default 20 runs each)
//
// Both run under the same Node binary (process.execPath), interleaved (node, berth, berth, node, ...)
// so drift hits both alike. Prints both medians and the difference, which is what berth adds on
// top of Node's own start (DESIGN.md: "a command costs little more than Node's own start").
// Builds dist/ first, so it measures the source as it is.

import { spawnSync } from "node:child_process";
import { berthBin, buildBerth, formatMs, measure, median, positiveIntegerArgument, printTimings, repoRoot, timeInterleaved } from "./harness.mjs";

const runs = positiveIntegerArgument(process.argv[2], 20, "node bench/startup.mjs [RUNS]");

const contenders = {
  "node -e 0": ["-e", "0"],
  "berth version": [berthBin, "version"],
};

function time(name) {
  const args = contenders[name];
  const { result, milliseconds } = measure(() =>
    spawnSync(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" }),
  );
  if (result.status !== 0) {
    console.error(`${name} failed (exit status ${result.status}):\n${result.stderr}`);
    process.exit(1);
  }
  return milliseconds;
}

buildBerth();
const names = Object.keys(contenders);
for (const name of names) time(name); // warm the page cache; not counted
const timings = timeInterleaved(names, runs, time);
console.log(`node ${process.version}, ${runs} interleaved runs each`);
printTimings(timings);
const difference = median(timings["berth version"]) - median(timings["node -e 0"]);
console.log(`berth adds ${formatMs(difference)} over node's own start (difference of medians)`);
