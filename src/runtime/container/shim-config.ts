// shim.json: the monitor's instructions (native/PROTOCOL.md) — where the overlay comes from,
// where the log goes and how it rotates, stdin, the restart policy, how to stop, init, and the
// healthcheck with Docker's defaults. Pure.

import { BerthError } from "../../errors.js";
import { effectiveHealthcheck } from "./resolve.js";
import { parseSignal } from "./signals.js";
import type { ContainerCreateSpec, ResolvedConfig, RestartPolicyName } from "./spec.js";
import { parseBytes } from "./units.js";

export const ShimConfigErrorCode = "E_CONTAINER_INVALID_CONFIG";

export interface ContainerPaths {
  /** `<state>/containers/<id>`: the OCI bundle. */
  readonly bundle: string;
  /** `<run>/containers/<id>`: per-boot files the shim writes. */
  readonly runDir: string;
  readonly upper: string;
  readonly work: string;
  readonly merged: string;
  readonly log: string;
}

export interface ShimConfig {
  readonly id: string;
  readonly bundle: string;
  readonly runDir: string;
  readonly rootfs: { readonly lowerdirs: readonly string[]; readonly upperdir: string; readonly workdir: string; readonly target: string; readonly volatile?: boolean };
  readonly log: { readonly path: string; readonly maxSize: number; readonly maxFiles: number };
  readonly stdin: boolean;
  /** Close the container's stdin once the first writer of the FIFO has gone (Docker's StdinOnce). */
  readonly stdinOnce?: boolean;
  readonly restart: { readonly policy: RestartPolicyName; readonly maxRetries: number };
  readonly stop: { readonly signal: number; readonly timeoutSeconds: number };
  readonly init: boolean;
  /** The embedded resolver at 127.0.0.11 (containers on bridge networks). */
  readonly dns?: { readonly config: string };
  /** The container's own network namespace, which the shim releases (berth-netns delete) once the container is done. */
  readonly netns?: { readonly release: string };
  readonly healthcheck: {
    readonly test: readonly string[];
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly retries: number;
    readonly startPeriodMs: number;
    readonly startIntervalMs: number;
  } | null;
}

export interface ShimConfigInput {
  readonly id: string;
  readonly spec: ContainerCreateSpec;
  readonly config: ResolvedConfig;
  /** Image layers, bottom layer first (as the image store lists them). */
  readonly layerPaths: readonly string[];
  readonly paths: ContainerPaths;
  /** dns.json of the container's resolver, when it has one. */
  readonly dnsConfig?: string;
  /** The container's own network namespace (its sandbox), when it has one. */
  readonly releaseNetns?: string;
}

export const defaultStopTimeoutSeconds = 10;

export function buildShimConfig({ id, spec, config, layerPaths, paths, dnsConfig, releaseNetns }: ShimConfigInput): ShimConfig {
  const restart = spec.restartPolicy ?? { name: "no" };
  const healthcheck = effectiveHealthcheck(config.healthcheck);
  return {
    id,
    bundle: paths.bundle,
    runDir: paths.runDir,
    // An --rm container's layer is thrown away at exit: overlayfs need not sync it (the unmount
    // otherwise waits for the disk, tens of ms on a busy one).
    rootfs: { lowerdirs: [...layerPaths].reverse(), upperdir: paths.upper, workdir: paths.work, target: paths.merged, ...(spec.autoRemove === true ? { volatile: true } : {}) },
    log: { path: paths.log, ...logLimits(spec) },
    stdin: config.openStdin,
    ...(config.stdinOnce === true ? { stdinOnce: true } : {}),
    restart: { policy: restart.name, maxRetries: restart.name === "on-failure" ? (restart.maximumRetryCount ?? 0) : 0 },
    stop: { signal: stopSignalNumber(config.stopSignal), timeoutSeconds: config.stopTimeout ?? defaultStopTimeoutSeconds },
    init: spec.init ?? false,
    ...(dnsConfig === undefined ? {} : { dns: { config: dnsConfig } }),
    ...(releaseNetns === undefined ? {} : { netns: { release: releaseNetns } }),
    healthcheck:
      healthcheck === null
        ? null
        : {
            test: healthcheck.test,
            intervalMs: healthcheck.intervalMs,
            timeoutMs: healthcheck.timeoutMs,
            retries: healthcheck.retries,
            startPeriodMs: healthcheck.startPeriodMs,
            startIntervalMs: healthcheck.startIntervalMs,
          },
  };
}

export const stopSignalNumber = (signal: string): number => (signal === "" ? 15 : parseSignal(signal));

/** json-file's `max-size` (0 = unlimited) and `max-file` (default 1; needs a max-size to matter). */
export function logLimits(spec: Pick<ContainerCreateSpec, "logConfig">): { maxSize: number; maxFiles: number } {
  const maxSize = spec.logConfig?.maxSize === undefined || spec.logConfig.maxSize === "" ? 0 : parseBytes(spec.logConfig.maxSize);
  const maxFiles = spec.logConfig?.maxFile ?? 1;
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw new BerthError(ShimConfigErrorCode, "max-file cannot be less than 1");
  if (maxFiles > 1 && maxSize === 0) throw new BerthError(ShimConfigErrorCode, "max-file can only be set if max-size is set");
  return { maxSize, maxFiles };
}
