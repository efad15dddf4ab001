// `berth image pull|push`, `berth login|logout`, `berth search`: thin layers over the image
// store's registry client that print what Docker's CLI prints. Progress is per layer with
// listr2 on a terminal (bytes, total, speed), and Docker's status lines otherwise
// (`<layer>: Pull complete`, `Digest: …`, `Status: …`, then the image name).

import { createInterface } from "node:readline/promises";
import { isatty } from "node:tty";
import { Writable } from "node:stream";
import { BerthError } from "../../errors.js";
import { createEngine, familiarString, loadImageApi, parseReference, runtimePaths, type ImageStore } from "../../runtime/index.js";
import { printResult, printWarning } from "../output.js";
import { humanSize } from "./image.js";

type PullOptions = NonNullable<Parameters<ImageStore["pull"]>[1]>;
type PullProgressEvent = Parameters<NonNullable<PullOptions["onProgress"]>>[0];
type PushOptions = NonNullable<Parameters<ImageStore["push"]>[1]>;
type PushProgressEvent = Parameters<NonNullable<PushOptions["onProgress"]>>[0];
type LayerEvent = Extract<PullProgressEvent | PushProgressEvent, { type: "layer" }>;
type ProgressEvent = PullProgressEvent | PushProgressEvent;

/** How progress reaches the terminal: `--progress` (global) wins over the terminal's kind. */
type ProgressMode = "tty" | "plain" | "json" | "quiet";

function progressMode(globalProgress: string | undefined, quiet: boolean): ProgressMode {
  if (quiet || globalProgress === "quiet") return "quiet";
  if (globalProgress === "plain" || globalProgress === "json" || globalProgress === "tty") return globalProgress;
  // isatty, not process.stdout.isTTY: creating the stream would make a stdout pipe non-blocking.
  return isatty(1) ? "tty" : "plain";
}

function openStore(): ImageStore {
  return createEngine({ paths: runtimePaths(process.env) }).images;
}

// ---------------------------------------------------------------- progress renderers

interface ProgressRenderer {
  readonly onProgress: (event: ProgressEvent) => void;
  /** Waits for the display to settle; `failure` ends the layer rows that were still running. */
  finish(failure?: unknown): Promise<void>;
}

/** Docker's non-terminal output: one line per status change, no byte counts. */
function plainRenderer(): ProgressRenderer {
  const lastStatus = new Map<string, string>();
  return {
    onProgress: (event) => {
      if (event.type === "start") {
        printResult("tagOrDigest" in event ? `${event.tagOrDigest}: Pulling from ${event.repository}` : `The push refers to repository [${event.repository}]`);
        return;
      }
      if (event.type !== "layer" || event.status === "Downloading" || event.status === "Extracting" || event.status === "Pushing") return;
      const text = event.status === "Mounted from" ? `Mounted from ${event.detail ?? ""}` : event.status === "Retrying" ? `Retrying (${event.detail ?? ""})` : event.status;
      if (lastStatus.get(event.id) === text) return;
      lastStatus.set(event.id, text);
      printResult(`${event.id}: ${text}`);
    },
    finish: async () => undefined,
  };
}

function jsonRenderer(): ProgressRenderer {
  return { onProgress: (event) => printResult(JSON.stringify(event)), finish: async () => undefined };
}

const finalStatuses = new Set(["Pull complete", "Already exists", "Pushed", "Layer already exists", "Mounted from"]);

