// Bridges and sandboxes against the real kernel, each test inside its own throwaway netns
// playing the host: two containers on one bridge talk, endpoints come and go on a running
// sandbox, macvlan reaches an outside network, failures roll back, teardown is idempotent.

import { describe, expect, it } from "vitest";
import { NetworkErrorCode, bridgeMac, spawnCount, type EndpointSpec } from "../../../src/network/index.js";
import { berthNetns, hex, mountsUnder, networkSkipReason, run, withWorld, type TestNetwork, type World } from "./world.js";

const skip = networkSkipReason();

interface IpAddressInfo {
  family: string;
  local: string;
  prefixlen: number;
}
interface IpLink {
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  master?: string;
  operstate?: string;
  addr_info?: IpAddressInfo[];
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean }; info_data?: { mode?: string } };
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
}

function bridgeEndpoint(network: TestNetwork, n: number, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return {
    driver: "bridge",
    ifName: "eth0",
    hostIfName: `vb${hex(5)}`,
    bridge: network.bridge,
    addresses: [`${network.address(n)}/${network.prefix}`],
    gateways: [network.gateway],
    ...extra,
  };
}

async function bridgeFor(world: World, routeLocalnet = true): Promise<TestNetwork> {
  const network = world.network();
  await world.net.ensureBridge({ name: network.bridge, addresses: [`${network.gateway}/${network.prefix}`], routeLocalnet });
  return network;
}

