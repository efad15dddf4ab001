// DNS wire format for the embedded-DNS tests (dns.test.ts): build queries, parse responses,
// a tiny upstream server on the host's loopback, and a client that runs inside a network
// namespace (nsenter + node). Not a test file itself (no `.test.ts`).

import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    if (label === "") continue;
    const bytes = Buffer.from(label, "latin1");
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  edns?: number; // UDP payload size of an OPT record
}

export function buildQuery(name: string, type: number, options: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(options.id ?? Math.floor(Math.random() * 65536), 0);
  header.writeUInt16BE(options.rd === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.edns ? 1 : 0, 10);
  const question = Buffer.concat([encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
  const opt = options.edns ? Buffer.from([0, 0, 41, options.edns >> 8, options.edns & 0xff, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, question, opt]);
}

export interface Record {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: string; // A/AAAA: address, PTR: name, other: hex
}

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: { name: string; type: number; class: number }[];
  answers: Record[];
  authority: Record[];
  additional: Record[];
}

function readName(packet: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = start;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const length = packet[at];
    if (length === undefined) throw new Error("name runs past the packet");
    if (length === 0) {
      if (end < 0) end = at + 1;
      return { name: labels.join("."), end };
    }
    if ((length & 0xc0) === 0xc0) {
      if (end < 0) end = at + 2;
      at = packet.readUInt16BE(at) & 0x3fff;
      continue;
    }
    labels.push(packet.subarray(at + 1, at + 1 + length).toString("latin1"));
    at += 1 + length;
  }
  throw new Error("name loop");
}

function formatAddress(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength && j - i > 1) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

export function parseMessage(packet: Buffer): Message {
  const flags = packet.readUInt16BE(2);
  const counts = [packet.readUInt16BE(4), packet.readUInt16BE(6), packet.readUInt16BE(8), packet.readUInt16BE(10)];
  let at = 12;
  const questions: Message["questions"] = [];
  for (let i = 0; i < (counts[0] ?? 0); i++) {
    const { name, end } = readName(packet, at);
    questions.push({ name, type: packet.readUInt16BE(end), class: packet.readUInt16BE(end + 2) });
    at = end + 4;
  }
  const sections: Record[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < (counts[s + 1] ?? 0); i++) {
      const { name, end } = readName(packet, at);
      const type = packet.readUInt16BE(end);
      const klass = packet.readUInt16BE(end + 2);
      const ttl = packet.readUInt32BE(end + 4);
      const length = packet.readUInt16BE(end + 8);
      const rdata = packet.subarray(end + 10, end + 10 + length);
      if (rdata.length !== length) throw new Error("record runs past the packet");
      const data = type === TYPE.A || type === TYPE.AAAA ? formatAddress(rdata) : type === TYPE.PTR ? readName(packet, end + 10).name : rdata.toString("hex");
      sections[s]?.push({ name, type, class: klass, ttl, data });
      at = end + 10 + length;
    }
  }
  return {
    id: packet.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: sections[0] ?? [],
    authority: sections[1] ?? [],
    additional: sections[2] ?? [],
  };
}

