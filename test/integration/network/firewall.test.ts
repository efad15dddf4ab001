// The firewall against the real kernel, each test inside its own throwaway netns playing the
// host, with an "outside" netns on a veth link standing in for the world (198.18.0.0/24, plus a
// ULA for IPv6). Every path of the design is driven with real traffic: published TCP and UDP
// ports from outside, from the host (127.0.0.1, gateway, host address), from a neighbour and
// from the container itself (hairpin); egress; isolation between bridges; internal networks;
// the loopback guards; and idempotent apply and removal.

import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chooseSubnet, networkHost, networkRules, spawnCount, type EndpointSpec, type FirewallNetwork, type PublishedPort } from "../../../src/network/index.js";
import { berthNetns, hex, python, rawSynScript, networkSkipReason, withWorld, type TestNetwork, type World } from "./world.js";

const skip = networkSkipReason();

const outsideIp = "198.18.0.2";
const hostIp = "198.18.0.1";

interface IpLink {
  address: string;
}

/** The outside world: netns `outside` with eth0 = 198.18.0.2, linked to the host's ext0 = 198.18.0.1. No route back to any bridge subnet. */
async function makeOutside(world: World, v6Prefix?: string): Promise<string> {
  const outside = await world.namespace("outside");
  const hostV6 = v6Prefix === undefined ? [] : [`addr add ${v6Prefix}::1/64 dev ext0 nodad`];
  const made = await world.exec(world.host, ["ip", "-batch", "-"], {
    input: [`link add ext0 type veth peer name eth0 netns ${outside}`, `addr add ${hostIp}/24 dev ext0`, ...hostV6, "link set dev ext0 up", ""].join("\n"),
  });
  if (made.status !== 0) throw new Error(made.stderr);
  const v6 = v6Prefix === undefined ? [] : [`addr add ${v6Prefix}::2/64 dev eth0 nodad`];
  const configured = await world.exec(outside, ["ip", "-batch", "-"], { input: [`addr add ${outsideIp}/24 dev eth0`, ...v6, "link set dev eth0 up", ""].join("\n") });
  if (configured.status !== 0) throw new Error(configured.stderr);
  return outside;
}

async function bridgeNetwork(world: World, options: { v6?: string } = {}): Promise<TestNetwork & { v6Subnet?: string; v6Gateway?: string }> {
  const network = world.network();
  const addresses = [`${network.gateway}/${network.prefix}`, ...(options.v6 === undefined ? [] : [`${options.v6}::1/64`])];
  await world.net.ensureBridge({ name: network.bridge, addresses, routeLocalnet: true });
  return options.v6 === undefined ? network : { ...network, v6Subnet: `${options.v6}::/64`, v6Gateway: `${options.v6}::1` };
}

async function container(world: World, network: TestNetwork & { v6Subnet?: string; v6Gateway?: string }, n: number, name: string): Promise<{ ns: string; ip: string; ip6?: string }> {
  const ns = world.sandbox(name);
  const v6 = network.v6Gateway === undefined ? undefined : `${network.v6Gateway.replace(/::1$/, "")}::${n}`;
  const endpoint: EndpointSpec = {
    driver: "bridge",
    ifName: "eth0",
    hostIfName: `vb${hex(5)}`,
    bridge: network.bridge,
    addresses: [`${network.address(n)}/${network.prefix}`, ...(v6 === undefined ? [] : [`${v6}/64`])],
    gateways: [network.gateway, ...(network.v6Gateway === undefined ? [] : [network.v6Gateway])],
  };
  await world.net.createSandbox(ns, [endpoint]);
  return v6 === undefined ? { ns, ip: network.address(n) } : { ns, ip: network.address(n), ip6: v6 };
}

function firewallNetwork(network: TestNetwork & { v6Subnet?: string }, ports: readonly PublishedPort[] = [], options: Partial<FirewallNetwork> = {}): FirewallNetwork {
  return {
    id: network.id,
    bridge: network.bridge,
    subnets: [network.subnet, ...(network.v6Subnet === undefined ? [] : [network.v6Subnet])],
    internal: false,
    masquerade: true,
    ports,
    ...options,
  };
}

