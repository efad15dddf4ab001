// Bookkeeping for resumed blob downloads, kept pure so it is tested in milliseconds: which Range
// to ask for, what to do with the answer (append, start over, done), and how long to back off.

export interface ContentRange {
  readonly start: number;
  /** Inclusive, as HTTP writes it. */
  readonly end: number;
  readonly total: number | undefined;
}

/** `bytes 100-199/1000` (or `bytes 100-199/*`). */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const match = header === undefined ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header);
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) return undefined;
  return { start, end, total: match[3] === "*" ? undefined : Number(match[3]) };
}

/** The Range header for a download that already holds `received` bytes (none for a fresh start). */
export function rangeHeader(received: number): string | undefined {
  return received > 0 ? `bytes=${received}-` : undefined;
}

export type ResumeDecision =
  /** The body continues the bytes already held. */
  | { readonly action: "append" }
  /** The body is the whole blob from byte 0: drop what is held and write it. */
  | { readonly action: "restart" }
  /** The body cannot be used: drop what is held and ask again without a Range. */
  | { readonly action: "refetch" }
  /** Everything is already held (416 for a range starting at the end). */
  | { readonly action: "complete" }
  /** Not a download answer: the caller turns the status into an error. */
  | { readonly action: "fail" };

/**
 * What to do with a blob response, given the bytes already held and the blob's announced size.
 * 206 must start exactly where the held bytes end; a 200 (a server that ignores Range) restarts.
 */
export function decideResume(received: number, status: number, contentRange: string | undefined, expectedSize: number | undefined): ResumeDecision {
  if (status === 200) return received === 0 ? { action: "append" } : { action: "restart" };
  if (status === 206) {
    const range = parseContentRange(contentRange);
    if (range === undefined) return { action: "refetch" };
    if (range.start !== received) return { action: "refetch" };
    if (expectedSize !== undefined && range.total !== undefined && range.total !== expectedSize) return { action: "refetch" };
    return { action: "append" };
  }
  if (status === 416) {
    return received > 0 && expectedSize !== undefined && received === expectedSize ? { action: "complete" } : { action: "refetch" };
  }
  return { action: "fail" };
}

/** Exponential backoff with a cap: attempt 1 waits `baseMs`, then doubles. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Statuses worth another attempt: the server or something on the way had a moment. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
