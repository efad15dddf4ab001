// IPAM: CIDR parsing and comparison, subnet choice from Docker's pools, address allocation,
// Docker's validation messages, Docker's MAC scheme.

import { describe, expect, it } from "vitest";
import {
  NetworkErrorCode,
  allocateAddress,
  canonicalIp,
  chooseSubnet,
  containsAddress,
  gatewayOf,
  macAddressFor,
  overlaps,
  parseCidr,
  validateIpamConfig,
} from "../../../src/network/index.js";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return "";
};

describe("CIDRs", () => {
  it("parses to the canonical network", () => {
    expect(parseCidr("172.18.0.5/16")).toEqual({ family: 4, network: "172.18.0.0", prefix: 16 });
    expect(parseCidr("FD00:0:0:0::5/64")).toEqual({ family: 6, network: "fd00::", prefix: 64 });
    expect(parseCidr("::ffff:10.0.0.1/128")).toEqual({ family: 6, network: "::ffff:a00:1", prefix: 128 });
    expect(parseCidr("2001:db8:0:0:1:0:0:1/128").network).toBe("2001:db8::1:0:0:1");
    expect(parseCidr("0.0.0.0/0")).toEqual({ family: 4, network: "0.0.0.0", prefix: 0 });
  });

  it("refuses what Go's parser refuses", () => {
    for (const bad of ["172.18.0.0", "172.18.0.0/33", "172.18.0/16", "172.018.0.0/16", "1.2.3.4/016", "fd00::/129", "fd00:::1/64", "1::2::3/64", "fe80::1%eth0/64", "x/8", ""]) {
      expect(code(() => parseCidr(bad)), bad).toBe(NetworkErrorCode.invalid);
    }
    expect(message(() => parseCidr("nope"))).toBe("invalid CIDR address: nope");
  });

  it("compares", () => {
    expect(containsAddress("172.18.0.0/16", "172.18.255.255")).toBe(true);
    expect(containsAddress("172.18.0.0/16", "172.19.0.0")).toBe(false);
    expect(containsAddress("fd00::/64", "fd00::ffff")).toBe(true);
    expect(containsAddress("172.18.0.0/16", "::ffff:172.18.0.1")).toBe(false);
    expect(overlaps("172.16.0.0/12", "172.18.0.0/16")).toBe(true);
    expect(overlaps("172.18.0.0/16", "172.16.0.0/12")).toBe(true);
    expect(overlaps("172.18.0.0/16", "172.19.0.0/16")).toBe(false);
    expect(overlaps("10.0.0.0/8", "fd00::/8")).toBe(false);
    expect(gatewayOf("172.18.0.0/16")).toBe("172.18.0.1");
    expect(gatewayOf("fd00:b3e7:1::/64")).toBe("fd00:b3e7:1::1");
    expect(code(() => gatewayOf("10.0.0.1/32"))).toBe(NetworkErrorCode.invalid);
    expect(canonicalIp("FD00:0::0:2")).toBe("fd00::2");
  });
});

describe("chooseSubnet", () => {
  it("takes the first of Docker's pools that overlaps nothing in use", () => {
    expect(chooseSubnet({ family: 4, inUse: [] })).toBe("172.17.0.0/16");
    expect(chooseSubnet({ family: 4, inUse: ["172.17.0.0/16", "172.18.5.0/24", "fd00::/64"] })).toBe("172.19.0.0/16");
    // A wide route (a VPN's 172.16.0.0/12) takes all of 172.17-31; then 192.168.0.0/16 in /20s.
    expect(chooseSubnet({ family: 4, inUse: ["172.16.0.0/12", "192.168.0.1/32"] })).toBe("192.168.16.0/20");
    // A host address in the middle of a pool subnet counts.
    expect(chooseSubnet({ family: 4, inUse: ["172.16.0.0/12", "192.168.0.0/20", "192.168.17.3"] })).toBe("192.168.32.0/20");
  });

  it("cuts a custom pool, and says when everything is taken", () => {
    const pool = [{ base: "10.10.0.0/22", size: 24 }];
    expect(chooseSubnet({ family: 4, inUse: ["10.10.0.0/23"], pool })).toBe("10.10.2.0/24");
    expect(code(() => chooseSubnet({ family: 4, inUse: ["10.0.0.0/8"], pool }))).toBe(NetworkErrorCode.exhausted);
    expect(code(() => chooseSubnet({ family: 4, inUse: ["172.16.0.0/12", "192.168.0.0/16"] }))).toBe(NetworkErrorCode.exhausted);
    expect(code(() => chooseSubnet({ family: 4, inUse: [], pool: [{ base: "10.0.0.0/16", size: 8 }] }))).toBe(NetworkErrorCode.invalid);
    // A big pool is walked by jumps, not subnet by subnet.
    expect(chooseSubnet({ family: 4, inUse: ["10.0.0.0/9"], pool: [{ base: "10.0.0.0/8", size: 30 }] })).toBe("10.128.0.0/30");
  });

  it("picks a ULA /64 for IPv6", () => {
    const random = (): number => 0x1234 / 0x10000;
    expect(chooseSubnet({ family: 6, inUse: [], random })).toBe("fd00:b3e7:1234::/64");
    expect(chooseSubnet({ family: 6, inUse: ["fd00:b3e7:1234::/64", "fd00:b3e7:1234:1::5/128"], random })).toBe("fd00:b3e7:1234:2::/64");
    expect(chooseSubnet({ family: 6, inUse: [] })).toMatch(/^fd00:b3e7:[0-9a-f]{1,4}::\/64$/);
    expect(chooseSubnet({ family: 6, inUse: [], pool: [{ base: "fd42::/62", size: 64 }, { base: "10.0.0.0/8", size: 16 }] })).toBe("fd42::/64");
  });
});

