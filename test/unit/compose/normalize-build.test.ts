import { describe, expect, it } from "vitest";
import { normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

describe("normalize: build", () => {
  it("turns build: <dir> into {context, dockerfile} and invents no image", () => {
    expect(serviceOf(normalized(yaml("services:", "  web:", "    build: ./app")))).toEqual({
      build: { context: "/project/app", dockerfile: "Dockerfile" },
      networks: { default: null },
    });
  });

  it("defaults the context to the project directory", () => {
    expect(serviceOf(normalized(yaml("services:", "  web:", "    build:", "      target: prod")))["build"]).toEqual({
      context: "/project",
      dockerfile: "Dockerfile",
      target: "prod",
    });
  });

  it("adds no Dockerfile next to dockerfile_inline", () => {
    const text = yaml("services:", "  web:", "    build:", "      context: .", "      dockerfile_inline: |", "        FROM alpine");
    expect(serviceOf(normalized(text))["build"]).toEqual({ context: "/project", dockerfile_inline: "FROM alpine\n" });
  });

  it("prints every build attribute in Compose's order and long form", () => {
    const text = yaml(
      "services:",
      "  web:",
      "    image: example/web:1",
      "    build:",
      "      platforms: linux/amd64",
      "      tags: [example/web:latest]",
      "      shm_size: 1g",
      "      secrets: [npmrc]",
      "      ssh: [default, key=/keys/id]",
      "      additional_contexts:",
      "        - base=docker-image://alpine",
      "      cache_from: type=local,src=/cache",
      "      labels: [a=b]",
      "      provenance: true",
      "      no_cache: true",
      "      pull: false",
      "      extra_hosts: ['db:10.0.0.2']",
      "      ulimits:",
      "        nofile: 1024",
      "      dockerfile: Containerfile",
      "      context: app",
      "secrets:",
      "  npmrc:",
      "    file: ./npmrc",
    );
    const build = serviceOf(normalized(text))["build"];
    expect(build).toEqual({
      context: "/project/app",
      dockerfile: "Containerfile",
      provenance: "true",
      ssh: ["default", "key=/keys/id"],
      labels: { a: "b" },
      cache_from: ["type=local,src=/cache"],
      no_cache: true,
      additional_contexts: { base: "docker-image://alpine" },
      extra_hosts: ["db=10.0.0.2"],
      secrets: [{ source: "npmrc" }],
      shm_size: "1073741824",
      tags: ["example/web:latest"],
      ulimits: { nofile: 1024 },
      platforms: ["linux/amd64"],
    });
    expect(Object.keys(build as object)).toEqual([
      "context",
      "dockerfile",
      "provenance",
      "ssh",
      "labels",
      "cache_from",
      "no_cache",
      "additional_contexts",
      "extra_hosts",
      "secrets",
      "shm_size",
      "tags",
      "ulimits",
      "platforms",
    ]);
  });

  it("rejects an additional context without a name", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    build:", "      context: .", "      additional_contexts:", "        - alpine"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.build.additional_contexts[0]");
    expect([error.line, error.column]).toEqual([6, 11]);
  });

  it("rejects an ssh entry without a path unless it is default", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    build:", "      context: .", "      ssh: [mykey]"));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.build.ssh[0]");
    expect(error.line).toBe(5);
  });
});
