// HTTP for the registry client: node:http/https with keep-alive agents (one connection per
// registry reused across manifest, blob and token requests), an idle timeout on every socket,
// and failures turned into typed errors that say connection refused, TLS, or timed out.

import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { ImageErrorCode, RegistryError } from "../errors.js";

/** No byte for this long on a socket ends the request (a stalled registry or a dead connection). */
export const defaultIdleTimeoutMs = Number(process.env["BERTH_REGISTRY_TIMEOUT_MS"] ?? "") || 30_000;

const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const verifiedAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
const unverifiedAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

export type RequestBody = Buffer | { readonly length: number; readonly open: () => Readable };

export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** Accept any certificate (an insecure registry). */
  readonly insecureTls?: boolean;
  readonly idleTimeoutMs?: number;
  /** Names the registry in errors. */
  readonly registry: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  /** The body stream; read it, or call discard(), so the connection returns to the pool. */
  readonly body: IncomingMessage;
  header(name: string): string | undefined;
  buffer(limit?: number): Promise<Buffer>;
  discard(): void;
}

const tlsErrorCodes = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL_|EPROTO$)/;

/** What went wrong on the wire, in the words a user knows. */
export function describeNetworkError(error: NodeJS.ErrnoException): { code: ImageErrorCode; reason: string } {
  const code = error.code ?? "";
  if (code === "ECONNREFUSED") return { code: ImageErrorCode.registryConnection, reason: "connection refused" };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { code: ImageErrorCode.registryConnection, reason: `no such host (${code})` };
  if (code === "ETIMEDOUT" || code === "BERTH_IDLE_TIMEOUT") return { code: ImageErrorCode.registryConnection, reason: "timed out" };
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE") {
    return { code: ImageErrorCode.registryConnection, reason: "connection reset" };
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return { code: ImageErrorCode.registryConnection, reason: "host unreachable" };
  if (tlsErrorCodes.test(code)) return { code: ImageErrorCode.registryTls, reason: `TLS: ${error.message}` };
  return { code: ImageErrorCode.registryConnection, reason: error.message };
}

export function networkError(error: unknown, request: { method: string; url: URL; registry: string }): RegistryError {
  const { code, reason } = describeNetworkError(error as NodeJS.ErrnoException);
  return new RegistryError(code, `${reason} (${request.method} ${request.url.href})`, {
    registry: request.registry,
    cause: error,
    object: `registry ${request.registry}`,
  });
}

/** Whether an error is the network's (worth a retry), not the registry's answer. */
export function isNetworkFailure(error: unknown): boolean {
  return error instanceof RegistryError && error.code === ImageErrorCode.registryConnection && error.status === undefined;
}

function readBody(body: IncomingMessage, limit: number, request: HttpRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    body.on("data", (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        body.destroy();
        reject(
          new RegistryError(ImageErrorCode.registryProtocol, `response larger than ${limit} bytes (${request.method} ${request.url.href})`, {
            registry: request.registry,
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    body.on("end", () => resolve(Buffer.concat(chunks)));
    body.on("error", (error) => reject(networkError(error, request)));
    body.on("aborted", () => reject(networkError(Object.assign(new Error("aborted"), { code: "ECONNRESET" }), request)));
  });
}

/** One request; resolves when the response headers arrive. Network failures reject with a RegistryError. */
export function send(request: HttpRequest): Promise<HttpResponse> {
  const secure = request.url.protocol === "https:";
  const agent = secure ? (request.insecureTls ? unverifiedAgent : verifiedAgent) : plainAgent;
  const headers: Record<string, string | number> = { "User-Agent": "berth", ...request.headers };
  const body = request.body;
  if (body !== undefined) headers["Content-Length"] = body.length;
  else if (request.method === "PUT" || request.method === "POST" || request.method === "PATCH") headers["Content-Length"] = 0;
  const timeout = request.idleTimeoutMs ?? defaultIdleTimeoutMs;
  return new Promise<HttpResponse>((resolve, reject) => {
    const outgoing = (secure ? https : http).request(request.url, { method: request.method, headers, agent, timeout }, (incoming) => {
      const response: HttpResponse = {
        status: incoming.statusCode ?? 0,
        headers: incoming.headers,
        url: request.url,
        body: incoming,
        header: (name) => {
          const value = incoming.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(", ") : value;
        },
        buffer: (limit = 16 * 1024 * 1024) => readBody(incoming, limit, request),
        discard: () => {
          incoming.resume();
        },
      };
      resolve(response);
    });
    outgoing.on("timeout", () => outgoing.destroy(Object.assign(new Error(`no answer for ${timeout} ms`), { code: "BERTH_IDLE_TIMEOUT" })));
    outgoing.on("error", (error) => reject(networkError(error, request)));
    if (body === undefined) outgoing.end();
    else if (Buffer.isBuffer(body)) outgoing.end(body);
    else {
      const stream = body.open();
      stream.on("error", (error) => outgoing.destroy(error));
      stream.pipe(outgoing);
    }
  });
}
