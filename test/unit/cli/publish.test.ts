// Ports and networks on the command line: `-p/--publish` values → port bindings (every form
// docker takes, and its refusals), docker ps's PORTS column, `--network`/`--network-alias`/`--ip`
// → network mode and attachments, `--add-host`, and `network create`'s IPAM flags.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../src/errors.js";
import { networkSettings, parseExtraHost, parsePublishFlag, parseRunFlags, type ParseContext } from "../../../src/cli/commands/container-options.js";
import { displayablePorts, joinHostPort, naturalCompare } from "../../../src/cli/commands/container-format.js";
import { ipamPools, networkCreateRequest } from "../../../src/cli/commands/network.js";

const context: ParseContext = {
  environment: {},
  readFile: () => {
    throw new Error("no files here");
  },
  workingDirectory: "/work",
};

/** The error code and message of a call that must fail. */
function failure(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    if (error instanceof BerthError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

describe("parsePublishFlag", () => {
  it.each([
    ["80", { containerPort: 80, protocol: "tcp" }],
    ["80-81", { containerPort: 80, containerPortEnd: 81, protocol: "tcp" }],
    ["8080:80", { containerPort: 80, protocol: "tcp", hostPort: 8080 }],
    ["0:80", { containerPort: 80, protocol: "tcp" }],
    [":80", { containerPort: 80, protocol: "tcp" }],
    ["8080-8081:80-81", { containerPort: 80, containerPortEnd: 81, protocol: "tcp", hostPort: 8080, hostPortEnd: 8081 }],
    ["8080-8090:80", { containerPort: 80, protocol: "tcp", hostPort: 8080, hostPortEnd: 8090 }],
    ["127.0.0.1:8080:80", { containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8080 }],
    ["127.0.0.1::80", { containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1" }],
    ["127.0.0.1:8080:80/udp", { containerPort: 80, protocol: "udp", hostIp: "127.0.0.1", hostPort: 8080 }],
    ["53/udp", { containerPort: 53, protocol: "udp" }],
    ["9000:9000/sctp", { containerPort: 9000, protocol: "sctp", hostPort: 9000 }],
    ["80/UDP", { containerPort: 80, protocol: "udp" }],
    ["80/", { containerPort: 80, protocol: "tcp" }],
    ["[::1]:8080:80", { containerPort: 80, protocol: "tcp", hostIp: "::1", hostPort: 8080 }],
    ["[::1]::80", { containerPort: 80, protocol: "tcp", hostIp: "::1" }],
    ["::1:8080:80", { containerPort: 80, protocol: "tcp", hostIp: "::1", hostPort: 8080 }],
    ["[fe80::1]:9000-9001:90-91/udp", { containerPort: 90, containerPortEnd: 91, protocol: "udp", hostIp: "fe80::1", hostPort: 9000, hostPortEnd: 9001 }],
    ["published=8080,target=80", { containerPort: 80, protocol: "tcp", hostPort: 8080 }],
    ["target=53,protocol=udp", { containerPort: 53, protocol: "udp" }],
    ["65535:65535", { containerPort: 65535, protocol: "tcp", hostPort: 65535 }],
  ])("%s", (value, binding) => {
    expect(parsePublishFlag(value)).toEqual(binding);
  });

  it.each([
    ["", "no port specified: <empty>"],
    ["8080:", "no port specified: 8080:<empty>"],
    ["http", "invalid containerPort: http"],
    ["0", "invalid containerPort: 0"],
    ["70000", "invalid containerPort: 70000"],
    ["81-80", "invalid containerPort: 81-80"],
    ["80-", "invalid containerPort: 80-"],
    ["abc:80", "invalid hostPort: abc"],
    ["8080-:80", "invalid hostPort: 8080-"],
    ["99999:80", "invalid hostPort: 99999"],
    ["8080:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080"],
    ["8080-8082:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"],
    ["80/icmp", "invalid proto: icmp"],
    ["300.0.0.1:8080:80", "invalid IP address: 300.0.0.1"],
    ["localhost:8080:80", "invalid IP address: localhost"],
    ["[::1:8080:80", "invalid IP address [::1: missing ']' in address"],
    ["published=8080", "missing required field 'target' in publish option: published=8080"],
    ["target=80,=x", "invalid publish opts format (should be name=value but got '=x')"],
  ])("refuses %j with one line", (value, message) => {
    expect(failure(() => parsePublishFlag(value))).toEqual({ code: "E_CLI_USAGE", message });
  });
});

describe("the PORTS column (docker's DisplayablePorts)", () => {
  const published = (ip: string, publicPort: number, privatePort: number, type = "tcp") => ({ IP: ip, PublicPort: publicPort, PrivatePort: privatePort, Type: type });

  it("lists host mappings, exposed ports and groups in docker's order", () => {
    expect(displayablePorts([])).toBe("");
    expect(displayablePorts([{ PrivatePort: 443, Type: "tcp" }, published("127.0.0.1", 9000, 9000, "udp"), published("0.0.0.0", 8080, 80)])).toBe(
      "443/tcp, 127.0.0.1:9000->9000/udp, 0.0.0.0:8080->80/tcp",
    );
  });

  it("groups consecutive ports published on the same numbers, per address and protocol", () => {
    expect(displayablePorts([published("0.0.0.0", 8081, 8081), published("0.0.0.0", 8080, 8080), published("0.0.0.0", 8082, 8082, "udp")])).toBe(
      "0.0.0.0:8080-8081->8080-8081/tcp, 0.0.0.0:8082->8082/udp",
    );
    expect(displayablePorts([{ PrivatePort: 80, Type: "tcp" }, { PrivatePort: 81, Type: "tcp" }, { PrivatePort: 83, Type: "tcp" }])).toBe("80-81/tcp, 83/tcp");
    expect(displayablePorts([published("0.0.0.0", 80, 80), published("::", 80, 80), published("0.0.0.0", 81, 81), published("::", 81, 81)])).toBe(
      "0.0.0.0:80-81->80-81/tcp, [::]:80-81->80-81/tcp",
    );
  });

  it("lists a port published on another number on its own, as docker does", () => {
    expect(displayablePorts([published("0.0.0.0", 8081, 81), published("0.0.0.0", 8080, 80), published("::", 8080, 80)])).toBe(
      "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 0.0.0.0:8081->81/tcp",
    );
  });

  it("joins hosts and ports as Go's net.JoinHostPort", () => {
    expect(joinHostPort("0.0.0.0", "32768")).toBe("0.0.0.0:32768");
    expect(joinHostPort("::", 80)).toBe("[::]:80");
  });

  it("sorts naturally, as sortorder.NaturalLess", () => {
    expect(["80/tcp -> x", "8080/tcp -> x", "443/tcp -> x", "9/udp -> x"].sort(naturalCompare)).toEqual(["9/udp -> x", "80/tcp -> x", "443/tcp -> x", "8080/tcp -> x"]);
    expect(["net10", "net2", "Net1", "bridge", "a01", "a1"].sort(naturalCompare)).toEqual(["Net1", "a1", "a01", "bridge", "net2", "net10"]);
  });
});

describe("--network and its per-network options", () => {
  it("keeps the spec unchanged without network flags", () => {
    expect(networkSettings({})).toEqual({});
  });

  it("makes the first network the mode and every network an attachment, in order", () => {
    expect(networkSettings({ network: ["front", "back"], networkAlias: ["web", "www"], ip: "10.9.0.5", macAddress: "02:42:ac:11:00:02" })).toEqual({
      networkMode: "front",
      networks: [{ network: "front", aliases: ["web", "www"], ipv4Address: "10.9.0.5", macAddress: "02:42:ac:11:00:02" }, { network: "back" }],
    });
    expect(networkSettings({ network: "bridge" })).toEqual({ networkMode: "bridge", networks: [{ network: "bridge" }] });
  });

  it("takes docker's advanced syntax", () => {
    expect(networkSettings({ network: ["name=front,alias=a,alias=b,ip6=fd00::5", "back"] })).toEqual({
      networkMode: "front",
      networks: [{ network: "front", aliases: ["a", "b"], ipv6Address: "fd00::5" }, { network: "back" }],
    });
  });

  it("applies --ip and --network-alias to the default network when no --network is given", () => {
    expect(networkSettings({ networkAlias: ["x"] })).toEqual({ networkMode: "default", networks: [{ network: "default", aliases: ["x"] }] });
  });

  it("gives none, host and container: no attachments", () => {
    expect(networkSettings({ network: "none" })).toEqual({ networkMode: "none" });
    expect(networkSettings({ network: ["host"] })).toEqual({ networkMode: "host" });
    expect(networkSettings({ network: ["container:db"] })).toEqual({ networkMode: "container:db" });
  });

  it.each([
    [{ network: ["front", "front"] }, 'network "front" is specified multiple times'],
    [{ network: ["bridge", "front"] }, "conflicting options: cannot attach both user-defined and non-user-defined network-modes"],
    [{ network: ["front", "host"] }, "conflicting options: cannot attach both user-defined and non-user-defined network-modes"],
    [{ network: ["name=front,alias=a"], networkAlias: ["b"] }, "conflicting options: cannot specify both --network-alias and per-network alias"],
    [{ network: ["alias=a"] }, "network name not specified"],
    [{ network: ["name=front,bogus=1"] }, "invalid field key bogus in --network name=front,bogus=1 (berth takes name, alias, ip, ip6 and mac-address)"],
    [{ network: ["front"], ip: "fd00::1" }, "invalid IPv4 address: fd00::1"],
    [{ network: ["front"], ip6: "10.0.0.1" }, "invalid IPv6 address: 10.0.0.1"],
    [{ network: ["front"], macAddress: "02:42:ac" }, "02:42:ac is not a valid mac address"],
    [{ network: ["host"], networkAlias: ["x"] }, "conflicting options: --network-alias, --ip, --ip6 and --mac-address need a bridge or user-defined network, not --network host"],
  ])("refuses %j", (flags, message) => {
    expect(failure(() => networkSettings(flags))).toEqual({ code: "E_CLI_USAGE", message });
  });
});

describe("run/create network flags into the create spec", () => {
  it("fills ports, exposed ports, DNS and extra hosts", () => {
    const spec = parseRunFlags(
      {
        network: ["front"],
        publish: ["127.0.0.1:8080:80", "53/udp"],
        publishAll: true,
        expose: ["9000-9001"],
        dns: ["10.0.0.2"],
        dnsSearch: ["example.com"],
        dnsOption: ["ndots:2"],
        dnsOpt: ["timeout:1"],
        addHost: ["db:10.0.0.3", "gw=host-gateway", "v6:[::1]"],
      },
      "busybox",
      [],
      context,
    );
    expect(spec).toEqual({
      image: "busybox",
      networkMode: "front",
      networks: [{ network: "front" }],
      portBindings: [
        { containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8080 },
        { containerPort: 53, protocol: "udp" },
      ],
      publishAllPorts: true,
      exposedPorts: ["9000-9001"],
      dns: ["10.0.0.2"],
      dnsSearch: ["example.com"],
      dnsOptions: ["ndots:2", "timeout:1"],
      extraHosts: ["db:10.0.0.3", "gw:host-gateway", "v6:::1"],
    });
  });

  it("refuses a bad -p or --dns with one usage error", () => {
    expect(failure(() => parseRunFlags({ publish: ["80", "x:80"] }, "busybox", [], context))).toEqual({ code: "E_CLI_USAGE", message: "invalid hostPort: x" });
    expect(failure(() => parseRunFlags({ dns: ["dns.example"] }, "busybox", [], context))).toEqual({ code: "E_CLI_USAGE", message: "IP address is not correctly formatted: dns.example" });
  });
});

describe("parseExtraHost", () => {
  it.each([
    ["db:10.0.0.3", "db:10.0.0.3"],
    ["db=10.0.0.3", "db:10.0.0.3"],
    ["v6:fd00::1", "v6:fd00::1"],
    ["v6=[fd00::1]", "v6:fd00::1"],
    ["host.docker.internal:host-gateway", "host.docker.internal:host-gateway"],
  ])("%s", (value, expected) => {
    expect(parseExtraHost(value)).toBe(expected);
  });

  it.each([
    ["db", 'bad format for add-host: "db"'],
    [":10.0.0.1", 'bad format for add-host: ":10.0.0.1"'],
    ["db:nowhere", 'invalid IP address in add-host: "nowhere"'],
  ])("refuses %j", (value, message) => {
    expect(failure(() => parseExtraHost(value))).toEqual({ code: "E_CLI_USAGE", message });
  });
});

describe("network create's IPAM flags (docker's createIPAMConfig)", () => {
  const none = { subnets: [], ipRanges: [], gateways: [], auxAddresses: [] };

  it("puts each range, gateway and aux address on the subnet holding it", () => {
    expect(
      ipamPools({
        subnets: ["10.20.0.0/16", "fd00:20::/64"],
        ipRanges: ["10.20.5.0/24"],
        gateways: ["10.20.0.254", "fd00:20::1"],
        auxAddresses: ["router=10.20.0.2", "v6host=fd00:20::2"],
      }),
    ).toEqual([
      { subnet: "10.20.0.0/16", ipRange: "10.20.5.0/24", gateway: "10.20.0.254", auxAddresses: { router: "10.20.0.2" } },
      { subnet: "fd00:20::/64", gateway: "fd00:20::1", auxAddresses: { v6host: "fd00:20::2" } },
    ]);
    expect(ipamPools(none)).toEqual([]);
  });

  it.each([
    [{ ...none, gateways: ["10.0.0.1"] }, "every ip-range or gateway must have a corresponding subnet"],
    [{ ...none, subnets: ["10.0.0.0/8", "10.1.0.0/16"] }, "multiple overlapping subnet configuration is not supported"],
    [{ ...none, subnets: ["10.1.0.0/16"], gateways: ["10.2.0.1"] }, "no matching subnet for gateway 10.2.0.1"],
    [{ ...none, subnets: ["10.1.0.0/16"], ipRanges: ["10.9.0.0/24"] }, "no matching subnet for range 10.9.0.0/24"],
    [{ ...none, subnets: ["10.1.0.0/16", "10.2.0.0/16"], gateways: ["10.1.0.1", "10.1.0.2"] }, "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)"],
    [{ ...none, subnets: ["10.1.0.0/16"], auxAddresses: ["x=10.3.0.1"] }, "no matching subnet for aux-address 10.3.0.1"],
    [{ ...none, subnets: ["10.1.0.0"] }, "invalid subnet: invalid CIDR address: 10.1.0.0"],
    [{ ...none, subnets: ["10.1.0.0/33"] }, "invalid subnet: invalid CIDR address: 10.1.0.0/33"],
  ])("refuses %j", (options, message) => {
    expect(failure(() => ipamPools(options))).toEqual({ code: "E_CLI_USAGE", message });
  });

  it("builds the engine's request from the flags", () => {
    expect(networkCreateRequest("front", { driver: "bridge", ipamDriver: "default" })).toEqual({ name: "front", driver: "bridge", options: {}, labels: {} });
    expect(
      networkCreateRequest("back", { subnet: ["10.30.0.0/24"], internal: true, attachable: true, ipv6: true, label: ["tier=db", "bare"], opt: ["com.docker.network.driver.mtu=1400"], ipamOpt: ["k=v"] }),
    ).toEqual({
      name: "back",
      driver: "bridge",
      internal: true,
      attachable: true,
      enableIPv6: true,
      ipam: { options: { k: "v" }, config: [{ subnet: "10.30.0.0/24" }] },
      options: { "com.docker.network.driver.mtu": "1400" },
      labels: { tier: "db", bare: "" },
    });
  });
});
