// A throwaway world for one network test: a netns playing the host (bridges, veths, iptables and
// sysctls all land there, never in the real host), sandboxes and "outside" namespaces beside it,
// servers started inside them, and a cleanup that kills those servers by pid, deletes every
// namespace, and proves nothing is left. Not a test file itself (no `.test.ts`).
//
// Namespaces are bound under /tmp/berth-net-test-XXXXXX, so the suite's leak check (mounts whose
// path contains "berth") would catch one left behind.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { networkHost, type NetworkHost } from "../../../src/network/index.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const berthNetns = path.join(repositoryRoot, "native", "build", "berth-netns");
export const probeScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "probe.mjs");
export const rawSynScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "raw-syn.py");
export const busybox = "/bin/busybox";
export const python = "/usr/bin/python3";

/** Why these tests cannot run here, or undefined. */
export function networkSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "network tests need root (namespaces, links, iptables)";
  if (!existsSync(berthNetns)) return `${berthNetns} is missing: run \`make -C native\``;
  if (!existsSync(busybox)) return "needs /bin/busybox (apt-get install busybox-static)";
  if (spawnSync("iptables-restore", ["--version"]).status !== 0) return "iptables-restore is not installed";
  return undefined;
}

export function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

export interface Result {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestNetwork {
  readonly id: string;
  readonly bridge: string;
  /** e.g. 10.23.7.0/24 */
  readonly subnet: string;
  readonly gateway: string;
  readonly prefix: number;
  /** The n-th host address (2, 3, …). */
  address(n: number): string;
}

export class World {
  readonly dir: string;
  readonly host: string;
  readonly net: NetworkHost;
  private readonly namespaces: string[] = [];
  private readonly processes: ChildProcess[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.host = path.join(dir, "host");
    this.net = networkHost({ netns: this.host, berthNetns });
  }

  static async create(): Promise<World> {
    const world = new World(mkdtempSync("/tmp/berth-net-test-"));
    await world.namespace("host", ["link set dev lo up"]);
    return world;
  }

  /** A fresh netns bound in the world's directory, configured by an ip batch run inside it. */
  async namespace(name: string, batch: readonly string[] = []): Promise<string> {
    const file = path.join(this.dir, name);
    this.namespaces.push(file);
    const result = await run([berthNetns, "create", file, "--", "ip", "-batch", "-"], { input: `${["link set dev lo up", ...batch].join("\n")}\n` });
    if (result.status !== 0) throw new Error(`namespace ${name}: ${result.stderr}`);
    return file;
  }

  /** A sandbox path in this world (remembered for cleanup whether or not it gets created). */
  sandbox(name: string): string {
    const file = path.join(this.dir, name);
    this.namespaces.push(file);
    return file;
  }

  /** A network in the host netns: a /24 in 10.0.0.0/8 with random middle bytes. */
  network(): TestNetwork {
    const id = hex(32);
    const base = `10.${randomBytes(1)[0]! % 250}.${randomBytes(1)[0]! % 250}`;
    return { id, bridge: `br-${id.slice(0, 12)}`, subnet: `${base}.0/24`, gateway: `${base}.1`, prefix: 24, address: (n) => `${base}.${n}` };
  }

  /** Runs argv inside a namespace of this world. */
  exec(ns: string, argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
    return run([berthNetns, "exec", ns, "--", ...argv], options);
  }

  /** `ip -j …` inside a namespace, parsed. */
  async ipJson<T>(ns: string, args: readonly string[]): Promise<T> {
    const result = await this.exec(ns, ["ip", "-j", ...args]);
    if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  /** A long-running process inside a namespace, killed by pid at cleanup. Resolves once `ready` says so. */
  async serve(ns: string, argv: readonly string[], ready: () => Promise<boolean>): Promise<ChildProcess> {
    const child = spawn(berthNetns, ["exec", ns, "--", ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    this.processes.push(child);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await ready())) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server ${argv.join(" ")} did not start: ${output}`);
      await sleep(25);
    }
    return child;
  }

  /** busybox httpd serving `body` on port inside ns. */
  async httpServer(ns: string, port: number, body: string, address = ""): Promise<void> {
    const root = mkdtempSync(path.join(this.dir, "www-"));
    writeFileSync(path.join(root, "index.html"), `${body}\n`);
    await this.serve(ns, [busybox, "httpd", "-f", "-p", `${address}${address === "" ? "" : ":"}${port}`, "-h", root], async () => {
      const sockets = await this.exec(ns, ["cat", "/proc/net/tcp", "/proc/net/tcp6"]);
      return sockets.stdout.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `);
    });
  }

  /** A node UDP echo server on port inside ns. */
  async udpEchoServer(ns: string, port: number, address = "0.0.0.0"): Promise<void> {
    await this.serve(ns, [process.execPath, probeScript, "udp-echo", String(port), address], async () => {
      const sockets = await this.exec(ns, ["cat", "/proc/net/udp", "/proc/net/udp6"]);
      return sockets.stdout.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `);
    });
  }

  /** The body served at http://host:port/ as seen from ns, or undefined when unreachable. */
  async httpGet(ns: string, host: string, port: number, timeoutMs = 3000): Promise<string | undefined> {
    const result = await this.exec(ns, [process.execPath, probeScript, "http", host, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
    return result.status === 0 ? result.stdout.trim() : undefined;
  }

  async udpAsk(ns: string, host: string, port: number, message: string, timeoutMs = 2000): Promise<string | undefined> {
    const result = await this.exec(ns, [process.execPath, probeScript, "udp", host, String(port), message, String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
    return result.status === 0 ? result.stdout.trim() : undefined;
  }

  async ping(ns: string, address: string): Promise<boolean> {
    const result = await this.exec(ns, [busybox, "ping", "-c", "1", "-W", "1", address], { timeoutMs: 5000 });
    return result.status === 0;
  }

  /** Kills this world's processes, deletes its namespaces (host last), removes its directory; returns what could not be removed. */
  async cleanup(): Promise<string[]> {
    for (const child of this.processes) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        process.kill(child.pid, "SIGKILL");
        await exited;
      }
    }
    const ordered = [...this.namespaces.filter((file) => file !== this.host).reverse(), this.host];
    const deleted = await run([berthNetns, "delete", ...ordered]);
    const leftovers = mountsUnder(this.dir);
    if (deleted.status !== 0) leftovers.push(`berth-netns delete: ${deleted.stderr.trim()}`);
    if (leftovers.length === 0) rmSync(this.dir, { recursive: true, force: true });
    return leftovers;
  }
}

export function mountsUnder(directory: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(`${directory}/`));
}

/** Links of the real host (this process's netns) whose names are in `names`. */
export function hostLinks(names: readonly string[]): string[] {
  const shown = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;
  return names.filter((name) => shown.includes(` ${name}:`) || shown.includes(` ${name}@`));
}

export function run(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    const child = spawn(command!, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ status: code ?? 137, stdout, stderr });
    });
    child.stdin?.end(options.input);
  });
}

/** Runs fn with a fresh world and always cleans up; fails the test if anything was left. */
export async function withWorld(fn: (world: World) => Promise<void>): Promise<void> {
  const world = await World.create();
  let failure: unknown;
  try {
    await fn(world);
  } catch (error) {
    failure = error;
  }
  const leftovers = await world.cleanup();
  if (failure !== undefined) throw failure;
  if (leftovers.length > 0) throw new Error(`the test left objects behind: ${leftovers.join(", ")}`);
}