describe("allocateAddress", () => {
  it("hands out the lowest free host address", () => {
    expect(allocateAddress({ subnet: "172.18.0.0/16", reserved: new Set(["172.18.0.1"]) })).toBe("172.18.0.2");
    expect(allocateAddress({ subnet: "172.18.0.0/16", reserved: new Set(["172.18.0.1", "172.18.0.2", "172.18.0.4"]) })).toBe("172.18.0.3");
    expect(allocateAddress({ subnet: "fd00::/64", reserved: new Set(["fd00::1", "FD00::0002/64"]) })).toBe("fd00::3");
  });

  it("stays inside ip_range and skips aux addresses", () => {
    expect(allocateAddress({ subnet: "172.18.0.0/16", ipRange: "172.18.5.0/24", reserved: new Set(["172.18.0.1", "172.18.5.0"]) })).toBe("172.18.5.1");
    // The subnet's network address is skipped when the range starts there.
    expect(allocateAddress({ subnet: "10.0.0.0/24", ipRange: "10.0.0.0/28", reserved: new Set(["10.0.0.1", "10.0.0.2"]) })).toBe("10.0.0.3");
    expect(code(() => allocateAddress({ subnet: "10.0.0.0/24", ipRange: "10.1.0.0/28", reserved: new Set() }))).toBe(NetworkErrorCode.invalid);
  });

  it("never gives the network or broadcast address, and says when the pool is empty", () => {
    const reserved = new Set(["10.0.0.1", "10.0.0.2"]);
    expect(code(() => allocateAddress({ subnet: "10.0.0.0/30", reserved }))).toBe(NetworkErrorCode.exhausted);
    expect(message(() => allocateAddress({ subnet: "10.0.0.0/30", reserved }))).toBe("no available IPv4 addresses on network 10.0.0.0/30");
    expect(allocateAddress({ subnet: "10.0.0.0/31", reserved: new Set() })).toBe("10.0.0.0");
    const full = new Set(Array.from({ length: 254 }, (_, index) => `192.168.1.${index + 1}`));
    expect(code(() => allocateAddress({ subnet: "192.168.1.0/24", reserved: full }))).toBe(NetworkErrorCode.exhausted);
  });
});

describe("validateIpamConfig", () => {
  const problems = (config: Parameters<typeof validateIpamConfig>[0]): string => message(() => validateIpamConfig(config));

  it("accepts a valid config", () => {
    expect(() => validateIpamConfig({ subnet: "10.0.0.0/8", ipRange: "10.10.0.0/16", gateway: "10.10.0.1", auxAddresses: { router: "10.10.0.2" } })).not.toThrow();
    expect(() => validateIpamConfig({ subnet: "fd00::/64", gateway: "fd00::1" })).not.toThrow();
  });

  it("says what Docker says, every problem at once", () => {
    expect(problems({ subnet: "10.10.10.0/8" })).toBe("invalid network config: invalid subnet 10.10.10.0/8: it should be 10.0.0.0/8");
    expect(problems({ subnet: "foo" })).toBe("invalid network config: invalid subnet foo: invalid CIDR block notation");
    expect(problems({ subnet: "10.0.0.0/8", ipRange: "192.168.0.1/24", gateway: "192.168.0.1", auxAddresses: { DefaultGatewayIPv4: "192.168.0.1" } })).toBe(
      "invalid network config: " +
        [
          "invalid ip-range 192.168.0.1/24: it should be 192.168.0.0/24",
          "invalid ip-range 192.168.0.1/24: parent subnet 10.0.0.0/8 doesn't contain ip-range",
          "invalid gateway 192.168.0.1: parent subnet 10.0.0.0/8 doesn't contain this address",
          "invalid auxiliary address DefaultGatewayIPv4: parent subnet 10.0.0.0/8 doesn't contain this address",
        ].join("; "),
    );
    expect(problems({ subnet: "10.10.10.0/24", ipRange: "10.0.0.0/8" })).toContain("invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.10.10.0/24");
    expect(problems({ subnet: "10.0.0.0/8", ipRange: "foobar", gateway: "1001.10.5.3", auxAddresses: { a: "dummy" } })).toBe(
      "invalid network config: invalid ip-range foobar: invalid CIDR block notation; invalid gateway 1001.10.5.3: invalid address; invalid auxiliary address a: invalid address",
    );
    expect(problems({ subnet: "10.0.0.0/8", ipRange: "fd00::/64", gateway: "fd00::1" })).toBe(
      "invalid network config: invalid ip-range fd00::/64: parent subnet is an IPv4 block; invalid gateway fd00::1: parent subnet is an IPv4 block",
    );
    expect(code(() => validateIpamConfig({ subnet: "foo" }))).toBe(NetworkErrorCode.invalid);
  });
});

describe("macAddressFor", () => {
  it("follows Docker's scheme", () => {
    expect(macAddressFor("172.18.0.2")).toBe("02:42:ac:12:00:02");
    expect(macAddressFor("10.255.1.200")).toBe("02:42:0a:ff:01:c8");
    expect(macAddressFor("fd00::c0a8:102")).toBe("02:42:c0:a8:01:02");
    expect(code(() => macAddressFor("300.1.1.1"))).toBe(NetworkErrorCode.invalid);
  });
});
