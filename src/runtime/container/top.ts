// `top`: the processes of a container (its cgroup's pids), as `ps -ef` shows them on the host
// (UID PID PPID C STIME TTY TIME CMD), read from /proc. Custom ps options run the host's `ps`
// and keep the rows whose PID is in the container, as Docker does.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BerthError } from "../../errors.js";

export const TopErrorCode = "E_CONTAINER_TOP";

export interface TopResult {
  readonly Titles: readonly string[];
  readonly Processes: readonly (readonly string[])[];
}

const clockTicks = 100;

function hostUserNames(): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields.length > 2 && !names.has(Number(fields[2]))) names.set(Number(fields[2]), fields[0] ?? "");
    }
  } catch {
    // numbers only
  }
  return names;
}

function two(value: number): string {
  return String(value).padStart(2, "0");
}

function cpuTime(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const rest = seconds % 86_400;
  const clock = `${two(Math.floor(rest / 3600))}:${two(Math.floor((rest % 3600) / 60))}:${two(rest % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function startTime(startedMs: number, nowMs: number): string {
  const started = new Date(startedMs);
  if (nowMs - startedMs < 86_400_000) return `${two(started.getHours())}:${two(started.getMinutes())}`;
  if (started.getFullYear() === new Date(nowMs).getFullYear()) return `${months[started.getMonth()]}${two(started.getDate())}`;
  return String(started.getFullYear());
}

function ttyName(ttyNumber: number): string {
  if (ttyNumber === 0) return "?";
  const major = (ttyNumber >> 8) & 0xfff;
  const minor = (ttyNumber & 0xff) | ((ttyNumber >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  return "?";
}

/** `ps -ef` rows for these host pids, from /proc. */
export function processTable(pids: readonly number[], nowMs: number = Date.now()): TopResult {
  const uptimeSeconds = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  const bootMs = nowMs - uptimeSeconds * 1000;
  const users = hostUserNames();
  const rows: string[][] = [];
  for (const pid of [...pids].sort((a, b) => a - b)) {
    let stat: string;
    let status: string;
    let cmdline: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      status = readFileSync(`/proc/${pid}/status`, "utf8");
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const field = (index: number): number => Number(fields[index - 3] ?? 0);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const cpuTicks = field(14) + field(15);
    const startedSeconds = field(22) / clockTicks;
    const elapsed = Math.max(uptimeSeconds - startedSeconds, 0.001);
    const percent = Math.floor((cpuTicks / clockTicks / elapsed) * 100);
    const argv = cmdline.split("\0").filter((part, index, all) => part !== "" || index < all.length - 1);
    rows.push([
      users.get(uid) ?? String(uid),
      String(pid),
      String(field(4)),
      String(percent),
      startTime(bootMs + startedSeconds * 1000, nowMs),
      ttyName(field(7)),
      cpuTime(Math.floor(cpuTicks / clockTicks)),
      argv.length > 0 ? argv.join(" ") : `[${comm}]`,
    ]);
  }
  return { Titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], Processes: rows };
}

/** Run the host's `ps` with the user's options and keep the container's rows (Docker's way). */
export function psTable(pids: readonly number[], psArgs: readonly string[]): TopResult {
  const result = spawnSync("ps", [...psArgs], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    throw new BerthError(TopErrorCode, `ps ${psArgs.join(" ")}: ${result.error?.message ?? result.stderr.trim()}`);
  }
  const lines = result.stdout.split("\n").filter((line) => line.trim() !== "");
  const titles = (lines[0] ?? "").trim().split(/\s+/);
  const pidIndex = titles.indexOf("PID");
  if (pidIndex < 0) throw new BerthError(TopErrorCode, `Couldn't find PID field in ps output`);
  const wanted = new Set(pids.map(String));
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!wanted.has(fields[pidIndex] ?? "")) continue;
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(" ")]);
  }
  return { Titles: titles, Processes: processes };
}
