// Host ports from /proc/net fixtures: LISTEN sockets and bound UDP sockets, IPv4-mapped
// addresses, wildcard overlap, free-port picking; and the IPv6 route table parser.

import { describe, expect, it } from "vitest";
import { NetworkErrorCode, parseIPv6Routes, parseProcNetSockets, parseSctpEndpoints } from "../../../src/network/index.js";
import { busyPorts, hostPortBusy, listeningSockets, pickFreePort, ephemeralPortRange } from "../../../src/network/ports.js";
import type { System } from "../../../src/network/system.js";

const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1061 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1062 1 0000000000000000 100 0 0 10 0
   2: 0200000A:A1B2 0300000A:0050 01 00000000:00000000 00:00000000 00000000     0        0 1063 1 0000000000000000 20 4 30 10 -1
`;
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
   2: 000000FD000000000000000002000000:0BBA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0
`;
const udp = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3001 2 0000000000000000 0
  101: 0200000A:A000 0300000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0
`;
const sctp = ` ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS
ffff88017e0a0200 ffff880299f7fa00 2   10  29   3868      0 4669797 172.17.0.2 10.0.0.5
`;

describe("/proc/net parsing", () => {
  it("keeps TCP sockets in LISTEN and decodes little-endian addresses", () => {
    expect(parseProcNetSockets(tcp, "tcp")).toEqual([
      { protocol: "tcp", address: "127.0.0.1", port: 8080 },
      { protocol: "tcp", address: "0.0.0.0", port: 22 },
    ]);
    expect(parseProcNetSockets(tcp6, "tcp")).toEqual([
      { protocol: "tcp", address: "::", port: 3000 },
      { protocol: "tcp", address: "127.0.0.1", port: 3001 }, // ::ffff:127.0.0.1
      { protocol: "tcp", address: "fd00::2", port: 3002 },
    ]);
  });

  it("keeps every bound UDP socket, connected or not", () => {
    expect(parseProcNetSockets(udp, "udp")).toEqual([
      { protocol: "udp", address: "127.0.0.1", port: 53 },
      { protocol: "udp", address: "10.0.0.2", port: 40960 },
    ]);
  });

  it("reads SCTP endpoints with all their addresses", () => {
    expect(parseSctpEndpoints(sctp)).toEqual([
      { protocol: "sctp", address: "172.17.0.2", port: 3868 },
      { protocol: "sctp", address: "10.0.0.5", port: 3868 },
    ]);
  });

  it("reads every table's IPv6 routes but the defaults", () => {
    const routes = [
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0",
      "fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001     eth0",
      "",
    ].join("\n");
    expect(parseIPv6Routes(routes)).toEqual(["fd00::/64", "fd00::2/128"]);
  });
});

/** A system whose /proc answers from fixtures; anything else fails the test. */
function fakeSystem(files: Record<string, string>): System {
  const refuse = (): never => {
    throw new Error("unexpected call");
  };
  return {
    netns: undefined,
    netnsPath: "/proc/1/ns/net",
    run: refuse,
    runSync: refuse,
    runHere: refuse,
    readText: (file) => files[file],
    writeText: refuse,
    listDirectory: refuse,
    linkExists: refuse,
    linkIndex: refuse,
    hasTool: refuse,
    berthNetns: "/nonexistent",
    berthRedirect: "/nonexistent",
  };
}

describe("ports", () => {
  const system = fakeSystem({
    "/proc/net/tcp": tcp,
    "/proc/net/tcp6": tcp6,
    "/proc/net/udp": udp,
    "/proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
  });

  it("lists sockets from every file there is", () => {
    expect(listeningSockets(system)).toHaveLength(7);
  });

  it("treats 0.0.0.0 and :: as every address", () => {
    expect(hostPortBusy(system, "tcp", "127.0.0.1", 8080)).toBe(true);
    expect(hostPortBusy(system, "tcp", "0.0.0.0", 8080)).toBe(true);
    expect(hostPortBusy(system, "tcp", "10.0.0.7", 8080)).toBe(false);
    expect(hostPortBusy(system, "tcp", "10.0.0.7", 22)).toBe(true); // bound on 0.0.0.0
    expect(hostPortBusy(system, "tcp", "192.0.2.1", 3000)).toBe(true); // bound on ::, which may take IPv4
    expect(hostPortBusy(system, "tcp", "::1", 3002)).toBe(false);
    expect(hostPortBusy(system, "tcp", "::", 3002)).toBe(true);
    expect(hostPortBusy(system, "udp", "0.0.0.0", 53)).toBe(true);
    expect(hostPortBusy(system, "tcp", "0.0.0.0", 53)).toBe(false);
    expect(hostPortBusy(system, "sctp", "0.0.0.0", 3868)).toBe(false); // no SCTP in this kernel
    expect(() => hostPortBusy(system, "tcp", "localhost", 80)).toThrow(expect.objectContaining({ code: NetworkErrorCode.invalid }));
    expect([...busyPorts(listeningSockets(system), "tcp", "127.0.0.1")].sort((a, b) => a - b)).toEqual([22, 3000, 3001, 8080]);
  });

  it("reads only the asked protocol's files to check or pick a port", () => {
    const read: string[] = [];
    const recording: System = {
      ...system,
      readText: (file) => {
        read.push(file);
        return system.readText(file);
      },
    };
    hostPortBusy(recording, "tcp", "0.0.0.0", 8080);
    expect(read).toEqual(["/proc/net/tcp", "/proc/net/tcp6"]);
    read.length = 0;
    pickFreePort(recording, { protocol: "udp", hostIp: "0.0.0.0", taken: new Set(), range: [50, 60] });
    expect(read).toEqual(["/proc/net/udp", "/proc/net/udp6"]);
  });

  it("picks the lowest port neither taken nor bound", () => {
    expect(ephemeralPortRange(system)).toEqual([32768, 60999]);
    expect(pickFreePort(system, { protocol: "tcp", hostIp: "0.0.0.0", taken: new Set() })).toBe(32768);
    expect(pickFreePort(system, { protocol: "tcp", hostIp: "0.0.0.0", taken: new Set([3003]), range: [3000, 3010] })).toBe(3004);
    expect(pickFreePort(system, { protocol: "tcp", hostIp: "fd00::9", taken: new Set(), range: [3000, 3010] })).toBe(3001);
    expect(() => pickFreePort(system, { protocol: "tcp", hostIp: "0.0.0.0", taken: new Set([3003]), range: [3000, 3003] })).toThrow(
      expect.objectContaining({ code: NetworkErrorCode.exhausted }),
    );
    expect(() => pickFreePort(system, { protocol: "tcp", hostIp: "0.0.0.0", taken: new Set(), range: [0, 10] })).toThrow(
      expect.objectContaining({ code: NetworkErrorCode.invalid }),
    );
  });
});
