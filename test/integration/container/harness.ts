// Shared by the container integration tests: throwaway state and run roots, test images built
// here from Debian's busybox-static and the probe (loaded through the real image store), an
// engine over them, and the leak check (mounts, cgroups, shims, processes). Not a test file.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  containerCgroupDirectories,
  createEngine,
  detectCgroups,
  listShimProcesses,
  type Engine,
  type Leftover,
  type OciImageConfig,
} from "../../../src/runtime/index.js";
import { expect } from "vitest";
import { buildImage, makeLayer, tarDirectory, writeOciLayout, type LayerBlob } from "../../support/images.js";
import { buildRootfs, rootfsSkipReason } from "../../support/rootfs.js";

export const repositoryRoot = path.resolve(import.meta.dirname, "../../..");
export const shimPath = path.join(repositoryRoot, "native", "build", "berth-shim");
export const unpackPath = path.join(repositoryRoot, "native", "build", "berth-unpack");

/** Why these tests cannot run here, or undefined. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (namespaces, mounts, cgroups)";
  const rootfs = rootfsSkipReason();
  if (rootfs !== undefined) return rootfs;
  if (!existsSync(shimPath)) return "native/build/berth-shim is not built (npm run build)";
  if (!existsSync(unpackPath)) return "native/build/berth-unpack is not built (npm run build)";
  return undefined;
}

export interface Fixture {
  readonly base: string;
  readonly paths: { readonly stateRoot: string; readonly runRoot: string };
  readonly env: Readonly<Record<string, string>>;
  readonly engine: Engine;
  readonly work: string;
  /** Remove every container (force, with volumes), every volume, then the roots. */
  dispose(): Promise<void>;
}

