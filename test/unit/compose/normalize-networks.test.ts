import { describe, expect, it } from "vitest";
import { normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

describe("normalize: networks", () => {
  it("joins services without networks or network_mode to an implicit default network", () => {
    const data = normalized(yaml("services:", "  web:", "    image: nginx", "  host:", "    image: agent", "    network_mode: host"));
    expect(data).toEqual({
      name: "demo",
      services: {
        host: { image: "agent", network_mode: "host" },
        web: { image: "nginx", networks: { default: null } },
      },
      networks: { default: { name: "demo_default" } },
    });
  });

  it("adds no default network when no service uses it", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    networks: [front, back]", "networks:", "  front: {}", "  back:", "    internal: true");
    const data = normalized(text);
    expect(serviceOf(data)["networks"]).toEqual({ back: null, front: null });
    expect(data["networks"]).toEqual({ back: { name: "demo_back", internal: true }, front: { name: "demo_front" } });
  });

  it("keeps per-network options and a declared default network", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    networks:",
      "      default:",
      "      front:",
      "        aliases: [www]",
      "        ipv4_address: 172.20.0.5",
      "networks:",
      "  default:",
      "    driver: bridge",
      "  front:",
      "    ipam:",
      "      config:",
      "        - subnet: 172.20.0.0/24",
    );
    const data = normalized(text);
    expect(serviceOf(data)["networks"]).toEqual({ default: null, front: { aliases: ["www"], ipv4_address: "172.20.0.5" } });
    expect(data["networks"]).toEqual({
      default: { name: "demo_default", driver: "bridge" },
      front: { name: "demo_front", ipam: { config: [{ subnet: "172.20.0.0/24" }] } },
    });
  });

  it("names resources: <project>_<key>, the key when external, or their own name", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    volumes: [data:/data, shared:/shared, legacy:/legacy]",
      "volumes:",
      "  data:",
      "  shared:",
      "    external: true",
      "  legacy:",
      "    external:",
      "      name: old-volume",
      "  named:",
      "    name: my-volume",
    );
    const warnings: string[] = [];
    const data = normalized(text, { warnings });
    expect(data["volumes"]).toEqual({
      data: { name: "demo_data" },
      legacy: { name: "old-volume", external: true },
      named: { name: "my-volume" },
      shared: { name: "shared", external: true },
    });
    expect(warnings).toEqual(["volumes.legacy: external.name is deprecated. Please set name and external: true"]);
  });

  it("rejects external.name that contradicts name", () => {
    const error = normalizeFailure(yaml("services: {}", "networks:", "  n:", "    name: a", "    external:", "      name: b"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("networks.n.external");
    expect(error.line).toBe(5);
  });

  it("names secrets and configs too, and never prints secret content", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    secrets: [token]",
      "    configs: [site]",
      "secrets:",
      "  token:",
      "    environment: TOKEN",
      "configs:",
      "  site:",
      "    content: hello",
    );
    const data = normalized(text, { environment: { TOKEN: "s3cret" } });
    expect(data["secrets"]).toEqual({ token: { name: "demo_token", environment: "TOKEN" } });
    expect(data["configs"]).toEqual({ site: { name: "demo_site", content: "hello" } });
    expect(serviceOf(data)["secrets"]).toEqual([{ source: "token", target: "/run/secrets/token" }]);
    expect(serviceOf(data)["configs"]).toEqual([{ source: "site" }]);
  });
});