/** One listr2 row per layer: status, bytes of total, and speed. */
async function terminalRenderer(title: string): Promise<ProgressRenderer> {
  const { Listr } = await import("listr2");
  interface Row {
    readonly id: string;
    started?: number;
    update?: (text: string) => void;
    settle?: (error?: unknown) => void;
    text: string;
    done: boolean;
  }
  const rows = new Map<string, Row>();
  let announceLayers: ((ids: readonly string[] | undefined) => void) | undefined;
  let failBeforeLayers: ((error: Error) => void) | undefined;
  const layersKnown = new Promise<readonly string[] | undefined>((resolve, reject) => {
    announceLayers = resolve;
    failBeforeLayers = reject;
  });
  const rowText = (row: Row, event: LayerEvent): string => {
    const label = event.status === "Mounted from" ? `Mounted from ${event.detail ?? ""}` : event.status === "Retrying" ? `Retrying: ${event.detail ?? ""}` : event.status;
    if ((event.status === "Downloading" || event.status === "Pushing") && event.current !== undefined && event.total !== undefined) {
      row.started ??= Date.now();
      const seconds = Math.max((Date.now() - row.started) / 1000, 0.001);
      return `${row.id}: ${label} ${humanSize(event.current)}/${humanSize(event.total)} (${humanSize(event.current / seconds)}/s)`;
    }
    return `${row.id}: ${label}`;
  };
  const list = new Listr(
    [
      {
        title,
        task: async (_context, task) => {
          const ids = await layersKnown;
          if (ids === undefined || ids.length === 0) return;
          return task.newListr(
            ids.map((id) => ({
              title: rows.get(id)?.text ?? `${id}: Waiting`,
              task: (_subContext: unknown, subtask: { title: string }) =>
                new Promise<void>((resolve, reject) => {
                  const row = rows.get(id) as Row;
                  row.update = (text) => (subtask.title = text);
                  row.settle = (error) => (error === undefined ? resolve() : reject(error instanceof Error ? error : new Error(String(error))));
                  subtask.title = row.text;
                  if (row.done) resolve();
                }),
            })),
            { concurrent: true, exitOnError: false },
          );
        },
      },
    ],
    { renderer: "default", rendererOptions: { collapseSubtasks: false, collapseErrors: false }, exitOnError: false, registerSignalListeners: false },
  );
  const running = list.run().catch(() => undefined);
  return {
    onProgress: (event) => {
      if (event.type === "layers") {
        for (const layer of event.layers) if (!rows.has(layer.id)) rows.set(layer.id, { id: layer.id, text: `${layer.id}: Waiting`, done: false });
        announceLayers?.(event.layers.map((layer) => layer.id));
        return;
      }
      if (event.type !== "layer") return;
      const row = rows.get(event.id);
      if (row === undefined) return;
      row.text = rowText(row, event);
      row.update?.(row.text);
      if (finalStatuses.has(event.status)) {
        row.done = true;
        row.settle?.();
      }
    },
    finish: async (failure) => {
      // The row shows ✖; the CLI prints the error itself, once, after the display has settled.
      if (failure !== undefined) failBeforeLayers?.(new Error("failed"));
      announceLayers?.(undefined);
      for (const row of rows.values()) if (!row.done) row.settle?.(new Error("failed"));
      await running;
    },
  };
}

async function rendererFor(mode: ProgressMode, title: string): Promise<ProgressRenderer | undefined> {
  if (mode === "quiet") return undefined;
  if (mode === "json") return jsonRenderer();
  if (mode === "tty") return terminalRenderer(title);
  return plainRenderer();
}

// ---------------------------------------------------------------- pull, push