export function makeFixture(prefix: string): Fixture {
  const base = mkdtempSync(path.join(tmpdir(), `berth-ctr-${prefix}-`));
  const paths = { stateRoot: path.join(base, "state"), runRoot: path.join(base, "run") };
  const work = path.join(base, "work");
  mkdirSync(work, { recursive: true });
  const engine = createEngine({ paths, shimPath });
  return {
    base,
    paths,
    env: { BERTH_ROOT: paths.stateRoot, BERTH_RUN_ROOT: paths.runRoot },
    engine,
    work,
    dispose: async () => {
      for (const summary of await engine.containers.list({ all: true }).catch(() => [])) {
        await engine.containers.remove(summary.Id, { force: true, volumes: true }).catch(() => undefined);
      }
      for (const volume of await engine.volumes.list().catch(() => [])) await engine.volumes.remove(volume.Name, { force: true }).catch(() => undefined);
      // Containers default to the `bridge` network, which (as Docker's) outlives them.
      await engine.networks.destroyAll().catch(() => undefined);
      // Anything mounted below the roots (a test that failed half-way) goes before the files do.
      for (const mountPoint of mountsUnder(base)) spawnSync("umount", ["-l", mountPoint]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface ImageOptions {
  readonly name: string;
  readonly config?: OciImageConfig;
  /** Extra files (path → content) in a second layer on top of the busybox one. */
  readonly extraLayer?: Readonly<Record<string, string>>;
  /** Extra files in the base layer itself. */
  readonly baseFiles?: Readonly<Record<string, string>>;
}

const defaultConfig: OciImageConfig = {
  Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  Cmd: ["/bin/sh"],
};

/** Build a busybox + probe image as an OCI layout and load it through the image store. */
export async function loadTestImage(fixture: Fixture, options: ImageOptions): Promise<string> {
  const directory = mkdtempSync(path.join(fixture.work, "image-"));
  const rootfs = buildRootfs(path.join(directory, "rootfs"));
  for (const [file, content] of Object.entries(options.baseFiles ?? {})) writeTree(rootfs, file, content);
  const layers: LayerBlob[] = [makeLayer(tarDirectory(rootfs), "gzip")];
  if (options.extraLayer !== undefined) {
    const extra = path.join(directory, "extra");
    mkdirSync(extra);
    for (const [file, content] of Object.entries(options.extraLayer)) writeTree(extra, file, content);
    layers.push(makeLayer(tarDirectory(extra), "none"));
  }
  const image = buildImage({ layers, config: options.config ?? defaultConfig });
  const layout = path.join(directory, "layout");
  writeOciLayout(layout, [{ image, names: [options.name] }]);
  await fixture.engine.images.load(layout);
  rmSync(directory, { recursive: true, force: true });
  return options.name;
}

function writeTree(root: string, file: string, content: string): void {
  const target = path.join(root, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, content);
}

/** Mount points at or below a directory. */
export function mountsUnder(directory: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => (line.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((mountPoint) => mountPoint === directory || mountPoint.startsWith(`${directory}/`));
}

export interface Leaks {
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly shims: string[];
}

/** Mounts below the fixture, cgroups of its containers, shims of its bundles. */
export function findLeaks(fixture: Fixture, containerIds: readonly string[]): Leaks {
  const layout = detectCgroups();
  return {
    mounts: mountsUnder(fixture.base),
    cgroups: containerIds.flatMap((id) => containerCgroupDirectories(layout, id)).filter((directory) => existsSync(directory)),
    shims: listShimProcesses()
      .filter((shim) => shim.argv.some((argument) => argument.startsWith(fixture.paths.stateRoot)))
      .map((shim) => `${shim.pid} ${shim.argv.join(" ")}`),
  };
}

/**
 * `system check`'s findings about these containers or networks. Other test files run beside
 * this one in other roots, and a cgroup of theirs with its shim just killed is a leftover for
 * every root for a moment: look only at one's own.
 */
export async function leftoversOf(fixture: Fixture, ids: readonly string[]): Promise<Leftover[]> {
  const mentions = (leftover: Leftover, id: string): boolean => leftover.name.includes(id.slice(0, 10)) || leftover.reason.includes(id.slice(0, 12));
  return (await fixture.engine.system.check()).filter((leftover) => ids.some((id) => mentions(leftover, id)));
}

/** A test file's afterAll: remove the fixture's roots and everything in them, then prove nothing of these containers is left. */
export async function disposeWithoutLeaks(fixture: Fixture | undefined, created: readonly string[]): Promise<void> {
  if (fixture === undefined) return;
  const ids = knownIds(fixture, created);
  await fixture.dispose();
  expect(findLeaks(fixture, ids)).toEqual(noLeaks);
}

export const noLeaks: Leaks = { mounts: [], cgroups: [], shims: [] };

/** Every container id this fixture ever created (directories included, removed or not). */
export function knownIds(fixture: Fixture, created: readonly string[]): string[] {
  const directory = path.join(fixture.paths.stateRoot, "containers");
  const present = existsSync(directory) ? readdirSync(directory).filter((name) => /^[0-9a-f]{64}$/.test(name)) : [];
  return [...new Set([...created, ...present])];
}

/** Poll until `check` returns a value (not undefined/false), or fail naming `what`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The container's log as text, per stream. */
export async function logText(engine: Engine, id: string, stream: "stdout" | "stderr" = "stdout"): Promise<string> {
  let text = "";
  for await (const entry of engine.containers.logs(id)) if (entry.stream === stream) text += entry.log;
  return text;
}

/** Run a container to completion and return its exit code and output. */
export async function runToExit(engine: Engine, spec: Parameters<Engine["containers"]["create"]>[0]): Promise<{ id: string; exitCode: number; stdout: string; stderr: string }> {
  const { id } = await engine.containers.create(spec);
  await engine.containers.start(id);
  const { StatusCode } = await engine.containers.wait(id, { condition: "not-running" });
  return { id, exitCode: StatusCode, stdout: await logText(engine, id), stderr: await logText(engine, id, "stderr") };
}
