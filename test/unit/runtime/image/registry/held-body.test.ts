// The few bytes of HTTP that held-body.ts writes and reads itself: the GET's head, and the
// response head it parses before handing the connection to berth-unpack.

import { describe, expect, it } from "vitest";
import { parseResponseHead, requestHead } from "../../../../../src/runtime/image/registry/held-body.js";

describe("requestHead", () => {
  it("writes a GET for the URL's path and query, with Host, no compression, Connection: close and the given headers", () => {
    const head = requestHead(new URL("http://127.0.0.1:5000/v2/team/app/blobs/sha256:abc?x=1"), { Authorization: "Bearer t0k3n" });
    expect(head).toBe(
      "GET /v2/team/app/blobs/sha256:abc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nUser-Agent: berth\r\nAccept-Encoding: identity\r\nConnection: close\r\nAuthorization: Bearer t0k3n\r\n\r\n",
    );
  });

  it("keeps the brackets of an IPv6 host in Host", () => {
    expect(requestHead(new URL("http://[::1]:5000/v2/"), {})).toContain("\r\nHost: [::1]:5000\r\n");
  });

  it("refuses header values that would forge lines, and names that are not tokens", () => {
    expect(requestHead(new URL("http://h/v2/"), { Authorization: "Bearer x\r\nX-Evil: 1" })).toBeUndefined();
    expect(requestHead(new URL("http://h/v2/"), { "Bad Name": "1" })).toBeUndefined();
  });
});

describe("parseResponseHead", () => {
  it("reads the status and the headers, names lowercased, repeated ones joined", () => {
    const parsed = parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Thing: a\r\nx-thing:  b \r\nDocker-Content-Digest: sha256:abc");
    expect(parsed?.status).toBe(200);
    expect(Object.fromEntries(parsed?.headers ?? [])).toEqual({ "content-length": "1234", "x-thing": "a, b", "docker-content-digest": "sha256:abc" });
  });

  it("takes HTTP/1.0 and a status line without a reason", () => {
    expect(parseResponseHead("HTTP/1.0 307\r\nLocation: http://elsewhere/")?.status).toBe(307);
  });

  it("refuses what is not an HTTP/1.x response head", () => {
    expect(parseResponseHead("SSH-2.0-OpenSSH_9.2")).toBeUndefined();
    expect(parseResponseHead("HTTP/2 200")).toBeUndefined();
    expect(parseResponseHead("HTTP/1.1 200 OK\r\nno colon here")).toBeUndefined();
  });
});
