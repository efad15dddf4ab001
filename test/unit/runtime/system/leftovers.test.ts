// The leftover finder is pure: snapshots in, findings out. These tables pin down ownership
// (this root's objects only, by path, alias or live shim) and the actions prune runs.
import { describe, expect, it } from "vitest";
import { findLeftovers, reclaimPlan, type HostView, type RootView } from "../../../../src/runtime/system/index.js";

const id = (digit: string): string => digit.repeat(64);
const A = id("a");
const B = id("b");
const C = id("c");
const N = id("d");
const M = id("e");

const root: RootView = {
  rootTag: "berth:11111111",
  containersDirectory: "/var/lib/berth/containers",
  netnsDirectory: "/run/berth/netns",
  containers: [
    { id: A, name: "web", live: true, shimPid: 100 },
    { id: B, name: "db", live: false },
  ],
  networks: [{ id: N, name: "app" }],
  endpoints: [
    { networkName: "app", containerId: A },
    { networkName: "app", containerId: B },
  ],
  // The sweep's rule decided: the create's owner (pid 77) lives, the remove's (78) died.
  abandoned: new Set([`.removing-${C}-78`]),
  deadRoots: new Map([["berth:33333333", "/tmp/gone/state"]]),
  redirects: [{ hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80 }],
  deadRedirectOwners: new Map([["3c1d2e4f", "berth:33333333"]]),
};

const empty: HostView = { mounts: [], shims: [], cgroups: [], links: [], chains: [], redirects: [], redirectOwners: [] };

