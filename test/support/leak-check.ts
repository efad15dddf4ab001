// Global setup for the whole suite: proves that the tests leave none of berth's kernel objects
// behind. It snapshots berth-named mounts, cgroups, shim processes, links, network namespaces and
// iptables rules before the run, and after it fails the run for anything new. The verdict is also
// written to .vitest-leaks.json, which .ci/run counts as one more check.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const verdictFile = path.join(repoRoot, ".vitest-leaks.json");
const redirectTool = path.join(repoRoot, "native", "build", "berth-redirect");

type Snapshot = ReadonlyMap<string, ReadonlySet<string>>;

function lines(command: string, args: readonly string[]): string[] {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .filter((line) => line !== "");
  } catch {
    return [];
  }
}

function mounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint.includes("berth"));
}

function cgroups(): string[] {
  const roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];
  const found: string[] = [];
  const controllers = existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : [];
  for (const base of [...roots, ...controllers.map((name) => path.join("/sys/fs/cgroup", name))]) {
    const berth = path.join(base, "berth");
    if (!existsSync(berth)) continue;
    for (const entry of readdirSync(berth, { withFileTypes: true })) {
      if (entry.isDirectory()) found.push(path.join(berth, entry.name));
    }
  }
  return [...new Set(found)];
}

function shimProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if ((command[0] ?? "").endsWith("berth-shim")) found.push(`${pid} ${command.join(" ").trim()}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function snapshot(): Snapshot {
  return new Map<string, ReadonlySet<string>>([
    ["mount", new Set(mounts())],
    ["cgroup", new Set(cgroups())],
    ["shim process", new Set(shimProcesses())],
    ["link", new Set(lines("ip", ["-o", "link", "show"]).map((line) => line.split(": ")[1]?.split("@")[0] ?? "").filter((name) => /^(br-|vb)/.test(name)))],
    ["netns", new Set(lines("ip", ["netns", "list"]).map((line) => line.split(" ")[0] ?? ""))],
    ["iptables", new Set(lines("iptables-save", []).filter((line) => line.includes("BERTH")))],
    // berth-redirect's program (attached while any port is published) and its entries.
    ["port redirect", new Set(existsSync(redirectTool) ? lines(redirectTool, ["list"]).map((line) => (line.startsWith("program ") ? "program attached" : line.startsWith("peer-program ") ? "peer program attached" : line)) : [])],
  ]);
}

export default function setup(): () => void {
  writeFileSync(verdictFile, JSON.stringify({ checked: false }));
  const before = snapshot();
  return () => {
    const after = snapshot();
    const leaks: string[] = [];
    for (const [kind, objects] of after) {
      for (const object of objects) if (!before.get(kind)?.has(object)) leaks.push(`${kind}: ${object}`);
    }
    writeFileSync(verdictFile, JSON.stringify({ checked: true, leaks }, null, 2));
    if (leaks.length > 0) throw new Error(`the tests left berth objects behind:\n  ${leaks.join("\n  ")}`);
  };
}
