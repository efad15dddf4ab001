// Faults on the real kernel: a shim killed with SIGKILL, a simulated reboot (processes gone, the
// per-boot root emptied), and the CLI killed with SIGKILL at any point of create and start, then
// the same command again: the engine converges, with nothing duplicated or leaked.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeBridge, removeNetworkRules } from "../../../src/network/index.js";
import { listShimProcesses } from "../../../src/runtime/index.js";
import { listNetworkRecords } from "../../../src/runtime/network/index.js";
import { berthBin, ensureBuilt } from "../../e2e/run-berth.js";
import { eventually, findLeaks, knownIds, leftoversOf, loadTestImage, makeFixture, mountsUnder, noLeaks, skipReason, type Fixture } from "./harness.js";

const skip = skipReason();
const image = "faults:1";

describe.skipIf(skip !== undefined)(`faults${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const created: string[] = [];
  beforeAll(async () => {
    ensureBuilt();
    fixture = makeFixture("faults");
    await loadTestImage(fixture, { name: image });
  }, 180_000);
  afterAll(async () => {
    if (fixture === undefined) return;
    const ids = knownIds(fixture, created);
    // berth's own view agrees: nothing the killed CLIs and shims set up is left over.
    expect(await leftoversOf(fixture, ids)).toEqual([]);
    await fixture.dispose();
    expect(findLeaks(fixture, ids)).toEqual(noLeaks);
  });

  const shimPid = (id: string): number => Number(readFileSync(path.join(fixture.paths.runRoot, "containers", id, "shim.pid"), "utf8"));
  const shimsOf = (id: string): number[] => listShimProcesses().filter((shim) => shim.argv.some((argument) => argument.endsWith(id))).map((shim) => shim.pid);

  it("shows a container whose shim was SIGKILLed as exited, and cleans up after it", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["sleep", "300"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    const containerPid = (await fixture.engine.containers.inspect(id)).State.Pid;
    process.kill(shimPid(id), "SIGKILL");
    await eventually(() => !existsSync(`/proc/${containerPid}`), 5000, "the container to die with its shim");
    const state = (await fixture.engine.containers.inspect(id)).State;
    expect(state).toMatchObject({ Status: "exited", Running: false, Pid: 0, ExitCode: 137 });
    await fixture.engine.containers.remove(id);
    expect(findLeaks(fixture, [id])).toEqual(noLeaks);
  });

  /**
   * A reboot: every process gone, the per-boot root emptied, and the kernel's network
   * namespaces, bridges and rules forgotten. (Mounts and cgroups a real reboot also drops are
   * left here, and the next start must cope with them.)
   */
  const simulateReboot = async (runningIds: readonly string[]): Promise<void> => {
    const pids = await Promise.all(runningIds.map(async (id) => (await fixture.engine.containers.inspect(id)).State.Pid));
    for (const id of runningIds) process.kill(shimPid(id), "SIGKILL");
    for (const pid of pids) await eventually(() => !existsSync(`/proc/${pid}`), 5000, "the containers to die");
    for (const mountPoint of mountsUnder(fixture.paths.runRoot)) spawnSync("umount", ["-l", mountPoint]);
    for (const network of listNetworkRecords(fixture.paths)) {
      if (network.bridge === "") continue;
      await removeNetworkRules(network.id);
      await removeBridge(network.bridge);
    }
    for (const entry of readdirSync(fixture.paths.runRoot)) rmSync(path.join(fixture.paths.runRoot, entry), { recursive: true, force: true });
  };

  it("after a simulated reboot every container is exited and can be started again", async () => {
    const { id } = await fixture.engine.containers.create({ image, name: "survivor", cmd: ["sleep", "300"] });
    created.push(id);
    const stopped = await fixture.engine.containers.create({ image, name: "was-stopped", cmd: ["/bin/sh", "-c", "exit 4"] });
    created.push(stopped.id);
    await fixture.engine.containers.start(stopped.id);
    await fixture.engine.containers.wait(stopped.id);
    await fixture.engine.containers.stop(stopped.id);
    await fixture.engine.containers.start(id);
    await simulateReboot([id]);

    const after = await fixture.engine.containers.list({ all: true });
    expect(after.filter((summary) => summary.State !== "exited").map((summary) => summary.Names)).toEqual([]);
    expect((await fixture.engine.containers.inspect(stopped.id)).State).toMatchObject({ Status: "exited", ExitCode: 4 });
    expect((await fixture.engine.containers.inspect(id)).State).toMatchObject({ Status: "exited", ExitCode: 255 });
    await fixture.engine.containers.start("survivor");
    expect((await fixture.engine.containers.inspect(id)).State).toMatchObject({ Status: "running", Running: true });
    expect(shimsOf(id)).toHaveLength(1);
    await fixture.engine.containers.remove(id, { force: true });
    await fixture.engine.containers.remove(stopped.id);
    expect(findLeaks(fixture, [id, stopped.id])).toEqual(noLeaks);
  });

  it("after a simulated reboot, system boot brings back what the restart policies want, as dockerd's start does", async () => {
    const make = async (name: string, policy: "always" | "unless-stopped" | "no"): Promise<string> => {
      const { id } = await fixture.engine.containers.create({ image, name, cmd: ["sleep", "300"], restartPolicy: { name: policy } });
      created.push(id);
      await fixture.engine.containers.start(id);
      return id;
    };
    const always = await make("boot-always", "always");
    const unlessStopped = await make("boot-unless-stopped", "unless-stopped");
    const stoppedByHand = await make("boot-stopped-by-hand", "unless-stopped");
    const alwaysStopped = await make("boot-always-stopped", "always");
    const noPolicy = await make("boot-no-policy", "no");
    await fixture.engine.containers.stop(stoppedByHand, { timeoutSeconds: 0 });
    await fixture.engine.containers.stop(alwaysStopped, { timeoutSeconds: 0 });
    await simulateReboot([always, unlessStopped, noPolicy]);

    const booted = cli(["system", "boot"]);
    expect(booted.status, booted.stderr).toBe(0);
    // always comes back even after a stop by hand (Docker's rule); unless-stopped only if it was not stopped.
    expect(booted.stdout.trim().split("\n").sort()).toEqual(["boot-always", "boot-always-stopped", "boot-unless-stopped"]);
    const status = async (id: string): Promise<string> => (await fixture.engine.containers.inspect(id)).State.Status;
    expect(await Promise.all([always, alwaysStopped, unlessStopped, stoppedByHand, noPolicy].map(status))).toEqual(["running", "running", "running", "exited", "exited"]);
    // A second boot run finds nothing more to do.
    expect(cli(["system", "boot"])).toMatchObject({ status: 0, stdout: "" });
    for (const id of [always, unlessStopped, stoppedByHand, alwaysStopped, noPolicy]) await fixture.engine.containers.remove(id, { force: true });
  });

  /** Run the CLI and SIGKILL it after `delayMs`. */
  const killCliAfter = async (args: readonly string[], delayMs: number): Promise<void> => {
    const child = spawn(process.execPath, ["--", berthBin, ...args], { env: { ...process.env, ...fixture.env }, stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    // It may have finished on its own already; then the kill is a no-op.
    child.kill("SIGKILL");
    await exited;
  };
  const cli = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, ["--", berthBin, ...args], { env: { ...process.env, ...fixture.env }, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  it("converges when the CLI is killed at any point of start, then started again", async () => {
    for (const delayMs of [5, 40, 70, 90, 110, 130, 160, 250]) {
      const name = `start-kill-${delayMs}`;
      const { id } = await fixture.engine.containers.create({ image, name, cmd: ["sleep", "300"] });
      created.push(id);
      await killCliAfter(["container", "start", name], delayMs);
      const again = cli(["container", "start", name]);
      expect(again, `start after a kill at ${delayMs} ms`).toMatchObject({ status: 0, stdout: `${name}\n` });
      expect((await fixture.engine.containers.inspect(id)).State.Running).toBe(true);
      expect(shimsOf(id), `one shim after a kill at ${delayMs} ms`).toHaveLength(1);
      await fixture.engine.containers.remove(id, { force: true });
      expect(findLeaks(fixture, [id])).toEqual(noLeaks);
    }
  }, 120_000);

  it("converges when the CLI is killed at any point of create, then run again", async () => {
    for (const delayMs of [5, 40, 70, 90, 110, 130, 160, 250]) {
      const name = `create-kill-${delayMs}`;
      await killCliAfter(["container", "create", "--name", name, "-v", "/anon", image, "true"], delayMs);
      const again = cli(["container", "create", "--name", name, "-v", "/anon", image, "true"]);
      // Either the killed create had finished (the name is taken) or this one creates it.
      expect(again.status === 0 || again.stderr.includes(`The container name "/${name}" is already in use`), `${delayMs} ms: ${again.stderr}`).toBe(true);
      const named = (await fixture.engine.containers.list({ all: true })).filter((summary) => summary.Names[0] === `/${name}`);
      expect(named).toHaveLength(1);
      const id = named[0]?.Id ?? "";
      created.push(id);
      const hidden = readdirSync(path.join(fixture.paths.stateRoot, "containers")).filter((entry) => entry.startsWith("."));
      expect(hidden.filter((entry) => !entry.includes(".lock"))).toEqual([]);
      const volumes = await fixture.engine.volumes.list();
      const mounted = (await fixture.engine.containers.inspect(id)).Mounts.map((mount) => mount.Name);
      expect(volumes.map((volume) => volume.Name).filter((volume) => !mounted.includes(volume))).toEqual([]);
      await fixture.engine.containers.remove(id, { volumes: true });
      expect(mountsUnder(fixture.base)).toEqual([]);
    }
  }, 120_000);
});
