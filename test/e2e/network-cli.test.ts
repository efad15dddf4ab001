// The real `bin/berth network …`, the container network flags (`--network`, `--network-alias`,
// `-p`) and `berth container port`, on the real kernel, as scenarios: one intent, then
// command → observable steps. Observables are state: JSON output, kernel links, what a container
// sees, and HTTP answers on the host's loopback (no traffic leaves the machine). Each scenario
// removes the containers and networks it made, even when it fails; the fixture's teardown takes
// down the default bridge; the suite's leak check fails the run on any leftover link or rule.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, makeLayer, tarDirectory, writeOciLayout } from "../support/images.js";
import { buildRootfs } from "../support/rootfs.js";
import { eventually, findLeaks, makeFixture, noLeaks, skipReason, type Fixture } from "../integration/container/harness.js";
import { ensureBuilt, runBerth, type BerthRun } from "./run-berth.js";

const skip = skipReason();
const image = "e2e/busybox:1";

interface NetworkRow {
  readonly CreatedAt: string;
  readonly Driver: string;
  readonly ID: string;
  readonly IPv4: string;
  readonly IPv6: string;
  readonly Internal: string;
  readonly Labels: string;
  readonly Name: string;
  readonly Scope: string;
}

interface NetworkInspect {
  readonly Name: string;
  readonly Id: string;
  readonly Driver: string;
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly IPAM: { readonly Config: readonly Record<string, unknown>[] };
  readonly Containers: Readonly<Record<string, { readonly Name: string; readonly IPv4Address: string }>>;
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
}

/** A port nobody listens on now (the kernel picks it; closed again before use). */
async function freePort(): Promise<number> {
  const server = await listen();
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A listener on 127.0.0.1 (an ephemeral port unless one is given). */
function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** GET / on 127.0.0.1:port; the body. */
function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/", timeout: 2_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(body));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`GET 127.0.0.1:${port} timed out`)));
    request.on("error", reject);
  });
}

const linkExists = (name: string): boolean => spawnSync("ip", ["-o", "link", "show", "dev", name], { stdio: "ignore" }).status === 0;

/** busybox httpd serving one page from /www on port 80. */
const httpd = (page: string): string[] => ["sh", "-c", `mkdir -p /www && echo ${page} > /www/index.html && exec httpd -f -p 80 -h /www`];

