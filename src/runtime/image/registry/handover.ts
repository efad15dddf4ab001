// A plain-HTTP GET whose connection is handed over to berth-unpack as soon as the request is
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

/**
 * Opens a plain-HTTP connection and writes a GET on it; resolves with the connection once the
 * request is written. Node never reads from it: the socket is paused before it connects, so
 * the whole answer is left to whoever gets the connection. Failures reject with a RegistryError.
 */
export function sendForHandover(request: HandoverRequest): Promise<net.Socket> {
  const head = requestHead(request.url, request.headers);
  const failure = (error: unknown) => networkError(error, { method: "GET", url: request.url, registry: request.registry });
  if (request.url.protocol !== "http:" || head === undefined) {
    return Promise.reject(failure(new Error("not a plain-HTTP request")));
  }
  return new Promise<net.Socket>((resolve, reject) => {
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
      socket.write(head, (error) => {
        if (error) return fail(error);
        socket.setTimeout(0);
        socket.removeListener("error", fail);
        // Later errors (the program's end of the connection) are the program's to report.
        socket.on("error", () => undefined);
        resolve(socket);
      });
    });
  });
}
