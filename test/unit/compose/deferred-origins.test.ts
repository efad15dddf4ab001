// What the loader does to stay fast on large projects without changing what it returns:
// origins computed only when read (and then the same as before), tag-free trees known without a
// walk, alias values shared, user-keyed mappings copied key by key, and the values-only merge.

import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import type { LoadContext } from "../../../src/compose/context.js";
import {
  copyMapping,
  deferredOrigins,
  isMapping,
  isTagFree,
  markTagFree,
  passTagFree,
  positionOf,
  TaggedValue,
  type ComposeDocument,
  type Mapping,
} from "../../../src/compose/document.js";
import { loadProject } from "../../../src/compose/index.js";
import { mergeDocuments, mergeValue, mergeValuesAt, resetTagsPass, type LocatedValue } from "../../../src/compose/merge.js";
import { parseComposeYaml, parseComposeYamlSlow } from "../../../src/compose/parse-yaml.js";
import { parseComposeYamlFast } from "../../../src/compose/yaml-fast.js";
import { memoryFiles } from "./memory-files.js";

function deepFreeze<T>(value: T): T {
  if (value instanceof TaggedValue) deepFreeze(value.value);
  else if (typeof value === "object" && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

function service(data: Mapping, name: string): Mapping {
  const services = data["services"];
  if (!isMapping(services) || !isMapping(services[name])) throw new Error(`no service ${name}`);
  return services[name];
}

const position = (line: number, column: number) => ({ file: "/p/compose.yaml", line, column });

describe("deferredOrigins", () => {
  it("computes the table once, on first read, and reads as a map", () => {
    let computed = 0;
    const origins = deferredOrigins(() => {
      computed++;
      return new Map([
        ["services", position(1, 1)],
        ["services.web", position(2, 3)],
      ]);
    });
    expect(computed).toBe(0);
    expect(origins.get("services.web")).toEqual(position(2, 3));
    expect(origins.has("services")).toBe(true);
    expect(origins.size).toBe(2);
    expect([...origins.keys()]).toEqual(["services", "services.web"]);
    expect([...origins].map(([key]) => key)).toEqual(["services", "services.web"]);
    expect(new Map(origins).get("services")).toEqual(position(1, 1));
    const seen: string[] = [];
    origins.forEach((_position, key, map) => {
      seen.push(key);
      expect(map).toBe(origins);
    });
    expect(seen).toEqual(["services", "services.web"]);
    expect(positionOf(origins, "services.web.image")).toEqual(position(2, 3));
    expect(computed).toBe(1);
  });
});

describe("parse: origins read again from the text when asked for", () => {
  const text = [
    "x-defaults: &defaults",
    "  restart: always",
    "  labels:",
    "    a: b",
    "services:",
    "  web:",
    "    <<: *defaults",
    "    image: nginx",
    "    healthcheck: &check",
    "      test: [CMD, 'true']",
    "  db:",
    "    <<: *defaults",
    "    healthcheck: *check",
    "",
  ].join("\n");

  it("gives the origins, in the order, that the positioned fast path records", () => {
    const recorded = parseComposeYamlFast("/p/compose.yaml", text, { maxAliasExpansions: 100 });
    expect(recorded).toBeDefined();
    const document = parseComposeYaml("/p/compose.yaml", text);
    expect([...document.origins]).toEqual([...(recorded as ComposeDocument).origins]);
    expect([...document.origins]).toEqual([...parseComposeYamlSlow("/p/compose.yaml", text).origins]);
    expect(document.origins.get("services.db.labels.a")).toEqual(position(4, 5));
  });

  it("records nothing when asked not to, and reads the same data", () => {
    const unpositioned = parseComposeYamlFast("/p/compose.yaml", text, { maxAliasExpansions: 100, positions: false });
    expect(unpositioned?.origins.size).toBe(0);
    expect(unpositioned?.data).toEqual(parseComposeYamlSlow("/p/compose.yaml", text).data);
  });

  it("still refuses a __proto__ key, at its position", () => {
    let error: unknown;
    try {
      parseComposeYaml("/p/compose.yaml", "services:\n  web:\n    __proto__: x\n");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ComposeError);
    expect(error).toMatchObject({ path: "services.web.__proto__", line: 3, column: 5 });
  });

  it("shares an alias's value between the places that use it, which no pass changes", () => {
    const data = parseComposeYaml("/p/compose.yaml", text).data;
    expect(service(data, "web")["labels"]).toBe(service(data, "db")["labels"]);
    const override = parseComposeYaml("/p/override.yaml", "services:\n  web:\n    labels:\n      a: c\n");
    const first = parseComposeYaml("/p/compose.yaml", text);
    deepFreeze(first.data);
    const merged = mergeDocuments([first, override]);
    expect(service(merged.data, "web")["labels"]).toEqual({ a: "c" });
    expect(service(merged.data, "db")["labels"]).toEqual({ a: "b" });
  });

  it("loads a project whose services share aliases, each service with its own values", () => {
    const files = memoryFiles({
      "/p/compose.yaml": text.replace("image: nginx", "image: nginx\n    environment: {A: '${A:-1}'}"),
      "/p/compose.override.yaml": "services:\n  db:\n    image: postgres\n    labels: {a: d}\n",
    });
    const loaded = loadProject({ workingDirectory: "/p", osEnvironment: {}, fileReader: files, projectName: "p" });
    const project = loaded.project;
    expect(project?.services["web"]?.labels).toEqual({ a: "b" });
    expect(project?.services["db"]?.labels).toEqual({ a: "d" });
    expect(project?.services["db"]?.healthcheck?.test).toEqual(["CMD", "true"]);
    expect(loaded.document.origins.get("services.db.image")).toMatchObject({ file: "/p/compose.override.yaml", line: 3 });
  });
});

describe("tag-free trees", () => {
  it("are what the parser read without !reset or !override", () => {
    expect(isTagFree(parseComposeYaml("/p/a.yaml", "services:\n  web:\n    image: nginx\n").data)).toBe(true);
    expect(isTagFree(parseComposeYaml("/p/a.yaml", "services:\n  web:\n    ports: !reset []\n").data)).toBe(false);
    expect(isTagFree({ services: {} })).toBe(false);
  });

  it("pass on to derived trees only from tag-free ones", () => {
    const free = markTagFree({ a: 1 });
    expect(isTagFree(passTagFree(free, { a: 1, b: 2 }))).toBe(true);
    expect(isTagFree(passTagFree({ a: 1 }, { a: 1, b: 2 }))).toBe(false);
  });

  it("let reset-tags hand a tag-free document back as it is, and merges come out tag-free", () => {
    const document = parseComposeYaml("/p/a.yaml", "services:\n  web:\n    image: nginx\n");
    expect(resetTagsPass.run(document, {} as LoadContext)).toBe(document);
    const tagged = parseComposeYaml("/p/b.yaml", "services:\n  web:\n    ports: !reset []\n");
    const merged = mergeDocuments([document, tagged]);
    expect(isTagFree(merged.data)).toBe(true);
    expect(service(merged.data, "web")).toEqual({ image: "nginx" });
  });
});

describe("mergeValue", () => {
  const located = (text: string, file: string): LocatedValue => {
    const document = parseComposeYaml(file, text);
    return { value: document.data, origins: document.origins, path: "" };
  };

  it("is mergeValuesAt's value", () => {
    const base = located("services:\n  web:\n    image: a\n    ports: ['80']\n    environment: [A=1]\n    labels: {x: y}\n", "/p/a.yaml");
    const override = located(
      "services:\n  web:\n    ports: ['81', '80']\n    environment: {B: '2'}\n    labels: !override {z: w}\n    volumes: [./d:/d]\n",
      "/p/b.yaml",
    );
    expect(mergeValue(base, override, [])).toEqual(mergeValuesAt(base, override, []).value);
  });

  it("raises the positioned merge's error", () => {
    const base = located("services:\n  web:\n    ports: ['80']\n", "/p/a.yaml");
    const override = located("services:\n  web:\n    ports: {a: 1}\n", "/p/b.yaml");
    const expected = (() => {
      try {
        mergeValuesAt(base, override, []);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(expected).toBeInstanceOf(ComposeError);
    const { code, message, file, line, column, path } = expected as ComposeError;
    expect(line).toBe(3);
    expect(() => mergeValue(base, override, [])).toThrow(expect.objectContaining({ code, message, file, line, column, path }));
  });
});

describe("copyMapping", () => {
  it("copies every key, in order, __proto__ as a key", () => {
    const source: Mapping = { b: 1, a: { c: 2 } };
    Object.defineProperty(source, "__proto__", { value: 3, enumerable: true, writable: true, configurable: true });
    const copy = copyMapping(source);
    expect(copy).not.toBe(source);
    expect(Object.keys(copy)).toEqual(["b", "a", "__proto__"]);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy["a"]).toBe(source["a"]);
  });

  it("keeps a large mapping quick to change", () => {
    const services: Mapping = {};
    for (let index = 0; index < 2000; index++) services[`svc-${index}`] = { index };
    const copy = copyMapping(services);
    for (const key of Object.keys(copy)) copy[key] = { changed: true };
    expect(Object.keys(copy)).toEqual(Object.keys(services));
    expect(services["svc-1"]).toEqual({ index: 1 });
  });
});
