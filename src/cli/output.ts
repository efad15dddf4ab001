// The only place that writes to the terminal. Results go to stdout; warnings,
// progress and errors go to stderr, as Docker Compose does.

import { AggregateComposeError, BerthError, ComposeError } from "../errors.js";

export function printResult(text: string): void {
  process.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
}

/** logrus's two shapes, which Compose users and their scripts know. */
export function printWarning(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`WARN[0000] ${message}\n`);
  else process.stderr.write(`time="${new Date().toISOString()}" level=warning msg=${JSON.stringify(message)}\n`);
}

export function formatProblem(error: ComposeError): string {
  const where =
    error.file === undefined
      ? ""
      : error.line === undefined
        ? `${error.file}: `
        : `${error.file}:${error.line}:${error.column ?? 1}: `;
  const path = error.path === undefined || error.path === "" ? "" : `${error.path}: `;
  return `${where}${path}${error.message}`;
}

/** One line per problem, its hint in parentheses at the end; never a stack trace. */
export function formatError(error: unknown): string[] {
  if (error instanceof AggregateComposeError) return error.problems.map((problem) => withHint(formatProblem(problem), problem.hint));
  if (error instanceof ComposeError) return [withHint(formatProblem(error), error.hint)];
  if (error instanceof BerthError) return [withHint(error.message, error.hint)];
  if (error instanceof Error) {
    const lines = [`internal error: ${error.message}`];
    if (process.env["BERTH_DEBUG"] && error.stack) lines.push(error.stack);
    return lines;
  }
  return [`internal error: ${String(error)}`];
}

function withHint(line: string, hint: string | undefined): string {
  return hint === undefined ? line : `${line} (${hint})`;
}

export function printError(error: unknown): void {
  process.stderr.write(`${formatError(error).join("\n")}\n`);
}

/** Docker Compose exits 1 for loader and usage errors; later verbs map engine codes here. */
export function exitStatusFor(error: unknown): number {
  if (error instanceof BerthError && error.code === "E_CLI_EXIT") return Number(error.hint ?? 1);
  return 1;
}
