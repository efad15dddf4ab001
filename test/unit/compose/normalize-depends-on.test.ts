import { describe, expect, it } from "vitest";
import { positionOf } from "../../../src/compose/document.js";
import { composeFile, normalize, normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

describe("normalize: depends_on", () => {
  it("turns the list form into the long form", () => {
    const data = normalized(yaml("services:", "  web:", "    image: nginx", "    depends_on: [db, cache]", "  db:", "    image: postgres", "  cache:", "    image: redis"));
    expect(serviceOf(data)["depends_on"]).toEqual({
      cache: { condition: "service_started", required: true },
      db: { condition: "service_started", required: true },
    });
  });

  it("completes map entries and keeps restart", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    depends_on:",
      "      db:",
      "        condition: service_healthy",
      "        restart: true",
      "      migrate:",
      "        condition: service_completed_successfully",
      "        required: false",
      "  db:",
      "    image: postgres",
      "  migrate:",
      "    image: tool",
    );
    expect(serviceOf(normalized(text))["depends_on"]).toEqual({
      db: { condition: "service_healthy", restart: true, required: true },
      migrate: { condition: "service_completed_successfully", required: false },
    });
  });

  it("adds the dependencies that links, volumes_from and shared namespaces imply", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: nginx",
      "    links: [db, 'cache:redis']",
      "    volumes_from: [files, 'container:abc', 'logs:ro']",
      "    ipc: service:shm",
      "    pid: service:db",
      "    depends_on:",
      "      db:",
      "        condition: service_healthy",
      ...["db", "cache", "files", "logs", "shm"].flatMap((name) => [`  ${name}:`, "    image: x"]),
    );
    expect(serviceOf(normalized(text))["depends_on"]).toEqual({
      cache: { condition: "service_started", restart: true, required: true },
      db: { condition: "service_healthy", required: true },
      files: { condition: "service_started", required: true },
      logs: { condition: "service_started", required: true },
      shm: { condition: "service_started", restart: true, required: true },
    });
  });

  it("makes network_mode: service:x a dependency and leaves the service off the default network", () => {
    const data = normalized(yaml("services:", "  web:", "    image: nginx", "    network_mode: service:vpn", "  vpn:", "    image: vpn"));
    expect(serviceOf(data)).toEqual({
      depends_on: { vpn: { condition: "service_started", restart: true, required: true } },
      image: "nginx",
      network_mode: "service:vpn",
    });
  });

  it("gives an implied dependency the position of what implied it", () => {
    const document = normalize(yaml("services:", "  web:", "    image: nginx", "    links:", "      - db", "  db:", "    image: postgres"));
    expect(positionOf(document.origins, "services.web.depends_on.db")).toEqual({ file: composeFile, line: 5, column: 9 });
  });

  it("gives a list entry's long form the position of the list entry", () => {
    const document = normalize(yaml("services:", "  web:", "    image: nginx", "    depends_on:", "      - db", "  db:", "    image: postgres"));
    expect(positionOf(document.origins, "services.web.depends_on.db.condition")).toEqual({ file: composeFile, line: 5, column: 9 });
  });

  it("rejects an unknown condition at its position", () => {
    const error = normalizeFailure(
      yaml("services:", "  web:", "    image: nginx", "    depends_on:", "      db:", "        condition: service_ready", "  db:", "    image: postgres"),
    );
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.depends_on.db.condition");
    expect([error.line, error.column]).toEqual([6, 9]);
  });

  it("rejects an entry that is not a mapping", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    depends_on:", "      db: yes"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.depends_on.db");
    expect(error.line).toBe(5);
  });
});
