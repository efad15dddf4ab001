// The embedded DNS server of berth-shim (PROTOCOL.md "Embedded DNS"): answers from the
// name tables, forwarding to upstreams from the host's namespace, over UDP and TCP, inside
// a network namespace the test creates. Traffic only ever goes to loopback addresses: the
// namespace's own (127.0.0.11) and the host's 127.0.0.1 where the test's upstreams listen.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readlinkSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  processAlive,
  readStatus,
  shimBinary,
  startShim,
  startShimOk,
  stopShim,
  withBundle,
  type Bundle,
  type BundleOptions,
  type ShimJson,
} from "../../support/bundle.js";
import {
  RCODE,
  TYPE,
  askUdp,
  buildQuery,
  buildResponse,
  exchangeIn,
  frame,
  parseMessage,
  runAsync,
  startUpstream,
  type Message,
  type Upstream,
} from "./dns-wire.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}

// ---- network namespaces of the test's own, bound on files below the test roots ----

const namespaces: string[] = [];

function createNetns(): string {
  const directory = path.join(fixture.roots().base, "netns");
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, randomBytes(6).toString("hex"));
  writeFileSync(file, "");
  namespaces.push(file);
  run("unshare", [`--net=${file}`, "true"]);
  run("nsenter", [`--net=${file}`, "ip", "link", "set", "lo", "up"]);
  return file;
}

function removeNetns(file: string): void {
  if (spawnSync("umount", [file]).status !== 0) spawnSync("umount", ["-l", file]);
  rmSync(file, { force: true });
}

// ---- dns.json and tables, replaced by rename as the engine does ----

function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

interface DnsJson {
  address?: string;
  port?: number;
  tables: string[];
  upstreams: string[];
  search?: string[];
  ndots?: number;
}

function tablePath(name: string): string {
  return path.join(fixture.roots().base, "networks", name, "names");
}

function dnsJsonPath(bundle: Bundle): string {
  return path.join(bundle.runDir, "dns.json");
}

function writeDnsJson(bundle: Bundle, config: DnsJson): void {
  writeAtomic(dnsJsonPath(bundle), `${JSON.stringify({ address: "127.0.0.11", port: 53, search: [], ndots: 0, ...config })}\n`);
}

type ShimWithDns = ShimJson & { dns?: { config: string } | null };

/** Bundle options for a container in `netns` whose shim serves DNS from <runDir>/dns.json. */
function dnsBundle(netns: string | undefined, args: string[], more: (shim: ShimWithDns) => void = () => undefined): BundleOptions {
  return {
    rootfs: fixture.rootfs(),
    args,
    spec: (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.map((namespace) =>
        namespace.type === "network" && netns ? { type: "network", path: netns } : namespace,
      );
    },
    shim: (shim) => {
      (shim as ShimWithDns).dns = { config: path.join(shim.runDir, "dns.json") };
      shim.init = true;
      more(shim as ShimWithDns);
    },
  };
}

/** A command in the container (berth-shim exec), without blocking the test's upstreams. */
function execIn(bundle: Bundle, command: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runAsync(shimBinary, ["exec", "--pid", String(bundle.containerPid), "--config", path.join(bundle.dir, "config.json"), "--", ...command], 20_000);
}

/** Socket inodes the shim holds (to prove the listening sockets are the same ones). */
function socketInodes(pid: number): string[] {
  const found: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith("socket:")) found.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return found.sort();
}

const addresses = (message: Message | undefined, type: number = TYPE.A): string[] =>
  (message?.answers ?? []).filter((record) => record.type === type).map((record) => record.data);

function smapsRollup(pid: number): { rssKb: number; pssKb: number; pssAnonKb: number; pssFileKb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssKb: field("Rss"), pssKb: field("Pss"), pssAnonKb: field("Pss_Anon"), pssFileKb: field("Pss_File") };
}

// ---- the test's upstream DNS servers, on the host's 127.0.0.1 ----

let upstream: Upstream;
let silent: Upstream;

