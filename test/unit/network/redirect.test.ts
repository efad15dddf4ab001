// Which published ports get a connect()-time redirect (src/network/redirect.ts): pure.
import { describe, expect, it } from "vitest";
import { redirectOwnerHash, redirectsFor, type PublishedPort } from "../../../src/network/index.js";

const port = (overrides: Partial<PublishedPort>): PublishedPort => ({ hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80, protocol: "tcp", ...overrides });

describe("redirectsFor", () => {
  it("redirects TCP ports published on 127.0.0.1 or on every address, from 127.0.0.1", () => {
    expect(
      redirectsFor([port({ hostPort: 8081, hostIp: "0.0.0.0" }), port({}), port({ hostPort: 8082, hostIp: "" }), port({ hostPort: 9000, containerPort: 9001 })]),
    ).toEqual([
      { hostIp: "127.0.0.1", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80 },
      { hostIp: "127.0.0.1", hostPort: 8081, containerIp: "172.18.0.2", containerPort: 80 },
      { hostIp: "127.0.0.1", hostPort: 8082, containerIp: "172.18.0.2", containerPort: 80 },
      { hostIp: "127.0.0.1", hostPort: 9000, containerIp: "172.18.0.2", containerPort: 9001 },
    ]);
  });

  it("leaves UDP and SCTP, other host addresses, IPv6 and container addresses other than IPv4 to DNAT", () => {
    expect(
      redirectsFor([
        port({ protocol: "udp" }),
        port({ protocol: "sctp" }),
        port({ hostIp: "192.168.1.5" }),
        port({ hostIp: "::" }),
        port({ hostIp: "::1" }),
        port({ containerIp: "fd00::2" }),
      ]),
    ).toEqual([]);
  });
});

describe("redirectOwnerHash", () => {
  it("hashes an owner as berth-redirect records it (FNV-1a, 8 hex digits)", () => {
    expect(redirectOwnerHash("testowner")).toBe("59e93a74");
    expect(redirectOwnerHash("")).toBe("811c9dc5");
  });
});
