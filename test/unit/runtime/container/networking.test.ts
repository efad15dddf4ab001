import { describe, expect, it } from "vitest";
import { expandPorts, exposedPortKeys, networkModeKind } from "../../../../src/runtime/container/networking.js";

describe("network modes", () => {
  it("tells none, host, container: and networks apart", () => {
    expect(networkModeKind(undefined)).toBe("bridge");
    expect(networkModeKind("default")).toBe("bridge");
    expect(networkModeKind("front")).toBe("bridge");
    expect(networkModeKind("none")).toBe("none");
    expect(networkModeKind("host")).toBe("host");
    expect(networkModeKind("container:db")).toBe("container");
  });
});

describe("exposed ports", () => {
  it("merges the image's, --expose (ranges, protocols) and the published ones, sorted", () => {
    expect(exposedPortKeys(["8080/tcp", "53/udp"], { exposedPorts: ["9000-9001", "7/udp"], portBindings: [{ containerPort: 80 }] })).toEqual([
      "7/udp",
      "53/udp",
      "80/tcp",
      "8080/tcp",
      "9000/tcp",
      "9001/tcp",
    ]);
    expect(() => exposedPortKeys([], { exposedPorts: ["90-80"] })).toThrow(/invalid range/);
  });
});

describe("published ports", () => {
  it("expands ranges pairwise and keeps a host range for one container port", () => {
    expect(expandPorts([{ containerPort: 80, containerPortEnd: 81, hostPort: 8080, hostPortEnd: 8081 }], false, [])).toEqual([
      { containerPort: 80, protocol: "tcp", hostIp: "", hostPort: 8080, hostPortEnd: 8080 },
      { containerPort: 81, protocol: "tcp", hostIp: "", hostPort: 8081, hostPortEnd: 8081 },
    ]);
    expect(expandPorts([{ containerPort: 80, hostPort: 8080, hostPortEnd: 8090, protocol: "udp", hostIp: "127.0.0.1" }], false, [])).toEqual([
      { containerPort: 80, protocol: "udp", hostIp: "127.0.0.1", hostPort: 8080, hostPortEnd: 8090 },
    ]);
    expect(expandPorts([{ containerPort: 80, containerPortEnd: 82 }], false, [])).toHaveLength(3);
  });

  it("refuses mismatched ranges and ports out of range", () => {
    expect(() => expandPorts([{ containerPort: 80, containerPortEnd: 81, hostPort: 8080, hostPortEnd: 8082 }], false, [])).toThrow(/Invalid ranges/);
    expect(() => expandPorts([{ containerPort: 80, containerPortEnd: 81, hostPort: 8080 }], false, [])).toThrow(/Invalid ranges/);
    expect(() => expandPorts([{ containerPort: 70000 }], false, [])).toThrow(/invalid containerPort/);
  });

  it("-P publishes every exposed port not bound yet, on any host port", () => {
    expect(expandPorts([{ containerPort: 80, hostPort: 8080 }], true, ["80/tcp", "443/tcp", "53/udp"])).toEqual([
      { containerPort: 80, protocol: "tcp", hostIp: "", hostPort: 8080, hostPortEnd: 8080 },
      { containerPort: 443, protocol: "tcp", hostIp: "", hostPort: 0, hostPortEnd: 0 },
      { containerPort: 53, protocol: "udp", hostIp: "", hostPort: 0, hostPortEnd: 0 },
    ]);
  });
});
