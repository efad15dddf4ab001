// The floor under `berth container run --rm IMAGE true` that no berth code can go below: Node
// starts, spawns berth-shim on a bundle berth already wrote (detached, the ready pipe on fd 3,
// exactly as src/runtime/container/shim.ts does), reads its `ok <pid>` line, and waits until the
// shim records the exit in status.json. No argument parsing, image lookup, records or removal.
// CommonJS and plain Node, so that it costs what `node -e 0` costs plus what it does.
//
//   node bench/shim-floor.cjs SHIM BUNDLE RUNDIR      (bench/container-run.mjs runs it)

const { spawn } = require("node:child_process");
const { readFileSync, watch } = require("node:fs");

const [shim, bundle, runDirectory] = process.argv.slice(2);
const exited = () => {
  try {
    return JSON.parse(readFileSync(`${runDirectory}/status.json`, "utf8")).status === "exited";
  } catch {
    return false; // not written yet, or being replaced
  }
};

const child = spawn(shim, ["start", bundle], { detached: true, stdio: ["ignore", "ignore", "ignore", "pipe"] });
let line = "";
child.stdio[3].on("data", (chunk) => {
  line += chunk;
  if (!line.includes("\n")) return;
  child.stdio[3].destroy();
  child.unref();
  if (!line.startsWith("ok ")) {
    process.stderr.write(`berth-shim: ${line}`);
    process.exitCode = 1;
    return;
  }
  // Watch first, then look: an exit between a look and the watch would never be seen.
  const watcher = watch(runDirectory, () => {
    if (exited()) watcher.close();
  });
  if (exited()) watcher.close();
});
