// Containers on networks, on the real kernel: names (hosts file and DNS at 127.0.0.11),
// isolation between networks, published ports on every path, network modes, conflicts, and
// teardown leaving nothing. The only traffic goes to loopback or into namespaces made here;
// the resolver's upstream is a DNS stub on 127.0.0.1 that answers NXDOMAIN.
import { createSocket, type Socket } from "node:dgram";
import { execFileSync } from "node:child_process";
import { connect, createServer, type Server } from "node:net";
import { request } from "node:http";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRedirects } from "../../../src/network/index.js";
import type { ContainerCreateSpec } from "../../../src/runtime/index.js";
import { rootTag } from "../../../src/runtime/network/index.js";
import { findLeaks, knownIds, leftoversOf, loadTestImage, makeFixture, noLeaks, skipReason, type Fixture } from "./harness.js";

const skip = skipReason() ?? (existsSync(path.resolve(import.meta.dirname, "../../../native/build/berth-netns")) ? undefined : "native/build/berth-netns is not built");
const image = "net:1";
const page = "hello from the container\n";

/** NXDOMAIN for every query: the upstream the resolver forwards unknown names to. */
function startDnsStub(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket("udp4");
  socket.on("message", (message, remote) => {
    if (message.length < 12) return;
    const answer = Buffer.from(message);
    answer[2] = 0x81; // QR, RD
    answer[3] = 0x83; // RA, NXDOMAIN
    answer.writeUInt16BE(0, 6);
    answer.writeUInt16BE(0, 8);
    answer.writeUInt16BE(0, 10);
    socket.send(answer, remote.port, remote.address);
  });
  return new Promise((resolve) => socket.bind(0, "127.0.0.1", () => resolve({ socket, port: socket.address().port })));
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: "/", timeout: 5000 }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout ${host}:${port}`)));
    req.on("error", reject);
    req.end();
  });
}

/** A free TCP port on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The host's first global IPv4 address (not loopback), for the "host address" path. */
function hostAddress(): string | undefined {
  const out = execFileSync("ip", ["-4", "-o", "addr", "show", "scope", "global"], { encoding: "utf8" });
  for (const line of out.split("\n")) {
    const match = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    const device = line.split(/\s+/)[1] ?? "";
    if (match?.[1] !== undefined && !device.startsWith("br-") && !device.startsWith("vb") && !device.startsWith("docker")) return match[1];
  }
  return undefined;
}

describe.skipIf(skip !== undefined)(`containers on networks${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  let dns: { socket: Socket; port: number };
  const created: string[] = [];

  beforeAll(async () => {
    fixture = makeFixture("net");
    dns = await startDnsStub();
    await loadTestImage(fixture, { name: image, extraLayer: { "www/index.html": page } });
  }, 180_000);

  afterAll(async () => {
    if (fixture === undefined) return;
    const ids = knownIds(fixture, created);
    await fixture.dispose();
    dns?.socket.close();
    expect(findLeaks(fixture, ids)).toEqual(noLeaks);
    expect(readdirSync("/sys/class/net").filter((name) => ids.some((id) => name.startsWith(`vb${id.slice(0, 10)}`)))).toEqual([]);
  });

  const run = async (spec: Omit<ContainerCreateSpec, "image">): Promise<string> => {
    const bridged = spec.networkMode === undefined || !/^(none|host|container:)/.test(spec.networkMode);
    const { id } = await fixture.engine.containers.create({ image, ...(bridged ? { dns: [`127.0.0.1:${dns.port}`] } : {}), ...spec });
    created.push(id);
    await fixture.engine.containers.start(id);
    return id;
  };
  const exec = (id: string, cmd: string[]) => fixture.engine.containers.exec(id, { cmd, stdio: "pipe" });
  const ipOf = async (id: string, network: string): Promise<string> => {
    const settings = (await fixture.engine.containers.inspect(id)).NetworkSettings as { Networks: Record<string, { IPAddress: string }> };
    return settings.Networks[network]?.IPAddress ?? "";
  };
  const httpd = ["httpd", "-f", "-p", "80", "-h", "/www"];

  it("resolves peers by name and alias through /etc/hosts and DNS at 127.0.0.11; another network cannot reach them", async () => {
    await fixture.engine.networks.create({ name: "front" });
    await fixture.engine.networks.create({ name: "back" });
    const alpha = await run({ name: "alpha", networkMode: "front", networks: [{ network: "front", aliases: ["web"] }], cmd: httpd });
    const beta = await run({ name: "beta", networkMode: "front", cmd: ["sleep", "300"] });
    const gamma = await run({ name: "gamma", networkMode: "back", cmd: ["sleep", "300"] });
    const alphaIp = await ipOf(alpha, "front");
    expect(alphaIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    expect((await exec(beta, ["wget", "-q", "-O-", "http://alpha/"])).stdout).toBe(page);
    expect((await exec(beta, ["wget", "-q", "-O-", "http://web/"])).stdout).toBe(page);
    expect((await exec(beta, ["cat", "/etc/hosts"])).stdout).toMatch(new RegExp(`${alphaIp.replace(/\./g, "\\.")}\\s.*\\bweb\\b`));
    const lookup = await exec(beta, ["nslookup", "web", "127.0.0.11"]);
    expect(lookup.stdout).toContain(alphaIp);
    expect((await exec(beta, ["cat", "/etc/resolv.conf"])).stdout).toContain("nameserver 127.0.0.11");

    // gamma shares no network with alpha: no name, no route.
    const unknown = await exec(gamma, ["nslookup", "alpha", "127.0.0.11"]);
    expect(unknown.stdout).not.toContain(alphaIp);
    expect((await exec(gamma, ["timeout", "3", "wget", "-q", "-O-", `http://${alphaIp}/`])).exitCode).not.toBe(0);

    // A name follows the container: stop alpha and it is gone from beta's hosts file.
    await fixture.engine.containers.stop(alpha, { timeoutSeconds: 1 });
    expect((await exec(beta, ["cat", "/etc/hosts"])).stdout).not.toContain("alpha");
    for (const id of [alpha, beta, gamma]) await fixture.engine.containers.remove(id, { force: true });
    await fixture.engine.networks.remove("front");
    await fixture.engine.networks.remove("back");
  }, 60_000);

  it("publishes ports on 127.0.0.1, the host's address and to other containers, with random host ports and UDP", async () => {
    await fixture.engine.networks.create({ name: "pub" });
    const port = await freePort();
    const web = await run({ name: "pubweb", networkMode: "pub", cmd: httpd, portBindings: [{ containerPort: 80, hostPort: port }, { containerPort: 80, hostIp: "127.0.0.1" }] });
    const client = await run({ name: "pubclient", networkMode: "pub", cmd: ["sleep", "300"] });
    expect(await httpGet("127.0.0.1", port)).toBe(page);
    const address = hostAddress();
    if (address !== undefined) expect(await httpGet(address, port)).toBe(page);
    const ports = ((await fixture.engine.containers.inspect(web)).NetworkSettings as { Ports: Record<string, { HostIp: string; HostPort: string }[]> }).Ports["80/tcp"] ?? [];
    const random = ports.find((binding) => binding.HostIp === "127.0.0.1");
    expect(random?.HostPort).toMatch(/^\d+$/);
    expect(Number(random?.HostPort)).not.toBe(port);
    expect(await httpGet("127.0.0.1", Number(random?.HostPort))).toBe(page);
    // Another container, and the container itself (hairpin), through the published port on the gateway.
    const gateway = ((await fixture.engine.networks.inspect("pub")).IPAM.Config[0]?.Gateway) ?? "";
    expect((await exec(client, ["wget", "-q", "-O-", `http://${gateway}:${port}/`])).stdout).toBe(page);
    expect((await exec(web, ["wget", "-q", "-O-", `http://${gateway}:${port}/`])).stdout).toBe(page);
    const summary = (await fixture.engine.containers.list()).find((entry) => entry.Id === web);
    expect(summary?.Ports).toContainEqual({ IP: "0.0.0.0", PrivatePort: 80, PublicPort: port, Type: "tcp" });

    // UDP, answered by the probe's echo server. The client sent to the port before it was
    // published: the kernel's flow for it (no DNAT) is refreshed by every packet and must be
    // forgotten when the port is published, or the replies never come (Docker flushes it too).
    const udpPort = await freePort();
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    const early = setInterval(() => socket.send("early\n", udpPort, "127.0.0.1"), 50);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const udp = await run({ name: "pubudp", networkMode: "pub", cmd: ["/usr/local/bin/probe", "udp-echo", "9000"], portBindings: [{ containerPort: 9000, protocol: "udp", hostIp: "127.0.0.1", hostPort: udpPort }] });
    clearInterval(early);
    const reply = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => socket.send("ping\n", udpPort, "127.0.0.1"), 100);
      const finish = (error?: Error, text = ""): void => {
        clearInterval(timer);
        clearTimeout(deadline);
        socket.close();
        if (error === undefined) resolve(text);
        else reject(error);
      };
      const deadline = setTimeout(() => finish(new Error("no UDP reply")), 8000);
      socket.on("message", (message) => {
        if (message.toString() === "ping\n") finish(undefined, message.toString());
      });
      socket.on("error", () => undefined); // the early packets' ICMP port unreachable
    });
    expect(reply).toBe("ping\n");
    for (const id of [web, client, udp]) await fixture.engine.containers.remove(id, { force: true });
    await fixture.engine.networks.remove("pub");
  }, 60_000);

  it("sends a host client of a port published on 127.0.0.1 straight to the container at connect(), and only the host's clients", async () => {
    await fixture.engine.networks.create({ name: "direct" });
    const port = await freePort();
    const web = await run({ name: "directweb", networkMode: "direct", cmd: httpd, portBindings: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: port }] });
    const ip = await ipOf(web, "direct");
    const tag = rootTag(fixture.paths);
    expect((await listRedirects(tag)).redirects).toEqual([{ hostIp: "127.0.0.1", hostPort: port, containerIp: ip, containerPort: 80 }]);
    // The connection is to the container's own address from the start (its local end is the
    // bridge's gateway, not 127.0.0.1): no packet of it is translated. Its peer still reads as
    // the address the client asked for, as under DNAT.
    const gateway = (await fixture.engine.networks.inspect("direct")).IPAM.Config[0]?.Gateway ?? "";
    const ends = await new Promise<{ local: string | undefined; peer: string | undefined; port: number | undefined }>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        resolve({ local: socket.localAddress, peer: socket.remoteAddress, port: socket.remotePort });
        socket.destroy();
      });
      socket.on("error", reject);
    });
    expect(ends).toEqual({ local: gateway, peer: "127.0.0.1", port });
    expect(await httpGet("127.0.0.1", port)).toBe(page);
    // A client bound to 127.0.0.1 first keeps DNAT (the container could not answer 127.0.0.1).
    const bound = await new Promise<{ address: string | undefined; body: string }>((resolve, reject) => {
      const socket = connect({ port, host: "127.0.0.1", localAddress: "127.0.0.1" }, () => {
        const address = socket.localAddress;
        let body = "";
        socket.on("data", (chunk: Buffer) => (body += chunk.toString()));
        socket.on("end", () => resolve({ address, body }));
        socket.write("GET / HTTP/1.0\r\n\r\n");
      });
      socket.setTimeout(5000, () => socket.destroy(new Error("timeout")));
      socket.on("error", reject);
    });
    expect(bound.address).toBe("127.0.0.1");
    expect(bound.body.endsWith(page)).toBe(true);
    // Inside the container 127.0.0.1 is its own loopback, where nothing listens on that port.
    expect((await exec(web, ["timeout", "3", "wget", "-q", "-O-", `http://127.0.0.1:${port}/`])).exitCode).not.toBe(0);
    await fixture.engine.containers.remove(web, { force: true });
    expect((await listRedirects(tag)).redirects).toEqual([]);
    await fixture.engine.networks.remove("direct");
  }, 60_000);

  it("refuses a host port that a host process or another container holds, leaving nothing behind", async () => {
    const holder: Server = createServer();
    const port = await new Promise<number>((resolve) => holder.listen(0, "127.0.0.1", () => resolve((holder.address() as { port: number }).port)));
    const before = (await fixture.engine.containers.list({ all: true })).length;
    await expect(fixture.engine.containers.create({ image, cmd: httpd, portBindings: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: port }] })).rejects.toMatchObject({ code: "E_NET_PORT_IN_USE" });
    holder.close();
    const first = await run({ name: "porta", cmd: httpd, portBindings: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: port }] });
    await expect(fixture.engine.containers.create({ image, cmd: httpd, portBindings: [{ containerPort: 80, hostPort: port }] })).rejects.toMatchObject({ code: "E_NET_PORT_IN_USE" });
    expect((await fixture.engine.containers.list({ all: true })).length).toBe(before + 1);
    await fixture.engine.containers.remove(first, { force: true });
  }, 60_000);

  it("gives static addresses, and joins host, none and container: namespaces", async () => {
    await fixture.engine.networks.create({ name: "fixed", ipam: { config: [{ subnet: "10.213.7.0/24", gateway: "10.213.7.1" }] } });
    const fixed = await run({ name: "fixed1", networkMode: "fixed", networks: [{ network: "fixed", ipv4Address: "10.213.7.50" }], cmd: httpd });
    expect(await ipOf(fixed, "fixed")).toBe("10.213.7.50");
    expect((await exec(fixed, ["ip", "-4", "addr", "show", "eth0"])).stdout).toContain("10.213.7.50/24");
    const joined = await run({ name: "joined", networkMode: `container:${fixed}`, cmd: ["sleep", "300"] });
    expect((await exec(joined, ["wget", "-q", "-O-", "http://127.0.0.1/"])).stdout).toBe(page);
    const none = await run({ name: "nonet", networkMode: "none", cmd: ["sleep", "300"] });
    expect((await exec(none, ["cat", "/proc/net/dev"])).stdout).not.toContain("eth0");
    const host = await run({ name: "hostnet", networkMode: "host", cmd: ["sleep", "300"] });
    const hostInterface = readdirSync("/sys/class/net").find((name) => name !== "lo" && !name.startsWith("br-") && !name.startsWith("vb")) ?? "lo";
    expect((await exec(host, ["cat", "/proc/net/dev"])).stdout).toContain(`${hostInterface}:`);
    for (const id of [joined, none, host, fixed]) await fixture.engine.containers.remove(id, { force: true });
    await fixture.engine.networks.remove("fixed");
  }, 60_000);

  it("releases a container's namespace and veth as soon as it exits on its own, with no berth call; a new start gets new ones", async () => {
    const id = await run({ cmd: ["sh", "-c", "sleep 0.5"] });
    const sandbox = path.join(fixture.paths.runRoot, "netns", id);
    const hostVeth = (): string[] => readdirSync("/sys/class/net").filter((name) => name.startsWith(`vb${id.slice(0, 10)}`));
    expect(existsSync(sandbox)).toBe(true);
    expect(hostVeth()).toHaveLength(1);
    // Only the filesystem is watched: the shim alone must release them.
    const deadline = Date.now() + 10_000;
    while ((existsSync(sandbox) || hostVeth().length > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(sandbox)).toBe(false);
    expect(hostVeth()).toEqual([]);
    await fixture.engine.containers.start(id);
    expect(existsSync(sandbox)).toBe(true);
    expect((await fixture.engine.containers.wait(id)).StatusCode).toBe(0);
    await fixture.engine.containers.remove(id, { force: true });
    expect(existsSync(sandbox)).toBe(false);
  }, 60_000);

  it("leaves no namespace, veth or rule after 50 create/start/remove cycles", async () => {
    await fixture.engine.networks.create({ name: "cycle" });
    const before = readdirSync(path.join(fixture.paths.runRoot, "netns"));
    const cycled: string[] = [];
    for (let round = 0; round < 50; round++) {
      const id = await run({ cmd: ["sleep", "300"], networkMode: "cycle", portBindings: round % 5 === 0 ? [{ containerPort: 80, hostIp: "127.0.0.1" }] : [] });
      cycled.push(id);
      await fixture.engine.containers.remove(id, { force: true });
    }
    expect(await leftoversOf(fixture, cycled)).toEqual([]);
    expect(readdirSync(path.join(fixture.paths.runRoot, "netns"))).toEqual(before);
    const network = await fixture.engine.networks.inspect("cycle");
    const rules = execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" }).split("\n").filter((line) => line.startsWith(`-A BERTH-DN-${network.Id.slice(0, 12)}`));
    expect(rules).toEqual([]);
    await fixture.engine.networks.remove("cycle");
  }, 120_000);
});
