// The GET that handover.ts writes itself before handing its connection to berth-unpack.

import { describe, expect, it } from "vitest";
import { requestHead } from "../../../../../src/runtime/image/registry/handover.js";

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