/** A response to `query` with the given rcode, flags and answer records (name = pointer to the question). */
export function buildResponse(query: Buffer, rcode: number, answers: { type: number; rdata: Buffer }[], extraFlags = 0): Buffer {
  const { end } = readName(query, 12);
  const questionEnd = end + 4;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | extraFlags | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map(({ type, rdata }) => {
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0);
    fixed.writeUInt16BE(type, 2);
    fixed.writeUInt16BE(1, 4);
    fixed.writeUInt32BE(300, 6);
    fixed.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([fixed, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

// ---- the test's upstream: loopback of the host's network namespace only ----

export type UpstreamHandler = (query: Buffer, transport: "udp" | "tcp") => Buffer | undefined;

export interface Upstream {
  readonly port: number;
  /** Every query received, with its transport. */
  readonly seen: { transport: "udp" | "tcp"; query: Buffer; answer: Buffer | undefined }[];
  close(): Promise<void>;
}

/** A DNS server on 127.0.0.1 (UDP, and TCP on the same port unless udpOnly). */
export async function startUpstream(handler: UpstreamHandler, udpOnly = false): Promise<Upstream> {
  for (let attempt = 0; ; attempt++) {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => resolve());
    });
    const port = socket.address().port;
    const seen: Upstream["seen"] = [];
    socket.on("message", (query, remote) => {
      const answer = handler(query, "udp");
      seen.push({ transport: "udp", query, answer });
      if (answer) socket.send(answer, remote.port, remote.address);
    });
    if (udpOnly) {
      return { port, seen, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
    }
    const server = net.createServer((connection) => {
      let buffered = Buffer.alloc(0);
      connection.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const query = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + query.length);
          const answer = handler(query, "tcp");
          seen.push({ transport: "tcp", query, answer });
          if (answer) {
            const length = Buffer.alloc(2);
            length.writeUInt16BE(answer.length);
            connection.write(Buffer.concat([length, answer]));
          }
        }
      });
      connection.on("error", () => undefined);
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!listening) {
      socket.close();
      if (attempt > 20) throw new Error("no port free for both UDP and TCP");
      continue;
    }
    return {
      port,
      seen,
      close: async () => {
        await new Promise<void>((resolve) => socket.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
}

// ---- a client inside a network namespace ----

export interface Exchange {
  /** Hex of one packet (udp) or of several length-framed messages sent on one connection (tcp). */
  readonly send: string[];
  readonly transport: "udp" | "tcp";
  /** How many responses to wait for (default: one per packet sent). */
  readonly expect?: number;
  readonly timeoutMs?: number;
  readonly address?: string;
  readonly port?: number;
}

export interface ExchangeResult {
  /** Hex of each response received, in order. */
  readonly responses: string[];
  readonly elapsedMs: number;
  /** TCP: whether the server closed the connection. */
  readonly closed: boolean;
}

// Runs under `nsenter --net=<ns> node -e`: argv[1] is the JSON list of exchanges.
const clientScript = String.raw`
const dgram = require("node:dgram");
const net = require("node:net");
const exchanges = JSON.parse(process.argv[1]);
function udp(x) {
  return new Promise((resolve) => {
    const family = x.address.includes(":") ? "udp6" : "udp4";
    const socket = dgram.createSocket(family);
    const responses = [];
    const began = Date.now();
    const want = x.expect ?? x.send.length;
    let done = false;
    const finish = () => { if (done) return; done = true; clearTimeout(timer); socket.close(); resolve({ responses, elapsedMs: Date.now() - began, closed: false }); };
    const timer = setTimeout(finish, x.timeoutMs ?? 4000);
    socket.on("message", (message) => { responses.push(message.toString("hex")); if (want > 0 && responses.length >= want) finish(); });
    socket.on("error", () => undefined);
    socket.bind(0, () => { for (const hex of x.send) socket.send(Buffer.from(hex, "hex"), x.port ?? 53, x.address); if (want === 0) { clearTimeout(timer); setTimeout(finish, x.timeoutMs ?? 200); } });
  });
}
function tcp(x) {
  return new Promise((resolve) => {
    const responses = [];
    const began = Date.now();
    let buffered = Buffer.alloc(0);
    let closed = false;
    let done = false;
    const want = x.expect ?? x.send.length;
    const finish = () => { if (done) return; done = true; clearTimeout(timer); socket.destroy(); resolve({ responses, elapsedMs: Date.now() - began, closed }); };
    const timer = setTimeout(finish, x.timeoutMs ?? 4000);
    const socket = net.connect(x.port ?? 53, x.address, () => { for (const hex of x.send) socket.write(Buffer.from(hex, "hex")); });
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        responses.push(buffered.subarray(2, 2 + buffered.readUInt16BE(0)).toString("hex"));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
      if (responses.length >= want && want > 0) finish();
    });
    socket.on("end", () => { closed = true; finish(); });
    socket.on("close", () => { closed = true; finish(); });
    socket.on("error", () => { closed = true; finish(); });
  });
}
(async () => {
  const results = [];
  for (const x of exchanges) results.push(x.transport === "udp" ? await udp(x) : await tcp(x));
  process.stdout.write(JSON.stringify(results));
})();
`;

/**
 * Run a command to its end without blocking the event loop (the test's upstream servers
 * answer from this same process, so a spawnSync would keep them silent).
 */
export function runAsync(command: string, args: readonly string[], timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Run exchanges, in order, from inside the network namespace at netnsPath. */
export async function exchangeIn(netnsPath: string, exchanges: readonly Exchange[]): Promise<ExchangeResult[]> {
  const filled = exchanges.map((exchange) => ({ address: "127.0.0.11", ...exchange }));
  const result = await runAsync("nsenter", [`--net=${netnsPath}`, process.execPath, "-e", clientScript, JSON.stringify(filled)]);
  if (result.status !== 0) throw new Error(`dns client failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as ExchangeResult[];
}

/** TCP framing of one message. */
export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** One UDP query from inside the namespace; the parsed answer, or undefined on silence. */
export async function askUdp(netnsPath: string, query: Buffer, timeoutMs = 4000): Promise<{ message: Message | undefined; elapsedMs: number; raw: Buffer | undefined }> {
  const [result] = await exchangeIn(netnsPath, [{ transport: "udp", send: [query.toString("hex")], timeoutMs }]);
  const hex = result?.responses[0];
  const raw = hex === undefined ? undefined : Buffer.from(hex, "hex");
  return { message: raw ? parseMessage(raw) : undefined, elapsedMs: result?.elapsedMs ?? 0, raw };
}
