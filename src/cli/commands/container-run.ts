// `berth container run` and `create` (flags → spec → engine), and attaching to a container the
// way `docker run` / `docker start -a` do: stream its log (stdout to stdout, stderr to stderr),
// feed stdin to its FIFO with -i, forward SIGINT/SIGTERM, and exit with its status.

import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { ContainerStartError, type ContainerCreateSpec, type Engine } from "../../runtime/index.js";
import { printResult } from "../output.js";
import { CommandError, openEngine, silentExit, withExitStatus } from "./container-common.js";
import { parseRunFlags, type RunFlags } from "./container-options.js";

function specFromFlags(flags: RunFlags, image: string, command: readonly string[]): ContainerCreateSpec {
  return parseRunFlags(flags, image, command, {
    environment: process.env,
    readFile: (file) => {
      try {
        return readFileSync(path.resolve(file), "utf8");
      } catch (error) {
        throw new BerthError("E_CLI_USAGE", `open ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (error as Error).message}`);
      }
    },
    workingDirectory: process.cwd(),
  });
}

async function createContainer(engine: Engine, spec: ContainerCreateSpec): Promise<string> {
  const result = await engine.containers.create(spec);
  // docker run/create print the engine's warnings as plain `WARNING: …` lines (not compose's log format).
  for (const warning of result.warnings) process.stderr.write(`WARNING: ${warning}\n`);
  return result.id;
}

export async function runContainerCreate(image: string, command: string[], flags: RunFlags): Promise<void> {
  const id = await withExitStatus(125, async () => {
    const engine = openEngine();
    return createContainer(engine, specFromFlags(flags, image, command));
  });
  printResult(id);
}

export async function runContainerRun(image: string, command: string[], flags: RunFlags): Promise<void> {
  const engine = openEngine();
  const flagSpec = await withExitStatus(125, async () => specFromFlags(flags, image, command));
  // docker run -i with stdin attached: the container's stdin ends when ours does.
  const spec = flagSpec.openStdin === true && !flags.detach ? { ...flagSpec, stdinOnce: true } : flagSpec;
  if (flags.detach && spec.autoRemove && spec.restartPolicy !== undefined && spec.restartPolicy.name !== "no") {
    throw new CommandError("E_CLI_USAGE", "Conflicting options: cannot specify both --restart and --rm", 125);
  }
  const id = await withExitStatus(125, () => createContainer(engine, spec));
  if (flags.detach) {
    await withExitStatus(125, async () => {
      try {
        await engine.containers.start(id);
      } catch (error) {
        if (spec.autoRemove) await engine.containers.remove(id, { force: true, volumes: true }).catch(() => undefined);
        throw error;
      }
    });
    if (spec.autoRemove) spawnAutoRemover(id);
    printResult(id);
    return;
  }
  const status = await attachAndWait(engine, id, { start: true, interactive: flags.interactive ?? false, autoRemove: spec.autoRemove ?? false });
  if (status !== 0) throw silentExit(status);
}

/** `--rm` with `-d`: a detached berth waits for the exit and removes the container (there is no daemon to do it). */
function spawnAutoRemover(id: string): void {
  const script = process.argv[1];
  if (script === undefined) return;
  const child = spawn(process.execPath, ["--", script, "container", "__autoremove", id], { detached: true, stdio: "ignore", env: process.env });
  child.unref();
}

export async function runAutoRemove(id: string): Promise<void> {
  const engine = openEngine();
  try {
    await engine.containers.wait(id, { condition: "not-running" });
    await engine.containers.remove(id, { force: true, volumes: true });
  } catch {
    // Removed by someone else already, or never started: nothing to do.
  }
}

export interface AttachOptions {
  /** Start the container first (run, start -a). */
  readonly start: boolean;
  readonly interactive: boolean;
  readonly autoRemove: boolean;
}

/** Stream the container's output until its first exit; returns its exit status. */
export async function attachAndWait(engine: Engine, id: string, options: AttachOptions): Promise<number> {
  const containers = engine.containers;
  // Wait before starting, as docker run does, so that even an instant exit is the "next" one.
  const cancelWait = new AbortController();
  const exited = containers.wait(id, { condition: "next-exit", signal: cancelWait.signal }).then((result) => result.StatusCode);
  exited.catch(() => undefined);
  try {
    if (options.start) {
      try {
        await containers.start(id);
      } catch (error) {
        const status = error instanceof ContainerStartError ? error.exitStatus : 125;
        if (options.autoRemove) await containers.remove(id, { force: true, volumes: true }).catch(() => undefined);
        if (error instanceof BerthError) throw new CommandError(error.code, error.message, status, { cause: error });
        throw error;
      }
    }
    const forward = (signal: NodeJS.Signals): void => {
      void containers.kill(id, { signal }).catch(() => undefined);
    };
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const).map((signal) => {
      const handler = (): void => forward(signal);
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const stdinDone = options.interactive ? pipeStdin(await containers.stdinPath(id)) : undefined;
    try {
      for await (const entry of containers.logs(id, { follow: true, stopWhen: exited })) {
        (entry.stream === "stderr" ? process.stderr : process.stdout).write(entry.log);
      }
      return await exited;
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      stdinDone?.();
    }
  } finally {
    cancelWait.abort();
    if (options.autoRemove) await containers.remove(id, { force: true, volumes: true }).catch(() => undefined);
  }
}

/** Copy our stdin into the container's stdin FIFO (raw mode on a terminal); returns a stopper. */
function pipeStdin(fifo: string): () => void {
  let fd: number | undefined;
  try {
    fd = openSync(fifo, "w");
  } catch {
    return () => undefined;
  }
  const input = process.stdin;
  const wasRaw = input.isTTY ? input.isRaw : false;
  if (input.isTTY) input.setRawMode(true);
  const onData = (chunk: Buffer): void => {
    if (fd === undefined) return;
    try {
      writeSync(fd, chunk);
    } catch {
      stop();
    }
  };
  const stop = (): void => {
    input.off("data", onData);
    input.off("end", stop);
    if (input.isTTY) input.setRawMode(wasRaw);
    input.pause();
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  input.on("data", onData);
  input.on("end", stop);
  input.resume();
  return stop;
}
