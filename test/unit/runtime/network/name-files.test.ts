import { describe, expect, it } from "vitest";
import {
  dnsNamesOf,
  hostsHeader,
  nameservers,
  renderHosts,
  renderNamesTable,
  renderResolvConf,
  renderResolverConfig,
  searchDomains,
  upstreamServers,
} from "../../../../src/runtime/network/name-files.js";
import type { EndpointRecord } from "../../../../src/runtime/network/records.js";

const endpoint = (overrides: Partial<EndpointRecord>): EndpointRecord => ({
  networkId: "n".repeat(64),
  containerId: "c".repeat(64),
  containerName: "web-1",
  endpointId: "e".repeat(64),
  ifName: "eth0",
  hostIfName: "vbcccccccccc00",
  sandbox: "/run/berth/netns/c",
  ipv4: "172.18.0.2",
  ipv4Prefix: 16,
  gateway: "172.18.0.1",
  ipv6: "",
  ipv6Prefix: 0,
  ipv6Gateway: "",
  mac: "02:42:ac:12:00:02",
  aliases: ["web"],
  dnsNames: ["web-1", "web"],
  ports: [],
  hostsFile: "/x/hosts",
  hostsHeader: hostsHeader([]),
  hostname: "cccccccccccc",
  domainname: "",
  dnsConfigFile: "/x/dns.json",
  resolver: { upstreams: [], search: [], options: [] },
  ...overrides,
});

describe("the DNS table", () => {
  it("lists every name of every endpoint, lowercased, IPv4 then IPv6, replicas kept apart", () => {
    const table = renderNamesTable([
      endpoint({ dnsNames: ["Web-1", "web"], ipv6: "fd00::2" }),
      endpoint({ containerName: "web-2", dnsNames: ["web-2", "web"], ipv4: "172.18.0.3" }),
    ]);
    expect(table).toBe("web-1 172.18.0.2\nweb-1 fd00::2\nweb 172.18.0.2\nweb fd00::2\nweb-2 172.18.0.3\nweb 172.18.0.3\n");
    expect(renderNamesTable([])).toBe("");
  });

  it("names a container by its name, aliases, hostname and short id, once each", () => {
    expect(dnsNamesOf({ containerName: "db", containerId: "0123456789abcdef".repeat(4), hostname: "db", aliases: ["postgres", "db"] })).toEqual(["db", "postgres", "0123456789ab"]);
  });
});

describe("/etc/hosts", () => {
  it("holds the defaults, extra hosts, the container's own line and its peers", () => {
    const header = hostsHeader([{ name: "host.docker.internal", address: "172.18.0.1" }]);
    const hosts = renderHosts({
      header,
      self: [endpoint({ ipv4: "172.18.0.5" })],
      hostname: "api",
      domainname: "example.com",
      peers: [endpoint({}), endpoint({ ipv4: "" })],
    });
    const lines = hosts.trimEnd().split("\n");
    expect(lines[0]).toBe("127.0.0.1\tlocalhost");
    expect(lines).toContain("172.18.0.1\thost.docker.internal");
    expect(lines).toContain("172.18.0.5\tapi.example.com api");
    expect(lines).toContain("172.18.0.2\tweb-1 web");
    expect(lines.filter((line) => line.startsWith("172.18.0.2"))).toHaveLength(1);
  });
});

describe("the resolver's files", () => {
  it("writes resolv.conf pointing at 127.0.0.11 with ndots:0 unless given", () => {
    const text = renderResolvConf({ upstreams: ["10.0.0.2"], search: ["corp"], options: ["timeout:2"] });
    expect(text).toContain("nameserver 127.0.0.11\nsearch corp\noptions ndots:0 timeout:2\n");
    expect(renderResolvConf({ upstreams: [], search: [], options: ["ndots:3"] })).toContain("options ndots:3\n");
  });

  it("writes dns.json with the tables and upstreams", () => {
    const parsed = JSON.parse(renderResolverConfig({ upstreams: ["10.0.0.2"], search: [], options: ["ndots:2"], tables: ["/run/a/names"] })) as Record<string, unknown>;
    expect(parsed).toEqual({ address: "127.0.0.11", port: 53, tables: ["/run/a/names"], upstreams: ["10.0.0.2"], search: [], ndots: 2 });
  });

  it("forwards to --dns, else the host's servers, replacing a loopback stub by systemd-resolved's upstreams", () => {
    expect(upstreamServers({ dns: ["1.2.3.4"], hostResolvConf: "nameserver 10.0.0.1\n", resolvedUpstream: undefined })).toEqual(["1.2.3.4"]);
    expect(upstreamServers({ dns: [], hostResolvConf: "nameserver 10.0.0.1\nnameserver 10.0.0.2\n", resolvedUpstream: undefined })).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(upstreamServers({ dns: [], hostResolvConf: "nameserver 127.0.0.53\n", resolvedUpstream: "nameserver 192.0.2.9\n" })).toEqual(["192.0.2.9"]);
    expect(upstreamServers({ dns: [], hostResolvConf: "nameserver 127.0.0.53\n", resolvedUpstream: undefined })).toEqual(["127.0.0.53"]);
    expect(nameservers("# c\nnameserver 1.1.1.1 # x\n")).toEqual(["1.1.1.1"]);
    expect(searchDomains("domain a\nsearch b c\n")).toEqual(["b", "c"]);
  });
});