export async function runImagePull(name: string, options: { quiet: boolean; platform?: string }, globalProgress?: string): Promise<void> {
  const mode = progressMode(globalProgress, options.quiet);
  const familiar = familiarString(parseReference(name));
  const renderer = await rendererFor(mode, `Pulling ${familiar}`);
  let result;
  try {
    result = await openStore().pull(name, {
      ...(options.platform === undefined ? {} : { platform: options.platform }),
      quiet: renderer === undefined,
      ...(renderer === undefined ? {} : { onProgress: renderer.onProgress }),
    });
  } catch (error) {
    await renderer?.finish(error);
    throw error;
  }
  await renderer?.finish();
  if (mode === "quiet") {
    printResult(result.reference);
    return;
  }
  const shown = familiarString(parseReference(result.reference));
  printResult(
    [
      `Digest: ${result.digest}`,
      result.status === "up-to-date" ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}`,
      result.reference,
    ].join("\n"),
  );
}

export async function runImagePush(name: string, options: { quiet: boolean }, globalProgress?: string): Promise<void> {
  const mode = progressMode(globalProgress, options.quiet);
  const renderer = await rendererFor(mode, `Pushing ${familiarString(parseReference(name))}`);
  let result;
  try {
    result = await openStore().push(name, renderer === undefined ? {} : { onProgress: renderer.onProgress });
  } catch (error) {
    await renderer?.finish(error);
    throw error;
  }
  await renderer?.finish();
  if (mode === "quiet") {
    printResult(familiarString(parseReference(result.reference)));
    return;
  }
  printResult(`${result.tag}: digest: ${result.digest} size: ${result.size}`);
}

// ---------------------------------------------------------------- login, logout

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Asks on the terminal; `hidden` keeps the answer off the screen (passwords). */
async function prompt(question: string, hidden: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stdout.write(chunk);
      callback();
    },
  });
  const reader = createInterface({ input: process.stdin, output, terminal: true });
  try {
    process.stdout.write(question);
    muted = hidden;
    const answer = await reader.question("");
    if (hidden) process.stdout.write("\n");
    return answer;
  } finally {
    reader.close();
  }
}

export async function runLogin(server: string | undefined, options: { username?: string; password?: string; passwordStdin: boolean }): Promise<void> {
  let username = options.username;
  let password = options.password;
  if (password !== undefined) printWarning("Using --password via the CLI is insecure. Use --password-stdin.");
  if (options.passwordStdin) {
    if (password !== undefined) throw new BerthError("E_CLI_USAGE", "--password and --password-stdin are mutually exclusive");
    if (username === undefined) throw new BerthError("E_CLI_USAGE", "Must provide --username with --password-stdin");
    password = (await readAllStdin()).replace(/\r?\n$/, "");
  }
  if (username === undefined || password === undefined) {
    if (!isatty(0)) throw new BerthError("E_CLI_USAGE", "Cannot perform an interactive login from a non TTY device");
    username ??= (await prompt("Username: ", false)).trim();
    password ??= await prompt("Password: ", true);
  }
  if (username === "") throw new BerthError("E_CLI_USAGE", "Username is required");
  if (password === "") throw new BerthError("E_CLI_USAGE", "Password is required");
  const api = await loadImageApi();
  await api.loginRegistry({ ...(server === undefined ? {} : { server }), username, password });
  printResult("Login Succeeded");
}

export async function runLogout(server: string | undefined): Promise<void> {
  const api = await loadImageApi();
  const { serverKey, removed } = await api.logoutRegistry(server === undefined ? {} : { server });
  printResult(removed ? `Removing login credentials for ${serverKey}` : `Not logged in to ${serverKey}`);
}

// ---------------------------------------------------------------- search

function truncate(text: string, width: number, enabled: boolean): string {
  return enabled && [...text].length > width ? `${[...text].slice(0, width - 1).join("")}…` : text;
}

export async function runSearch(term: string, options: { format?: string; limit: string; trunc: boolean }): Promise<void> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new BerthError("E_CLI_USAGE", `invalid limit ${JSON.stringify(options.limit)}: must be between 1 and 100`);
  const api = await loadImageApi();
  const results = await api.searchRegistry({ term, limit });
  if (options.format === "json") {
    printResult(results.map((result) => JSON.stringify({ Name: result.name, Description: result.description })).join("\n"));
    return;
  }
  if (options.format !== undefined && options.format !== "table") throw new BerthError("E_CLI_USAGE", `unsupported format ${JSON.stringify(options.format)} (table or json)`);
  const rows = [["NAME", "DESCRIPTION"], ...results.map((result) => [result.name, truncate(result.description, 45, options.trunc)])];
  const width = Math.max(10, ...rows.map(([name = ""]) => [...name].length + 3));
  printResult(rows.map(([name = "", description = ""]) => `${name.padEnd(width)}${description}`.trimEnd()).join("\n"));
}
