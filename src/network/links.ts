// The plumbing: bridges, and sandboxes (a netns bound at a path, with one interface per
// network). Everything is one `ip -batch` per netns, so a container on any number of bridge
// networks costs one spawn to set up and one to tear down:
//   `berth-netns create NS --host HOSTNS -- ip -batch -`, which runs ip twice:
//   1. inside: the netns, lo, and per endpoint a veth pair made from inside with its peer placed
//      straight into the host netns (or a macvlan made from inside on the host's parent, via
//      link-netns), addresses, MAC, MTU, routes;
//   2. in the host: each host-side veth onto its bridge, hairpin on, up.
//   teardown: `berth-netns delete NS`: each host-side veth peer set down and renamed vbdel<N>
//   (its name is free at once, for a restart; deleting it outright costs an RCU grace period,
//   15-40 ms), other links (macvlan) deleted, the netns unmounted and unlinked. The kernel
//   reaps the netns, and the renamed veths with it, moments later.
// A failure half-way undoes what was made and names the object that failed.

import { existsSync } from "node:fs";
import { canonicalAddress, formatAddress, parseAddress, parsePrefix, type Family } from "./address.js";
import type { Context } from "./context.js";
import { NetworkError, NetworkErrorCode, invalid, kernelError } from "./network-error.js";
import { ensureForwarding, ensureRouteLocalnet } from "./sysctl.js";
import type { RunResult } from "./system.js";

export interface BridgeSpec {
  readonly name: string;
  /** The gateway in CIDR form, e.g. "172.18.0.1/16", "fd00::1/64". */
  readonly addresses: readonly string[];
  readonly mtu?: number;
  readonly routeLocalnet: boolean;
  /** The link's ifalias: who owns it (berth's system check tells its own objects by it). */
  readonly alias?: string;
}

export interface EndpointSpec {
  readonly driver: "bridge" | "macvlan";
  /** eth0, eth1, … inside. */
  readonly ifName: string;
  /** bridge: the host-side veth (vb…, at most 15 characters). macvlan: unused (the macvlan is made inside the netns under ifName). */
  readonly hostIfName: string;
  readonly bridge?: string;
  /** The macvlan parent interface, in the host netns. */
  readonly parent?: string;
  readonly macvlanMode?: "bridge" | "private" | "vepa" | "passthru";
  /** CIDR form, "172.18.0.2/16". */
  readonly addresses: readonly string[];
  /** Default routes to add (one per family); empty for none. */
  readonly gateways: readonly string[];
  readonly mac?: string;
  readonly mtu?: number;
  /** bridge: the host-side veth's ifalias (its owner, for system check). */
  readonly hostAlias?: string;
}

/** A link in the host netns as `listLinks` reports it. */
export interface LinkInfo {
  readonly name: string;
  /** "bridge", "veth", "macvlan", …; "" for a plain device. */
  readonly kind: string;
  readonly alias?: string;
  /** The bridge a port is enslaved to. */
  readonly master?: string;
}

/** One line of an `ip -batch` input and the kernel object it is about, for error messages. */
interface BatchLine {
  readonly command: string;
  readonly object: string;
}

const interfaceName = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const macAddress = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const macvlanModes = new Set(["bridge", "private", "vepa", "passthru"]);

function checkName(what: string, name: string | undefined): string {
  if (name === undefined || !interfaceName.test(name)) throw invalid(`invalid ${what} name ${JSON.stringify(name ?? "")}: 1-15 letters, digits, '_', '.', '-'`);
  return name;
}

/** An ifalias on an `ip` batch line: no blanks or quotes for its tokenizer, and IFALIASZ (256) fits. */
const aliasText = /^[A-Za-z0-9:._/-]{1,200}$/;

function checkAlias(alias: string | undefined): string | undefined {
  if (alias !== undefined && !aliasText.test(alias)) throw invalid(`invalid link alias ${JSON.stringify(alias)}: 1-200 letters, digits, ':', '.', '_', '/', '-'`);
  return alias;
}

function checkMtu(mtu: number | undefined): void {
  if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw invalid(`invalid MTU ${mtu}`);
}