const tcp = (hostIpAddress: string, hostPort: number, containerIp: string, containerPort = 80): PublishedPort => ({
  hostIp: hostIpAddress,
  hostPort,
  containerIp,
  containerPort,
  protocol: "tcp",
});

async function saved(world: World, family: 4 | 6 = 4): Promise<string[]> {
  const result = await world.exec(world.host, [family === 4 ? "iptables-save" : "ip6tables-save"]);
  return result.stdout.split("\n");
}

async function expectRulesPresent(world: World, network: FirewallNetwork): Promise<void> {
  const rules = networkRules(network);
  for (const family of [4, 6] as const) {
    const lines = await saved(world, family);
    const expected = rules[family === 4 ? "v4" : "v6"];
    for (const line of [...expected.raw, ...expected.nat, ...expected.filter]) expect(lines, `${family}: ${line}`).toContain(line);
  }
}

async function macOf(world: World, ns: string, name: string): Promise<string> {
  return (await world.ipJson<IpLink[]>(ns, ["link", "show", "dev", name]))[0]!.address;
}

describe.skipIf(skip !== undefined)(`firewall${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("publishes a TCP port to the outside, the host (127.0.0.1, gateway, own address), neighbours and the container itself", async () => {
    await withWorld(async (world) => {
      const outside = await makeOutside(world);
      const network = await bridgeNetwork(world);
      const a = await container(world, network, 2, "a");
      const b = await container(world, network, 3, "b");
      await world.httpServer(a.ns, 80, "served by a");
      await world.httpServer(outside, 8080, "the outside");
      const rules = firewallNetwork(network, [tcp("0.0.0.0", 18080, a.ip), tcp("127.0.0.1", 18081, a.ip)]);
      const before = spawnCount();
      await world.net.applyNetworkRules(rules);
      // First use in this process: one iptables-save and one iptables-restore (IPv4 only here).
      expect(spawnCount() - before).toBe(2);
      await expectRulesPresent(world, rules);
      // A process that has seen nothing yet reads iptables-save and finds every table (raw's
      // loopback guard included) exactly as rendered: no restore.
      const fresh = networkHost({ netns: world.host, berthNetns });
      const beforeFresh = spawnCount();
      await fresh.applyNetworkRules(rules);
      expect(spawnCount() - beforeFresh).toBe(1);

      expect(await world.httpGet(world.host, "127.0.0.1", 18081)).toBe("served by a");
      expect(await world.httpGet(world.host, "127.0.0.1", 18080)).toBe("served by a");
      expect(await world.httpGet(world.host, network.gateway, 18080)).toBe("served by a");
      expect(await world.httpGet(world.host, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(outside, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(b.ns, network.gateway, 18080)).toBe("served by a"); // neighbour, via the host
      expect(await world.httpGet(b.ns, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(a.ns, network.gateway, 18080)).toBe("served by a"); // itself (hairpin)
      expect(await world.httpGet(a.ns, hostIp, 18080)).toBe("served by a");
      // The 127.0.0.1 port is not on the other addresses.
      expect(await world.httpGet(outside, hostIp, 18081, 1000)).toBeUndefined();
      expect(await world.httpGet(world.host, network.gateway, 18081, 1000)).toBeUndefined();

      // Egress works although the outside has no route back: MASQUERADE.
      expect(await world.httpGet(a.ns, outsideIp, 8080)).toBe("the outside");
      // The outside cannot reach a container's own address, even with a route to it.
      await world.exec(outside, ["ip", "route", "add", network.subnet, "via", hostIp]);
      expect(await world.httpGet(outside, a.ip, 80, 1000)).toBeUndefined();
      expect(await world.ping(outside, a.ip)).toBe(false);

      // Rewriting the network's rules is one iptables-restore (per family), and drops what is gone.
      const beforeRewrite = spawnCount();
      await world.net.applyNetworkRules(firewallNetwork(network, [tcp("0.0.0.0", 18082, a.ip)]));
      expect(spawnCount() - beforeRewrite).toBe(1);
      expect(await world.httpGet(outside, hostIp, 18082)).toBe("served by a");
      expect(await world.httpGet(outside, hostIp, 18080, 1000)).toBeUndefined();
      expect((await saved(world)).filter((line) => line.includes("18080"))).toEqual([]);
      await world.net.removeNetworkRules(network.id);
      await world.net.removeBaseChains();
    });
  });

  it("works the same when bridged traffic bypasses iptables (bridge-nf-call-iptables=0)", async () => {
    await withWorld(async (world) => {
      const knob = "/proc/sys/net/bridge/bridge-nf-call-iptables";
      if ((await world.exec(world.host, ["cat", knob])).status !== 0) return; // no br_netfilter: the other tests covered this case
      await world.exec(world.host, ["sh", "-c", `echo 0 > ${knob}`]);
      const outside = await makeOutside(world);
      const network = await bridgeNetwork(world);
      const other = await bridgeNetwork(world);
      const a = await container(world, network, 2, "a");
      const b = await container(world, network, 3, "b");
      const c = await container(world, other, 2, "c");
      await world.httpServer(a.ns, 80, "served by a");
      await world.net.applyNetworkRules(firewallNetwork(network, [tcp("0.0.0.0", 18080, a.ip), tcp("127.0.0.1", 18081, a.ip)]));
      await world.net.applyNetworkRules(firewallNetwork(other));
      expect(await world.httpGet(b.ns, a.ip, 80)).toBe("served by a");
      expect(await world.httpGet(b.ns, network.gateway, 18080)).toBe("served by a");
      expect(await world.httpGet(a.ns, network.gateway, 18080)).toBe("served by a");
      expect(await world.httpGet(world.host, "127.0.0.1", 18081)).toBe("served by a");
      expect(await world.httpGet(outside, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(c.ns, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(c.ns, a.ip, 80, 1000)).toBeUndefined();
    });
  });

  it("publishes a UDP port", async () => {
    await withWorld(async (world) => {
      const outside = await makeOutside(world);
      const network = await bridgeNetwork(world);
      const a = await container(world, network, 2, "a");
      await world.udpEchoServer(a.ns, 5353);
      await world.net.applyNetworkRules(firewallNetwork(network, [{ hostIp: "0.0.0.0", hostPort: 15353, containerIp: a.ip, containerPort: 5353, protocol: "udp" }]));
      expect(await world.udpAsk(outside, hostIp, 15353, "from-outside")).toBe("echo:from-outside");
      expect(await world.udpAsk(world.host, "127.0.0.1", 15353, "from-host")).toBe("echo:from-host");
      expect(await world.udpAsk(a.ns, network.gateway, 15353, "from-itself")).toBe("echo:from-itself");
      expect(await world.udpAsk(outside, hostIp, 15354, "nobody", 500)).toBeUndefined();
    });
  });

  it("isolates bridges from each other, except through published ports", async () => {
    await withWorld(async (world) => {
      const first = await bridgeNetwork(world);
      const second = await bridgeNetwork(world);
      const a = await container(world, first, 2, "a");
      const c = await container(world, second, 2, "c");
      await world.httpServer(a.ns, 80, "served by a");
      await world.httpServer(c.ns, 80, "served by c");
      // Without rules the host routes between the bridges.
      expect(await world.httpGet(c.ns, a.ip, 80)).toBe("served by a");
      await world.net.applyNetworkRules(firewallNetwork(first, [tcp("0.0.0.0", 18080, a.ip)]));
      await world.net.applyNetworkRules(firewallNetwork(second));
      expect(await world.httpGet(c.ns, a.ip, 80, 1000)).toBeUndefined();
      expect(await world.httpGet(a.ns, c.ip, 80, 1000)).toBeUndefined();
      expect(await world.ping(c.ns, a.ip)).toBe(false);
      expect(await world.httpGet(c.ns, first.gateway, 18080)).toBe("served by a");
      expect(await world.httpGet(c.ns, second.gateway, 18080)).toBe("served by a");
    });
  });

  it("keeps an internal network to itself: no egress, no published ports, no way out through another network's port", async () => {
    await withWorld(async (world) => {
      const outside = await makeOutside(world);
      const normal = await bridgeNetwork(world);
      const internal = await bridgeNetwork(world);
      const a = await container(world, normal, 2, "a");
      // Internal containers get no default route from berth's engine; give one anyway, to show
      // that the firewall alone keeps them in.
      const d = await container(world, internal, 2, "d");
      const e = await container(world, internal, 3, "e");
      await world.httpServer(a.ns, 80, "served by a");
      await world.httpServer(e.ns, 80, "served by e");
      await world.httpServer(outside, 8080, "the outside");
      // The internal network first: its jump must still end up ahead of the normal network's.
      await world.net.applyNetworkRules(firewallNetwork(internal, [tcp("0.0.0.0", 18090, e.ip)], { internal: true }));
      await world.net.applyNetworkRules(firewallNetwork(normal, [tcp("0.0.0.0", 18080, a.ip)]));
      const forward = (await saved(world)).filter((line) => line.startsWith("-A BERTH-FORWARD "));
      expect(forward).toEqual([`-A BERTH-FORWARD -j BERTH-FW-${internal.id.slice(0, 12)}`, `-A BERTH-FORWARD -j BERTH-FW-${normal.id.slice(0, 12)}`]);

      expect(await world.httpGet(a.ns, outsideIp, 8080)).toBe("the outside");
      expect(await world.httpGet(d.ns, outsideIp, 8080, 1000)).toBeUndefined();
      expect(await world.httpGet(d.ns, e.ip, 80)).toBe("served by e");
      expect(await world.httpGet(d.ns, normal.gateway, 18080, 1000)).toBeUndefined();
      expect(await world.httpGet(d.ns, hostIp, 18080, 1000)).toBeUndefined();
      expect(await world.httpGet(a.ns, e.ip, 80, 1000)).toBeUndefined();
      expect(await world.httpGet(outside, hostIp, 18090, 1000)).toBeUndefined();
      expect(await world.httpGet(world.host, "127.0.0.1", 18090, 1000)).toBeUndefined();
    });
  });

  it.skipIf(!existsSync(python))("guards 127.0.0.0/8: a container cannot reach the host's loopback services, nor a neighbour a port published on 127.0.0.1", async () => {
    await withWorld(async (world) => {
      const outside = await makeOutside(world);
      const network = await bridgeNetwork(world); // route_localnet=1 on the bridge
      const a = await container(world, network, 2, "a");
      await world.httpServer(a.ns, 80, "served by a");
      await world.httpServer(world.host, 7777, "host loopback service", "127.0.0.1");
      const bridgeMac = await macOf(world, world.host, network.bridge);
      const extMac = await macOf(world, world.host, "ext0");
      const synFromContainer = async (): Promise<string> =>
        (await world.exec(a.ns, [python, rawSynScript, "eth0", bridgeMac, a.ip, "127.0.0.1", "7777"], { timeoutMs: 10_000 })).stdout.trim();
      const synFromOutside = async (): Promise<string> =>
        (await world.exec(outside, [python, rawSynScript, "eth0", extMac, outsideIp, "127.0.0.1", "18081"], { timeoutMs: 10_000 })).stdout.trim();

      // Ordinary traffic first, so the host knows both neighbours' MACs: it would otherwise ask
      // by ARP from 127.0.0.1, which they ignore, and the holes would look closed when they are not.
      expect(await world.ping(a.ns, network.gateway)).toBe(true);
      expect(await world.ping(outside, hostIp)).toBe(true);
      // The holes, shown before berth's rules close them: route_localnet lets a crafted frame through.
      expect(await synFromContainer()).toBe("synack");
      const rules = firewallNetwork(network, [tcp("127.0.0.1", 18081, a.ip)]);
      await world.net.applyNetworkRules(rules);
      expect(await synFromContainer()).toBe("nothing");
      expect(await synFromOutside()).toBe("nothing");
      // Without its raw rule the 127.0.0.1 port answers the outside: the guard is what stops it.
      const guard = networkRules(rules).v4.raw.find((line) => line.includes("--dport 18081"))!;
      await world.exec(world.host, ["iptables", "-t", "raw", ...guard.replace(/^-A /, "-D ").split(" ")]);
      expect(await synFromOutside()).toBe("synack");
      // A process that never saw the rules (this one believes they are intact) puts them back,
      // and the guards do not get in the way of the real path.
      await networkHost({ netns: world.host, berthNetns }).applyNetworkRules(rules);
      expect(await synFromOutside()).toBe("nothing");
      expect(await world.httpGet(world.host, "127.0.0.1", 18081)).toBe("served by a");
    });
  });

  it("applies idempotently, removes cleanly, and recovers when another process changed the shared chains", async () => {
    await withWorld(async (world) => {
      const first = await bridgeNetwork(world);
      const second = await bridgeNetwork(world);
      const a = await container(world, first, 2, "a");
      const one = firewallNetwork(first, [tcp("0.0.0.0", 18080, a.ip)]);
      const two = firewallNetwork(second);
      await world.net.applyNetworkRules(one);
      await world.net.applyNetworkRules(one);
      await world.net.applyNetworkRules(two);
      const lines = await saved(world);
      for (const jump of [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-A POSTROUTING -j BERTH-POSTROUTING",
        "-A FORWARD -j BERTH-FORWARD",
        "-A PREROUTING -j BERTH-PREROUTING",
        `-A BERTH-DNAT -j BERTH-DN-${first.id.slice(0, 12)}`,
      ]) {
        expect(lines.filter((line) => line === jump), jump).toHaveLength(1);
      }
      expect(lines.filter((line) => line.includes("--dport 18080"))).toHaveLength(1); // the DNAT, once
      // FORWARD: berth's jump first.
      expect(lines.filter((line) => line.startsWith("-A FORWARD "))[0]).toBe("-A FORWARD -j BERTH-FORWARD");

      // Shared chains stay while a network's chains remain.
      await world.net.removeNetworkRules(first.id);
      await world.net.removeNetworkRules(first.id);
      await world.net.removeBaseChains();
      const afterFirst = (await saved(world)).filter((line) => line.includes("BERTH"));
      expect(afterFirst.some((line) => line.includes(first.id.slice(0, 12)))).toBe(false);
      expect(afterFirst).toContain(":BERTH-DNAT - [0:0]");

      // Another process removes everything while this one still believes the shared chains exist.
      const other = networkHost({ netns: world.host, berthNetns });
      await other.removeNetworkRules(second.id);
      await other.removeBaseChains();
      expect(other.berthRulesPresent()).toEqual([]);
      await world.net.applyNetworkRules(one);
      await expectRulesPresent(world, one);

      await world.net.removeNetworkRules(first.id);
      await world.net.removeBaseChains();
      await world.net.removeBaseChains();
      expect(world.net.berthRulesPresent()).toEqual([]);
      expect((await saved(world, 4)).filter((line) => line.includes("BERTH"))).toEqual([]);
      expect((await saved(world, 6)).filter((line) => line.includes("BERTH"))).toEqual([]);
    });
  });

  it("does the same over IPv6 for a dual-stack network", async () => {
    await withWorld(async (world) => {
      if (!world.net.ipv6Available()) return; // IPv6 disabled on this kernel: nothing to test
      const outsidePrefix = `fd42:${hex(2)}:${hex(2)}:1`;
      const outside = await makeOutside(world, outsidePrefix);
      // As on a fresh host: IPv6 forwarding off, router advertisements accepted on the uplink.
      await world.exec(world.host, ["sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/forwarding; echo 1 > /proc/sys/net/ipv6/conf/ext0/accept_ra"]);
      world.net.takeSysctlNotices();
      const network = await bridgeNetwork(world, { v6: `fd42:${hex(2)}:${hex(2)}:2` });
      // Forwarding on would make ext0 ignore router advertisements (and lose an RA-learnt default route): accept_ra=2 first.
      expect(world.net.takeSysctlNotices()).toEqual(
        expect.arrayContaining([
          "berth: set 2 on net.ipv6.conf.ext0.accept_ra (so that router advertisements still count once IPv6 forwarding is on)",
          "berth: enabled net.ipv6.conf.all.forwarding (needed for published ports and egress over IPv6)",
        ]),
      );
      expect((await world.exec(world.host, ["cat", "/proc/sys/net/ipv6/conf/ext0/accept_ra"])).stdout.trim()).toBe("2");
      const a = await container(world, network, 2, "a");
      const b = await container(world, network, 3, "b");
      await world.httpServer(a.ns, 80, "served by a");
      await world.httpServer(outside, 8080, "the outside");
      const rules = firewallNetwork(network, [tcp("::", 18080, a.ip6!), tcp("0.0.0.0", 18080, a.ip)]);
      await world.net.applyNetworkRules(rules);
      expect((await world.exec(world.host, ["cat", "/proc/sys/net/ipv6/conf/all/forwarding"])).stdout.trim()).toBe("1");
      await expectRulesPresent(world, rules);
      // ip6tables-save prints the IPv6 rules exactly as rendered too: a fresh process restores nothing.
      const beforeFresh = spawnCount();
      await networkHost({ netns: world.host, berthNetns }).applyNetworkRules(rules);
      expect(spawnCount() - beforeFresh).toBe(2);
      const hostV6 = `${outsidePrefix}::1`;
      expect(await world.httpGet(outside, hostV6, 18080)).toBe("served by a");
      expect(await world.httpGet(outside, hostIp, 18080)).toBe("served by a");
      expect(await world.httpGet(world.host, network.v6Gateway!, 18080)).toBe("served by a");
      expect(await world.httpGet(b.ns, hostV6, 18080)).toBe("served by a");
      expect(await world.httpGet(a.ns, hostV6, 18080)).toBe("served by a");
      expect(await world.httpGet(a.ns, `${outsidePrefix}::2`, 8080)).toBe("the outside"); // NAT66 egress
      await world.exec(outside, ["ip", "-6", "route", "add", network.v6Subnet!, "via", hostV6]);
      expect(await world.httpGet(outside, a.ip6!, 80, 1000)).toBeUndefined();
      await world.net.removeNetworkRules(network.id);
      await world.net.removeBaseChains();
      expect(world.net.berthRulesPresent()).toEqual([]);
    });
  });

  it("reads the host: routed ranges, addresses, sockets, free ports", async () => {
    await withWorld(async (world) => {
      await makeOutside(world);
      const network = await bridgeNetwork(world);
      const inUse = world.net.hostRoutedRanges();
      expect(inUse).toEqual(expect.arrayContaining([network.subnet, "198.18.0.0/24", "127.0.0.0/8", `${network.gateway}/32`]));
      expect(inUse.some((range) => range.endsWith("/0"))).toBe(false);
      const picked = chooseSubnet({ family: 4, inUse: [...inUse, "172.17.0.0/16"], pool: [{ base: `${network.subnet.replace(/\.0\/24$/, ".0")}/23`, size: 24 }] });
      expect(picked).not.toBe(network.subnet);
      expect(world.net.hostAddresses(4).sort()).toEqual([hostIp, network.gateway].sort());

      await world.httpServer(world.host, 18500, "busy", "127.0.0.1");
      expect(world.net.listeningSockets()).toContainEqual({ protocol: "tcp", address: "127.0.0.1", port: 18500 });
      expect(world.net.hostPortBusy("tcp", "127.0.0.1", 18500)).toBe(true);
      expect(world.net.hostPortBusy("tcp", "0.0.0.0", 18500)).toBe(true);
      expect(world.net.hostPortBusy("tcp", hostIp, 18500)).toBe(false);
      expect(world.net.hostPortBusy("udp", "127.0.0.1", 18500)).toBe(false);
      expect(world.net.pickFreePort({ protocol: "tcp", hostIp: "0.0.0.0", taken: new Set([18499]), range: [18499, 18510] })).toBe(18501);
      const [low, high] = world.net.ephemeralPortRange();
      expect(low).toBeLessThan(high);
    });
  });
});