describe("findLeftovers", () => {
  it("finds a port redirect no live container publishes (or one pointing elsewhere), reclaimed by recomputing them all", () => {
    const host: HostView = {
      ...empty,
      redirects: [
        { hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80 },
        { hostIp: "127.0.0.1", hostPort: 8081, containerIp: "172.18.0.3", containerPort: 80 },
        { hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.9", containerPort: 80 },
      ],
    };
    const found = findLeftovers(host, { ...root, endpoints: [{ networkName: "app", containerId: A }] });
    expect(found.map((leftover) => [leftover.kind, leftover.name, leftover.action])).toEqual([
      ["port redirect", "127.0.0.1:8081 -> 172.18.0.3:80", { type: "sync-redirects" }],
      ["port redirect", "127.0.0.1:8080 -> 172.18.0.9:80", { type: "sync-redirects" }],
    ]);
    // A removed root's entries, wherever they are, go as a whole.
    expect(findLeftovers({ ...empty, redirectOwners: ["12345678", "3c1d2e4f"] }, { ...root, endpoints: [] })).toEqual([
      { kind: "port redirect", name: "redirects of berth:33333333", reason: "state root /tmp/gone/state no longer exists", action: { type: "drop-redirects", ownerHash: "3c1d2e4f" } },
    ]);
    // With a stopped container's endpoint too: its endpoints go first, then the recomputation.
    expect(reclaimPlan(findLeftovers(host, root))).toEqual([{ type: "reclaim-endpoints" }, { type: "sync-redirects" }]);
  });

  it("finds nothing on a host whose objects all belong to live containers and networks", () => {
    const host: HostView = {
      mounts: [`/var/lib/berth/containers/${A}/merged`, `/run/berth/netns/${A}`, "/proc"],
      shims: [{ pid: 100, bundle: `/var/lib/berth/containers/${A}` }],
      cgroups: [{ id: A, processes: 2 }],
      links: [
        { name: `br-${N.slice(0, 12)}`, kind: "bridge", alias: `berth:11111111:network:${N}` },
        { name: "vbaaaaaaaaaa00", kind: "veth", alias: `berth:11111111:container:${A}` },
        { name: "eth0", kind: "" },
      ],
      chains: [
        { family: 4, table: "nat", chain: "BERTH-DNAT" },
        { family: 4, table: "nat", chain: `BERTH-DN-${N.slice(0, 12)}` },
      ],
      redirects: [{ hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80 }],
      // This root's own entries, and a live other root's.
      redirectOwners: ["0badcafe", "12345678"],
    };
    expect(findLeftovers(host, { ...root, endpoints: [{ networkName: "app", containerId: A }] })).toEqual([]);
  });

  it("sends every object of a stopped container with a record to one reclaim of that container", () => {
    const host: HostView = {
      ...empty,
      mounts: [`/var/lib/berth/containers/${B}/merged`, `/run/berth/netns/${B}`],
      cgroups: [{ id: B, processes: 0 }],
      links: [{ name: "vbbbbbbbbbbb00", kind: "veth", alias: `berth:11111111:container:${B}` }],
    };
    const found = findLeftovers(host, root);
    expect(found.map((leftover) => [leftover.kind, leftover.action])).toEqual([
      ["mount", { type: "reclaim-container", id: B }],
      ["netns", { type: "reclaim-container", id: B }],
      ["cgroup", { type: "reclaim-container", id: B }],
      ["endpoint", { type: "reclaim-endpoints" }],
      ["link", { type: "reclaim-container", id: B }],
    ]);
    expect(found[0]?.reason).toBe("root filesystem of container db, which is not running");
    expect(found[2]?.reason).toBe("container db, which is not running (empty)");
    expect(reclaimPlan(found)).toEqual([{ type: "reclaim-container", id: B }, { type: "reclaim-endpoints" }]);
  });

  it("kills a shim whose container is gone or is not the recorded one, then removes what it held piece by piece", () => {
    const host: HostView = {
      ...empty,
      mounts: [`/var/lib/berth/containers/${C}/merged`, `/var/lib/berth/containers/${C}/merged/proc`],
      shims: [
        { pid: 200, bundle: `/var/lib/berth/containers/${C}` },
        { pid: 201, bundle: `/var/lib/berth/containers/${A}` },
      ],
      cgroups: [{ id: C, processes: 1 }],
    };
    const found = findLeftovers(host, { ...root, endpoints: [] });
    expect(found.map((leftover) => `${leftover.kind} ${leftover.name}: ${leftover.reason}`)).toEqual([
      `shim process 200: supervises removed container cccccccccccc`,
      "shim process 201: a second shim for container web (its own is 100)",
      `mount /var/lib/berth/containers/${C}/merged: root filesystem of removed container cccccccccccc`,
      `mount /var/lib/berth/containers/${C}/merged/proc: root filesystem of removed container cccccccccccc`,
      `cgroup berth/${C}: removed container cccccccccccc (1 process inside)`,
    ]);
    expect(reclaimPlan(found)).toEqual([
      { type: "kill-shim", pid: 200 },
      { type: "kill-shim", pid: 201 },
      { type: "remove-cgroup", id: C },
      { type: "unmount", path: `/var/lib/berth/containers/${C}/merged/proc` },
      { type: "unmount", path: `/var/lib/berth/containers/${C}/merged` },
    ]);
  });

  it("leaves other roots' objects alone: paths elsewhere, foreign aliases, cgroups with a live shim", () => {
    const host: HostView = {
      mounts: [`/tmp/other/state/containers/${C}/merged`, `/tmp/other/run/netns/${C}`],
      shims: [{ pid: 300, bundle: `/tmp/other/state/containers/${C}` }],
      cgroups: [{ id: C, processes: 3 }],
      links: [
        { name: `br-${M.slice(0, 12)}`, kind: "bridge", alias: `berth:22222222:network:${M}` },
        { name: "vbcccccccccc00", kind: "veth", alias: `berth:22222222:container:${C}` },
        { name: "br-untagged", kind: "bridge" },
        // Released by this root's teardown a moment ago: the kernel reaps it with its namespace.
        { name: "vbdel4621", kind: "veth", alias: `berth:11111111:container:${B}` },
      ],
      chains: [
        { family: 4, table: "filter", chain: "BERTH-FORWARD" },
        { family: 4, table: "filter", chain: `BERTH-FW-${M.slice(0, 12)}` },
      ],
      redirects: [],
      redirectOwners: ["12345678"],
    };
    expect(findLeftovers(host, { ...root, endpoints: [] })).toEqual([]);
  });

  it("reclaims a cgroup no shim anywhere accounts for, and a killed create's mount only once its owner is dead", () => {
    const host: HostView = {
      ...empty,
      mounts: [`/var/lib/berth/containers/.creating-${C}-77/merged`, `/var/lib/berth/containers/.removing-${C}-78/merged`],
      cgroups: [{ id: C, processes: 0 }],
    };
    const found = findLeftovers(host, { ...root, endpoints: [] });
    expect(found.map((leftover) => [leftover.kind, leftover.name, leftover.action.type])).toEqual([
      ["mount", `/var/lib/berth/containers/.removing-${C}-78/merged`, "sweep-abandoned"],
      ["cgroup", `berth/${C}`, "remove-cgroup"],
    ]);
  });

  it("finds a removed network's bridge and chains, and the shared chains only when no network anywhere is left", () => {
    const host: HostView = {
      ...empty,
      links: [{ name: `br-${M.slice(0, 12)}`, kind: "bridge", alias: `berth:11111111:network:${M}` }],
      chains: [
        { family: 4, table: "nat", chain: "BERTH-DNAT" },
        { family: 4, table: "nat", chain: `BERTH-DN-${M.slice(0, 12)}` },
        { family: 6, table: "filter", chain: `BERTH-FW-${M.slice(0, 12)}` },
      ],
    };
    const found = findLeftovers(host, { ...root, networks: [], endpoints: [] });
    expect(found.map((leftover) => `${leftover.kind} ${leftover.name}`)).toEqual([
      `link br-${M.slice(0, 12)}`,
      `iptables chain iptables nat BERTH-DN-${M.slice(0, 12)}`,
      `iptables chain ip6tables filter BERTH-FW-${M.slice(0, 12)}`,
    ]);
    // With the bridge gone too, nothing needs the shared chains any more.
    const bare = findLeftovers({ ...host, links: [] }, { ...root, networks: [], endpoints: [] });
    expect(bare.map((leftover) => leftover.name)).toContain("iptables nat BERTH-DNAT");
    expect(reclaimPlan(bare).map((action) => action.type)).toEqual(["remove-network-rules", "remove-base-chains"]);
  });

  it("finds the links and chains of a state root that no longer exists, and leaves a live root's alone", () => {
    const gone = id("f");
    const host: HostView = {
      ...empty,
      links: [
        { name: `br-${gone.slice(0, 12)}`, kind: "bridge", alias: `berth:33333333:network:${gone}` },
        { name: "vbffffffffff00", kind: "veth", alias: `berth:33333333:container:${C}` },
        { name: `br-${M.slice(0, 12)}`, kind: "bridge", alias: `berth:22222222:network:${M}` },
      ],
      chains: [
        { family: 4, table: "filter", chain: `BERTH-FW-${gone.slice(0, 12)}` },
        { family: 4, table: "filter", chain: `BERTH-FW-${M.slice(0, 12)}` },
      ],
    };
    const found = findLeftovers(host, { ...root, endpoints: [] });
    expect(found.map((leftover) => `${leftover.kind} ${leftover.name}: ${leftover.reason}`)).toEqual([
      `link br-ffffffffffff: bridge of network ffffffffffff of state root /tmp/gone/state, which no longer exists`,
      `link vbffffffffff00: host side of a veth of container cccccccccccc of state root /tmp/gone/state, which no longer exists`,
      `iptables chain iptables filter BERTH-FW-ffffffffffff: rules of removed network ffffffffffff`,
    ]);
  });
});
