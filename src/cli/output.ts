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
  // A command that already reported its problems (or a container's own exit status) prints nothing more.
  if (error instanceof BerthError && error.message === "" && exitStatusOf(error) !== undefined) return [];
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
  const lines = formatError(error);
  if (lines.length > 0) process.stderr.write(`${lines.join("\n")}\n`);
}

/** An explicit status carried by the error (a container's exit code, 126/127 from a failed start). */
function exitStatusOf(error: BerthError): number | undefined {
  if (error.code === "E_CLI_EXIT") return Number(error.hint ?? 1);
  const status = (error as BerthError & { exitStatus?: unknown }).exitStatus;
  return typeof status === "number" ? status : undefined;
}

/** Engine errors exit 125, as Docker's do; the codes of src/runtime's containers, volumes, shim and cgroups. */
const engineErrorCode = /^E_(CONTAINER|VOLUME|RUNTIME|SHIM|CGROUP)(_|$)/;

/** Docker Compose exits 1 for loader and usage errors; engine errors exit 125 unless they carry their own status. */
export function exitStatusFor(error: unknown): number {
  if (error instanceof BerthError) {
    const explicit = exitStatusOf(error);
    if (explicit !== undefined) return explicit;
    if (engineErrorCode.test(error.code)) return 125;
  }
  return 1;
}
