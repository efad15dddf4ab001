import { describe, expect, it } from "vitest";
import { ComposeError } from "../../../src/errors.js";
import { TaggedValue } from "../../../src/compose/document.js";
import { parseComposeYaml } from "../../../src/compose/parse-yaml.js";

function parseError(text: string): ComposeError {
  try {
    parseComposeYaml("compose.yaml", text);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error("expected a ComposeError");
}

describe("parseComposeYaml", () => {
  it("records the position of every key", () => {
    const document = parseComposeYaml("compose.yaml", "services:\n  web:\n    image: nginx\n    ports:\n      - 80\n");
    expect(document.data).toEqual({ services: { web: { image: "nginx", ports: [80] } } });
    expect(document.origins.get("services.web.image")).toEqual({ file: "compose.yaml", line: 3, column: 5 });
    expect(document.origins.get("services.web.ports[0]")).toEqual({ file: "compose.yaml", line: 5, column: 9 });
  });

  it("applies merge keys with explicit keys winning, wherever << stands", () => {
    const text = [
      "x-base: &base",
      "  image: base",
      "  restart: always",
      "services:",
      "  web:",
      "    image: mine",
      "    <<: *base",
    ].join("\n");
    const document = parseComposeYaml("compose.yaml", text);
    expect(document.data["services"]).toEqual({ web: { image: "mine", restart: "always" } });
    expect(document.origins.get("services.web.image")?.line).toBe(6);
    expect(document.origins.get("services.web.restart")?.line).toBe(3);
  });

  it("keeps !reset and !override as tagged values", () => {
    const document = parseComposeYaml("compose.yaml", "services:\n  web:\n    ports: !reset []\n    environment: !override\n      A: b\n");
    const web = (document.data["services"] as Record<string, Record<string, unknown>>)["web"];
    expect(web?.["ports"]).toEqual(new TaggedValue("reset", []));
    expect(web?.["environment"]).toEqual(new TaggedValue("override", { A: "b" }));
  });

  it.each([
    ["duplicate keys", "services:\n  web:\n    image: a\n    image: b\n", 4],
    ["tab indentation", "services:\n\tweb:\n", 2],
    ["unclosed quote", 'services:\n  web:\n    image: "nginx\n', 3],
    ["binary junk", "services:\u0000\u0001", 1],
  ])("rejects %s with a position", (_name, text, line) => {
    const error = parseError(text);
    expect(error.code).toMatch(/^E_COMPOSE_/);
    expect(error.line).toBe(line);
  });

  it("rejects an empty file", () => {
    expect(parseError("").code).toBe("E_COMPOSE_EMPTY");
    expect(parseError("# only a comment\n").code).toBe("E_COMPOSE_EMPTY");
  });

  it("refuses an alias to a node that contains it, instead of recursing forever", () => {
    const error = parseError("services:\n  a: &a [*a]\n");
    expect(error.code).toBe("E_COMPOSE_YAML");
    expect(error.line).toBe(2);
    expect(parseError("x: &a\n  b: 1\n  <<: *a\nservices: {}\n").code).toBe("E_COMPOSE_YAML");
  });

  it("refuses a __proto__ key with its position rather than losing it", () => {
    const error = parseError("services:\n  web:\n    image: a\n  __proto__:\n    image: b\n");
    expect(error.code).toBe("E_COMPOSE_YAML");
    expect(error.path).toBe("services.__proto__");
    expect(error.line).toBe(4);
    expect(parseError("services:\n  web:\n    environment:\n      __proto__: x\n").path).toBe("services.web.environment.__proto__");
  });

  it("rejects a top level that is not a mapping", () => {
    expect(parseError("- a\n- b\n").code).toBe("E_COMPOSE_YAML");
  });
});
