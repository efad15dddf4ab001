// The container config as Docker's daemon resolves it from the create request and the image
// config (moby's `merge` and `CreateDaemonEnvironment`): environment by key, ENTRYPOINT/CMD,
// working directory, labels, healthcheck, stop signal. Pure functions over plain data.

import { BerthError } from "../../errors.js";
import { shortId } from "./names.js";
import type { ContainerCreateSpec, HealthcheckSpec, ImageConfigView, ResolvedConfig, ResolvedHealthcheck } from "./spec.js";

export const ResolveErrorCode = "E_CONTAINER_INVALID_CONFIG";

export const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * moby's ReplaceOrAppendEnvValues: an override replaces the default with the same key in place,
 * a new key is appended, and a bare `KEY` (no `=`) removes it.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const result: (string | undefined)[] = [...defaults];
  const position = new Map<string, number>();
  defaults.forEach((entry, index) => position.set(envKey(entry), index));
  for (const entry of overrides) {
    const equals = entry.indexOf("=");
    if (equals < 0) {
      const index = position.get(entry);
      if (index !== undefined) result[index] = undefined;
      continue;
    }
    const index = position.get(entry.slice(0, equals));
    if (index !== undefined) result[index] = entry;
    else result.push(entry);
  }
  return result.filter((entry): entry is string => entry !== undefined);
}

const envKey = (entry: string): string => {
  const equals = entry.indexOf("=");
  return equals < 0 ? entry : entry.slice(0, equals);
};

/**
 * ENTRYPOINT and CMD as Docker merges them: a given entrypoint replaces the image's and drops the
 * image's CMD (unless a command is given too); an empty entrypoint resets it and keeps the image's CMD.
 */
export function resolveCommand(
  spec: Pick<ContainerCreateSpec, "cmd" | "entrypoint">,
  image: Pick<ImageConfigView, "Cmd" | "Entrypoint">,
): { entrypoint: string[]; cmd: string[] } {
  const userCmd = [...(spec.cmd ?? [])];
  if (spec.entrypoint === undefined || spec.entrypoint.length === 0) {
    const cmd = userCmd.length > 0 ? userCmd : [...(image.Cmd ?? [])];
    const entrypoint = spec.entrypoint === undefined ? [...(image.Entrypoint ?? [])] : [];
    return { entrypoint, cmd };
  }
  return { entrypoint: [...spec.entrypoint], cmd: userCmd };
}

function mergeHealthcheck(user: HealthcheckSpec | undefined, image: ImageConfigView["Healthcheck"]): ResolvedHealthcheck | null {
  const fromImage: ResolvedHealthcheck | null =
    image === undefined || image === null
      ? null
      : {
          test: [...(image.Test ?? [])],
          intervalMs: nanosecondsToMs(image.Interval),
          timeoutMs: nanosecondsToMs(image.Timeout),
          startPeriodMs: nanosecondsToMs(image.StartPeriod),
          startIntervalMs: nanosecondsToMs(image.StartInterval),
          retries: image.Retries ?? 0,
        };
  if (user === undefined) return fromImage;
  const pick = (value: number | undefined, inherited: number | undefined): number => (value !== undefined && value !== 0 ? value : (inherited ?? 0));
  return {
    test: user.test !== undefined && user.test.length > 0 ? [...user.test] : [...(fromImage?.test ?? [])],
    intervalMs: pick(user.intervalMs, fromImage?.intervalMs),
    timeoutMs: pick(user.timeoutMs, fromImage?.timeoutMs),
    startPeriodMs: pick(user.startPeriodMs, fromImage?.startPeriodMs),
    startIntervalMs: pick(user.startIntervalMs, fromImage?.startIntervalMs),
    retries: pick(user.retries, fromImage?.retries),
  };
}

const nanosecondsToMs = (value: number | undefined): number => (value === undefined ? 0 : Math.round(value / 1e6));

export interface ResolveConfigInput {
  readonly id: string;
  readonly spec: ContainerCreateSpec;
  readonly image: ImageConfigView;
  /** The host's hostname, used with `--network host` as Docker does. */
  readonly hostHostname: string;
}

/** Docker's merged container Config (what inspect shows as `Config`). */
export function resolveConfig({ id, spec, image, hostHostname }: ResolveConfigInput): ResolvedConfig {
  const { entrypoint, cmd } = resolveCommand(spec, image);
  if (entrypoint.length === 0 && cmd.length === 0) {
    throw new BerthError(ResolveErrorCode, "No command specified");
  }
  const workingDir = spec.workingDir !== undefined && spec.workingDir !== "" ? spec.workingDir : image.WorkingDir || "/";
  if (!workingDir.startsWith("/")) {
    throw new BerthError(ResolveErrorCode, `the working directory '${workingDir}' is invalid, it needs to be an absolute path`);
  }
  const labels: Record<string, string> = { ...(image.Labels ?? {}), ...(spec.labels ?? {}) };
  const hostname =
    spec.hostname !== undefined && spec.hostname !== "" ? spec.hostname : spec.networkMode === "host" ? hostHostname : shortId(id);
  return {
    hostname,
    domainname: spec.domainname ?? "",
    user: spec.user ?? image.User ?? "",
    tty: spec.tty ?? false,
    openStdin: spec.openStdin ?? false,
    stdinOnce: (spec.openStdin ?? false) && (spec.stdinOnce ?? false),
    env: replaceOrAppendEnv(image.Env ?? [], spec.env ?? []),
    cmd,
    entrypoint,
    image: spec.image,
    workingDir,
    labels: sortKeys(labels),
    stopSignal: spec.stopSignal ?? image.StopSignal ?? "",
    stopTimeout: spec.stopTimeout ?? null,
    healthcheck: mergeHealthcheck(spec.healthcheck, image.Healthcheck),
    exposedPorts: emptyObjects(Object.keys(image.ExposedPorts ?? {})),
    volumes: emptyObjects(Object.keys(image.Volumes ?? {})),
  };
}

/** The process environment: PATH, HOSTNAME and (with a TTY) TERM, then the config's (moby's CreateDaemonEnvironment). */
export function processEnvironment(config: Pick<ResolvedConfig, "env" | "hostname" | "tty">): string[] {
  const defaults = [`PATH=${defaultPath}`, `HOSTNAME=${config.hostname}`];
  if (config.tty) defaults.push("TERM=xterm");
  return replaceOrAppendEnv(defaults, config.env);
}

/** The healthcheck the shim runs, with Docker's defaults; null when there is none or it is `NONE`. */
export function effectiveHealthcheck(healthcheck: ResolvedHealthcheck | null): ResolvedHealthcheck | null {
  if (healthcheck === null || healthcheck.test.length === 0 || healthcheck.test[0] === "NONE") return null;
  return {
    test: healthcheck.test,
    intervalMs: healthcheck.intervalMs || 30_000,
    timeoutMs: healthcheck.timeoutMs || 30_000,
    startPeriodMs: healthcheck.startPeriodMs,
    startIntervalMs: healthcheck.startIntervalMs || 5_000,
    retries: healthcheck.retries || 3,
  };
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function emptyObjects(keys: readonly string[]): Record<string, Record<string, never>> {
  return Object.fromEntries([...keys].sort().map((key) => [key, {}]));
}
