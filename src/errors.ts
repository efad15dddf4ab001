// Typed errors with stable codes. Library code throws these and never prints;
// src/cli renders them (one line each, plus a hint) and maps codes to exit statuses.

import { compareText } from "./compare.js";

export interface BerthErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
}

export class BerthError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BerthError";
    this.code = code;
    this.hint = options.hint;
  }
}

/** A place in a compose file. Lines and columns are 1-based, as editors show them. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface ComposeErrorOptions extends BerthErrorOptions {
  readonly position?: SourcePosition | undefined;
  /** Path in the document, e.g. `services.web.ports[0]`. */
  readonly path?: string | undefined;
  /** The file when no position is known. */
  readonly file?: string | undefined;
}

export class ComposeError extends BerthError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly path: string | undefined;

  constructor(code: string, message: string, options: ComposeErrorOptions = {}) {
    super(code, message, options);
    this.name = "ComposeError";
    this.file = options.position?.file ?? options.file;
    this.line = options.position?.line;
    this.column = options.position?.column;
    this.path = options.path;
  }
}

/** Several problems found in one pass, reported together so a user fixes a file in one round. */
export class AggregateComposeError extends BerthError {
  readonly problems: readonly ComposeError[];

  constructor(code: string, problems: readonly ComposeError[]) {
    const sorted = [...problems].sort(compareProblems);
    super(code, sorted.map((problem) => problem.message).join("; "));
    this.name = "AggregateComposeError";
    this.problems = sorted;
  }
}

function compareProblems(a: ComposeError, b: ComposeError): number {
  return (
    compareText(a.file ?? "", b.file ?? "") ||
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.column ?? 0) - (b.column ?? 0) ||
    compareText(a.path ?? "", b.path ?? "")
  );
}

/** Stable error codes. Grep for the code to find every place that raises it. */
export const ErrorCode = {
  composeNotFound: "E_COMPOSE_NOT_FOUND",
  composeIo: "E_COMPOSE_IO",
  composeYaml: "E_COMPOSE_YAML",
  composeEmpty: "E_COMPOSE_EMPTY",
  composeSchema: "E_COMPOSE_SCHEMA",
  composeInterpolation: "E_COMPOSE_INTERPOLATION",
  composeRequiredVariable: "E_COMPOSE_REQUIRED_VARIABLE",
  composeEnvFile: "E_COMPOSE_ENV_FILE",
  composeProjectName: "E_COMPOSE_PROJECT_NAME",
  composeMerge: "E_COMPOSE_MERGE",
  composeExtends: "E_COMPOSE_EXTENDS",
  composeInclude: "E_COMPOSE_INCLUDE",
  composeSemantic: "E_COMPOSE_SEMANTIC",
  composeCycle: "E_COMPOSE_CYCLE",
  composeNormalize: "E_COMPOSE_NORMALIZE",
  composeNoSuchService: "E_COMPOSE_NO_SUCH_SERVICE",
  cliUsage: "E_CLI_USAGE",
  internal: "E_INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
