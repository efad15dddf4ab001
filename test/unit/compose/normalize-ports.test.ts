import { describe, expect, it } from "vitest";
import { positionOf } from "../../../src/compose/document.js";
import { parsePortSpec } from "../../../src/compose/normalize-ports.js";
import { composeFile, normalize, normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

function ports(...entries: string[]): unknown {
  return serviceOf(normalized(yaml("services:", "  web:", "    image: nginx", "    ports:", ...entries.map((entry) => `      - ${entry}`))))["ports"];
}

describe("normalize: ports", () => {
  it.each([
    ["a bare container port (number)", "80", [{ mode: "ingress", target: 80, protocol: "tcp" }]],
    ["a bare container port (string)", '"80"', [{ mode: "ingress", target: 80, protocol: "tcp" }]],
    ["host:container", '"8080:80"', [{ mode: "ingress", target: 80, published: "8080", protocol: "tcp" }]],
    [
      "ip:host:container",
      '"127.0.0.1:8080:80"',
      [{ mode: "ingress", host_ip: "127.0.0.1", target: 80, published: "8080", protocol: "tcp" }],
    ],
    ["ip::container (ephemeral host port)", '"127.0.0.1::80"', [{ mode: "ingress", host_ip: "127.0.0.1", target: 80, protocol: "tcp" }]],
    ["a protocol", '"53:53/udp"', [{ mode: "ingress", target: 53, published: "53", protocol: "udp" }]],
    ["an upper-case protocol", '"53:53/UDP"', [{ mode: "ingress", target: 53, published: "53", protocol: "udp" }]],
    ["sctp", '"9:9/sctp"', [{ mode: "ingress", target: 9, published: "9", protocol: "sctp" }]],
    [
      "a bracketed IPv6 host ip",
      '"[::1]:8080:80"',
      [{ mode: "ingress", host_ip: "::1", target: 80, published: "8080", protocol: "tcp" }],
    ],
    [
      "a host port range for one container port",
      '"8000-8010:80"',
      [{ mode: "ingress", target: 80, published: "8000-8010", protocol: "tcp" }],
    ],
  ])("%s", (_name, entry, expected) => {
    expect(ports(entry)).toEqual(expected);
  });

  it("expands ranges into one entry per port", () => {
    expect(ports('"8080-8081:80-81/udp"', '"3000-3002"')).toEqual([
      { mode: "ingress", target: 80, published: "8080", protocol: "udp" },
      { mode: "ingress", target: 81, published: "8081", protocol: "udp" },
      { mode: "ingress", target: 3000, protocol: "tcp" },
      { mode: "ingress", target: 3001, protocol: "tcp" },
      { mode: "ingress", target: 3002, protocol: "tcp" },
    ]);
  });

  it("reads plain published:target the way the general path does (leading zeros, limits)", () => {
    expect(parsePortSpec("08080:080")).toEqual([{ mode: "ingress", target: 80, published: "8080", protocol: "tcp" }]);
    expect(parsePortSpec("65535")).toEqual([{ mode: "ingress", target: 65535, protocol: "tcp" }]);
    expect(() => parsePortSpec("65536")).toThrow("Invalid containerPort: 65536");
    expect(() => parsePortSpec("65536:80")).toThrow("Invalid hostPort: 65536");
  });

  it("orders an expanded range as Compose does: by port text", () => {
    expect(parsePortSpec("9-10").map((port) => port["target"])).toEqual([10, 9]);
  });

  it("completes the long syntax and prints published as a string", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    ports:",
      "      - target: 80",
      "        published: 8080",
      "      - target: 443",
      "        host_ip: 10.0.0.1",
      "        mode: host",
      "        protocol: udp",
      "        name: https",
      "        app_protocol: http2",
    );
    expect(serviceOf(normalized(text))["ports"]).toEqual([
      { mode: "ingress", target: 80, published: "8080", protocol: "tcp" },
      { name: "https", mode: "host", host_ip: "10.0.0.1", target: 443, protocol: "udp", app_protocol: "http2" },
    ]);
  });

  it("drops duplicates that expansion reveals, keeping the place of the first", () => {
    expect(ports('"8080-8081:80-81"', '"8081:81"', "22")).toEqual([
      { mode: "ingress", target: 80, published: "8080", protocol: "tcp" },
      { mode: "ingress", target: 81, published: "8081", protocol: "tcp" },
      { mode: "ingress", target: 22, protocol: "tcp" },
    ]);
  });

  it("keeps origins for entries a range expanded into and for the entries after them", () => {
    const document = normalize(
      yaml("services:", "  web:", "    image: nginx", "    ports:", '      - "8080-8081:80-81"', '      - "9000:9000"'),
    );
    expect(positionOf(document.origins, "services.web.ports[1]")).toEqual({ file: composeFile, line: 5, column: 9 });
    expect(positionOf(document.origins, "services.web.ports[2].target")).toEqual({ file: composeFile, line: 6, column: 9 });
  });

  it.each([
    ["a container port that is not a number", '"80:http"', "Invalid containerPort: http"],
    ["a port over 65535", '"70000"', "Invalid containerPort: 70000"],
    ["mismatched ranges", '"8080-8082:80-81"', "Invalid ranges specified for container and host Ports: 80-81 and 8080-8082"],
    ["an unknown protocol", '"80/icmp"', "Invalid proto: icmp"],
    ["a bad host ip", '"300.0.0.1:80:80"', "Invalid ip address: 300.0.0.1"],
    ["an empty container port", '"8080:"', "No port specified: 8080:<empty>"],
  ])("rejects %s at its position", (_name, entry, message) => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    ports:", "      - 80", `      - ${entry}`));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.message).toBe(message);
    expect(error.path).toBe("services.web.ports[1]");
    expect([error.file, error.line, error.column]).toEqual([composeFile, 6, 9]);
  });

  it("rejects a long-syntax host_ip that is not an IP", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    ports:", "      - target: 80", "        host_ip: localhost"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.ports[0].host_ip");
    expect([error.line, error.column]).toEqual([6, 9]);
  });

  it("rejects a long-syntax protocol Compose does not know", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    ports:", "      - target: 80", "        protocol: icmp"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.ports[0].protocol");
    expect(error.line).toBe(6);
  });
});
