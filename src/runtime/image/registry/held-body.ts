// A plain-HTTP GET whose body is left unread on its connection, for berth-unpack to read
// itself. On a registry reached without TLS (a local mirror, a CI registry) a layer's bytes
// then go from the kernel straight into the program that keeps, hashes and unpacks them: Node
// only writes the request and reads the response head. Over HTTPS, Node has to decrypt, so
// those bodies keep going through node:http (transport.ts).

import net from "node:net";
import { networkError } from "./transport.js";

/** A response head larger than this is not a registry's. */
const maxHeadBytes = 64 * 1024;

export interface HeldBody {
  readonly status: number;
  /** Header names lowercased; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** Body bytes that arrived with the head. */
  readonly bodyStart: Buffer;
  /** The connection, at the byte after bodyStart. Node no longer reads it; destroy it when done. */
  readonly socket: net.Socket;
}

export interface HeldBodyRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Names the registry in errors. */
  readonly registry: string;
  readonly idleTimeoutMs: number;
}

/** Status and headers of a response head (the text before the blank line). */
export function parseResponseHead(text: string): { status: number; headers: Map<string, string> } | undefined {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (status === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const earlier = headers.get(name);
    headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  }
  return { status: Number(status[1]), headers };
}

/** The request's bytes; undefined when a header would need characters HTTP/1.1 cannot carry. */
export function requestHead(url: URL, headers: Readonly<Record<string, string>>): string | undefined {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, "User-Agent: berth", "Accept-Encoding: identity", "Connection: close"];
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) return undefined;
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * Sends a GET over a new plain-HTTP connection and resolves once the response head has arrived,
 * with the connection paused right after it. Network failures reject with a RegistryError.
 */
export function getHoldingBody(request: HeldBodyRequest): Promise<HeldBody> {
  const head = requestHead(request.url, request.headers);
  const failure = (error: unknown) => networkError(error, { method: "GET", url: request.url, registry: request.registry });
  if (request.url.protocol !== "http:" || head === undefined) {
    return Promise.reject(failure(new Error("not a plain-HTTP request")));
  }
  return new Promise<HeldBody>((resolve, reject) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      socket.setTimeout(0);
      outcome();
    };
    const socket = net.connect({
      host: request.url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(request.url.port || 80),
      // With `onread`, returning false stops reading at once (readStop), so no body byte after
      // the ones handed over here is ever taken off the connection by Node.
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024),
        callback(count: number, buffer: Uint8Array): boolean {
          if (settled) return false;
          received = Buffer.concat([received, buffer.subarray(0, count)]);
          const end = received.indexOf("\r\n\r\n");
          if (end < 0) {
            if (received.length <= maxHeadBytes) return true;
            settle(() => reject(failure(Object.assign(new Error("response head too large"), { code: "EPROTO" }))));
            socket.destroy();
            return false;
          }
          const parsed = parseResponseHead(received.subarray(0, end).toString("latin1"));
          if (parsed === undefined) {
            settle(() => reject(failure(Object.assign(new Error("malformed response head"), { code: "EPROTO" }))));
            socket.destroy();
            return false;
          }
          settle(() => resolve({ ...parsed, bodyStart: Buffer.from(received.subarray(end + 4)), socket }));
          return false;
        },
      },
    });
    socket.setTimeout(request.idleTimeoutMs, () => {
      settle(() => reject(failure(Object.assign(new Error(`no answer for ${request.idleTimeoutMs} ms`), { code: "BERTH_IDLE_TIMEOUT" }))));
      socket.destroy();
    });
    socket.on("connect", () => socket.write(head));
    socket.on("error", (error) => settle(() => reject(failure(error))));
    socket.on("close", () => settle(() => reject(failure(Object.assign(new Error("connection closed before the response head"), { code: "ECONNRESET" })))));
  });
}
