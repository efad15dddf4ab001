// The host edge of src/network: every process it spawns (`ip`, `iptables-restore`,
// berth-netns) and every file it reads or writes under /proc goes through a `System`, which
// counts spawns (the benchmark's figure) and can place all of it in another network namespace.
//
// The default system is this process's own network namespace, with no spawn for file access.
// A system bound to a namespace path (tests: a throwaway netns playing the host) runs each
// command through `berth-netns exec PATH --`, which costs nothing extra (exec, no fork), and
// reads files with `cat` inside it: /proc/sys/net and /proc/net answer for the reader's netns.
// /sys/class/net does not (it shows the netns of whoever mounted /sys), so it is used only by
// the default system.

import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NetworkError, NetworkErrorCode } from "./network-error.js";

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
}

export interface System {
  /** The namespace playing the host, or undefined for this process's own. */
  readonly netns: string | undefined;
  /** A path naming the host netns that `ip … netns PATH` can open from any other netns. */
  readonly netnsPath: string;
  /** Runs argv in the host netns. Never rejects for a non-zero exit; rejects if it cannot spawn. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  runSync(argv: readonly string[], options?: RunOptions): RunResult;
  /** Runs argv as is, in this process's netns (berth-netns create/exec/delete name their own). */
  runHere(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** A file as the host netns sees it; undefined when missing. */
  readText(file: string): string | undefined;
  writeText(file: string, text: string): void;
  /** Entry names of a directory as the host netns sees it (/proc/sys/net/ipv6/conf). */
  listDirectory(directory: string): string[];
  /** Whether a link of this name exists in the host netns. */
  linkExists(name: string): boolean;
  /** The ifindex of a link in the host netns. */
  linkIndex(name: string): number | undefined;
  /** Whether an executable is on PATH (iptables-restore, ip6tables-restore). */
  hasTool(name: string): boolean;
  readonly berthNetns: string;
  /** native/build/berth-redirect ($BERTH_REDIRECT): published ports rewritten at connect(). */
  readonly berthRedirect: string;
}

let spawned = 0;

/** Processes spawned by src/network since it was loaded. */
export function spawnCount(): number {
  return spawned;
}

let inputFiles = 0;

/**
 * A read descriptor of a file holding `input`, already unlinked. A tool reading its standard
 * input from it has all of it, and its end, the moment it starts; through a pipe it would wait
 * for this process's event loop to write and close it (about 2 ms of every sandbox set-up on a
 * cold start, when Node's stream code runs for the first time).
 */
function inputDescriptor(input: string): number {
  const file = path.join(tmpdir(), `berth-input-${process.pid}-${++inputFiles}`);
  const writer = openSync(file, "wx", 0o600);
  try {
    writeFileSync(writer, input);
    return openSync(file, "r");
  } finally {
    closeSync(writer);
    unlinkSync(file);
  }
}

function collect(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    if (command === undefined) throw new Error("empty command");
    let input: number | undefined;
    try {
      input = options.input === undefined ? undefined : inputDescriptor(options.input);
    } catch (error) {
      reject(new NetworkError(NetworkErrorCode.toolMissing, `cannot pass input to ${command}: ${(error as Error).message}`, { cause: error, object: command }));
      return;
    }
    let child;
    spawned++;
    try {
      child = spawn(command, args, { stdio: [input ?? "ignore", "pipe", "pipe"] });
    } finally {
      if (input !== undefined) closeSync(input);
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) =>
      reject(new NetworkError(NetworkErrorCode.toolMissing, `cannot run ${command}: ${error.message}`, { cause: error, object: command })),
    );
    child.on("close", (code, signal) =>
      resolve({
        status: code ?? (signal === null ? 1 : 128),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
  });
}

function collectSync(argv: readonly string[], options: RunOptions): RunResult {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error("empty command");
  spawned++;
  const result = spawnSync(command, args, { input: options.input ?? "", encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (result.error !== undefined) {
    throw new NetworkError(NetworkErrorCode.toolMissing, `cannot run ${command}: ${result.error.message}`, { cause: result.error, object: command });
  }
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

const cachedBinaries = new Map<string, string>();

/** `$<override>`, else native/build/<name> of the berth checkout this module runs from. */
function nativeBinary(name: string, override: string, environment: NodeJS.ProcessEnv = process.env): string {
  const fromEnvironment = environment[override];
  if (fromEnvironment !== undefined && fromEnvironment !== "") return fromEnvironment;
  const cached = cachedBinaries.get(name);
  if (cached !== undefined) return cached;
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 6; level++) {
    const candidate = path.join(directory, "native", "build", name);
    if (existsSync(candidate)) {
      cachedBinaries.set(name, candidate);
      return candidate;
    }
    directory = path.dirname(directory);
  }
  throw new NetworkError(NetworkErrorCode.toolMissing, `${name} is not built (native/build/${name})`, {
    hint: "run `npm run build` in the berth checkout",
  });
}

const toolCache = new Map<string, boolean>();

function onPath(name: string): boolean {
  let found = toolCache.get(name);
  if (found === undefined) {
    const directories = (process.env["PATH"] ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
    found = directories.some((directory) => directory !== "" && existsSync(path.join(directory, name)));
    toolCache.set(name, found);
  }
  return found;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

export interface SystemOptions {
  /** A bound netns to treat as the host (tests). Default: this process's netns. */
  readonly netns?: string;
  readonly berthNetns?: string;
}

export function createSystem(options: SystemOptions = {}): System {
  const netns = options.netns;
  let berthNetns = options.berthNetns;
  const binary = (): string => (berthNetns ??= nativeBinary("berth-netns", "BERTH_NETNS"));
  const wrap = (argv: readonly string[]): readonly string[] => (netns === undefined ? argv : [binary(), "exec", netns, "--", ...argv]);
  const system: System = {
    netns,
    netnsPath: netns ?? `/proc/${process.pid}/ns/net`,
    run: (argv, runOptions = {}) => collect(wrap(argv), runOptions),
    runSync: (argv, runOptions = {}) => collectSync(wrap(argv), runOptions),
    runHere: (argv, runOptions = {}) => collect(argv, runOptions),
    readText(file) {
      if (netns === undefined) return readOrUndefined(file);
      const result = system.runSync(["cat", file]);
      return result.status === 0 ? result.stdout : undefined;
    },
    writeText(file, text) {
      if (netns === undefined) {
        writeFileSync(file, text);
        return;
      }
      const result = system.runSync(["sh", "-c", 'printf "%s" "$1" > "$2"', "sh", text, file]);
      if (result.status !== 0) throw new Error(`write ${file}: ${result.stderr.trim()}`);
    },
    listDirectory(directory) {
      if (netns === undefined) {
        try {
          return readdirSync(directory);
        } catch {
          return [];
        }
      }
      const result = system.runSync(["ls", "-1", directory]);
      return result.status === 0 ? result.stdout.split("\n").filter((name) => name !== "") : [];
    },
    linkExists(name) {
      if (netns === undefined) return existsSync(`/sys/class/net/${name}`);
      return system.runSync(["ip", "link", "show", "dev", name]).status === 0;
    },
    linkIndex(name) {
      if (netns === undefined) {
        const text = readOrUndefined(`/sys/class/net/${name}/ifindex`);
        return text === undefined ? undefined : Number(text.trim());
      }
      const result = system.runSync(["ip", "-j", "link", "show", "dev", name]);
      if (result.status !== 0) return undefined;
      const links = JSON.parse(result.stdout) as { ifindex?: number }[];
      return links[0]?.ifindex;
    },
    hasTool: onPath,
    get berthNetns() {
      return binary();
    },
    get berthRedirect() {
      return nativeBinary("berth-redirect", "BERTH_REDIRECT");
    },
  };
  return system;
}
