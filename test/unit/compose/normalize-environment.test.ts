import { describe, expect, it } from "vitest";
import { positionOf } from "../../../src/compose/document.js";
import { composeFile, normalize, normalized, normalizeFailure, serviceOf, yaml } from "./normalize-helpers.js";

const environment = { FROM_SHELL: "shell value", TAG: "1.2" };

describe("normalize: environment", () => {
  it("turns the list form into a map, resolving bare keys from the project environment", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    environment:", "      - A=1", "      - B=", "      - C=x=y", "      - FROM_SHELL", "      - UNSET");
    expect(serviceOf(normalized(text, { environment }))["environment"]).toEqual({
      A: "1",
      B: "",
      C: "x=y",
      FROM_SHELL: "shell value",
      UNSET: null,
    });
  });

  it("resolves null map values and prints scalars as strings", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    environment:", "      FROM_SHELL:", "      UNSET: ~", "      PORT: 8080", "      DEBUG: true", "      RATIO: 0.5");
    expect(serviceOf(normalized(text, { environment }))["environment"]).toEqual({
      DEBUG: "true",
      FROM_SHELL: "shell value",
      PORT: "8080",
      RATIO: "0.5",
      UNSET: null,
    });
  });

  it("prints keys in Compose's order (digit runs compare as numbers)", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    environment:", "      V10: a", "      V9: b", "      b: c", "      A: d");
    expect(Object.keys(serviceOf(normalized(text))["environment"] as object)).toEqual(["A", "V9", "V10", "b"]);
  });

  it("merges env files in order under the explicit environment, then drops env_file", () => {
    const files = {
      "/project/base.env": "A=base\nB=base\nC=base\n",
      "/project/override.env": "B=override\nD=${TAG}\nE=${A}\n",
    };
    const text = yaml("services:", "  web:", "    image: nginx", "    env_file:", "      - base.env", "      - path: ./override.env", "    environment:", "      C: explicit");
    expect(serviceOf(normalized(text, { files, environment }))).toEqual({
      environment: { A: "base", B: "override", C: "explicit", D: "1.2", E: "base" },
      image: "nginx",
      networks: { default: null },
    });
  });

  it("accepts a single env_file string", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    env_file: web.env");
    expect(serviceOf(normalized(text, { files: { "/project/web.env": "X=1\n" } }))["environment"]).toEqual({ X: "1" });
  });

  it("skips a missing env file marked required: false", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    env_file:", "      - path: missing.env", "        required: false");
    expect(serviceOf(normalized(text))).toEqual({ image: "nginx", networks: { default: null } });
  });

  it("rejects a missing env file at its position", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    env_file:", "      - ok.env", "      - missing.env"), {
      files: { "/project/ok.env": "A=1\n" },
    });
    expect(error.code).toBe("E_COMPOSE_ENV_FILE");
    expect(error.message).toBe("env file /project/missing.env not found: stat /project/missing.env: no such file or directory");
    expect(error.path).toBe("services.web.env_file[1]");
    expect([error.file, error.line, error.column]).toEqual([composeFile, 6, 9]);
  });

  it("rejects an env_file format Compose does not know", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    env_file:", "      - path: a.env", "        format: json"), {
      files: { "/project/a.env": "A=1\n" },
    });
    expect(error.code).toBe("E_COMPOSE_ENV_FILE");
    expect(error.path).toBe("services.web.env_file[0].format");
    expect(error.line).toBe(6);
  });

  it("rejects a key with a trailing space", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    environment:", '      - "A =1"'));
    expect(error.code).toBe("E_COMPOSE_NORMALIZE");
    expect(error.path).toBe("services.web.environment[0]");
    expect([error.line, error.column]).toEqual([5, 9]);
  });

  it("gives a list entry turned into a map key the entry's position", () => {
    const document = normalize(yaml("services:", "  web:", "    image: nginx", "    environment:", "      - A=1", "      - B=2"));
    expect(positionOf(document.origins, "services.web.environment.B")).toEqual({ file: composeFile, line: 6, column: 9 });
  });
});

describe("normalize: labels", () => {
  it("turns the list form into a map; a bare key is an empty label", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    labels:", "      - com.example.a=1", "      - com.example.flag");
    expect(serviceOf(normalized(text))["labels"]).toEqual({ "com.example.a": "1", "com.example.flag": "" });
  });

  it("merges label files under explicit labels and drops label_file", () => {
    const text = yaml("services:", "  web:", "    image: nginx", "    label_file: ./web.labels", "    labels:", "      b: explicit", "      n: 42");
    const data = normalized(text, { files: { "/project/web.labels": "a=from file\nb=from file\n" } });
    expect(serviceOf(data)).toEqual({ image: "nginx", labels: { a: "from file", b: "explicit", n: "42" }, networks: { default: null } });
  });

  it("rejects a missing label file", () => {
    const error = normalizeFailure(yaml("services:", "  web:", "    image: nginx", "    label_file:", "      - missing.labels"));
    expect(error.code).toBe("E_COMPOSE_ENV_FILE");
    expect(error.path).toBe("services.web.label_file[0]");
    expect(error.line).toBe(5);
  });
});

describe("normalize: build args", () => {
  it("resolves bare args from the project environment and drops unset ones", () => {
    const text = yaml("services:", "  web:", "    build:", "      context: .", "      args:", "        - TAG", "        - MISSING", "        - FIXED=yes");
    expect((serviceOf(normalized(text, { environment }))["build"] as Record<string, unknown>)["args"]).toEqual({ FIXED: "yes", TAG: "1.2" });
  });

  it("resolves null map args the same way", () => {
    const text = yaml("services:", "  web:", "    build:", "      context: .", "      args:", "        TAG:", "        MISSING:", "        N: 3");
    expect((serviceOf(normalized(text, { environment }))["build"] as Record<string, unknown>)["args"]).toEqual({ N: "3", TAG: "1.2" });
  });
});
