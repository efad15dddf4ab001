// `berth container start|stop|kill|restart|rm|ls|inspect|logs|exec|top|cp|pause|unpause|wait|
// rename|prune`: thin layers over the engine that print what Docker's CLI prints and exit as it
// exits (1 for engine errors outside run/create, the command's own status for exec).
//
// This module is the one entry the container and volume verbs are loaded through (run/create and
// the volume verbs are re-exported here): with esbuild's code splitting every extra entry point
// fragments the shared code into more chunk files, and on Node 20 each file costs about a
// millisecond to load, more than the bytes a finer split would save.

import { lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { BerthError } from "../../errors.js";
import { formatLogTime, humanSize, parseTimestampArgument, type ContainerInspect } from "../../runtime/index.js";
import { printResult } from "../output.js";
import { attachAndWait } from "./container-run.js";
import { CommandError, confirm, forEachTarget, openEngine, silentExit, withExitStatus } from "./container-common.js";
import { containerHeaders, containerRow, parseFormat, renderRows, renderTable, renderTemplate } from "./container-format.js";
import { parseEnvEntry, parseEnvFile, parseFilters } from "./container-arguments.js";

export async function runContainerStart(containers: string[], options: { attach?: boolean; interactive?: boolean }): Promise<void> {
  const engine = openEngine();
  if (options.attach || options.interactive) {
    if (containers.length > 1) throw new CommandError("E_CLI_USAGE", "you cannot start and attach multiple containers at once", 1);
    const target = containers[0] ?? "";
    const status = await withExitStatus(1, async () => {
      const { id } = await engine.containers.status(target);
      return attachAndWait(engine, id, { start: true, interactive: options.interactive ?? false, autoRemove: false });
    });
    if (status !== 0) throw silentExit(status);
    return;
  }
  await forEachTarget(containers, (target) => engine.containers.start(target));
}

export async function runContainerStop(containers: string[], options: { time?: string; timeout?: string }): Promise<void> {
  const engine = openEngine();
  const seconds = options.time ?? options.timeout;
  const timeoutSeconds = seconds === undefined ? undefined : integerOption(seconds, "--time");
  await forEachTarget(containers, (target) => engine.containers.stop(target, timeoutSeconds === undefined ? {} : { timeoutSeconds }));
}

export async function runContainerRestart(containers: string[], options: { time?: string; timeout?: string }): Promise<void> {
  const engine = openEngine();
  const seconds = options.time ?? options.timeout;
  const timeoutSeconds = seconds === undefined ? undefined : integerOption(seconds, "--time");
  await forEachTarget(containers, (target) => engine.containers.restart(target, timeoutSeconds === undefined ? {} : { timeoutSeconds }));
}

export async function runContainerKill(containers: string[], options: { signal?: string }): Promise<void> {
  const engine = openEngine();
  await forEachTarget(containers, (target) => engine.containers.kill(target, options.signal === undefined ? {} : { signal: options.signal }));
}

export async function runContainerRemove(containers: string[], options: { force?: boolean; volumes?: boolean }): Promise<void> {
  const engine = openEngine();
  await forEachTarget(containers, async (target) => {
    try {
      await engine.containers.remove(target, { force: options.force ?? false, volumes: options.volumes ?? false });
    } catch (error) {
      // `docker rm -f` of a missing container says so but is not a failure.
      if (options.force && error instanceof BerthError && error.code === "E_CONTAINER_NOT_FOUND") return target;
      throw error;
    }
    return target;
  });
}

export async function runContainerPause(containers: string[]): Promise<void> {
  const engine = openEngine();
  await forEachTarget(containers, (target) => engine.containers.pause(target));
}

export async function runContainerUnpause(containers: string[]): Promise<void> {
  const engine = openEngine();
  await forEachTarget(containers, (target) => engine.containers.unpause(target));
}

export async function runContainerWait(containers: string[]): Promise<void> {
  const engine = openEngine();
  await forEachTarget(containers, async (target) => String((await engine.containers.wait(target, { condition: "not-running" })).StatusCode));
}

export async function runContainerRename(container: string, newName: string): Promise<void> {
  await withExitStatus(1, () => openEngine().containers.rename(container, newName));
}

interface ListFlags {
  readonly all?: boolean;
  readonly quiet?: boolean;
  readonly filter?: readonly string[];
  readonly format?: string;
  readonly noTrunc?: boolean;
  readonly last?: string;
  readonly latest?: boolean;
  readonly size?: boolean;
}

export async function runContainerList(options: ListFlags): Promise<void> {
  const engine = openEngine();
  const filters = parseFilters(options.filter ?? []);
  const limit = options.latest ? 1 : options.last === undefined ? -1 : integerOption(options.last, "--last");
  let summaries = await withExitStatus(1, () => engine.containers.list({ all: (options.all ?? false) || limit > 0, filters }));
  if (limit > 0) summaries = summaries.slice(0, limit);
  if (options.quiet) {
    printResult(summaries.map((summary) => `${options.noTrunc ? summary.Id : summary.Id.slice(0, 12)}\n`).join(""));
    return;
  }
  const now = Date.now();
  const rows = summaries.map((summary) => containerRow(summary, { truncate: !(options.noTrunc ?? false), nowMs: now }));
  const format = parseFormat(options.format);
  process.stdout.write(renderRows(rows, format, { columns: ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"], headers: containerHeaders }));
}

export async function runContainerInspect(containers: string[], options: { format?: string; size?: boolean }): Promise<void> {
  const engine = openEngine();
  const found: ContainerInspect[] = [];
  let failed = false;
  for (const target of containers) {
    try {
      found.push(await engine.containers.inspect(target));
    } catch (error) {
      failed = true;
      if (!(error instanceof BerthError)) throw error;
      process.stderr.write(`Error: ${error.message}\n`);
    }
  }
  if (options.format !== undefined && options.format !== "" && options.format !== "json") {
    process.stdout.write(found.map((item) => `${renderTemplate(options.format ?? "", item)}\n`).join(""));
  } else {
    process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  }
  if (failed) throw silentExit(1);
}

export async function runContainerLogs(
  container: string,
  options: { follow?: boolean; tail?: string; since?: string; until?: string; timestamps?: boolean; details?: boolean },
): Promise<void> {
  const engine = openEngine();
  await withExitStatus(1, async () => {
    const now = Date.now();
    const tail = options.tail === undefined || options.tail === "all" ? undefined : Number.parseInt(options.tail, 10);
    const stream = engine.containers.logs(container, {
      follow: options.follow ?? false,
      ...(tail !== undefined && !Number.isNaN(tail) && tail >= 0 ? { tail } : {}),
      ...(options.since !== undefined ? { sinceNs: parseTimestampArgument(options.since, now) } : {}),
      ...(options.until !== undefined ? { untilNs: parseTimestampArgument(options.until, now) } : {}),
    });
    for await (const entry of stream) {
      const line = options.timestamps ? `${formatLogTime(entry.time)} ${entry.log}` : entry.log;
      (entry.stream === "stderr" ? process.stderr : process.stdout).write(line);
    }
  });
}

export async function runContainerExec(
  container: string,
  command: string[],
  options: { detach?: boolean; env?: string[]; envFile?: string[]; interactive?: boolean; tty?: boolean; user?: string; workdir?: string; privileged?: boolean },
): Promise<void> {
  const engine = openEngine();
  const env = [
    ...(options.envFile ?? []).flatMap((file) => parseEnvFile(readFileSync(path.resolve(file), "utf8"), process.env)),
    ...(options.env ?? []).map((entry) => parseEnvEntry(entry, process.env)),
  ];
  if (options.privileged) throw new CommandError("E_CLI_USAGE", "berth exec does not support --privileged yet", 1);
  const result = await withExitStatus(1, () =>
    engine.containers.exec(container, {
      cmd: command,
      ...(env.length > 0 ? { env } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.workdir !== undefined ? { workingDir: options.workdir } : {}),
      tty: options.tty ?? false,
      stdio: "inherit",
      interactive: options.interactive ?? false,
      detach: options.detach ?? false,
    }),
  );
  if (result.exitCode !== 0) throw silentExit(result.exitCode);
}

export async function runContainerTop(container: string, psArgs: string[]): Promise<void> {
  const engine = openEngine();
  const result = await withExitStatus(1, () => engine.containers.top(container, psArgs));
  process.stdout.write(renderTable([[...result.Titles], ...result.Processes.map((row) => [...row])], 20, 3));
}

/** `CONTAINER:PATH` → its parts; a local path with a colon needs `./` first, as with docker. */
function splitCopyArgument(argument: string): { container?: string; path: string } {
  if (argument.startsWith("/") || argument.startsWith(".") || argument === "-") return { path: argument };
  const colon = argument.indexOf(":");
  if (colon <= 0) return { path: argument };
  return { container: argument.slice(0, colon), path: argument.slice(colon + 1) };
}

export async function runContainerCopy(source: string, destination: string, options: { archive?: boolean; followLink?: boolean; quiet?: boolean }): Promise<void> {
  const engine = openEngine();
  const from = splitCopyArgument(source);
  const to = splitCopyArgument(destination);
  if ((from.container === undefined) === (to.container === undefined)) {
    throw new CommandError("E_CLI_USAGE", "copying between containers is not supported; one of the two paths must be CONTAINER:PATH", 1);
  }
  const copyOptions = { archive: options.archive ?? false, followLink: options.followLink ?? false };
  await withExitStatus(1, async () => {
    if (from.container !== undefined) {
      const containerPath = absoluteContainerPath(from.path);
      if (to.path === "-") await engine.containers.copyFrom(from.container, containerPath, process.stdout, copyOptions);
      else {
        await engine.containers.copyFrom(from.container, containerPath, to.path, copyOptions);
        if (!options.quiet) process.stderr.write(`Successfully copied ${humanSize(sizeOf(path.resolve(to.path)))} to ${to.path}\n`);
      }
    } else if (to.container !== undefined) {
      const containerPath = absoluteContainerPath(to.path);
      if (from.path === "-") await engine.containers.copyTo(to.container, process.stdin, containerPath, copyOptions);
      else {
        await engine.containers.copyTo(to.container, from.path, containerPath, copyOptions);
        if (!options.quiet) process.stderr.write(`Successfully copied ${humanSize(sizeOf(path.resolve(from.path)))} to ${to.container}:${containerPath}\n`);
      }
    }
  });
}

const absoluteContainerPath = (text: string): string => (text.startsWith("/") ? text : `/${text}`);

function sizeOf(file: string): number {
  let total = 0;
  const visit = (current: string): void => {
    let stats;
    try {
      stats = lstatSync(current);
    } catch {
      return;
    }
    if (stats.isDirectory()) for (const name of readdirSync(current)) visit(path.join(current, name));
    else total += stats.size;
  };
  visit(file);
  return total;
}

export async function runContainerPrune(options: { force?: boolean; filter?: string[] }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  if (!options.force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?")) return;
  const result = await withExitStatus(1, () => openEngine().containers.prune({ filters }));
  let text = "";
  if (result.containersDeleted.length > 0) text += `Deleted Containers:\n${result.containersDeleted.map((id) => `${id}\n`).join("")}\n`;
  text += `Total reclaimed space: ${humanSize(result.spaceReclaimed)}`;
  printResult(text);
}

function integerOption(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new CommandError("E_CLI_USAGE", `invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`, 1);
  return Number(value);
}

export { runAutoRemove, runContainerCreate, runContainerRun } from "./container-run.js";
export { runSystemBoot, runSystemCheck, runSystemPrune } from "./system.js";
export { runVolumeCreate, runVolumeInspect, runVolumeList, runVolumePrune, runVolumeRemove } from "./volume.js";
export { runContainerPort, runNetworkConnect, runNetworkCreate, runNetworkDisconnect, runNetworkInspect, runNetworkList, runNetworkPrune, runNetworkRemove } from "./network.js";
