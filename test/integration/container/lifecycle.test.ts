// Containers on the real kernel, through the engine: create → start → stop/kill → rm, what the
// process inside observes (pid 1, hostname, user, env, caps), exit codes, inspect and list,
// names, restart policies, and no leftover mount, cgroup or shim afterwards.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BerthError } from "../../../src/errors.js";
import { detectCgroups, containerCgroupDirectories } from "../../../src/runtime/index.js";
import { capabilityMask, type ProbeReport } from "../../support/bundle.js";
import { disposeWithoutLeaks, eventually, findLeaks, loadTestImage, logText, makeFixture, mountsUnder, noLeaks, runToExit, skipReason, type Fixture } from "./harness.js";

const skip = skipReason();
const image = "lifecycle:1";

describe.skipIf(skip !== undefined)(`container lifecycle${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const created: string[] = [];
  beforeAll(async () => {
    fixture = makeFixture("lifecycle");
    await loadTestImage(fixture, {
      name: image,
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=1", "OVERRIDDEN=image"],
        Cmd: ["/bin/sh", "-c", "echo default command"],
        WorkingDir: "/home/app",
        Labels: { "org.example.image": "yes" },
      },
    });
  }, 120_000);
  afterAll(() => disposeWithoutLeaks(fixture, created));

  const run = async (spec: Parameters<Fixture["engine"]["containers"]["create"]>[0]): ReturnType<typeof runToExit> => {
    const result = await runToExit(fixture.engine, spec);
    created.push(result.id);
    return result;
  };

  it("runs the image's default command with its env and working directory", async () => {
    const result = await run({ image, cmd: ["/bin/sh", "-c", 'echo "$FROM_IMAGE $OVERRIDDEN $(pwd)"'], env: ["OVERRIDDEN=container"] });
    expect(result).toMatchObject({ exitCode: 0, stdout: "1 container /home/app\n", stderr: "" });
    const plain = await run({ image });
    expect(plain.stdout).toBe("default command\n");
  });

  it("gives the container pid 1, its own hostname and Docker's capabilities, hiding host processes", async () => {
    const result = await run({ image, cmd: ["/usr/local/bin/probe"], hostname: "probe-host" });
    const probe = JSON.parse(result.stdout) as ProbeReport;
    expect(probe.pid).toBe(1);
    expect(probe.hostname).toBe("probe-host");
    expect(probe.capabilities.CapEff).toBe(
      capabilityMask(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]),
    );
    expect(probe.env).toEqual(expect.arrayContaining(["HOSTNAME=probe-host", "HOME=/root", "FROM_IMAGE=1"]));
    const ps = await run({ image, cmd: ["/bin/sh", "-c", "ls /proc | grep -c '^[0-9]'"] });
    expect(Number(ps.stdout.trim())).toBeLessThanOrEqual(3);
    const defaultHostname = await run({ image, cmd: ["hostname"] });
    expect(defaultHostname.stdout.trim()).toBe(defaultHostname.id.slice(0, 12));
  });

  it("runs as the user named in the container's /etc/passwd, with group_add", async () => {
    const result = await run({ image, cmd: ["/usr/local/bin/probe"], user: "app", groupAdd: ["nogroup", "4242"] });
    const probe = JSON.parse(result.stdout) as ProbeReport;
    expect([probe.uid, probe.gid]).toEqual([1000, 1000]);
    expect([...probe.groups].sort((a, b) => a - b)).toEqual([1000, 4242, 65534]);
    expect(probe.env).toContain("HOME=/home/app");
    expect(probe.capabilities.CapEff).toBe("0000000000000000");
    const unknown = await fixture.engine.containers.create({ image, user: "ghost", cmd: ["id"] });
    created.push(unknown.id);
    await expect(fixture.engine.containers.start(unknown.id)).rejects.toThrow("unable to find user ghost");
    expect((await fixture.engine.containers.inspect(unknown.id)).State.Status).toBe("created");
  });

  it("propagates exit codes, 126 and 127 for commands that cannot run", async () => {
    expect((await run({ image, cmd: ["/bin/sh", "-c", "exit 42"] })).exitCode).toBe(42);
    for (const [command, status] of [
      ["/no/such/binary", 127],
      ["/etc/not-executable", 126],
    ] as const) {
      const { id } = await fixture.engine.containers.create({ image, cmd: [command] });
      created.push(id);
      const error = await fixture.engine.containers.start(id).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(BerthError);
      expect((error as { exitStatus?: number }).exitStatus).toBe(status);
      const state = (await fixture.engine.containers.inspect(id)).State;
      expect([state.Status, state.ExitCode]).toEqual(["created", status]);
      expect(mountsUnder(fixture.base)).toEqual([]);
    }
  });

  it("stops with the stop signal, then SIGKILL after the grace period", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.1; done"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    const running = await fixture.engine.containers.inspect(id);
    expect(running.State).toMatchObject({ Status: "running", Running: true });
    expect(running.State.Pid).toBeGreaterThan(1);
    await eventually(async () => (await logText(fixture.engine, id)) === "" && true, 2000).catch(() => undefined);
    await fixture.engine.containers.stop(id, { timeoutSeconds: 5 });
    const stopped = await fixture.engine.containers.inspect(id);
    expect(stopped.State).toMatchObject({ Status: "exited", Running: false, ExitCode: 7, Pid: 0 });
    expect(await logText(fixture.engine, id)).toContain("got TERM");

    // pid 1 ignores TERM without a handler: the grace period runs out and SIGKILL ends it.
    const stubborn = await fixture.engine.containers.create({ image, cmd: ["sleep", "60"] });
    created.push(stubborn.id);
    await fixture.engine.containers.start(stubborn.id);
    const started = Date.now();
    await fixture.engine.containers.stop(stubborn.id, { timeoutSeconds: 1 });
    expect(Date.now() - started).toBeLessThan(8000);
    expect((await fixture.engine.containers.inspect(stubborn.id)).State.ExitCode).toBe(137);

    // With --init, pid 1 is berth's init, which forwards TERM: stop is prompt.
    const withInit = await fixture.engine.containers.create({ image, cmd: ["sleep", "60"], init: true });
    created.push(withInit.id);
    await fixture.engine.containers.start(withInit.id);
    const initStarted = Date.now();
    await fixture.engine.containers.stop(withInit.id, { timeoutSeconds: 20 });
    expect(Date.now() - initStarted).toBeLessThan(5000);
    expect((await fixture.engine.containers.inspect(withInit.id)).State.ExitCode).toBe(143);
  });

  it("kills with a signal, restarts, and removes only what is stopped unless forced", async () => {
    const { id } = await fixture.engine.containers.create({ image, name: "killable", cmd: ["/bin/sh", "-c", "trap 'echo usr1' USR1; while true; do sleep 0.1; done"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    await fixture.engine.containers.kill("killable", { signal: "USR1" });
    await eventually(async () => (await logText(fixture.engine, id)).includes("usr1"), 5000, "USR1 handled");
    await expect(fixture.engine.containers.remove("killable")).rejects.toMatchObject({ code: "E_RUNTIME_STATE" });
    const firstPid = (await fixture.engine.containers.inspect(id)).State.Pid;
    await fixture.engine.containers.restart("killable", { timeoutSeconds: 1 });
    const restarted = await fixture.engine.containers.inspect(id);
    expect(restarted.State.Running).toBe(true);
    expect(restarted.State.Pid).not.toBe(firstPid);
    await fixture.engine.containers.kill(id);
    const killed = await fixture.engine.containers.inspect(id);
    expect(killed.State).toMatchObject({ Status: "exited", ExitCode: 137 });
    await expect(fixture.engine.containers.kill(id)).rejects.toThrow("is not running");
    await fixture.engine.containers.remove(id);
    await expect(fixture.engine.containers.inspect(id)).rejects.toMatchObject({ code: "E_CONTAINER_NOT_FOUND" });
  });

  it("rm -f of a running container leaves no mount, cgroup or process", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"], resources: { memory: 64 << 20, pidsLimit: 20 } });
    created.push(id);
    await fixture.engine.containers.start(id);
    const pid = (await fixture.engine.containers.inspect(id)).State.Pid;
    expect(containerCgroupDirectories(detectCgroups(), id).some((directory) => existsSync(directory))).toBe(true);
    await fixture.engine.containers.remove(id, { force: true });
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(findLeaks(fixture, [id])).toEqual(noLeaks);
  });

  it("refuses a second container with the same name, names others like Docker", async () => {
    const first = await fixture.engine.containers.create({ image, name: "unique", cmd: ["true"] });
    created.push(first.id);
    await expect(fixture.engine.containers.create({ image, name: "unique", cmd: ["true"] })).rejects.toMatchObject({
      code: "E_CONTAINER_NAME_IN_USE",
      message: expect.stringContaining(`The container name "/unique" is already in use by container "${first.id}"`),
    });
    const anonymous = await fixture.engine.containers.create({ image, cmd: ["true"] });
    created.push(anonymous.id);
    expect(anonymous.name).toMatch(/^[a-z]+_[a-z]+\d?$/);
    await fixture.engine.containers.rename("unique", "renamed");
    expect((await fixture.engine.containers.inspect(first.id)).Name).toBe("/renamed");
    await expect(fixture.engine.containers.rename(anonymous.id, "renamed")).rejects.toMatchObject({ code: "E_CONTAINER_NAME_IN_USE" });
    const prefix = first.id.slice(0, 10);
    expect((await fixture.engine.containers.inspect(prefix)).Id).toBe(first.id);
  });

  it("inspects and lists in Docker's shapes, with filters", async () => {
    const { id } = await fixture.engine.containers.create({
      image,
      name: "shaped",
      cmd: ["sleep", "30"],
      labels: { tier: "web" },
      restartPolicy: { name: "on-failure", maximumRetryCount: 2 },
      resources: { memory: 32 << 20, nanoCpus: 500_000_000 },
      healthcheck: { test: ["CMD-SHELL", "true"], intervalMs: 500 },
    });
    created.push(id);
    await fixture.engine.containers.start(id);
    const inspect = await fixture.engine.containers.inspect("shaped");
    expect(inspect).toMatchObject({
      Id: id,
      Name: "/shaped",
      Path: "sleep",
      Args: ["30"],
      Driver: "overlay2",
      Config: { Image: image, Labels: { tier: "web", "org.example.image": "yes" }, Cmd: ["sleep", "30"], Entrypoint: null, WorkingDir: "/home/app", Hostname: id.slice(0, 12) },
      HostConfig: { RestartPolicy: { Name: "on-failure", MaximumRetryCount: 2 }, Memory: 33554432, NanoCpus: 500000000, LogConfig: { Type: "json-file" }, NetworkMode: "default" },
      State: { Status: "running", Running: true },
    });
    expect(inspect.Image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(inspect.Created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
    await eventually(async () => (await fixture.engine.containers.inspect(id)).State.Health?.Status === "healthy", 10_000, "healthy");
    const running = await fixture.engine.containers.list();
    expect(running.map((summary) => summary.Names[0])).toContain("/shaped");
    const [summary] = await fixture.engine.containers.list({ filters: { label: ["tier=web"] } });
    expect(summary).toMatchObject({ Id: id, Names: ["/shaped"], Image: image, Command: "sleep 30", State: "running", Labels: { tier: "web" } });
    expect(summary?.Status).toMatch(/^Up .* \(healthy\)$/);
    expect(await fixture.engine.containers.list({ filters: { label: ["tier=db"] } })).toEqual([]);
    const exited = await fixture.engine.containers.list({ all: true, filters: { status: ["exited"] } });
    expect(exited.every((item) => item.State === "exited")).toBe(true);
    expect((await fixture.engine.containers.list({ filters: { name: ["^shap"] } })).map((item) => item.Id)).toEqual([id]);
    await expect(fixture.engine.containers.list({ filters: { colour: ["red"] } })).rejects.toThrow("invalid filter 'colour'");
    await fixture.engine.containers.remove(id, { force: true });
  });

  it("restarts on failure per the policy, with no berth process alive", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "echo run; exit 3"], restartPolicy: { name: "on-failure", maximumRetryCount: 2 } });
    created.push(id);
    await fixture.engine.containers.start(id);
    await eventually(async () => {
      const state = (await fixture.engine.containers.inspect(id)).State;
      return state.Status === "exited" && state;
    }, 20_000, "retries exhausted");
    const inspect = await fixture.engine.containers.inspect(id);
    expect(inspect.RestartCount).toBe(2);
    expect(inspect.State.ExitCode).toBe(3);
    expect((await logText(fixture.engine, id)).split("\n").filter((line) => line === "run")).toHaveLength(3);
  });

  it("starts a container whose shim is still tearing down after its exit, instead of taking it for running", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["sleep", "300"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    const first = await fixture.engine.containers.inspect(id);
    const shimPid = Number(readFileSync(path.join(fixture.paths.runRoot, "containers", id, "shim.pid"), "utf8"));
    // Hold the shim where a busy machine can leave it: its container gone, the exit not yet
    // recorded (status.json still says running).
    process.kill(shimPid, "SIGSTOP");
    try {
      process.kill(first.State.Pid, "SIGKILL");
      await eventually(async () => readFileSync(`/proc/${first.State.Pid}/stat`, "latin1").split(") ")[1]?.startsWith("Z") ?? false, 5000, "container a zombie");
      setTimeout(() => process.kill(shimPid, "SIGCONT"), 300);
      await fixture.engine.containers.start(id);
    } finally {
      process.kill(shimPid, "SIGCONT");
    }
    const again = await fixture.engine.containers.inspect(id);
    expect(again.State.Running).toBe(true);
    expect(again.State.Pid).not.toBe(first.State.Pid);
    await fixture.engine.containers.remove(id, { force: true });
    expect(findLeaks(fixture, [id])).toEqual(noLeaks);
  });

  it("waits for exits", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "sleep 0.3; exit 5"] });
    created.push(id);
    const waiting = fixture.engine.containers.wait(id, { condition: "next-exit" });
    await fixture.engine.containers.start(id);
    expect(await waiting).toEqual({ StatusCode: 5, Error: null });
    expect(await fixture.engine.containers.wait(id)).toEqual({ StatusCode: 5, Error: null });
    const removal = fixture.engine.containers.wait(id, { condition: "removed" });
    await fixture.engine.containers.remove(id);
    await removal;
  });
});
