// Working with running containers on the real kernel: exec (env, user, working directory, exit
// codes), top from the container's cgroup, pause/unpause through the freezer, and logs (backlog,
// tail, since, follow until exit, stdout and stderr apart).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timeToNanoseconds } from "../../../src/runtime/container/log-time.js";
import { detectCgroups, isFrozen, type LogEntry } from "../../../src/runtime/index.js";
import { disposeWithoutLeaks, eventually, loadTestImage, logText, makeFixture, skipReason, type Fixture } from "./harness.js";

const skip = skipReason();
const image = "processes:1";

describe.skipIf(skip !== undefined)(`running containers${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const created: string[] = [];
  let sleeper: string;
  beforeAll(async () => {
    fixture = makeFixture("proc");
    await loadTestImage(fixture, { name: image, config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_VAR=image"], Cmd: ["/bin/sh"] } });
    const { id } = await fixture.engine.containers.create({ image, name: "sleeper", env: ["CONTAINER_VAR=container"], cmd: ["/bin/sh", "-c", "sleep 300 & wait"] });
    created.push(id);
    sleeper = id;
    await fixture.engine.containers.start(id);
  }, 120_000);
  afterAll(() => disposeWithoutLeaks(fixture, created));

  it("execs in the container's namespaces with its environment, plus the exec's", async () => {
    const result = await fixture.engine.containers.exec("sleeper", {
      cmd: ["/bin/sh", "-c", 'echo "$IMAGE_VAR $CONTAINER_VAR $EXTRA $(hostname) $(pwd)"; ls /proc | grep -c "^[0-9]"'],
      env: ["EXTRA=exec", "CONTAINER_VAR=overridden"],
      workingDir: "/tmp",
      stdio: "pipe",
    });
    expect(result.exitCode).toBe(0);
    const [line, processes] = result.stdout.split("\n");
    expect(line).toBe(`image overridden exec ${sleeper.slice(0, 12)} /tmp`);
    // sh (pid 1), its sleep, the exec'd shell, its ls/grep: only the container's processes.
    expect(Number(processes)).toBeLessThan(8);
  });

  it("execs as another user and returns the command's exit status, 126/127 when it cannot run", async () => {
    const as = await fixture.engine.containers.exec(sleeper, { cmd: ["id", "-u"], user: "app", stdio: "pipe" });
    expect(as).toMatchObject({ exitCode: 0, stdout: "1000\n" });
    expect((await fixture.engine.containers.exec(sleeper, { cmd: ["/bin/sh", "-c", "exit 9"], stdio: "pipe" })).exitCode).toBe(9);
    expect((await fixture.engine.containers.exec(sleeper, { cmd: ["/no/such"], stdio: "pipe" })).exitCode).toBe(127);
    expect((await fixture.engine.containers.exec(sleeper, { cmd: ["/etc/not-executable"], stdio: "pipe" })).exitCode).toBe(126);
    const input = await fixture.engine.containers.exec(sleeper, { cmd: ["cat"], stdio: "pipe", input: "piped in\n" });
    expect(input.stdout).toBe("piped in\n");
  });

  it("lists the container's processes with top, from its cgroup", async () => {
    const top = await fixture.engine.containers.top(sleeper);
    expect(top.Titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    const commands = top.Processes.map((row) => row[7]);
    expect(commands).toEqual(["/bin/sh -c sleep 300 & wait", "sleep 300"]);
    const custom = await fixture.engine.containers.top(sleeper, ["-o", "pid,comm"]);
    expect(custom.Titles).toEqual(["PID", "COMMAND"]);
    expect(custom.Processes.map((row) => row[1])).toEqual(["sh", "sleep"]);
  });

  it("pauses and unpauses through the freezer", async () => {
    await fixture.engine.containers.pause("sleeper");
    const paused = await fixture.engine.containers.inspect(sleeper);
    expect(paused.State).toMatchObject({ Status: "paused", Running: true, Paused: true });
    expect(isFrozen(detectCgroups(), sleeper)).toBe(true);
    const pid = paused.State.Pid;
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/State:\s+[SD]/);
    await expect(fixture.engine.containers.pause(sleeper)).rejects.toThrow("is already paused");
    await expect(fixture.engine.containers.exec(sleeper, { cmd: ["true"], stdio: "pipe" })).rejects.toThrow("is paused");
    const [summary] = await fixture.engine.containers.list({ filters: { status: ["paused"] } });
    expect(summary?.Status).toMatch(/\(Paused\)$/);
    await fixture.engine.containers.unpause(sleeper);
    expect((await fixture.engine.containers.inspect(sleeper)).State.Status).toBe("running");
    await expect(fixture.engine.containers.unpause(sleeper)).rejects.toThrow("is not paused");
  });

  it("reads logs: both streams apart, tail, since, timestamps", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    await fixture.engine.containers.wait(id);
    expect(await logText(fixture.engine, id)).toBe("out 1\nout 2\nout 3\nout 4\nout 5\n");
    expect(await logText(fixture.engine, id, "stderr")).toBe("err 1\nerr 2\nerr 3\nerr 4\nerr 5\n");
    const collect = async (options: Parameters<Fixture["engine"]["containers"]["logs"]>[1]): Promise<LogEntry[]> => {
      const entries: LogEntry[] = [];
      for await (const entry of fixture.engine.containers.logs(id, options)) entries.push(entry);
      return entries;
    };
    const all = await collect({});
    expect(all).toHaveLength(10);
    // The two pipes are read apart, so streams interleave as the shim saw them: tail is the file's last lines.
    expect(await collect({ tail: 3 })).toEqual(all.slice(-3));
    expect(all.every((entry) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(entry.time))).toBe(true);
    const cut = all[6];
    const since = await collect({ sinceNs: timeToNanoseconds(cut?.time ?? "") });
    expect(since.length).toBe(4);
  });

  it("follows logs until the container exits", async () => {
    const { id } = await fixture.engine.containers.create({ image, cmd: ["/bin/sh", "-c", "echo first; sleep 0.5; echo second; sleep 0.3; echo third >&2"] });
    created.push(id);
    await fixture.engine.containers.start(id);
    const seen: string[] = [];
    const started = Date.now();
    for await (const entry of fixture.engine.containers.logs(id, { follow: true })) seen.push(`${entry.stream}:${entry.log.trim()}`);
    expect(seen).toEqual(["stdout:first", "stdout:second", "stderr:third"]);
    expect(Date.now() - started).toBeGreaterThan(600);
    expect((await fixture.engine.containers.inspect(id)).State.Status).toBe("exited");
  });

  it("rotates logs by max-size and max-file", async () => {
    const { id } = await fixture.engine.containers.create({
      image,
      logConfig: { maxSize: "1k", maxFile: 3 },
      cmd: ["/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done"],
    });
    created.push(id);
    await fixture.engine.containers.start(id);
    await fixture.engine.containers.wait(id);
    const lines = (await logText(fixture.engine, id)).split("\n").filter(Boolean);
    // Only the newest ~3 KiB survive; what remains is the end, in order.
    expect(lines.at(-1)).toBe("line 199");
    expect(lines.length).toBeLessThan(200);
    const numbers = lines.map((line) => Number(line.split(" ")[1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });

  it("runs healthchecks: starting, then healthy, then unhealthy", async () => {
    const { id } = await fixture.engine.containers.create({
      image,
      cmd: ["/bin/sh", "-c", "touch /tmp/healthy; sleep 300"],
      healthcheck: { test: ["CMD-SHELL", "test -e /tmp/healthy"], intervalMs: 200, timeoutMs: 1000, retries: 2, startPeriodMs: 0 },
    });
    created.push(id);
    await fixture.engine.containers.start(id);
    await eventually(async () => (await fixture.engine.containers.inspect(id)).State.Health?.Status === "healthy", 10_000, "healthy");
    await fixture.engine.containers.exec(id, { cmd: ["rm", "/tmp/healthy"], stdio: "pipe" });
    await eventually(async () => (await fixture.engine.containers.inspect(id)).State.Health?.Status === "unhealthy", 10_000, "unhealthy");
    const health = (await fixture.engine.containers.inspect(id)).State.Health;
    expect(health?.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(health?.Log.at(-1)?.ExitCode).toBe(1);
    await fixture.engine.containers.remove(id, { force: true });
  });
});
