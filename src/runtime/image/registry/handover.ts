// A plain-HTTP GET whose connection is handed over to berth-unpack before the request is even
// written: the program reads the response head itself (`--http`) and, when it is the whole
// blob, keeps, hashes and unpacks the body straight off the socket. On a registry reached
// without TLS (a local mirror, a CI registry) a layer's bytes then never pass through Node, and
// the program is started before any of them arrive. Over HTTPS, Node has to decrypt, so those
// bodies keep going through node:http (transport.ts).

import net from "node:net";
import { networkError } from "./transport.js";

export interface HandoverRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Names the registry in errors. */
  readonly registry: string;
  readonly idleTimeoutMs: number;
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

/** A connection whose GET is not written yet: give it to the program first, then send. */
export interface HandoverConnection {
  readonly socket: net.Socket;
  /** Writes the GET; rejects (and closes the connection) when that fails. */
  send(): Promise<void>;
}

/**
 * Opens a plain-HTTP connection for a GET. Node never reads from it: the socket is paused before
 * it connects, so the whole answer is left to whoever gets the connection. The request is
 * written by send(), so that the program that will read the answer can be started before any
 * of it arrives. Failures reject with a RegistryError.
 */
export function connectForHandover(request: HandoverRequest): Promise<HandoverConnection> {
  const head = requestHead(request.url, request.headers);
  const failure = (error: unknown) => networkError(error, { method: "GET", url: request.url, registry: request.registry });
  if (request.url.protocol !== "http:" || head === undefined) {
    return Promise.reject(failure(new Error("not a plain-HTTP request")));
  }
  return new Promise<HandoverConnection>((resolve, reject) => {
    const socket = net.connect({ host: request.url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(request.url.port || 80) });
    // Paused before it connects, the socket never starts reading (net's afterConnect skips a paused one).
    socket.pause();
    const fail = (error: unknown): void => {
      socket.destroy();
      reject(failure(error));
    };
    socket.setTimeout(request.idleTimeoutMs, () => fail(Object.assign(new Error(`no connection for ${request.idleTimeoutMs} ms`), { code: "BERTH_IDLE_TIMEOUT" })));
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.setTimeout(0);
      socket.removeListener("error", fail);
      // Later errors (the connection's end, once the program has it) are the program's to report.
      socket.on("error", () => undefined);
      const send = (): Promise<void> =>
        new Promise<void>((sent, notSent) =>
          socket.write(head, (error) => {
            if (!error) return sent();
            socket.destroy();
            notSent(failure(error));
          }),
        );
      resolve({ socket, send });
    });
  });
}