describe.skipIf(skip !== undefined)(`berth network CLI${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  const berth = (args: readonly string[], input?: string): BerthRun =>
    runBerth(args, { cwd: fixture.work, env: fixture.env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
  const jsonLines = <T>(text: string): T[] => text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as T);
  const inspectNetwork = (name: string): NetworkInspect => (JSON.parse(berth(["network", "inspect", name]).stdout) as NetworkInspect[])[0] as NetworkInspect;
  const containerIp = (container: string, network: string): string =>
    (JSON.parse(berth(["container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container]).stdout) as Record<string, { IPAddress: string }>)[network]?.IPAddress ?? "";
  const interfaces = (container: string): string[] =>
    berth(["container", "exec", container, "cat", "/proc/net/dev"])
      .stdout.split("\n")
      .slice(2)
      .map((line) => line.split(":")[0]?.trim() ?? "")
      .filter((name) => name !== "")
      .sort();

  /** Remove what a scenario made, whatever happened in it. */
  async function cleaningUp(resources: { containers: string[]; networks: string[] }, scenario: () => Promise<void> | void): Promise<void> {
    try {
      await scenario();
    } finally {
      if (resources.containers.length > 0) berth(["container", "rm", "-f", ...resources.containers]);
      if (resources.networks.length > 0) berth(["network", "rm", "-f", ...resources.networks]);
    }
  }

  beforeAll(() => {
    ensureBuilt();
    fixture = makeFixture("e2e-net");
    const rootfs = buildRootfs(path.join(fixture.work, "rootfs"));
    const built = buildImage({ layers: [makeLayer(tarDirectory(rootfs), "gzip")], config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] } });
    const layout = path.join(fixture.work, "layout");
    writeOciLayout(layout, [{ image: built, names: [image] }]);
    const loaded = berth(["image", "load", "-i", layout]);
    expect(loaded.status, loaded.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    if (fixture === undefined) return;
    const ids = (await fixture.engine.containers.list({ all: true })).map((summary) => summary.Id);
    const bridges = (await fixture.engine.networks.list()).filter((network) => network.Driver === "bridge").map((network) => `br-${network.Id.slice(0, 12)}`);
    const ids12 = (await fixture.engine.networks.list()).map((network) => network.Id.slice(0, 12));
    // Removes every container and volume, then every network of the root (the default bridge and,
    // when no network of any root remains, the shared BERTH-* chains).
    await fixture.dispose();
    expect(findLeaks(fixture, ids)).toEqual(noLeaks);
    expect(bridges.filter(linkExists)).toEqual([]);
    const rules = spawnSync("iptables-save", [], { encoding: "utf8" }).stdout;
    expect(ids12.filter((id12) => rules.includes(`-${id12}`))).toEqual([]);
  });

  it("network create, ls, inspect and rm must behave as docker's, with docker's refusals", async () => {
    const made = { containers: [], networks: ["e2e-back"] };
    await cleaningUp(made, () => {
      const created = berth([
        "network", "create",
        "--subnet", "10.231.77.0/24", "--gateway", "10.231.77.254", "--ip-range", "10.231.77.128/25", "--aux-address", "router=10.231.77.2",
        "--label", "tier=back", "-o", "com.docker.network.driver.mtu=1400", "--internal", "--attachable",
        "e2e-back",
      ]);
      expect(created.status, created.stderr).toBe(0);
      const id = created.stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const bridge = `br-${id.slice(0, 12)}`;
      expect(linkExists(bridge)).toBe(true);
      const addresses = spawnSync("ip", ["-o", "addr", "show", "dev", bridge], { encoding: "utf8" }).stdout;
      expect(addresses).toContain("10.231.77.254/24");
      expect(spawnSync("ip", ["-o", "link", "show", "dev", bridge], { encoding: "utf8" }).stdout).toContain("mtu 1400");

      const table = berth(["network", "ls"]).stdout.split("\n").filter(Boolean);
      expect(table[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
      expect(table.slice(1).map((line) => line.split(/\s+/)[1])).toEqual(["bridge", "e2e-back", "host", "none"]);
      expect(table.find((line) => line.includes("e2e-back"))).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+e2e-back\\s+bridge\\s+local$`));
      const rows = jsonLines<NetworkRow>(berth(["network", "ls", "--format", "json"]).stdout);
      expect(rows.find((row) => row.Name === "e2e-back")).toEqual({
        CreatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC$/),
        Driver: "bridge",
        ID: id.slice(0, 12),
        IPv4: "true",
        IPv6: "false",
        Internal: "true",
        Labels: "tier=back",
        Name: "e2e-back",
        Scope: "local",
      });
      expect(rows.find((row) => row.Name === "none")).toMatchObject({ Driver: "null", Internal: "false", IPv4: "false" });
      expect(berth(["network", "ls", "-q", "--filter", "name=e2e-back"]).stdout).toBe(`${id.slice(0, 12)}\n`);
      expect(berth(["network", "ls", "-q", "--no-trunc", "-f", "label=tier=back"]).stdout).toBe(`${id}\n`);
      expect(berth(["network", "ls", "--filter", "type=custom", "--format", "{{.Name}} {{.Driver}}"]).stdout).toBe("e2e-back bridge\n");
      expect(berth(["network", "ls", "--filter", "driver=host", "--format", "table {{.Name}}\t{{.Internal}}"]).stdout).toMatch(/^NAME\s+INTERNAL\nhost\s+false\n$/);

      expect(inspectNetwork("e2e-back")).toMatchObject({
        Name: "e2e-back",
        Id: id,
        Driver: "bridge",
        Internal: true,
        Attachable: true,
        IPAM: { Config: [{ Subnet: "10.231.77.0/24", Gateway: "10.231.77.254", IPRange: "10.231.77.128/25", AuxiliaryAddresses: { router: "10.231.77.2" } }] },
        Options: { "com.docker.network.driver.mtu": "1400" },
        Labels: { tier: "back" },
      });
      expect(berth(["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "e2e-back", "bridge"]).stdout).toBe("e2e-back bridge\nbridge bridge\n");
      const partly = berth(["network", "inspect", id.slice(0, 10), "nosuch"]);
      expect(partly.status).toBe(1);
      expect((JSON.parse(partly.stdout) as NetworkInspect[]).map((network) => network.Name)).toEqual(["e2e-back"]);
      expect(partly.stderr.trim().split("\n")).toHaveLength(1);
      expect(partly.stderr).toContain("nosuch");

      // Refusals: one line on stderr, exit status 1, nothing made.
      for (const [args, fragment] of [
        [["network", "create", "e2e-back"], "already exists"],
        [["network", "create", "bridge"], "bridge"],
        [["network", "create", "--gateway", "10.9.9.1", "e2e-bad"], "corresponding subnet"],
        [["network", "create", "--subnet", "10.231.77.128/25", "e2e-bad"], "overlaps"],
        [["network", "create", "-d", "nosuch", "e2e-bad"], "nosuch"],
        [["network", "rm", "bridge"], "pre-defined"],
        [["network", "rm", "none"], "pre-defined"],
      ] as const) {
        const refused = berth(args);
        expect(refused.status, args.join(" ")).toBe(1);
        expect(refused.stdout, args.join(" ")).toBe("");
        expect(refused.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
        expect(refused.stderr, args.join(" ")).toContain(fragment);
      }
      expect(berth(["network", "ls", "-q", "--filter", "name=e2e-bad"]).stdout).toBe("");

      // rm: every name, each failure reported, exit 1 at the end; -f ignores missing ones.
      const removed = berth(["network", "rm", "nosuch", "e2e-back"]);
      expect(removed).toMatchObject({ status: 1, stdout: "e2e-back\n" });
      expect(removed.stderr).toContain("nosuch");
      expect(linkExists(bridge)).toBe(false);
      expect(berth(["network", "rm", "-f", "nosuch"])).toMatchObject({ status: 0, stdout: "", stderr: "" });
      expect(berth(["network", "remove", "e2e-back"]).status).toBe(1);
    });
  });

  it("prune must ask first, honour filters, and keep networks in use and the predefined ones", async () => {
    const made = { containers: ["e2e-user"], networks: ["e2e-p1", "e2e-p2", "e2e-p3"] };
    await cleaningUp(made, () => {
      expect(berth(["network", "create", "e2e-p1"]).status).toBe(0);
      expect(berth(["network", "create", "--label", "keep=yes", "e2e-p2"]).status).toBe(0);
      expect(berth(["network", "create", "e2e-p3"]).status).toBe(0);
      const user = berth(["container", "run", "-d", "--name", "e2e-user", "--network", "e2e-p3", image, "sleep", "300"]);
      expect(user.status, user.stderr).toBe(0);
      const names = (): string[] => berth(["network", "ls", "--format", "{{.Name}}"]).stdout.split("\n").filter(Boolean);

      const declined = berth(["network", "prune"], "n\n");
      expect(declined).toMatchObject({ status: 0, stdout: "" });
      expect(declined.stderr).toContain("WARNING! This will remove all custom networks not used by at least one container.");
      expect(names()).toEqual(["bridge", "e2e-p1", "e2e-p2", "e2e-p3", "host", "none"]);
      const filtered = (filter: string): string[] => berth(["network", "ls", "--filter", filter, "--format", "{{.Name}}"]).stdout.split("\n").filter(Boolean);
      expect(filtered("dangling=true")).toEqual(["e2e-p1", "e2e-p2"]);
      expect(filtered("dangling=false")).toEqual(["bridge", "e2e-p3", "host", "none"]);
      // until: only networks created before the time given (none were made a day ago).
      expect(berth(["network", "prune", "-f", "--filter", "until=24h"])).toMatchObject({ status: 0, stdout: "" });
      expect(berth(["network", "ls", "--filter", "until=24h"])).toMatchObject({ status: 1, stderr: "invalid filter 'until'\n" });

      expect(berth(["network", "prune", "-f", "--filter", "label!=keep"])).toMatchObject({ status: 0, stdout: "Deleted Networks:\ne2e-p1\n\n" });
      expect(berth(["network", "prune"], "y\n")).toMatchObject({ status: 0, stdout: "Deleted Networks:\ne2e-p2\n\n" });
      expect(names()).toEqual(["bridge", "e2e-p3", "host", "none"]);
      expect(berth(["network", "prune", "-f"])).toMatchObject({ status: 0, stdout: "" });

      // A network a running container uses cannot go, by rm or prune.
      const busy = berth(["network", "rm", "e2e-p3"]);
      expect(busy.status).toBe(1);
      expect(busy.stderr.trim().split("\n")).toHaveLength(1);
      expect(busy.stderr).toContain("active endpoints");
      expect(berth(["container", "rm", "-f", "e2e-user"]).status).toBe(0);
      expect(berth(["network", "prune", "-f"]).stdout).toBe("Deleted Networks:\ne2e-p3\n\n");
    });
  });

  it("containers on one user network must reach each other by name and by alias", async () => {
    const made = { containers: ["e2e-a", "e2e-b"], networks: ["e2e-app"] };
    await cleaningUp(made, async () => {
      expect(berth(["network", "create", "e2e-app"]).status).toBe(0);
      const a = berth(["container", "run", "-d", "--name", "e2e-a", "--network", "e2e-app", "--network-alias", "alpha", image, "sleep", "300"]);
      expect(a.status, a.stderr).toBe(0);
      const b = berth(["container", "run", "-d", "--name", "e2e-b", "--network", "e2e-app", image, "sleep", "300"]);
      expect(b.status, b.stderr).toBe(0);
      const ipA = containerIp("e2e-a", "e2e-app");
      expect(ipA).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(Object.values(inspectNetwork("e2e-app").Containers).map((container) => container.Name).sort()).toEqual(["e2e-a", "e2e-b"]);
      expect(jsonLines<{ Names: string; Networks: string }>(berth(["container", "ls", "--format", "json", "--filter", "name=e2e-a"]).stdout)[0]).toMatchObject({ Networks: "e2e-app" });

      const ping = berth(["container", "exec", "e2e-b", "ping", "-c1", "-W2", "e2e-a"]);
      expect(ping.status, `${ping.stdout}${ping.stderr}`).toBe(0);
      const lookup = await eventually(() => {
        const answer = berth(["container", "exec", "e2e-b", "nslookup", "alpha", "127.0.0.11"]);
        return answer.stdout.includes(ipA) ? answer : undefined;
      }, 10_000, "nslookup alpha to answer");
      expect(lookup.stdout).toContain(`Address: ${ipA}`);
      expect(berth(["container", "exec", "e2e-b", "nslookup", "nosuch-peer", "127.0.0.11"]).stdout).not.toContain(ipA);
    });
  });

  it("-p with a loopback address must serve the container's port there, and container port/ls/inspect must show it", async () => {
    const made = { containers: ["e2e-web"], networks: [] };
    await cleaningUp(made, async () => {
      const port = await freePort();
      const started = berth(["container", "run", "-d", "--name", "e2e-web", "-p", `127.0.0.1:${port}:80`, image, ...httpd("hello-fixed")]);
      expect(started.status, started.stderr).toBe(0);
      expect(await eventually(() => httpGet(port), 15_000, `http on 127.0.0.1:${port}`)).toBe("hello-fixed\n");

      expect(berth(["container", "port", "e2e-web"])).toMatchObject({ status: 0, stdout: `80/tcp -> 127.0.0.1:${port}\n` });
      expect(berth(["container", "port", "e2e-web", "80"])).toMatchObject({ status: 0, stdout: `127.0.0.1:${port}\n` });
      expect(berth(["container", "port", "e2e-web", "80/tcp"]).stdout).toBe(`127.0.0.1:${port}\n`);
      expect(berth(["container", "port", "e2e-web", "81/tcp"])).toMatchObject({ status: 1, stdout: "", stderr: "Error: No public port '81/tcp' published for e2e-web\n" });
      expect(berth(["container", "port", "e2e-web", "80/udp"]).status).toBe(1);
      expect(berth(["container", "port", "nosuch"]).status).toBe(1);

      const [row] = jsonLines<{ Ports: string }>(berth(["container", "ls", "--format", "json", "--filter", "name=e2e-web"]).stdout);
      expect(row?.Ports).toBe(`127.0.0.1:${port}->80/tcp`);
      expect(berth(["container", "ls", "--filter", "name=e2e-web"]).stdout.split("\n")[1]).toContain(`127.0.0.1:${port}->80/tcp`);
      const [inspect] = JSON.parse(berth(["container", "inspect", "e2e-web"]).stdout) as { HostConfig: { PortBindings: unknown }; NetworkSettings: { Ports: unknown } }[];
      expect(inspect?.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
      expect(inspect?.NetworkSettings.Ports).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
    });
  });

  it("-p with a container port only must pick a free host port that works, shown by port, ls and inspect alike", async () => {
    const made = { containers: ["e2e-rand"], networks: [] };
    await cleaningUp(made, async () => {
      const started = berth(["container", "run", "-d", "--name", "e2e-rand", "-p", "80", "--expose", "90-91/udp", image, ...httpd("hello-random")]);
      expect(started.status, started.stderr).toBe(0);
      const listed = berth(["container", "port", "e2e-rand"]).stdout;
      const match = /^80\/tcp -> 0\.0\.0\.0:(\d+)\n$/.exec(listed);
      expect(match, listed).not.toBeNull();
      const port = Number(match?.[1]);
      expect(port).toBeGreaterThan(0);
      expect(berth(["container", "port", "e2e-rand", "80"]).stdout).toBe(`0.0.0.0:${port}\n`);
      expect(berth(["container", "port", "e2e-rand", "90/udp"]).status).toBe(1);
      const [row] = jsonLines<{ Ports: string }>(berth(["container", "ls", "--format", "json", "--filter", "name=e2e-rand"]).stdout);
      // docker's order: groups (exposed ranges, same-number publications) first, then other mappings.
      expect(row?.Ports).toBe(`90-91/udp, 0.0.0.0:${port}->80/tcp`);
      const [inspect] = JSON.parse(berth(["container", "inspect", "e2e-rand"]).stdout) as { HostConfig: { PortBindings: unknown }; NetworkSettings: { Ports: Record<string, unknown> } }[];
      expect(inspect?.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "" }] });
      expect(inspect?.NetworkSettings.Ports).toEqual({ "80/tcp": [{ HostIp: "0.0.0.0", HostPort: String(port) }], "90/udp": null, "91/udp": null });
      // Reached through the host's loopback only.
      expect(await eventually(() => httpGet(port), 15_000, `http on 127.0.0.1:${port}`)).toBe("hello-random\n");
    });
  });

  it("a host port already taken must fail run with one line naming it, and leave no container behind", async () => {
    const made = { containers: ["e2e-taken", "e2e-holder", "e2e-second"], networks: [] };
    const listener = await listen();
    try {
      await cleaningUp(made, async () => {
        const taken = (listener.address() as net.AddressInfo).port;
        const refused = berth(["container", "run", "-d", "--name", "e2e-taken", "-p", `127.0.0.1:${taken}:80`, image, "sleep", "300"]);
        expect(refused.status).toBe(125);
        expect(refused.stdout).toBe("");
        expect(refused.stderr.trim().split("\n")).toHaveLength(1);
        expect(refused.stderr).toContain(String(taken));
        expect(berth(["container", "ls", "-a", "-q", "--filter", "name=e2e-taken"]).stdout).toBe("");

        // Taken by another berth container: refused the same way.
        const port = await freePort();
        expect(berth(["container", "run", "-d", "--name", "e2e-holder", "-p", `127.0.0.1:${port}:80`, image, "sleep", "300"]).status).toBe(0);
        const second = berth(["container", "run", "-d", "--name", "e2e-second", "-p", `127.0.0.1:${port}:80`, image, "sleep", "300"]);
        expect(second.status).toBe(125);
        expect(second.stderr.trim().split("\n")).toHaveLength(1);
        expect(second.stderr).toContain(String(port));
        expect(berth(["container", "ls", "-a", "-q", "--filter", "name=e2e-second"]).stdout).toBe("");
      });
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it("bad -p, --network and --add-host values must fail run with one line and exit 125", async () => {
    const made = { containers: [] as string[], networks: [] };
    await cleaningUp(made, () => {
      for (const [args, fragment] of [
        [["-p", "99999:80"], "invalid hostPort: 99999"],
        [["-p", "8080:80-81"], "invalid ranges specified"],
        [["-p", "80/icmp"], "invalid proto: icmp"],
        [["-p", "localhost:8080:80"], "invalid IP address: localhost"],
        [["--network", "nosuch"], "nosuch"],
        [["--network", "bridge", "--network-alias", "x"], "user defined networks"],
        [["--add-host", "nohost"], "bad format for add-host"],
        [["--ip", "not-an-ip"], "invalid IPv4 address"],
      ] as const) {
        const failed = berth(["container", "run", "--rm", ...args, image, "true"]);
        expect(failed.status, args.join(" ")).toBe(125);
        expect(failed.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
        expect(failed.stderr, args.join(" ")).toContain(fragment);
      }
      expect(berth(["container", "ls", "-a", "-q"]).stdout).toBe("");
    });
  });

  it("network connect and disconnect must add and remove an interface of a running container", async () => {
    const made = { containers: ["e2e-conn"], networks: ["e2e-side"] };
    await cleaningUp(made, () => {
      expect(berth(["network", "create", "e2e-side"]).status).toBe(0);
      const started = berth(["container", "run", "-d", "--name", "e2e-conn", image, "sleep", "300"]);
      expect(started.status, started.stderr).toBe(0);
      expect(interfaces("e2e-conn")).toEqual(["eth0", "lo"]);

      expect(berth(["network", "connect", "--alias", "sidecar", "e2e-side", "e2e-conn"])).toMatchObject({ status: 0, stdout: "", stderr: "" });
      expect(interfaces("e2e-conn")).toEqual(["eth0", "eth1", "lo"]);
      const networks = JSON.parse(berth(["container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", "e2e-conn"]).stdout) as Record<string, { Aliases: string[] | null; IPAddress: string }>;
      expect(Object.keys(networks).sort()).toEqual(["bridge", "e2e-side"]);
      expect(networks["e2e-side"]?.Aliases).toContain("sidecar");
      expect(berth(["container", "exec", "e2e-conn", "ip", "-o", "-4", "addr", "show", "eth1"]).stdout).toContain(`inet ${networks["e2e-side"]?.IPAddress ?? "?"}/`);
      const again = berth(["network", "connect", "e2e-side", "e2e-conn"]);
      expect(again.status).toBe(1);
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(berth(["network", "rm", "e2e-side"]).status).toBe(1);

      expect(berth(["network", "disconnect", "e2e-side", "e2e-conn"])).toMatchObject({ status: 0, stdout: "", stderr: "" });
      expect(interfaces("e2e-conn")).toEqual(["eth0", "lo"]);
      expect(berth(["network", "disconnect", "-f", "e2e-side", "e2e-conn"]).status).toBe(1);
      expect(berth(["network", "connect", "e2e-side", "nosuch"]).status).toBe(1);
      expect(berth(["network", "connect", "nosuch", "e2e-conn"]).status).toBe(1);
      expect(berth(["container", "rm", "-f", "e2e-conn"]).status).toBe(0);
      expect(berth(["network", "rm", "e2e-side"])).toMatchObject({ status: 0, stdout: "e2e-side\n" });
    });
  });
  it("system check must list what a killed shim left (exit 1), and system prune -f must reclaim it and the stopped container", async () => {
    const made = { containers: ["e2e-crashed"], networks: [] };
    await cleaningUp(made, async () => {
      const port = await freePort();
      const started = berth(["container", "run", "-d", "--name", "e2e-crashed", "-p", `127.0.0.1:${port}:80`, image, ...httpd("doomed")]);
      expect(started.status, started.stderr).toBe(0);
      const id = started.stdout.trim();
      const ours = (rows: { Kind: string; Name: string; Reason: string }[]): { Kind: string; Name: string; Reason: string }[] => rows.filter((row) => row.Name.includes(id.slice(0, 10)) || row.Reason.includes("e2e-crashed"));
      const checked = (): { Kind: string; Name: string; Reason: string }[] => ours(jsonLines(berth(["system", "check", "--format", "json"]).stdout));
      expect(checked()).toEqual([]);

      const shimPid = Number(readFileSync(path.join(fixture.paths.runRoot, "containers", id, "shim.pid"), "utf8"));
      process.kill(shimPid, "SIGKILL");
      const leftovers = await eventually(() => (checked().some((row) => row.Kind === "netns") ? checked() : undefined), 10_000, "the netns to show as a leftover");
      expect(new Set(leftovers.map((row) => row.Kind))).toEqual(new Set(["mount", "netns", "cgroup", "endpoint", "link"]));
      expect(leftovers.find((row) => row.Kind === "netns")?.Reason).toBe("network namespace of container e2e-crashed, which is not running");
      const table = berth(["system", "check"]);
      expect(table.status).toBe(1);
      expect(table.stdout.split("\n")[0]).toMatch(/^KIND\s+NAME\s+REASON$/);

      // No answer on stdin is a no: nothing is removed.
      const declined = berth(["system", "prune"]);
      expect(declined.status).toBe(0);
      expect(declined.stderr).toContain("WARNING! This will remove:");
      expect(checked()).not.toEqual([]);

      const pruned = berth(["system", "prune", "-f"]);
      expect(pruned.status, pruned.stderr).toBe(0);
      expect(pruned.stdout).toContain(`Deleted Containers:\n`);
      expect(pruned.stdout).toContain(id);
      expect(pruned.stdout).toMatch(/Reclaimed Leftovers:\n(.+\n)+/);
      expect(pruned.stdout).toMatch(/Total reclaimed space: \S+\n$/);
      expect(checked()).toEqual([]);
      expect(berth(["container", "inspect", "e2e-crashed"]).status).toBe(1);
      expect(spawnSync("iptables-save", [], { encoding: "utf8" }).stdout).not.toContain(`--dport ${port} `);
    });
  });
  it("-p with --network host must warn, as docker does, and publish nothing", () => {
    const ran = berth(["container", "run", "--rm", "--network", "host", "-p", "127.0.0.1:8080:80", image, "true"]);
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stderr).toContain("WARNING: Published ports are discarded when using host network mode\n");
    expect(spawnSync("iptables-save", [], { encoding: "utf8" }).stdout).not.toContain("--dport 8080 ");
  });
  it("a macvlan network on a parent interface must carry containers that reach each other by name", async () => {
    // The parent: a veth pair this test makes (no traffic leaves it; this kernel has no dummy links).
    const parent = "vbmvp0";
    expect(spawnSync("ip", ["link", "add", parent, "type", "veth", "peer", "name", "vbmvp1"]).status).toBe(0);
    const made = { containers: ["e2e-mv1", "e2e-mv2"], networks: ["e2e-mv"] };
    try {
      // Both ends up: a veth has carrier only then, and macvlans on a parent without it pass nothing.
      for (const end of [parent, "vbmvp1"]) spawnSync("ip", ["link", "set", end, "up"]);
      await cleaningUp(made, () => {
        const created = berth(["network", "create", "-d", "macvlan", "-o", `parent=${parent}`, "--subnet", "10.199.5.0/24", "e2e-mv"]);
        expect(created.status, created.stderr).toBe(0);
        expect(inspectNetwork("e2e-mv")).toMatchObject({ Driver: "macvlan", Options: { parent } });
        for (const name of ["e2e-mv1", "e2e-mv2"]) {
          const ran = berth(["container", "run", "-d", "--name", name, "--network", "e2e-mv", image, "sleep", "300"]);
          expect(ran.status, ran.stderr).toBe(0);
        }
        expect(containerIp("e2e-mv1", "e2e-mv")).toMatch(/^10\.199\.5\.\d+$/);
        expect(berth(["container", "exec", "e2e-mv1", "cat", "/sys/class/net/eth0/address"]).stdout).toMatch(/^02:42:/);
        const ping = berth(["container", "exec", "e2e-mv2", "ping", "-c1", "-W2", "e2e-mv1"]);
        expect(ping.status, `${ping.stdout}${ping.stderr}`).toBe(0);
      });
    } finally {
      spawnSync("ip", ["link", "del", parent]);
    }
    expect(linkExists(parent)).toBe(false);
  });
});