/** A path `ip` gets on a batch line: its tokenizer splits on blanks and honours quotes. */
function checkPath(what: string, file: string): string {
  if (!file.startsWith("/") || /[\s"'\\]/.test(file)) throw invalid(`invalid ${what} path ${JSON.stringify(file)}: want an absolute path without blanks or quotes`);
  return file;
}

/** `172.18.0.2/16` → family and canonical CIDR text (host bits kept). */
function interfaceAddress(text: string): { family: Family; cidr: string } {
  const prefix = parsePrefix(text);
  if (prefix === undefined) throw invalid(`invalid interface address ${JSON.stringify(text)}: want CIDR form like 172.18.0.2/16`);
  return { family: prefix.family, cidr: `${formatAddress(prefix.family, prefix.written)}/${prefix.prefix}` };
}

function addressLine(cidr: string, family: Family, device: string, object: string): BatchLine {
  // nodad: an IPv6 address is usable at once (nothing else on a fresh bridge can hold it).
  return { command: `addr add ${cidr} dev ${device}${family === 6 ? " nodad" : ""}`, object };
}

function renderBatch(lines: readonly BatchLine[]): string {
  return `${lines.map((line) => line.command).join("\n")}\n`;
}

/** Names the object of the batch line `ip` reported (`Command failed -:3`) and says what went wrong. */
function batchFailure(lines: readonly BatchLine[], result: RunResult, fallback: string): NetworkError {
  const failed = /Command failed -:(\d+)/.exec(result.stderr);
  const line = failed === null ? undefined : lines[Number(failed[1]) - 1];
  const detail = result.stderr
    .split("\n")
    .filter((text) => text.trim() !== "" && !text.startsWith("Command failed"))
    .join("; ");
  return kernelError(line?.object ?? fallback, `${line === undefined ? "" : `${line.command}: `}${detail || `exit status ${result.status}`}`);
}

/** A stable locally administered MAC for a bridge: without one, a bridge takes the lowest MAC of its ports and changes it as they come and go (stale ARP in every container). */
export function bridgeMac(name: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return ["02", "b3", ...[24, 16, 8, 0].map((shift) => ((hash >>> shift) & 0xff).toString(16).padStart(2, "0"))].join(":");
}

interface IpLinkDetails {
  readonly ifname?: string;
  readonly ifalias?: string;
  readonly master?: string;
  readonly flags?: readonly string[];
  readonly mtu?: number;
  readonly linkinfo?: { readonly info_kind?: string };
  readonly addr_info?: readonly { readonly local?: string; readonly prefixlen?: number }[];
}

function bridgeSpecKey(spec: BridgeSpec): string {
  return JSON.stringify([spec.name, [...spec.addresses].sort(), spec.mtu ?? null, spec.routeLocalnet, spec.alias ?? null]);
}

/**
 * Get, or create, or fix: a bridge with these gateway addresses, MTU, up. One `ip -batch` to
 * create; for an existing one, one `ip -j` to look and one batch only if something is missing
 * (nothing when this process already checked the same spec). Then the sysctls it needs.
 */
export async function ensureBridge(context: Context, spec: BridgeSpec): Promise<void> {
  const name = checkName("bridge", spec.name);
  checkMtu(spec.mtu);
  const alias = checkAlias(spec.alias);
  const addresses = spec.addresses.map(interfaceAddress);
  const object = `bridge ${name}`;
  const { system } = context;
  const key = bridgeSpecKey(spec);
  const exists = system.linkExists(name);
  if (!exists || context.ensuredBridges.get(name) !== key) {
    let created = false;
    if (!exists) {
      const lines: BatchLine[] = [
        { command: `link add name ${name} address ${bridgeMac(name)}${spec.mtu === undefined ? "" : ` mtu ${spec.mtu}`} type bridge`, object },
        ...addresses.map((address) => addressLine(address.cidr, address.family, name, `${object} address ${address.cidr}`)),
        ...(alias === undefined ? [] : [{ command: `link set dev ${name} alias ${alias}`, object }]),
        { command: `link set dev ${name} up`, object },
      ];
      const result = await system.run(["ip", "-batch", "-"], { input: renderBatch(lines) });
      created = result.status === 0;
      // Another process may have made it meanwhile: then check it like any existing one.
      if (!created && !system.linkExists(name)) throw batchFailure(lines, result, object);
    }
    if (!created) await fixBridge(context, spec, addresses);
  }
  if (spec.routeLocalnet) ensureRouteLocalnet(context, name);
  ensureForwarding(context, new Set(addresses.map((address) => address.family)));
  context.ensuredBridges.set(name, key);
}

async function fixBridge(context: Context, spec: BridgeSpec, addresses: readonly { family: Family; cidr: string }[]): Promise<void> {
  const { system } = context;
  const object = `bridge ${spec.name}`;
  const shown = await system.run(["ip", "-d", "-j", "addr", "show", "dev", spec.name]);
  if (shown.status !== 0) throw kernelError(object, shown.stderr.trim());
  const link = (JSON.parse(shown.stdout) as IpLinkDetails[])[0];
  if (link?.linkinfo?.info_kind !== "bridge") {
    throw new NetworkError(NetworkErrorCode.exists, `${object}: exists but is ${link?.linkinfo?.info_kind ?? "not a bridge"}`, { object });
  }
  const present = new Set((link.addr_info ?? []).map((info) => `${canonicalAddress(info.local ?? "") ?? ""}/${info.prefixlen ?? ""}`));
  const lines: BatchLine[] = addresses
    .filter((address) => !present.has(address.cidr))
    .map((address) => addressLine(address.cidr, address.family, spec.name, `${object} address ${address.cidr}`));
  if (spec.mtu !== undefined && link.mtu !== spec.mtu) lines.push({ command: `link set dev ${spec.name} mtu ${spec.mtu}`, object });
  // A bridge made before berth tagged its links gets its owner now.
  if (spec.alias !== undefined && link.ifalias !== spec.alias) lines.push({ command: `link set dev ${spec.name} alias ${spec.alias}`, object });
  if (!(link.flags ?? []).includes("UP")) lines.push({ command: `link set dev ${spec.name} up`, object });
  if (lines.length === 0) return;
  const result = await system.run(["ip", "-batch", "-"], { input: renderBatch(lines) });
  if (result.status !== 0) throw batchFailure(lines, result, object);
}

/** Deletes the bridge; gone already is success. */
export async function removeBridge(context: Context, name: string): Promise<void> {
  checkName("bridge", name);
  context.ensuredBridges.delete(name);
  if (!context.system.linkExists(name)) return;
  const result = await context.system.run(["ip", "link", "del", "dev", name]);
  if (result.status !== 0 && !/Cannot find device/.test(result.stderr)) throw kernelError(`bridge ${name}`, result.stderr.trim());
}

/** Deletes links by name (system prune: veths left by a crash); missing ones are skipped. */
export async function removeLinks(context: Context, names: readonly string[]): Promise<void> {
  const existing = names.map((name) => checkName("link", name)).filter((name) => context.system.linkExists(name));
  if (existing.length === 0) return;
  const lines = existing.map((name) => ({ command: `link del dev ${name}`, object: `link ${name}` }));
  // -force: go on past a failed line, so one stubborn link does not keep the rest.
  const result = await context.system.run(["ip", "-force", "-batch", "-"], { input: renderBatch(lines) });
  const failures = result.stderr.split("\n").filter((line) => line.trim() !== "" && !/Cannot find device|Command failed/.test(line));
  if (result.status !== 0 && failures.length > 0) throw kernelError(`links ${existing.join(", ")}`, failures.join("; "));
}

/** Every link in the host netns with its kind, alias and master: one `ip -d -j link show`. */
export async function listLinks(context: Context): Promise<LinkInfo[]> {
  const result = await context.system.run(["ip", "-d", "-j", "link", "show"]);
  if (result.status !== 0) throw kernelError("links", result.stderr.trim() || `exit status ${result.status}`);
  return (JSON.parse(result.stdout) as IpLinkDetails[]).map((link) => ({
    name: link.ifname ?? "",
    kind: link.linkinfo?.info_kind ?? "",
    ...(link.ifalias === undefined || link.ifalias === "" ? {} : { alias: link.ifalias }),
    ...(link.master === undefined ? {} : { master: link.master }),
  }));
}

interface CheckedEndpoint {
  readonly spec: EndpointSpec;
  readonly addresses: readonly { family: Family; cidr: string }[];
  readonly gateways: readonly { family: Family; ip: string }[];
  /** macvlan: the parent's ifindex in the host netns. */
  readonly parentIndex?: number;
}

function checkEndpoint(context: Context, spec: EndpointSpec): CheckedEndpoint {
  checkName("interface", spec.ifName);
  checkMtu(spec.mtu);
  if (spec.mac !== undefined && !macAddress.test(spec.mac)) throw invalid(`invalid MAC address ${JSON.stringify(spec.mac)}`);
  const addresses = spec.addresses.map(interfaceAddress);
  const gateways = spec.gateways.map((text) => {
    const address = parseAddress(text);
    if (address === undefined) throw invalid(`invalid gateway address ${JSON.stringify(text)}`);
    return { family: address.family, ip: formatAddress(address.family, address.value) };
  });
  switch (spec.driver) {
    case "bridge":
      checkName("host-side veth", spec.hostIfName);
      checkName("bridge", spec.bridge);
      checkAlias(spec.hostAlias);
      return { spec, addresses, gateways };
    case "macvlan": {
      const parent = checkName("macvlan parent", spec.parent);
      if (spec.macvlanMode !== undefined && !macvlanModes.has(spec.macvlanMode)) throw invalid(`invalid macvlan mode ${JSON.stringify(spec.macvlanMode)}`);
      const parentIndex = context.system.linkIndex(parent);
      if (parentIndex === undefined) {
        throw new NetworkError(NetworkErrorCode.notFound, `macvlan parent ${parent}: no such interface on the host`, { object: `link ${parent}` });
      }
      return { spec, addresses, gateways, parentIndex };
    }
    default: {
      const never: never = spec.driver;
      throw invalid(`unknown endpoint driver ${JSON.stringify(never)}`);
    }
  }
}

/** The lines run inside the sandbox for one endpoint. */
function insideLines(context: Context, endpoint: CheckedEndpoint): BatchLine[] {
  const { spec } = endpoint;
  const name = spec.ifName;
  const mac = spec.mac === undefined ? "" : ` address ${spec.mac}`;
  const mtu = spec.mtu === undefined ? "" : ` mtu ${spec.mtu}`;
  const hostNetns = checkPath("host netns", context.system.netnsPath);
  const lines: BatchLine[] = [];
  if (spec.driver === "bridge") {
    // Made from inside with the peer put straight into the host: no `link set netns` step.
    lines.push({ command: `link add name ${name}${mac}${mtu} type veth peer name ${spec.hostIfName}${mtu} netns ${hostNetns}`, object: `veth ${name}/${spec.hostIfName}` });
  } else {
    // Made from inside too: link-netns names the host, `if<N>` the parent by index there.
    lines.push({
      command: `link add name ${name} link-netns ${hostNetns} link if${endpoint.parentIndex ?? 0}${mac}${mtu} type macvlan mode ${spec.macvlanMode ?? "bridge"}`,
      object: `macvlan ${name} on ${spec.parent ?? ""}`,
    });
  }
  for (const address of endpoint.addresses) lines.push(addressLine(address.cidr, address.family, name, `${name} address ${address.cidr}`));
  lines.push({ command: `link set dev ${name} up`, object: `interface ${name}` });
  for (const gateway of endpoint.gateways) {
    lines.push({ command: `route add ${gateway.family === 4 ? "0.0.0.0/0" : "::/0"} via ${gateway.ip} dev ${name}`, object: `default route via ${gateway.ip} on ${name}` });
  }
  return lines;
}

/** The lines run in the host for one endpoint: a bridge endpoint's veth onto its bridge. */
function hostLines(endpoint: CheckedEndpoint): BatchLine[] {
  const { spec } = endpoint;
  if (spec.driver !== "bridge") return [];
  const object = `veth ${spec.hostIfName}`;
  return [
    { command: `link set dev ${spec.hostIfName} master ${spec.bridge ?? ""}`, object: `${object} on bridge ${spec.bridge ?? ""}` },
    // Hairpin: a container reaching its own published port gets the DNATed frame back on its own port.
    { command: `link set dev ${spec.hostIfName} type bridge_slave hairpin on`, object },
    ...(spec.hostAlias === undefined ? [] : [{ command: `link set dev ${spec.hostIfName} alias ${spec.hostAlias}`, object }]),
    { command: `link set dev ${spec.hostIfName} up`, object },
  ];
}

/** berth-netns reports its own failures as `berth-netns: …`; after those, it has left nothing behind. */
function berthNetnsFailed(result: RunResult): boolean {
  return result.stderr.startsWith("berth-netns:");
}

function netnsError(nsPath: string, result: RunResult): NetworkError {
  const detail = result.stderr.trim().replace(/^berth-netns: /, "");
  const missing = /No such file or directory/.test(detail);
  return new NetworkError(missing ? NetworkErrorCode.notFound : NetworkErrorCode.kernel, `netns ${nsPath}: ${detail}`, { object: `netns ${nsPath}` });
}

/** berth-netns --host: the inside batch succeeded, the host batch (or entering the host netns) did not. */
const hostBatchFailed = 3;

/**
 * The one spawn of a sandbox change: `berth-netns create|exec NS --host HOSTNS -- ip -batch -`
 * runs the inside lines in the sandbox, then the host lines in the host netns (the input's two
 * parts split at a line `#host`, a comment to ip). When either batch fails, undo runs and the
 * failed line's object is named; berth-netns's own failure (the path is taken, say) left
 * nothing, and must not remove what someone else has there.
 */
async function configureSandbox(
  context: Context,
  nsPath: string,
  change: { verb: "create" | "exec"; inside: readonly BatchLine[]; host: readonly BatchLine[]; undo: () => Promise<void> },
): Promise<void> {
  const { system } = context;
  const host = change.host.length === 0 ? "" : `#host\n${renderBatch(change.host)}`;
  const made = await system.runHere([system.berthNetns, change.verb, nsPath, "--host", system.netnsPath, "--", "ip", "-batch", "-"], {
    input: `${renderBatch(change.inside)}${host}`,
  });
  if (made.status === 0) return;
  if (made.status !== hostBatchFailed && berthNetnsFailed(made)) throw netnsError(nsPath, made);
  await change.undo().catch(() => undefined);
  if (made.status === hostBatchFailed) throw batchFailure(change.host, made, `netns ${nsPath}`);
  throw batchFailure(change.inside, made, `netns ${nsPath}`);
}

/** A new netns bound at nsPath with lo up and every endpoint configured; on failure nothing is left. */
export async function createSandbox(context: Context, nsPath: string, endpoints: readonly EndpointSpec[]): Promise<void> {
  checkPath("netns", nsPath);
  const checked = endpoints.map((endpoint) => checkEndpoint(context, endpoint));
  const inside: BatchLine[] = [{ command: "link set dev lo up", object: "interface lo" }, ...checked.flatMap((endpoint) => insideLines(context, endpoint))];
  await configureSandbox(context, nsPath, { verb: "create", inside, host: checked.flatMap(hostLines), undo: () => destroySandbox(context, nsPath) });
}

/** Adds one endpoint to an existing sandbox (a running container); on failure it is removed again. */
export async function connectEndpoint(context: Context, nsPath: string, endpoint: EndpointSpec): Promise<void> {
  checkPath("netns", nsPath);
  const checked = checkEndpoint(context, endpoint);
  await configureSandbox(context, nsPath, {
    verb: "exec",
    inside: insideLines(context, checked),
    host: hostLines(checked),
    undo: () => disconnectEndpoint(context, nsPath, endpoint),
  });
}

/** Removes one endpoint (its veth peer goes with it); a missing interface or sandbox is success. */
export async function disconnectEndpoint(context: Context, nsPath: string, endpoint: Pick<EndpointSpec, "ifName" | "hostIfName">): Promise<void> {
  checkPath("netns", nsPath);
  const name = checkName("interface", endpoint.ifName);
  const { system } = context;
  const result = await system.runHere([system.berthNetns, "exec", nsPath, "--", "ip", "link", "del", "dev", name]);
  const gone = result.status === 0 || /Cannot find device/.test(result.stderr) || (berthNetnsFailed(result) && /No such file or directory/.test(result.stderr));
  if (!gone) throw berthNetnsFailed(result) ? netnsError(nsPath, result) : kernelError(`interface ${name} in netns ${nsPath}`, result.stderr.trim());
  // A host-side veth whose peer never made it into the sandbox (a crash between the steps).
  const hostIfName = endpoint.hostIfName;
  if (hostIfName.startsWith("vb") && interfaceName.test(hostIfName)) await removeLinks(context, [hostIfName]);
}

/** Removes the sandbox: its host-side veth names freed, its other links deleted, the netns unbound. Idempotent. */
export async function destroySandbox(context: Context, nsPath: string): Promise<void> {
  checkPath("netns", nsPath);
  // Released already (a container's shim does it when the container is done): nothing to spawn for.
  if (!existsSync(nsPath)) return;
  // Run in the host netns: that is where berth-netns looks for the veth peers to release.
  const result = await context.system.run([context.system.berthNetns, "delete", nsPath]);
  if (result.status !== 0) throw netnsError(nsPath, result);
}
