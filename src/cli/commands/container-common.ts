// What the container, volume and network commands share: opening the engine, Docker's exit
// statuses (`run`/`create` exit 125 on engine errors, other verbs 1, a container's own status
// otherwise), verbs over several targets that report each failure and carry on (`rm a b`,
// `inspect a b`), and the y/N prompt.

import { readSync } from "node:fs";
import { BerthError } from "../../errors.js";
import { createEngine, runtimePaths, type Engine } from "../../runtime/index.js";
import { printError, printResult } from "../output.js";
import { renderTemplate } from "./container-format.js";

/** A BerthError that exits with a given status; an empty message prints nothing. */
export class CommandError extends BerthError {
  readonly exitStatus: number;

  constructor(code: string, message: string, exitStatus: number, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = "CommandError";
    this.exitStatus = exitStatus;
  }
}

/** Exit quietly with `status` (the problems were printed already, or it is the container's code). */
export const silentExit = (status: number): CommandError => new CommandError("E_CLI_EXIT_STATUS", "", status);

export function openEngine(): Engine {
  return createEngine({ paths: runtimePaths(process.env) });
}

/** Run `action`; a BerthError without its own status exits with `status` (Docker: 125 for run/create, 1 elsewhere). */
export async function withExitStatus<T>(status: number, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof BerthError && typeof (error as { exitStatus?: unknown }).exitStatus !== "number") {
      throw new CommandError(error.code, error.message, status, { ...(error.hint !== undefined ? { hint: error.hint } : {}), cause: error });
    }
    throw error;
  }
}

/**
 * docker's multi-target verbs (`rm a b c`): act on each, print what succeeded (when `echo`),
 * print each failure on stderr, and exit 1 at the end if any failed.
 */
export async function forEachTarget(targets: readonly string[], action: (target: string) => Promise<string | undefined | void>, echo = true): Promise<void> {
  let failed = false;
  for (const target of targets) {
    try {
      const output = await action(target);
      if (echo) printResult(typeof output === "string" ? output : target);
    } catch (error) {
      failed = true;
      printError(error);
    }
  }
  if (failed) throw silentExit(1);
}

/**
 * docker's multi-object inspect (`inspect a b`): look each target up, print each failure as
 * `Error: …` on stderr and carry on, print what was found as one indented JSON array (or, with a
 * template, one rendered line per object), and exit 1 at the end if any lookup failed.
 */
export async function inspectEach<T>(targets: readonly string[], inspect: (target: string) => Promise<T>, format: string | undefined): Promise<void> {
  const found: T[] = [];
  let failed = false;
  for (const target of targets) {
    try {
      found.push(await inspect(target));
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      failed = true;
      process.stderr.write(`Error: ${error.message}\n`);
    }
  }
  if (format !== undefined && format !== "" && format !== "json") {
    process.stdout.write(found.map((item) => `${renderTemplate(format, item)}\n`).join(""));
  } else {
    process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  }
  if (failed) throw silentExit(1);
}

/** Ask on stderr and read one line from stdin: true only for y/Y/yes. */
export function confirm(question: string): boolean {
  process.stderr.write(`${question} [y/N] `);
  const buffer = Buffer.alloc(1);
  let answer = "";
  for (;;) {
    let count = 0;
    try {
      count = readSync(0, buffer, 0, 1, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      break;
    }
    if (count === 0 || buffer[0] === 0x0a) break;
    answer += String.fromCharCode(buffer[0] ?? 0);
  }
  return /^y(es)?$/i.test(answer.trim());
}

/** Repeatable commander option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
