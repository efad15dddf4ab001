// `system check` and `system prune` on the real kernel: leftovers made the way crashes make
// them (a shim SIGKILLed, a container's or a network's record lost with its kernel objects
// still there) are listed with their reason, reclaimed by prune, and gone from the host
// afterwards; another state root's live objects are never listed or touched. Other test files
// run beside this one in other roots, so every assertion looks only at this file's objects.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { berthChains, listLinks, redirectOwnerHash } from "../../../src/network/index.js";
import { rootTag } from "../../../src/runtime/network/index.js";
import { listShimProcesses, type Leftover } from "../../../src/runtime/index.js";
import { eventually, findLeaks, knownIds, leftoversOf, loadTestImage, makeFixture, mountsUnder, noLeaks, skipReason, type Fixture } from "./harness.js";

const redirectTool = path.resolve(import.meta.dirname, "../../../native/build/berth-redirect");
const skip = skipReason() ?? (existsSync(path.resolve(import.meta.dirname, "../../../native/build/berth-netns")) ? undefined : "native/build/berth-netns is not built");
const image = "system:1";

describe.skipIf(skip !== undefined)(`system check and prune${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let fixture: Fixture;
  let other: Fixture;
  const created: string[] = [];
  const otherCreated: string[] = [];

  beforeAll(async () => {
    fixture = makeFixture("system");
    other = makeFixture("system-other");
    await loadTestImage(fixture, { name: image });
    await loadTestImage(other, { name: image });
  }, 180_000);

  afterAll(async () => {
    if (fixture === undefined) return;
    const ids = knownIds(fixture, created);
    const otherIds = knownIds(other, otherCreated);
    await fixture.dispose();
    await other.dispose();
    expect(findLeaks(fixture, ids)).toEqual(noLeaks);
    expect(findLeaks(other, otherIds)).toEqual(noLeaks);
  });

  /** This file's leftovers only: objects naming one of `ids` (containers or networks). */
  const mine = (leftovers: readonly Leftover[], ids: readonly string[]): Leftover[] =>
    leftovers.filter((leftover) => ids.some((id) => leftover.name.includes(id.slice(0, 10)) || leftover.reason.includes(id.slice(0, 12))));
  const check = (target: Fixture, ids: readonly string[]): Promise<Leftover[]> => leftoversOf(target, ids);
  const runSleeper = async (target: Fixture, list: string[], extra: Record<string, unknown> = {}): Promise<string> => {
    const { id } = await target.engine.containers.create({ image, cmd: ["sleep", "300"], ...extra });
    list.push(id);
    await target.engine.containers.start(id);
    return id;
  };
  const shimPid = (target: Fixture, id: string): number => Number(readFileSync(path.join(target.paths.runRoot, "containers", id, "shim.pid"), "utf8"));
  const killShim = async (target: Fixture, id: string): Promise<void> => {
    const containerPid = (await target.engine.containers.inspect(id)).State.Pid;
    process.kill(shimPid(target, id), "SIGKILL");
    await eventually(() => !existsSync(`/proc/${containerPid}`), 5000, "the container to die with its shim");
  };
  const hostVeths = async (id: string): Promise<string[]> => (await listLinks()).map((link) => link.name).filter((name) => name.startsWith(`vb${id.slice(0, 10)}`));
  const cgroupsOf = (id: string): string[] =>
    readdirSync("/sys/fs/cgroup")
      .map((controller) => path.join("/sys/fs/cgroup", controller, "berth", id))
      .filter((directory) => existsSync(directory));

  it("lists nothing of a running container, and everything a SIGKILLed shim left; prune reclaims it all", async () => {
    const id = await runSleeper(fixture, created, { portBindings: [{ containerPort: 80, hostIp: "127.0.0.1" }] });
    expect(await check(fixture, [id])).toEqual([]);
    const address = ((await fixture.engine.containers.inspect(id)).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks["bridge"]?.IPAddress ?? "";
    expect(address).not.toBe("");

    await killShim(fixture, id);
    const found = await check(fixture, [id]);
    const kinds = new Set(found.map((leftover) => leftover.kind));
    for (const kind of ["mount", "netns", "endpoint", "link", "cgroup"]) expect(kinds, `a ${kind} leftover in ${JSON.stringify(found)}`).toContain(kind);
    for (const leftover of found) expect(leftover.action).toEqual(leftover.kind === "endpoint" ? { type: "reclaim-endpoints" } : { type: "reclaim-container", id });
    expect(found.find((leftover) => leftover.kind === "netns")?.reason).toMatch(/which is not running/);

    const result = await fixture.engine.system.prune();
    expect(result.errors).toEqual([]);
    expect(mine(result.remaining, [id])).toEqual([]);
    expect(await check(fixture, [id])).toEqual([]);
    // The host agrees: no mount, veth, cgroup or DNAT rule of the container is left.
    expect(mountsUnder(fixture.paths.stateRoot).concat(mountsUnder(fixture.paths.runRoot))).toEqual([]);
    expect(await hostVeths(id)).toEqual([]);
    expect(cgroupsOf(id)).toEqual([]);
    expect(execFileSync("iptables-save", { encoding: "utf8" }).split("\n").filter((line) => line.includes(`${address}:80`))).toEqual([]);
    expect((await fixture.engine.containers.inspect(id)).State).toMatchObject({ Status: "exited", Running: false });
    await fixture.engine.containers.remove(id);
  });

  it("reclaims the shim, mounts, namespace, veth and cgroup of a container whose record was lost", async () => {
    const id = await runSleeper(fixture, created);
    const pid = shimPid(fixture, id);
    // A record lost (a crash, a hand-deleted file) while everything it set up runs on.
    rmSync(path.join(fixture.paths.stateRoot, "containers", id, "container.json"));
    const found = await check(fixture, [id]);
    expect(found.find((leftover) => leftover.kind === "shim process")).toMatchObject({ name: String(pid), action: { type: "kill-shim", pid } });
    const kinds = new Set(found.map((leftover) => leftover.kind));
    for (const kind of ["mount", "netns", "endpoint", "link", "cgroup"]) expect(kinds, `a ${kind} leftover in ${JSON.stringify(found)}`).toContain(kind);
    expect(found.every((leftover) => leftover.action.type !== "reclaim-container")).toBe(true);

    const result = await fixture.engine.system.prune();
    expect(result.errors).toEqual([]);
    expect(mine(result.remaining, [id])).toEqual([]);
    // Gone, or a zombie of this test process (which spawned it) that no one reaped yet.
    expect(listShimProcesses().some((shim) => shim.pid === pid)).toBe(false);
    expect(mountsUnder(path.join(fixture.paths.stateRoot, "containers", id))).toEqual([]);
    expect(existsSync(path.join(fixture.paths.runRoot, "netns", id))).toBe(false);
    expect(await hostVeths(id)).toEqual([]);
    expect(cgroupsOf(id)).toEqual([]);
    rmSync(path.join(fixture.paths.stateRoot, "containers", id), { recursive: true, force: true });
  });

  it("reclaims the bridge and chains of a network whose record was lost", async () => {
    const { Id: networkId } = await fixture.engine.networks.create({ name: "orphaned" });
    const bridge = `br-${networkId.slice(0, 12)}`;
    expect((await listLinks()).some((link) => link.name === bridge)).toBe(true);
    expect(await check(fixture, [networkId])).toEqual([]);
    rmSync(path.join(fixture.paths.stateRoot, "networks", `${networkId}.json`));

    const found = await check(fixture, [networkId]);
    expect(found).toContainEqual({ kind: "link", name: bridge, reason: `bridge of removed network ${networkId.slice(0, 12)}`, action: { type: "remove-link", name: bridge } });
    expect(found.filter((leftover) => leftover.kind === "iptables chain").map((leftover) => leftover.name)).toContain(`iptables filter BERTH-FW-${networkId.slice(0, 12)}`);

    const result = await fixture.engine.system.prune();
    expect(result.errors).toEqual([]);
    expect((await listLinks()).some((link) => link.name === bridge)).toBe(false);
    expect((await berthChains()).filter((chain) => chain.chain.endsWith(networkId.slice(0, 12)))).toEqual([]);
    expect(await check(fixture, [networkId])).toEqual([]);
  });

  it("never lists or touches another state root's running container and network", async () => {
    const { Id: networkId } = await other.engine.networks.create({ name: "theirs" });
    const id = await runSleeper(other, otherCreated, { networkMode: "theirs" });
    const found = await check(fixture, [id, networkId]);
    expect(found).toEqual([]);
    await fixture.engine.system.prune();
    expect((await other.engine.containers.inspect(id)).State.Running).toBe(true);
    expect(await hostVeths(id)).toHaveLength(1);
    expect((await listLinks()).some((link) => link.name === `br-${networkId.slice(0, 12)}`)).toBe(true);
    expect((await berthChains()).some((chain) => chain.chain === `BERTH-FW-${networkId.slice(0, 12)}`)).toBe(true);
    // The other root sees its own objects as live too.
    expect(await check(other, [id, networkId])).toEqual([]);
    await other.engine.containers.remove(id, { force: true });
    await other.engine.networks.remove("theirs");
  });

  it("reclaims the bridge, chains and port redirects of a state root that was deleted while they ran on", async () => {
    const doomed = makeFixture("system-doomed");
    await loadTestImage(doomed, { name: image });
    const { Id: networkId } = await doomed.engine.networks.create({ name: "forsaken" });
    const id = await runSleeper(doomed, [], { networkMode: "forsaken" });
    const bridge = `br-${networkId.slice(0, 12)}`;
    // Its containers die with their shims, then the whole root goes (rm -rf of a test's root).
    await killShim(doomed, id);
    for (const mountPoint of mountsUnder(doomed.base)) execFileSync("umount", ["-l", mountPoint]);
    await doomed.engine.system.prune(); // the doomed root's own view: its container's cgroup and netns
    // A port redirect its CLI made and, killed, never withdrew (loopback to loopback: harmless).
    const doomedTag = rootTag(doomed.paths);
    execFileSync(redirectTool, ["sync", redirectOwnerHash(doomedTag)], { input: "127.0.0.1 1 127.0.0.1 2\n" });
    rmSync(doomed.base, { recursive: true, force: true });

    const found = await check(fixture, [networkId]);
    expect(found).toContainEqual({
      kind: "link",
      name: bridge,
      reason: `bridge of network ${networkId.slice(0, 12)} of state root ${doomed.paths.stateRoot}, which no longer exists`,
      action: { type: "remove-link", name: bridge },
    });
    expect(found.filter((leftover) => leftover.kind === "iptables chain").map((leftover) => leftover.name)).toContain(`iptables filter BERTH-FW-${networkId.slice(0, 12)}`);
    expect(await fixture.engine.system.check()).toContainEqual({
      kind: "port redirect",
      name: `redirects of ${doomedTag}`,
      reason: `state root ${doomed.paths.stateRoot} no longer exists`,
      action: { type: "drop-redirects", ownerHash: redirectOwnerHash(doomedTag) },
    });
    const result = await fixture.engine.system.prune();
    expect(result.errors).toEqual([]);
    expect((await listLinks()).some((link) => link.name === bridge)).toBe(false);
    expect((await berthChains()).filter((chain) => chain.chain.endsWith(networkId.slice(0, 12)))).toEqual([]);
    expect(await check(fixture, [networkId, id])).toEqual([]);
    expect(execFileSync(redirectTool, ["list"], { encoding: "utf8" })).not.toContain(redirectOwnerHash(doomedTag));
  });
});