/** outside.test → 203.0.113.7; big.test → truncated over UDP, 40 addresses over TCP; else NXDOMAIN. */
function upstreamAnswer(query: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
  const message = parseMessage(query);
  const question = message.questions[0];
  const name = question?.name.toLowerCase() ?? "";
  if (name === "outside.test" && question?.type === TYPE.A) return buildResponse(query, RCODE.NOERROR, [{ type: TYPE.A, rdata: Buffer.from([203, 0, 113, 7]) }]);
  if (name === "refused.test") return buildResponse(query, RCODE.REFUSED, []);
  if (name === "big.test") {
    if (transport === "udp") return buildResponse(query, RCODE.NOERROR, [], 0x0200);
    return buildResponse(
      query,
      RCODE.NOERROR,
      Array.from({ length: 40 }, (_, i) => ({ type: TYPE.A, rdata: Buffer.from([198, 51, 100, i + 1]) })),
    );
  }
  return buildResponse(query, RCODE.NXDOMAIN, []);
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim embedded DNS"), () => {
  beforeAll(async () => {
    upstream = await startUpstream(upstreamAnswer);
    silent = await startUpstream(() => undefined, true);
  });

  afterAll(async () => {
    await upstream?.close();
    await silent?.close();
    for (const file of namespaces.splice(0)) removeNetns(file);
  });

  /** A running container (sleep) in a fresh netns, its shim serving the given dns.json. */
  async function withDnsContainer(config: (netns: string) => DnsJson, body: (bundle: Bundle, netns: string) => Promise<void>): Promise<void> {
    const netns = createNetns();
    await withBundle(fixture.roots(), dnsBundle(netns, ["/bin/sleep", "1000"]), async (bundle) => {
      writeDnsJson(bundle, config(netns));
      await startShimOk(bundle);
      try {
        await body(bundle, netns);
        expect(processAlive(bundle.shimPid)).toBe(true);
      } finally {
        await stopShim(bundle);
      }
    });
    removeNetns(netns);
    namespaces.splice(namespaces.indexOf(netns), 1);
  }

  it("answers A and AAAA from the tables: every replica in order, deduplicated across tables, any case, TTL 600, RA not AA", async () => {
    const front = tablePath(`front-${randomBytes(4).toString("hex")}`);
    const back = tablePath(`back-${randomBytes(4).toString("hex")}`);
    writeAtomic(front, "# service names of network front\nweb 10.0.0.2\nweb 10.0.0.3\n\ndb 10.0.0.4   # a comment\nweb 10.0.0.2\nweb fd00::2\nweb fd00::3\n");
    writeAtomic(back, "web 10.0.0.5\nweb 10.0.0.3\nWeb.Upper. 10.0.0.9\nbroken line-without-address-is-skipped\nweb not-an-address\n");
    await withDnsContainer(
      () => ({ tables: [front, back, tablePath("missing-network")], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const results = await exchangeIn(netns, [
          { transport: "udp", send: [buildQuery("web", TYPE.A, { id: 0x1234 }).toString("hex")] },
          { transport: "udp", send: [buildQuery("WeB.", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("web", TYPE.AAAA).toString("hex")] },
          { transport: "udp", send: [buildQuery("web.upper", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("web", TYPE.A, { edns: 1232 }).toString("hex")] },
        ]);
        const [plain, mixed, v6, upper, edns] = results.map((result) => parseMessage(Buffer.from(result.responses[0] ?? "", "hex")));
        expect(plain).toMatchObject({ id: 0x1234, qr: true, aa: false, ra: true, rd: true, tc: false, rcode: RCODE.NOERROR });
        expect(addresses(plain)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.5"]);
        expect(plain?.answers.every((record) => record.ttl === 600 && record.class === 1 && record.name === "web")).toBe(true);
        // The answer repeats the question's own spelling.
        expect(mixed?.questions[0]?.name).toBe("WeB");
        expect(mixed?.answers.map((record) => record.name)).toEqual(["WeB", "WeB", "WeB"]);
        expect(addresses(mixed)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.5"]);
        expect(addresses(v6, TYPE.AAAA)).toEqual(["fd00::2", "fd00::3"]);
        expect(addresses(upper)).toEqual(["10.0.0.9"]);
        // An EDNS query gets an OPT record back.
        expect(addresses(edns)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.5"]);
        expect(edns?.additional.map((record) => record.type)).toEqual([TYPE.OPT]);
        // busybox nslookup in the container, as a program there would ask.
        const lookup = await execIn(bundle, ["nslookup", "web", "127.0.0.11"]);
        expect(lookup.status).toBe(0);
        for (const address of ["10.0.0.2", "10.0.0.3", "10.0.0.5", "fd00::2", "fd00::3"]) expect(lookup.stdout).toContain(address);
        expect(upstream.seen.some((entry) => parseMessage(entry.query).questions[0]?.name === "web")).toBe(false);
      },
    );
  });

  it("says NODATA for a known name without that family, and forwards unknown names (NXDOMAIN from the upstream)", async () => {
    const table = tablePath(`n-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "db 10.0.0.4\nv6only fd00::4\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const [nodata, nodata6, nxdomain, mx] = (await exchangeIn(netns, [
          { transport: "udp", send: [buildQuery("db", TYPE.AAAA).toString("hex")] },
          { transport: "udp", send: [buildQuery("v6only", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("nothere", TYPE.A, { id: 77 }).toString("hex")] },
          { transport: "udp", send: [buildQuery("db", TYPE.MX).toString("hex")] },
        ])).map((result) => parseMessage(Buffer.from(result.responses[0] ?? "", "hex")));
        expect(nodata).toMatchObject({ rcode: RCODE.NOERROR, answers: [], aa: false, ra: true });
        expect(nodata6).toMatchObject({ rcode: RCODE.NOERROR, answers: [] });
        expect(nxdomain).toMatchObject({ id: 77, rcode: RCODE.NXDOMAIN });
        // Other types of a known name go upstream too (as in Docker).
        expect(mx?.rcode).toBe(RCODE.NXDOMAIN);
        expect(upstream.seen.some((entry) => parseMessage(entry.query).questions[0]?.name === "nothere")).toBe(true);
        const missing = await execIn(bundle, ["nslookup", "nothere", "127.0.0.11"]);
        expect(`${missing.stdout}${missing.stderr}`).toMatch(/NXDOMAIN/);
        const v4only = await execIn(bundle, ["nslookup", "-type=a", "db", "127.0.0.11"]);
        expect(v4only.stdout).toContain("10.0.0.4");
      },
    );
  });

  it("answers PTR queries for table addresses with the first name listed", async () => {
    const table = tablePath(`p-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\nweb-1 10.0.0.2\napi fd00::a:2\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const v6 = "2.0.0.0.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        const [ptr4, ptr6, unknown] = (await exchangeIn(netns, [
          { transport: "udp", send: [buildQuery("2.0.0.10.in-addr.arpa", TYPE.PTR).toString("hex")] },
          { transport: "udp", send: [buildQuery(v6.toUpperCase(), TYPE.PTR).toString("hex")] },
          { transport: "udp", send: [buildQuery("9.9.9.10.in-addr.arpa", TYPE.PTR).toString("hex")] },
        ])).map((result) => parseMessage(Buffer.from(result.responses[0] ?? "", "hex")));
        expect(ptr4).toMatchObject({ rcode: RCODE.NOERROR });
        expect(addresses(ptr4, TYPE.PTR)).toEqual(["web"]);
        expect(ptr4?.answers[0]?.ttl).toBe(600);
        expect(addresses(ptr6, TYPE.PTR)).toEqual(["api"]);
        expect(unknown?.rcode).toBe(RCODE.NXDOMAIN); // forwarded
        const lookup = await execIn(bundle, ["nslookup", "10.0.0.2", "127.0.0.11"]);
        expect(lookup.stdout).toMatch(/name = web\b/);
      },
    );
  });

  it("picks up table and dns.json changes without a restart; a missing table is empty", async () => {
    const table = tablePath(`c-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
        writeAtomic(table, "web 10.0.0.7\nweb 10.0.0.8\nnew 10.0.0.9\n");
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.7", "10.0.0.8"]);
        expect(addresses((await askUdp(netns, buildQuery("new", TYPE.A))).message)).toEqual(["10.0.0.9"]);
        // Same size, same second: the inode changes with the rename.
        writeAtomic(table, "web 10.0.0.6\nweb 10.0.0.8\nnew 10.0.0.9\n");
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.6", "10.0.0.8"]);
        unlinkSync(table);
        expect((await askUdp(netns, buildQuery("web", TYPE.A))).message?.rcode).toBe(RCODE.NXDOMAIN);
        writeAtomic(table, "web 10.0.0.2\n");
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
        // dns.json itself: a second table and a search domain appear.
        const other = tablePath(`c2-${randomBytes(4).toString("hex")}`);
        writeAtomic(other, "cache 10.1.0.3\n");
        writeDnsJson(bundle, { tables: [table, other], upstreams: [`127.0.0.1:${upstream.port}`], search: ["corp.example"] });
        expect(addresses((await askUdp(netns, buildQuery("cache.corp.example", TYPE.A))).message)).toEqual(["10.1.0.3"]);
        // A broken dns.json keeps the previous settings and says why in dns.log.
        writeAtomic(dnsJsonPath(bundle), "{ not json");
        expect(addresses((await askUdp(netns, buildQuery("cache", TYPE.A))).message)).toEqual(["10.1.0.3"]);
        expect(readFileSync(path.join(bundle.runDir, "dns.log"), "utf8")).toMatch(/dns\.json: .*keeping the previous settings/);
      },
    );
  });

  it("answers <name>.<search domain> like <name>, and forwards other domains", async () => {
    const table = tablePath(`s-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\nweb.example.com 10.0.0.99\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`], search: ["example.org", "Example.NET."] }),
      async (_bundle, netns) => {
        const [org, net, asIs, other] = (await exchangeIn(netns, [
          { transport: "udp", send: [buildQuery("web.example.org", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("WEB.example.net", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("web.example.com", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("web.example.edu", TYPE.A).toString("hex")] },
        ])).map((result) => parseMessage(Buffer.from(result.responses[0] ?? "", "hex")));
        expect(addresses(org)).toEqual(["10.0.0.2"]);
        expect(org?.answers[0]?.name).toBe("web.example.org");
        expect(addresses(net)).toEqual(["10.0.0.2"]);
        expect(addresses(asIs)).toEqual(["10.0.0.99"]);
        expect(other?.rcode).toBe(RCODE.NXDOMAIN);
      },
    );
  });

  it("forwards to the upstreams in order from the host's namespace, relaying the answer unchanged", async () => {
    // A closed port first: refused at once, then the next upstream.
    const closed = await startUpstream(() => undefined, true);
    const closedPort = closed.port;
    await closed.close();
    await withDnsContainer(
      () => ({ tables: [], upstreams: [`127.0.0.1:${closedPort}`, `127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const query = buildQuery("Outside.Test", TYPE.A, { id: 4242 });
        const asked = await askUdp(netns, query);
        expect(asked.message).toMatchObject({ id: 4242, rcode: RCODE.NOERROR });
        expect(addresses(asked.message)).toEqual(["203.0.113.7"]);
        expect(asked.elapsedMs).toBeLessThan(1500);
        // Byte for byte what the upstream sent, but for the id.
        const sent = [...upstream.seen].reverse().find((entry) => parseMessage(entry.query).questions[0]?.name === "Outside.Test");
        expect(sent?.answer).toBeDefined();
        const relayed = Buffer.from(asked.raw ?? Buffer.alloc(0));
        relayed.writeUInt16BE(sent?.answer?.readUInt16BE(0) ?? 0, 0);
        expect(relayed.equals(sent?.answer ?? Buffer.alloc(0))).toBe(true);
        // The query went out unchanged too, but for its id.
        expect(sent?.query.subarray(2).equals(query.subarray(2))).toBe(true);
        // REFUSED from the only upstream left is relayed as is.
        expect((await askUdp(netns, buildQuery("refused.test", TYPE.A))).message?.rcode).toBe(RCODE.REFUSED);
        const lookup = await execIn(bundle, ["nslookup", "-type=a", "outside.test", "127.0.0.11"]);
        expect(lookup.stdout).toContain("203.0.113.7");
      },
    );
  });

  it("answers SERVFAIL when the upstreams stay silent (2 s each) or there are none", async () => {
    await withDnsContainer(
      () => ({ tables: [], upstreams: [`127.0.0.1:${silent.port}`] }),
      async (bundle, netns) => {
        const slow = await askUdp(netns, buildQuery("outside.test", TYPE.A, { id: 9 }), 6000);
        expect(slow.message).toMatchObject({ id: 9, rcode: RCODE.SERVFAIL, qr: true });
        expect(slow.elapsedMs).toBeGreaterThanOrEqual(1800);
        expect(slow.elapsedMs).toBeLessThan(4000);
        expect(silent.seen.length).toBeGreaterThan(0);
        // SERVFAIL after the silent one, an answer from the next.
        writeDnsJson(bundle, { tables: [], upstreams: [`127.0.0.1:${silent.port}`, `127.0.0.1:${upstream.port}`] });
        const fallback = await askUdp(netns, buildQuery("outside.test", TYPE.A), 6000);
        expect(addresses(fallback.message)).toEqual(["203.0.113.7"]);
        expect(fallback.elapsedMs).toBeGreaterThanOrEqual(1800);
        writeDnsJson(bundle, { tables: [], upstreams: [] });
        const none = await askUdp(netns, buildQuery("outside.test", TYPE.A));
        expect(none.message?.rcode).toBe(RCODE.SERVFAIL);
        expect(none.elapsedMs).toBeLessThan(1000);
      },
    );
  });

  it("serves TCP: framed queries, several per connection, forwarded over TCP when the UDP answer is truncated", async () => {
    const table = tablePath(`t-${randomBytes(4).toString("hex")}`);
    const many = Array.from({ length: 60 }, (_, i) => `many 10.2.0.${i + 1}`).join("\n");
    writeAtomic(table, `web 10.0.0.2\n${many}\n`);
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const [pipelined, big, manyTcp, manyUdp, manyEdns, bigUdp, slowWriter] = await exchangeIn(netns, [
          {
            transport: "tcp",
            send: [Buffer.concat([frame(buildQuery("web", TYPE.A, { id: 1 })), frame(buildQuery("outside.test", TYPE.A, { id: 2 })), frame(buildQuery("web", TYPE.AAAA, { id: 3 }))]).toString("hex")],
            expect: 3,
          },
          { transport: "tcp", send: [frame(buildQuery("big.test", TYPE.A, { id: 5 })).toString("hex")] },
          { transport: "tcp", send: [frame(buildQuery("many", TYPE.A)).toString("hex")] },
          { transport: "udp", send: [buildQuery("many", TYPE.A).toString("hex")] },
          { transport: "udp", send: [buildQuery("many", TYPE.A, { edns: 4096 }).toString("hex")] },
          { transport: "udp", send: [buildQuery("big.test", TYPE.A).toString("hex")] },
          // The length and the message in separate writes is fine too.
          { transport: "tcp", send: [frame(buildQuery("web", TYPE.A)).subarray(0, 1).toString("hex"), frame(buildQuery("web", TYPE.A)).subarray(1).toString("hex")], expect: 1 },
        ]);
        const answers = (pipelined?.responses ?? []).map((hex) => parseMessage(Buffer.from(hex, "hex")));
        expect(answers.map((message) => message.id)).toEqual([1, 2, 3]);
        expect(addresses(answers[0])).toEqual(["10.0.0.2"]);
        expect(addresses(answers[1])).toEqual(["203.0.113.7"]);
        expect(answers[2]).toMatchObject({ rcode: RCODE.NOERROR, answers: [] });
        const bigAnswer = parseMessage(Buffer.from(big?.responses[0] ?? "", "hex"));
        expect(bigAnswer).toMatchObject({ id: 5, tc: false, rcode: RCODE.NOERROR });
        expect(addresses(bigAnswer)).toHaveLength(40);
        expect(upstream.seen.some((entry) => entry.transport === "tcp" && parseMessage(entry.query).questions[0]?.name === "big.test")).toBe(true);
        // Our own answers: all 60 over TCP; over UDP as many as fit in 512 bytes (or the EDNS size), with TC.
        expect(addresses(parseMessage(Buffer.from(manyTcp?.responses[0] ?? "", "hex")))).toHaveLength(60);
        const udpRaw = Buffer.from(manyUdp?.responses[0] ?? "", "hex");
        const udpAnswer = parseMessage(udpRaw);
        expect(udpRaw.length).toBeLessThanOrEqual(512);
        expect(udpAnswer.tc).toBe(true);
        expect(addresses(udpAnswer).length).toBeGreaterThan(20);
        expect(addresses(udpAnswer)).toEqual(addresses(parseMessage(Buffer.from(manyTcp?.responses[0] ?? "", "hex"))).slice(0, addresses(udpAnswer).length));
        const ednsAnswer = parseMessage(Buffer.from(manyEdns?.responses[0] ?? "", "hex"));
        expect(ednsAnswer.tc).toBe(false);
        expect(addresses(ednsAnswer)).toHaveLength(60);
        // A truncated upstream answer over UDP is relayed as is: the client comes back over TCP.
        expect(parseMessage(Buffer.from(bigUdp?.responses[0] ?? "", "hex")).tc).toBe(true);
        expect(addresses(parseMessage(Buffer.from(slowWriter?.responses[0] ?? "", "hex")))).toEqual(["10.0.0.2"]);
        // busybox nslookup itself over UDP still resolves through it.
        expect((await execIn(bundle, ["nslookup", "-type=a", "web", "127.0.0.11"])).stdout).toContain("10.0.0.2");
      },
    );
  });

  it("survives malformed and hostile packets: FORMERR or silence, never a crash", async () => {
    const table = tablePath(`m-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] }),
      async (bundle, netns) => {
        const header = (qdcount: number, flags = 0x0100): Buffer => {
          const h = Buffer.alloc(12);
          h.writeUInt16BE(0xabcd, 0);
          h.writeUInt16BE(flags, 2);
          h.writeUInt16BE(qdcount, 4);
          return h;
        };
        const web = buildQuery("web", TYPE.A);
        const cases: { name: string; packet: Buffer; rcode: number | null }[] = [
          { name: "empty", packet: Buffer.alloc(0), rcode: null },
          { name: "short header", packet: Buffer.from([1, 2, 3, 4, 5]), rcode: null },
          { name: "a response", packet: buildResponse(web, 0, []), rcode: null },
          { name: "no question", packet: header(0), rcode: RCODE.FORMERR },
          { name: "two questions", packet: Buffer.concat([header(2), web.subarray(12), web.subarray(12)]), rcode: RCODE.FORMERR },
          { name: "question cut short", packet: Buffer.concat([header(1), Buffer.from([3, 0x77, 0x65])]), rcode: RCODE.FORMERR },
          { name: "no type", packet: Buffer.concat([header(1), Buffer.from([3, 0x77, 0x65, 0x62, 0])]), rcode: RCODE.FORMERR },
          { name: "pointer loop", packet: Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), rcode: RCODE.FORMERR },
          { name: "label past the end", packet: Buffer.concat([header(1), Buffer.from([63, 0x61, 0, 1])]), rcode: RCODE.FORMERR },
          { name: "name over 255 bytes", packet: Buffer.concat([header(1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]), rcode: RCODE.FORMERR },
          { name: "over 512 bytes", packet: Buffer.concat([web, Buffer.alloc(600)]), rcode: RCODE.FORMERR },
          { name: "additional record past the end", packet: (() => { const p = Buffer.from(web); p.writeUInt16BE(3, 10); return p; })(), rcode: RCODE.FORMERR },
          { name: "two OPT records", packet: (() => { const p = buildQuery("web", TYPE.A, { edns: 1232 }); p.writeUInt16BE(2, 10); return Buffer.concat([p, p.subarray(p.length - 11)]); })(), rcode: RCODE.FORMERR },
          { name: "an update (opcode 5)", packet: header(1, 5 << 11), rcode: RCODE.NOTIMP },
        ];
        const results = await exchangeIn(
          netns,
          cases.map((entry) => ({ transport: "udp" as const, send: [entry.packet.toString("hex")], timeoutMs: entry.rcode === null ? 300 : 2000, expect: entry.rcode === null ? 0 : 1 })),
        );
        cases.forEach((entry, index) => {
          const response = results[index]?.responses[0];
          if (entry.rcode === null) {
            expect(response, entry.name).toBeUndefined();
          } else {
            expect(response, entry.name).toBeDefined();
            const message = parseMessage(Buffer.from(response ?? "", "hex"));
            expect(message.rcode, entry.name).toBe(entry.rcode);
            expect(message.id, entry.name).toBe(entry.packet.readUInt16BE(0));
            expect(message.qr, entry.name).toBe(true);
          }
        });
        // Random garbage, then a flood of random questions.
        const garbage = Array.from({ length: 300 }, (_, i) => {
          const packet = randomBytes(1 + (i % 80));
          if (i % 3 === 0 && packet.length >= 4) packet[2] = (packet[2] ?? 0) & 0x7f; // a query, not a response
          return packet.toString("hex");
        });
        await exchangeIn(netns, [{ transport: "udp", send: garbage, expect: 0, timeoutMs: 500 }]);
        // TCP: a zero length, a huge length then silence, half a message then a close.
        await exchangeIn(netns, [
          { transport: "tcp", send: ["0000"], expect: 0, timeoutMs: 1000 },
          { transport: "tcp", send: ["ffff0102"], expect: 0, timeoutMs: 1000 },
          { transport: "tcp", send: [frame(web).subarray(0, 8).toString("hex")], expect: 0, timeoutMs: 300 },
          { transport: "tcp", send: [Buffer.concat([frame(Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]))]).toString("hex")], expect: 1, timeoutMs: 2000 },
        ]);
        expect(processAlive(bundle.shimPid)).toBe(true);
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
        expect(readStatus(bundle)?.status).toBe("running");
      },
    );
  });

  it("closes idle TCP connections after 5 s and refuses connections beyond 16", async () => {
    await withDnsContainer(
      () => ({ tables: [], upstreams: [] }),
      async (_bundle, netns) => {
        // 20 connections at once from one client process; the shim keeps 16 and closes the rest at once.
        const script = String.raw`
          const net = require("node:net");
          const began = Date.now();
          const closedAt = [];
          let open = 0;
          for (let i = 0; i < 20; i++) {
            const socket = net.connect(53, "127.0.0.11");
            socket.on("connect", () => open++);
            socket.on("close", () => { closedAt.push(Date.now() - began); if (closedAt.length === 20) { process.stdout.write(JSON.stringify(closedAt.sort((a, b) => a - b))); process.exit(0); } });
            socket.on("error", () => undefined);
          }
          setTimeout(() => { process.stdout.write("timeout"); process.exit(1); }, 9000);`;
        const result = await runAsync("nsenter", [`--net=${netns}`, process.execPath, "-e", script], 20_000);
        const closedAt = JSON.parse(result.stdout) as number[];
        expect(closedAt).toHaveLength(20);
        expect(closedAt.filter((ms) => ms < 2000)).toHaveLength(4);
        expect(closedAt.filter((ms) => ms >= 4500 && ms < 8000)).toHaveLength(16);
      },
    );
  });

  it("lets a container process bind UDP 0.0.0.0:53 with SO_REUSEADDR next to it; TCP 0.0.0.0:53 stays taken", async () => {
    const table = tablePath(`u-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\n");
    await withDnsContainer(
      () => ({ tables: [table], upstreams: [] }),
      async (_bundle, netns) => {
        // What a resolver in the container would do: bind the wildcard, then see who gets what.
        const script = String.raw`
          const dgram = require("node:dgram");
          const net = require("node:net");
          const query = Buffer.from(process.argv[1], "hex");
          const report = {};
          const bind = (options) => new Promise((resolve) => {
            const socket = dgram.createSocket(options);
            socket.on("error", (error) => resolve({ socket: undefined, error: error.code }));
            socket.bind(53, "0.0.0.0", () => resolve({ socket, error: null }));
          });
          const ask = (address) => new Promise((resolve) => {
            const client = dgram.createSocket("udp4");
            const timer = setTimeout(() => { client.close(); resolve(null); }, 1000);
            client.on("message", (message) => { clearTimeout(timer); client.close(); resolve(message.length); });
            client.send(query, 53, address);
          });
          (async () => {
            const plain = await bind({ type: "udp4" });
            report.udpWithoutReuse = plain.error;
            if (plain.socket) plain.socket.close();
            const reuse = await bind({ type: "udp4", reuseAddr: true });
            report.udpWithReuse = reuse.error;
            let containerGot = [];
            if (reuse.socket) reuse.socket.on("message", (message, remote) => { containerGot.push(remote.port); reuse.socket.send(Buffer.from("x"), remote.port, remote.address); });
            report.answerFrom127_0_0_11 = await ask("127.0.0.11");
            report.answerFrom127_0_0_1 = await ask("127.0.0.1");
            report.containerSocketGot = containerGot.length;
            if (reuse.socket) reuse.socket.close();
            const server = net.createServer();
            report.tcpWildcard = await new Promise((resolve) => { server.once("error", (error) => resolve(error.code)); server.listen(53, "0.0.0.0", () => { server.close(); resolve(null); }); });
            const other = net.createServer();
            report.tcpOtherAddress = await new Promise((resolve) => { other.once("error", (error) => resolve(error.code)); other.listen(53, "127.0.0.1", () => { other.close(); resolve(null); }); });
            process.stdout.write(JSON.stringify(report));
          })();`;
        const result = await runAsync("nsenter", [`--net=${netns}`, process.execPath, "-e", script, buildQuery("web", TYPE.A).toString("hex")], 20_000);
        const report = JSON.parse(result.stdout) as Record<string, unknown>;
        expect(report).toEqual({
          udpWithoutReuse: "EADDRINUSE",
          udpWithReuse: null,
          answerFrom127_0_0_11: expect.any(Number) as unknown, // the shim, the more specific bind, still answers
          answerFrom127_0_0_1: 1, // the container's own socket gets everything else
          containerSocketGot: 1,
          tcpWildcard: "EADDRINUSE",
          tcpOtherAddress: null,
        });
        expect(report["answerFrom127_0_0_11"]).toBeGreaterThan(12);
      },
    );
  });

  it("moves on to the next upstream after REFUSED or SERVFAIL", async () => {
    const friendly = await startUpstream((query) => buildResponse(query, RCODE.NOERROR, [{ type: TYPE.A, rdata: Buffer.from([192, 0, 2, 44]) }]), true);
    const failing = await startUpstream((query) => buildResponse(query, RCODE.SERVFAIL, []), true);
    try {
      await withDnsContainer(
        () => ({ tables: [], upstreams: [`127.0.0.1:${failing.port}`, `127.0.0.1:${upstream.port}`, `127.0.0.1:${friendly.port}`] }),
        async (_bundle, netns) => {
          const asked = await askUdp(netns, buildQuery("refused.test", TYPE.A));
          expect(addresses(asked.message)).toEqual(["192.0.2.44"]);
          expect(asked.elapsedMs).toBeLessThan(1500);
          expect(failing.seen).toHaveLength(1);
          // NXDOMAIN is an answer: relayed, no further upstream asked.
          const before = friendly.seen.length;
          expect((await askUdp(netns, buildQuery("nothere.test", TYPE.A))).message?.rcode).toBe(RCODE.NXDOMAIN);
          expect(friendly.seen.length).toBe(before);
        },
      );
    } finally {
      await friendly.close();
      await failing.close();
    }
  });

  it("with two serving shims in one namespace, the second cannot take TCP and says so", async () => {
    const netns = createNetns();
    const first = tablePath(`f-${randomBytes(4).toString("hex")}`);
    const second = tablePath(`s-${randomBytes(4).toString("hex")}`);
    writeAtomic(first, "web 10.0.0.2\n");
    writeAtomic(second, "web 10.0.0.3\n");
    await withBundle(fixture.roots(), dnsBundle(netns, ["/bin/sleep", "1000"]), async (a) => {
      writeDnsJson(a, { tables: [first], upstreams: [] });
      await startShimOk(a);
      try {
        await withBundle(fixture.roots(), dnsBundle(netns, ["/bin/sleep", "1000"]), async (b) => {
          writeDnsJson(b, { tables: [second], upstreams: [] });
          await startShimOk(b);
          try {
            expect(readFileSync(path.join(b.runDir, "dns.log"), "utf8")).toMatch(/ tcp 127\.0\.0\.11 port 53: Address already in use\n$/);
            const [udp, tcp] = await exchangeIn(netns, [
              { transport: "udp", send: [buildQuery("web", TYPE.A).toString("hex")] },
              { transport: "tcp", send: [frame(buildQuery("web", TYPE.A)).toString("hex")] },
            ]);
            // UDP goes to the socket bound last; TCP to the only listener.
            expect(addresses(parseMessage(Buffer.from(udp?.responses[0] ?? "", "hex")))).toEqual(["10.0.0.3"]);
            expect(addresses(parseMessage(Buffer.from(tcp?.responses[0] ?? "", "hex")))).toEqual(["10.0.0.2"]);
          } finally {
            await stopShim(b);
          }
        });
        // The first one serves UDP again once the second is gone.
        expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
      } finally {
        await stopShim(a);
      }
    });
    removeNetns(netns);
    namespaces.splice(namespaces.indexOf(netns), 1);
  });

  it("keeps its sockets across container restarts (restart policy always)", async () => {
    const netns = createNetns();
    const table = tablePath(`r-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, "web 10.0.0.2\n");
    await withBundle(
      fixture.roots(),
      dnsBundle(netns, ["/bin/sh", "-c", "sleep 0.2; exit 3"], (shim) => (shim.restart = { policy: "always", maxRetries: 0 })),
      async (bundle) => {
        writeDnsJson(bundle, { tables: [table], upstreams: [`127.0.0.1:${upstream.port}`] });
        const started = await startShimOk(bundle);
        try {
          const shimPid = started.shimPid ?? 0;
          const before = socketInodes(shimPid);
          expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
          await eventually(() => (readStatus(bundle)?.restartCount ?? 0) >= 3, 15_000, "three restarts");
          // Queries answered whether the container is running or in its back-off.
          for (let i = 0; i < 5; i++) {
            expect(addresses((await askUdp(netns, buildQuery("web", TYPE.A))).message)).toEqual(["10.0.0.2"]);
            const [viaTcp] = await exchangeIn(netns, [{ transport: "tcp", send: [frame(buildQuery("web", TYPE.A)).toString("hex")] }]);
            expect(addresses(parseMessage(Buffer.from(viaTcp?.responses[0] ?? "", "hex")))).toEqual(["10.0.0.2"]);
            await sleep(50);
          }
          // The two listening sockets are the ones made at start.
          const after = socketInodes(shimPid);
          const listening = before.filter((inode) => after.includes(inode));
          expect(listening.length).toBeGreaterThanOrEqual(2);
        } finally {
          await stopShim(bundle);
        }
        // The shim is gone: nothing listens any more.
        const [gone] = await exchangeIn(netns, [{ transport: "udp", send: [buildQuery("web", TYPE.A).toString("hex")], timeoutMs: 500 }]);
        expect(gone?.responses).toEqual([]);
      },
    );
    removeNetns(netns);
    namespaces.splice(namespaces.indexOf(netns), 1);
  });

  it("serves nothing, and says why in dns.log, without a network namespace path; the container still runs", async () => {
    await withBundle(fixture.roots(), dnsBundle(undefined, ["/bin/sleep", "1000"]), async (bundle) => {
      writeDnsJson(bundle, { tables: [], upstreams: [] });
      await startShimOk(bundle);
      try {
        expect(readStatus(bundle)?.status).toBe("running");
        const log = readFileSync(path.join(bundle.runDir, "dns.log"), "utf8");
        expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+Z config\.json has no network namespace path: not serving DNS\n$/);
      } finally {
        await stopShim(bundle);
      }
    });
  });

  it("refuses a dns member that is not an object with an absolute config path", async () => {
    for (const dns of [{ config: "relative/dns.json" }, "dns.json"]) {
      await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), args: ["/bin/true"], shim: (shim) => ((shim as unknown as { dns: unknown }).dns = dns) }, async (bundle) => {
        const result = await startShim(bundle);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.message).toMatch(/shim\.json: dns/);
      });
    }
  });

  it("stays small: memory of a shim serving DNS next to one that does not", { timeout: 60_000 }, async () => {
    const netns = createNetns();
    const table = tablePath(`mem-${randomBytes(4).toString("hex")}`);
    writeAtomic(table, Array.from({ length: 50 }, (_, i) => `service-${i} 10.3.0.${i + 1}\nservice-${i} fd00::3:${i + 1}`).join("\n"));
    const plainOptions: BundleOptions = { rootfs: fixture.rootfs(), args: ["/bin/sleep", "1000"], shim: (shim) => (shim.init = true) };
    await withBundle(fixture.roots(), plainOptions, async (plain) => {
      await withBundle(fixture.roots(), dnsBundle(netns, ["/bin/sleep", "1000"]), async (served) => {
        writeDnsJson(served, { tables: [table], upstreams: [`127.0.0.1:${upstream.port}`], search: ["example.com"] });
        await startShimOk(plain);
        await startShimOk(served);
        try {
          await sleep(300);
          const idle = { plain: smapsRollup(plain.shimPid ?? 0), dns: smapsRollup(served.shimPid ?? 0) };
          // Some work: local answers over UDP and TCP, a forward, a PTR.
          await exchangeIn(netns, [
            { transport: "udp", send: Array.from({ length: 50 }, (_, i) => buildQuery(`service-${i}`, i % 2 ? TYPE.A : TYPE.AAAA).toString("hex")) },
            { transport: "tcp", send: [Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(buildQuery(`service-${i}.example.com`, TYPE.A)))).toString("hex")], expect: 10 },
            { transport: "udp", send: [buildQuery("outside.test", TYPE.A).toString("hex"), buildQuery("1.0.3.10.in-addr.arpa", TYPE.PTR).toString("hex")] },
          ]);
          await sleep(300);
          const busy = { plain: smapsRollup(plain.shimPid ?? 0), dns: smapsRollup(served.shimPid ?? 0) };
          // Idle for DNS_IDLE_TRIM_MS (10 s): the shim gives back what serving faulted in.
          await sleep(10_800);
          const trimmed = { plain: smapsRollup(plain.shimPid ?? 0), dns: smapsRollup(served.shimPid ?? 0) };
          const report = {
            idle,
            afterQueries: busy,
            afterIdleTrim: trimmed,
            extraAfterQueries: { rssKb: busy.dns.rssKb - busy.plain.rssKb, pssKb: busy.dns.pssKb - busy.plain.pssKb, pssAnonKb: busy.dns.pssAnonKb - busy.plain.pssAnonKb },
            extraAfterIdleTrim: { rssKb: trimmed.dns.rssKb - trimmed.plain.rssKb, pssKb: trimmed.dns.pssKb - trimmed.plain.pssKb, pssAnonKb: trimmed.dns.pssAnonKb - trimmed.plain.pssAnonKb },
          };
          console.log(`berth-shim memory with the embedded DNS server (100-entry table): ${JSON.stringify(report)}`);
          // PSS is the cost per container: the extra RSS while serving is mostly shared libc text
          // (the kernel maps up to 16 pages around each fault), given back once idle. The RSS
          // difference to the other shim is printed, not asserted: it swings with that shim's
          // own history by ±100 KB.
          expect(report.extraAfterQueries.pssKb).toBeLessThan(100);
          expect(report.extraAfterIdleTrim.pssKb).toBeLessThan(64);
          expect(report.extraAfterIdleTrim.pssAnonKb).toBeLessThan(64);
          expect(busy.dns.rssKb).toBeLessThan(1536);
          expect(trimmed.dns.rssKb).toBeLessThan(1024);
          // And it still answers after the trim.
          expect(addresses((await askUdp(netns, buildQuery("service-7", TYPE.A))).message)).toEqual(["10.3.0.8"]);
        } finally {
          await stopShim(served);
          await stopShim(plain);
        }
      });
    });
    removeNetns(netns);
    namespaces.splice(namespaces.indexOf(netns), 1);
  });
});