describe.skipIf(skip !== undefined)(`sandboxes${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("creates a bridge once, fixes what is missing, and turns on what it needs", async () => {
    await withWorld(async (world) => {
      const network = world.network();
      const spec = { name: network.bridge, addresses: [`${network.gateway}/${network.prefix}`], mtu: 1400, routeLocalnet: true };
      // A new netns copies ip_forward from the real host's: start from off, as on a fresh host.
      await world.exec(world.host, ["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"]);
      await world.net.ensureBridge(spec);
      const [link] = await world.ipJson<IpLink[]>(world.host, ["-d", "addr", "show", "dev", network.bridge]);
      expect(link?.linkinfo?.info_kind).toBe("bridge");
      expect(link?.address).toBe(bridgeMac(network.bridge)); // fixed, so it never follows its ports' MACs
      expect(link?.mtu).toBe(1400);
      expect(link?.flags).toContain("UP");
      expect(link?.addr_info?.filter((info) => info.family === "inet").map((info) => `${info.local}/${info.prefixlen}`)).toEqual([`${network.gateway}/24`]);
      const sysctl = async (key: string): Promise<string> => (await world.exec(world.host, ["cat", `/proc/sys/${key}`])).stdout.trim();
      expect(await sysctl("net/ipv4/ip_forward")).toBe("1");
      expect(await sysctl(`net/ipv4/conf/${network.bridge}/route_localnet`)).toBe("1");
      // Forwarding was off, so the first bridge turned it on, and says so once.
      expect(world.net.takeSysctlNotices()).toEqual(["berth: enabled net.ipv4.ip_forward (needed for published ports and egress)"]);
      expect(world.net.takeSysctlNotices()).toEqual([]);

      // Again: nothing to do.
      await world.net.ensureBridge(spec);
      // Something broke it: a fresh process (no memory of it) puts back the address and state.
      await world.exec(world.host, ["ip", "addr", "flush", "dev", network.bridge]);
      await world.exec(world.host, ["ip", "link", "set", "dev", network.bridge, "down"]);
      const other = (await import("../../../src/network/index.js")).networkHost({ netns: world.host, berthNetns });
      await other.ensureBridge(spec);
      const [fixed] = await world.ipJson<IpLink[]>(world.host, ["addr", "show", "dev", network.bridge]);
      expect(fixed?.flags).toContain("UP");
      expect(fixed?.addr_info?.some((info) => info.local === network.gateway)).toBe(true);

      // A non-bridge under the name is refused, not adopted.
      const impostor = `imp${hex(5)}`;
      expect((await world.exec(world.host, ["ip", "link", "add", impostor, "type", "veth", "peer", "name", `x${hex(4)}`])).stderr).toBe("");
      await expect(other.ensureBridge({ name: impostor, addresses: [], routeLocalnet: false })).rejects.toMatchObject({ code: NetworkErrorCode.exists });

      await world.net.removeBridge(network.bridge);
      await world.net.removeBridge(network.bridge);
      expect((await world.exec(world.host, ["ip", "link", "show", network.bridge])).status).not.toBe(0);
    });
  });

  it("puts two sandboxes on one bridge in one spawn each; they reach each other over ICMP and TCP", async () => {
    await withWorld(async (world) => {
      const network = await bridgeFor(world);
      const a = world.sandbox("a");
      const b = world.sandbox("b");
      const endpointA = bridgeEndpoint(network, 2, { mac: "02:42:0a:00:00:02", mtu: 1400 });
      const endpointB = bridgeEndpoint(network, 3);
      const before = spawnCount();
      await world.net.createSandbox(a, [endpointA]);
      expect(spawnCount() - before).toBe(1);
      await world.net.createSandbox(b, [endpointB]);

      // Inside: lo up, eth0 with address, MAC, MTU, default route.
      const links = await world.ipJson<IpLink[]>(a, ["addr", "show"]);
      expect(links.map((link) => link.ifname).sort()).toEqual(["eth0", "lo"]);
      const eth0 = links.find((link) => link.ifname === "eth0");
      expect(eth0?.address).toBe("02:42:0a:00:00:02");
      expect(eth0?.mtu).toBe(1400);
      expect(eth0?.addr_info?.filter((info) => info.family === "inet").map((info) => info.local)).toEqual([network.address(2)]);
      expect(links.find((link) => link.ifname === "lo")?.flags).toContain("UP");
      const routes = await world.ipJson<IpRoute[]>(a, ["route", "show"]);
      expect(routes.find((route) => route.dst === "default")).toMatchObject({ gateway: network.gateway, dev: "eth0" });
      // Host side: on the bridge, hairpin on, up, same MTU.
      const [hostSide] = await world.ipJson<IpLink[]>(world.host, ["-d", "link", "show", "dev", endpointA.hostIfName]);
      expect(hostSide?.master).toBe(network.bridge);
      expect(hostSide?.linkinfo?.info_slave_data?.hairpin).toBe(true);
      expect(hostSide?.flags).toContain("UP");
      expect(hostSide?.mtu).toBe(1400);

      expect(await world.ping(b, network.address(2))).toBe(true);
      expect(await world.ping(a, network.gateway)).toBe(true);
      await world.httpServer(a, 8080, "hello from a");
      expect(await world.httpGet(b, network.address(2), 8080)).toBe("hello from a");

      // Teardown: one spawn, the host-side veth is gone when it returns, and again is fine.
      const beforeDestroy = spawnCount();
      await world.net.destroySandbox(b);
      expect(spawnCount() - beforeDestroy).toBe(1);
      expect((await world.exec(world.host, ["ip", "link", "show", endpointB.hostIfName])).status).not.toBe(0);
      await world.net.destroySandbox(b);
      expect(mountsUnder(world.dir)).not.toContain(b);
      // The same names can be used again at once.
      await world.net.createSandbox(b, [endpointB]);
      expect(await world.ping(b, network.address(2))).toBe(true);
    });
  });

  it("connects and disconnects endpoints on a live sandbox", async () => {
    await withWorld(async (world) => {
      const first = await bridgeFor(world);
      const second = await bridgeFor(world);
      const a = world.sandbox("a");
      const b = world.sandbox("b");
      await world.net.createSandbox(a, [bridgeEndpoint(first, 2)]);
      await world.net.createSandbox(b, [bridgeEndpoint(second, 3)]);
      expect(await world.ping(a, second.address(3))).toBe(true); // routed by the host: no firewall rules yet
      const extra = bridgeEndpoint(second, 2, { ifName: "eth1", gateways: [] });
      await world.net.connectEndpoint(a, extra);
      const names = (await world.ipJson<IpLink[]>(a, ["link", "show"])).map((link) => link.ifname).sort();
      expect(names).toEqual(["eth0", "eth1", "lo"]);
      const routes = await world.ipJson<IpRoute[]>(a, ["route", "show"]);
      expect(routes.find((route) => route.dst === second.subnet)?.dev).toBe("eth1");
      expect(await world.ping(b, second.address(2))).toBe(true);

      await world.net.disconnectEndpoint(a, extra);
      expect((await world.ipJson<IpLink[]>(a, ["link", "show"])).map((link) => link.ifname).sort()).toEqual(["eth0", "lo"]);
      expect((await world.exec(world.host, ["ip", "link", "show", extra.hostIfName])).status).not.toBe(0);
      // Idempotent, also once the sandbox is gone.
      await world.net.disconnectEndpoint(a, extra);
      await world.net.destroySandbox(a);
      await world.net.disconnectEndpoint(a, extra);
      await expect(world.net.connectEndpoint(a, extra)).rejects.toMatchObject({ code: NetworkErrorCode.notFound });
    });
  });

  it("removes leftover links by name (system prune), skipping those already gone", async () => {
    await withWorld(async (world) => {
      const network = await bridgeFor(world);
      const a = world.sandbox("a");
      const endpoint = bridgeEndpoint(network, 2);
      await world.net.createSandbox(a, [endpoint]);
      await world.net.removeLinks([endpoint.hostIfName, `vb${hex(5)}`]);
      expect((await world.exec(world.host, ["ip", "link", "show", endpoint.hostIfName])).status).not.toBe(0);
      expect((await world.ipJson<IpLink[]>(a, ["link", "show"])).map((link) => link.ifname)).toEqual(["lo"]);
      await world.net.removeLinks([endpoint.hostIfName]);
      await expect(world.net.removeLinks(["bad name"])).rejects.toMatchObject({ code: NetworkErrorCode.invalid });
    });
  });

  it("gives one sandbox several bridge networks in the same one spawn", async () => {
    await withWorld(async (world) => {
      const networks = [await bridgeFor(world), await bridgeFor(world), await bridgeFor(world)];
      const sandbox = world.sandbox("multi");
      const before = spawnCount();
      await world.net.createSandbox(
        sandbox,
        networks.map((network, index) => bridgeEndpoint(network, 2, { ifName: `eth${index}`, gateways: index === 0 ? [network.gateway] : [] })),
      );
      expect(spawnCount() - before).toBe(1);
      for (const network of networks) expect(await world.ping(sandbox, network.gateway)).toBe(true);
    });
  });

  it("rolls back a half-made sandbox and names the object that failed", async () => {
    await withWorld(async (world) => {
      const network = await bridgeFor(world);
      const a = world.sandbox("a");
      const taken = `tk${hex(5)}`;
      expect((await world.exec(world.host, ["ip", "link", "add", taken, "type", "veth", "peer", "name", `x${hex(4)}`])).stderr).toBe("");
      // The host-side name is taken: the veth cannot be made; the netns must not stay.
      const error = await world.net.createSandbox(a, [bridgeEndpoint(network, 2), bridgeEndpoint(network, 3, { ifName: "eth1", hostIfName: taken, gateways: [] })]).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: NetworkErrorCode.kernel });
      expect((error as Error).message).toContain(`veth eth1/${taken}`);
      expect(mountsUnder(world.dir)).not.toContain(a);
      // A bridge that does not exist: the host-side step fails, and the sandbox goes again.
      const orphan = bridgeEndpoint({ ...network, bridge: `br-${hex(6)}` }, 2);
      const second = await world.net.createSandbox(a, [orphan]).catch((caught: unknown) => caught);
      expect(second).toMatchObject({ code: NetworkErrorCode.kernel });
      expect((second as Error).message).toContain(orphan.bridge);
      expect(mountsUnder(world.dir)).not.toContain(a);
      expect((await world.exec(world.host, ["ip", "link", "show", orphan.hostIfName])).status).not.toBe(0);
      // A path that already holds a sandbox is refused and left alone.
      await world.net.createSandbox(a, [bridgeEndpoint(network, 4)]);
      await expect(world.net.createSandbox(a, [bridgeEndpoint(network, 5)])).rejects.toMatchObject({ code: NetworkErrorCode.kernel });
      expect(await world.ping(a, network.gateway)).toBe(true);
      // Bad input fails before anything runs.
      const before = spawnCount();
      await expect(world.net.createSandbox(world.sandbox("bad"), [bridgeEndpoint(network, 6, { hostIfName: "vb-name-too-long-for-linux" })])).rejects.toMatchObject({
        code: NetworkErrorCode.invalid,
      });
      await expect(world.net.createSandbox(world.sandbox("bad"), [bridgeEndpoint(network, 6, { addresses: ["10.0.0.300/24"] })])).rejects.toMatchObject({
        code: NetworkErrorCode.invalid,
      });
      expect(spawnCount()).toBe(before);
    });
  });

  it("puts macvlan sandboxes on a parent link; they reach the outside and each other", async () => {
    await withWorld(async (world) => {
      // The parent: a veth whose peer sits in an "outside" netns at 192.0.2.1 (inside the test world only).
      const outside = await world.namespace("outside");
      const parent = `mvp${hex(3)}`;
      const setup = await world.exec(world.host, ["ip", "-batch", "-"], {
        input: `link add ${parent} type veth peer name eth0 netns ${outside}\nlink set dev ${parent} up\n`,
      });
      expect(setup.stderr).toBe("");
      await world.exec(outside, ["ip", "-batch", "-"], { input: "addr add 192.0.2.1/24 dev eth0\nlink set dev eth0 up\n" });
      const endpoint = (n: number): EndpointSpec => ({
        driver: "macvlan",
        ifName: "eth0",
        hostIfName: `vb${hex(5)}`,
        parent,
        macvlanMode: "bridge",
        addresses: [`192.0.2.${n}/24`],
        gateways: ["192.0.2.1"],
      });
      const m1 = world.sandbox("m1");
      const m2 = world.sandbox("m2");
      const before = spawnCount();
      await world.net.createSandbox(m1, [endpoint(10)]);
      await world.net.createSandbox(m2, [endpoint(11)]);
      // Bound to the netns playing the host, the parent lookup costs a spawn of its own; in the real host it reads /sys.
      expect(spawnCount() - before).toBe(4);
      const [link] = await world.ipJson<IpLink[]>(m1, ["-d", "link", "show", "dev", "eth0"]);
      expect(link?.linkinfo?.info_kind).toBe("macvlan");
      expect(link?.linkinfo?.info_data?.mode).toBe("bridge");
      expect(await world.ping(m1, "192.0.2.1")).toBe(true);
      expect(await world.ping(m2, "192.0.2.10")).toBe(true);
      await world.httpServer(outside, 8080, "outside world");
      expect(await world.httpGet(m2, "192.0.2.1", 8080)).toBe("outside world");
      await world.net.destroySandbox(m1);
      expect((await world.ipJson<IpLink[]>(world.host, ["link", "show"])).filter((entry) => entry.linkinfo?.info_kind === "macvlan")).toEqual([]);
      await expect(world.net.createSandbox(world.sandbox("m3"), [{ ...endpoint(12), parent: `nx${hex(4)}` }])).rejects.toMatchObject({ code: NetworkErrorCode.notFound });
    });
  });
});

describe.skipIf(skip !== undefined)(`sandboxes in this process's own netns${skip ? ` (skipped: ${skip})` : ""}`, () => {
  // The default host: the peer goes to /proc/<pid>/ns/net and links are looked up in /sys. No
  // addresses on the bridge, so no sysctl of the real host changes and no traffic flows.
  it("creates and destroys a sandbox on a bridge of the real host", async () => {
    const network = await import("../../../src/network/index.js");
    const bridge = `br-${hex(6)}`;
    const hostIfName = `vb${hex(5)}`;
    const dir = (await import("node:fs")).mkdtempSync("/tmp/berth-net-test-");
    const sandbox = `${dir}/own`;
    try {
      await network.ensureBridge({ name: bridge, addresses: [], routeLocalnet: false });
      await network.ensureBridge({ name: bridge, addresses: [], routeLocalnet: false });
      const before = network.spawnCount();
      await network.createSandbox(sandbox, [{ driver: "bridge", ifName: "eth0", hostIfName, bridge, addresses: ["169.254.77.2/30"], gateways: [] }]);
      expect(network.spawnCount() - before).toBe(1);
      const shown = await run(["ip", "-d", "-j", "link", "show", "dev", hostIfName]);
      expect((JSON.parse(shown.stdout) as IpLink[])[0]?.master).toBe(bridge);
      await network.destroySandbox(sandbox);
      expect(network.spawnCount() - before).toBe(2);
      expect((await run(["ip", "link", "show", hostIfName])).status).not.toBe(0);
    } finally {
      await network.destroySandbox(sandbox).catch(() => undefined);
      await network.removeBridge(bridge);
      (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
    }
    expect((await run(["ip", "link", "show", bridge])).status).not.toBe(0);
    expect(mountsUnder(dir)).toEqual([]);
  });
});
