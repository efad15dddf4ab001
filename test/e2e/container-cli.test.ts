// The real `bin/berth container …` and `berth volume …` on the real kernel, as scenarios: one
// intent, then command → observable steps. Checks read state (JSON output, ids, exit statuses,
// files) rather than exact prose. Each scenario owns its state roots.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, makeLayer, tarDirectory, writeOciLayout } from "../support/images.js";
import { buildRootfs } from "../support/rootfs.js";
import { findLeaks, makeFixture, noLeaks, skipReason, type Fixture } from "../integration/container/harness.js";
import { ensureBuilt, runBerth, type BerthRun } from "./run-berth.js";

const skip = skipReason();
const image = "e2e/busybox:1";

describe.skipIf(skip !== undefined)(`berth container CLI${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const berth = (args: readonly string[], input?: string): BerthRun =>
    runBerth(args, { cwd: fixture.work, env: fixture.env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
  const jsonLines = <T>(text: string): T[] => text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as T);

  beforeAll(() => {
    ensureBuilt();
    fixture = makeFixture("e2e");
    const rootfs = buildRootfs(path.join(fixture.work, "rootfs"));
    mkdirSync(path.join(rootfs, "srv", "data"), { recursive: true });
    writeFileSync(path.join(rootfs, "srv", "data", "seed.txt"), "seeded\n");
    const built = buildImage({ layers: [makeLayer(tarDirectory(rootfs), "gzip")], config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] } });
    const layout = path.join(fixture.work, "layout");
    writeOciLayout(layout, [{ image: built, names: [image] }]);
    const loaded = berth(["image", "load", "-i", layout]);
    expect(loaded.status, loaded.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    if (fixture === undefined) return;
    const ids = (await fixture.engine.containers.list({ all: true })).map((summary) => summary.Id);
    await fixture.dispose();
    expect(findLeaks(fixture, ids)).toEqual(noLeaks);
  });

  it("run --rm must run the command, pass its output and status through, and leave nothing", () => {
    const ok = berth(["container", "run", "--rm", image, "true"]);
    expect(ok).toMatchObject({ status: 0, stdout: "", stderr: "" });
    const output = berth(["container", "run", "--rm", "-e", "WHO=world", image, "sh", "-c", 'echo "hello $WHO"; echo oops >&2; exit 3']);
    expect(output).toMatchObject({ status: 3, stdout: "hello world\n", stderr: "oops\n" });
    expect(berth(["container", "ls", "-a", "-q"]).stdout).toBe("");
    expect(findLeaks(fixture, [])).toEqual(noLeaks);
  });

  it("run -i must feed our stdin to the container and end its stdin when ours ends, as docker run -i does", () => {
    const counted = berth(["container", "run", "--rm", "-i", "--network", "none", image, "sh", "-c", "wc -l; echo done"], "one\ntwo\nthree\n");
    expect(counted).toMatchObject({ status: 0, stdout: "3\ndone\n" });
    // Config.StdinOnce as docker inspect shows it: true only for an attached run -i.
    const detached = berth(["container", "run", "-d", "-i", "--network", "none", image, "cat"]).stdout.trim();
    expect(berth(["container", "inspect", "-f", "{{.Config.OpenStdin}} {{.Config.StdinOnce}}", detached]).stdout).toBe("true false\n");
    expect(berth(["container", "rm", "-f", detached]).status).toBe(0);
  });

  it("exit statuses must be Docker's: 127 not found, 126 not executable, 125 engine errors", () => {
    expect(berth(["container", "run", "--rm", image, "/no/such/command"])).toMatchObject({ status: 127 });
    expect(berth(["container", "run", "--rm", image, "/etc/not-executable"])).toMatchObject({ status: 126 });
    const missing = berth(["container", "run", "--rm", "no/such:image", "true"]);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toContain("No such image");
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(berth(["container", "run", "--rm", "--memory", "lots", image, "true"]).status).toBe(125);
    expect(berth(["container", "ls", "-a", "-q"]).stdout).toBe("");
    const gone = berth(["container", "rm", "nosuch"]);
    expect(gone).toMatchObject({ status: 1, stdout: "" });
    expect(gone.stderr).toBe("No such container: nosuch\n");
    expect(berth(["container", "rm", "-f", "nosuch"])).toMatchObject({ status: 0 });
  });

  it("a detached container must be listed, inspected, exec'd into, logged, stopped and removed", () => {
    const started = berth(["container", "run", "-d", "--name", "web", "-l", "tier=front", image, "sh", "-c", "echo ready; sleep 300"]);
    expect(started.status, started.stderr).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const table = berth(["container", "ls"]).stdout.split("\n");
    expect(table[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(table[1]).toContain(id.slice(0, 12));
    const [row] = jsonLines<Record<string, string>>(berth(["container", "ls", "--format", "json"]).stdout);
    expect(row).toMatchObject({ ID: id.slice(0, 12), Names: "web", Image: image, State: "running", Labels: "tier=front" });
    expect(row?.Status).toMatch(/^Up /);
    expect(berth(["container", "ls", "-q", "--filter", "label=tier=front"]).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect(berth(["container", "ps", "-q", "--no-trunc"]).stdout).toBe(`${id}\n`);

    const pid = Number(berth(["container", "inspect", "-f", "{{.State.Pid}}", "web"]).stdout.trim());
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const [inspect] = JSON.parse(berth(["container", "inspect", "web"]).stdout) as { Id: string; State: { Status: string } }[];
    expect(inspect).toMatchObject({ Id: id, State: { Status: "running" } });

    expect(berth(["container", "exec", "-e", "X=1", "web", "sh", "-c", 'echo "$X $(hostname)"'])).toMatchObject({ status: 0, stdout: `1 ${id.slice(0, 12)}\n` });
    expect(berth(["container", "exec", "web", "sh", "-c", "exit 4"]).status).toBe(4);
    expect(berth(["container", "exec", "-u", "app", "-w", "/tmp", "web", "sh", "-c", "id -u; pwd"]).stdout).toBe("1000\n/tmp\n");
    expect(berth(["container", "logs", "web"]).stdout).toBe("ready\n");
    expect(berth(["container", "logs", "-t", "web"]).stdout).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z ready\n$/);
    const top = berth(["container", "top", "web"]).stdout;
    expect(top).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
    expect(top).toContain("sleep 300");

    expect(berth(["container", "pause", "web"]).stdout).toBe("web\n");
    expect(jsonLines<{ State: string }>(berth(["container", "ls", "--format", "json"]).stdout)[0]?.State).toBe("paused");
    expect(berth(["container", "unpause", "web"]).status).toBe(0);

    expect(berth(["container", "rm", "web"])).toMatchObject({ status: 1 });
    expect(berth(["container", "stop", "-t", "1", "web"])).toMatchObject({ status: 0, stdout: "web\n" });
    expect(berth(["container", "wait", "web"]).stdout).toBe("137\n");
    const [stopped] = jsonLines<{ State: string; Status: string }>(berth(["container", "ls", "-a", "--format", "json"]).stdout);
    expect(stopped?.State).toBe("exited");
    expect(stopped?.Status).toMatch(/^Exited \(137\) /);
    expect(berth(["container", "rename", "web", "web2"]).status).toBe(0);
    expect(berth(["container", "start", "web2"])).toMatchObject({ status: 0, stdout: "web2\n" });
    expect(berth(["container", "rm", "-f", "web2"])).toMatchObject({ status: 0, stdout: "web2\n" });
    expect(berth(["container", "ls", "-a", "-q"]).stdout).toBe("");
    expect(findLeaks(fixture, [id])).toEqual(noLeaks);
  });

  it("volumes must be created on demand, filled from the image, listed, kept and removed", () => {
    const first = berth(["container", "run", "--rm", "-v", "data:/srv/data", image, "sh", "-c", "cat /srv/data/seed.txt; echo more > /srv/data/added.txt"]);
    expect(first).toMatchObject({ status: 0, stdout: "seeded\n" });
    expect(berth(["volume", "ls", "-q"]).stdout).toBe("data\n");
    const [volume] = jsonLines<{ Name: string; Driver: string; Mountpoint: string }>(berth(["volume", "ls", "--format", "json"]).stdout);
    expect(volume).toMatchObject({ Name: "data", Driver: "local" });
    expect(readFileSync(path.join(volume?.Mountpoint ?? "", "added.txt"), "utf8")).toBe("more\n");
    const second = berth(["container", "run", "--rm", "--mount", "type=volume,src=data,dst=/d,readonly", image, "sh", "-c", "cat /d/added.txt; touch /d/x 2>/dev/null || echo ro"]);
    expect(second.stdout).toBe("more\nro\n");
    expect(berth(["volume", "create", "--label", "k=v", "named"]).stdout).toBe("named\n");
    const [inspect] = JSON.parse(berth(["volume", "inspect", "named"]).stdout) as { Labels: Record<string, string> }[];
    expect(inspect?.Labels).toEqual({ k: "v" });
    expect(berth(["volume", "inspect", "-f", "{{.Driver}} {{.Name}}", "named"]).stdout).toBe("local named\n");
    expect(berth(["volume", "rm", "named", "nosuch"])).toMatchObject({ status: 1, stdout: "named\n" });
    // An anonymous volume of a --rm container goes with it; a named one stays until pruned with -a.
    expect(berth(["container", "run", "--rm", "-v", "/anon", image, "true"]).status).toBe(0);
    expect(berth(["volume", "ls", "-q"]).stdout).toBe("data\n");
    expect(berth(["volume", "prune", "-f"]).stdout).toBe("Total reclaimed space: 0B\n");
    expect(berth(["volume", "prune", "-f", "-a"]).stdout).toMatch(/^Deleted Volumes:\ndata\n\nTotal reclaimed space: \d/);
  });

  it("cp must copy files in and out, and tar streams with -", () => {
    const id = berth(["container", "create", "--name", "box", image, "cat", "/in.txt"]).stdout.trim();
    const source = path.join(fixture.work, "in.txt");
    writeFileSync(source, "from the host\n");
    expect(berth(["container", "cp", source, "box:/in.txt"]).status).toBe(0);
    expect(berth(["container", "start", "-a", "box"])).toMatchObject({ status: 0, stdout: "from the host\n" });
    const out = path.join(fixture.work, "out.txt");
    expect(berth(["container", "cp", "-q", "box:/in.txt", out]).status).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("from the host\n");
    const stream = runBerth(["container", "cp", "box:/etc/passwd", "-"], { cwd: fixture.work, env: fixture.env });
    expect(spawnSync("tar", ["-tf", "-"], { input: stream.stdout, encoding: "utf8" }).stdout).toBe("passwd\n");
    expect(berth(["container", "rm", "box"]).stdout).toBe("box\n");
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("run -d --rm must remove the container once it exits, with no daemon", async () => {
    const id = berth(["container", "run", "-d", "--rm", image, "sh", "-c", "sleep 0.5"]).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const deadline = Date.now() + 15_000;
    while (berth(["container", "ls", "-a", "-q"]).stdout !== "" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(berth(["container", "ls", "-a", "-q"]).stdout).toBe("");
  });

  it("prune must remove stopped containers only", () => {
    const stopped = berth(["container", "create", image, "true"]).stdout.trim();
    const running = berth(["container", "run", "-d", image, "sleep", "300"]).stdout.trim();
    const pruned = berth(["container", "prune", "-f"]);
    expect(pruned.stdout).toMatch(new RegExp(`^Deleted Containers:\\n${stopped}\\n\\nTotal reclaimed space: `));
    expect(berth(["container", "ls", "-a", "-q", "--no-trunc"]).stdout).toBe(`${running}\n`);
    expect(berth(["container", "rm", "-f", running]).status).toBe(0);
  });

  it("image rm must refuse an image a container uses, and prune -a must keep it", () => {
    const container = berth(["container", "create", image, "true"]).stdout.trim();
    const refused = berth(["image", "rm", image]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^conflict: unable to remove/);
    expect(berth(["image", "prune", "-a", "-f"]).status).toBe(0);
    expect(berth(["image", "ls", "-q"]).stdout).not.toBe("");
    expect(berth(["container", "rm", container]).status).toBe(0);
  });
});
