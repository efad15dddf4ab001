// Pass: `${VAR}` interpolation in every string value (never in keys), then the type casts
// compose-go applies right after it (loader/interpolate.go). The template rules follow
// compose-go's template/template.go, quirks included, so files mean what they mean in
// Docker Compose: one scan per string, no regex per string, one walk per document.

import { ComposeError, ErrorCode, type SourcePosition } from "../errors.js";
import type { Environment, Pass } from "./context.js";
import { joinPath, passTagFree, positionOf, TaggedValue, type Mapping, type PathSegment } from "./document.js";

/** What a template needs from its caller: values, a warning sink, and how to fail. */
export interface TemplateHandlers {
  /** The variable's value, or undefined when it is not set (empty is set). */
  lookup(name: string): string | undefined;
  warn(message: string): void;
  /** `${` that is not a valid expression. Must throw. */
  invalid(): never;
  /** `${X:?reason}` / `${X?reason}` failed. Must throw. */
  missing(variable: string, reason: string): never;
}

export function unsetVariableWarning(name: string): string {
  return `The "${name}" variable is not set. Defaulting to a blank string.`;
}

export function missingVariableMessage(variable: string, reason: string): string {
  return reason === ""
    ? `required variable ${variable} is missing a value`
    : `required variable ${variable} is missing a value: ${reason}`;
}

/**
 * Substitute `$VAR`, `${VAR}`, `${VAR<op>arg}` (op: `:-` `-` `:+` `+` `:?` `?`) and `$$`.
 * A `$` followed by anything else stays literal. Arguments are substituted only when used,
 * so an unused default neither warns nor fails.
 */
export function substituteTemplate(template: string, handlers: TemplateHandlers): string {
  let dollar = template.indexOf("$");
  if (dollar < 0) return template;
  let result = "";
  let copiedUpTo = 0;
  // compose-go's braced pattern ends at the last `}` of the line; remember it per line.
  let lineEnd = -1;
  let lastBraceOnLine = -1;
  while (dollar >= 0) {
    result += template.slice(copiedUpTo, dollar);
    const next = template.charCodeAt(dollar + 1);
    if (next === 0x24 /* $ */) {
      result += "$";
      copiedUpTo = dollar + 2;
    } else if (isNameStart(next)) {
      const nameEnd = scanName(template, dollar + 1);
      result += plainValue(template.slice(dollar + 1, nameEnd), handlers);
      copiedUpTo = nameEnd;
    } else if (next === 0x7b /* { */) {
      const nameStart = dollar + 2;
      if (!isNameStart(template.charCodeAt(nameStart))) handlers.invalid();
      const nameEnd = scanName(template, nameStart);
      const name = template.slice(nameStart, nameEnd);
      const after = template.charCodeAt(nameEnd);
      if (after === 0x7d /* } */) {
        result += plainValue(name, handlers);
        copiedUpTo = nameEnd + 1;
      } else {
        const operator = operatorAt(template, nameEnd);
        if (operator === undefined) handlers.invalid();
        const argumentStart = nameEnd + operator.length;
        if (argumentStart > lineEnd) {
          lineEnd = template.indexOf("\n", argumentStart);
          if (lineEnd < 0) lineEnd = template.length;
          lastBraceOnLine = template.lastIndexOf("}", lineEnd - 1);
        }
        if (lastBraceOnLine < argumentStart) handlers.invalid();
        const closing = closingBrace(template, dollar, lastBraceOnLine);
        const argument = template.slice(argumentStart, closing);
        result += operatorValue(name, operator, argument, handlers);
        copiedUpTo = closing + 1;
      }
    } else {
      result += "$";
      copiedUpTo = dollar + 1;
    }
    dollar = template.indexOf("$", copiedUpTo);
  }
  return result + template.slice(copiedUpTo);
}

type Operator = ":-" | "-" | ":+" | "+" | ":?" | "?";

function operatorAt(template: string, index: number): Operator | undefined {
  const char = template.charAt(index);
  if (char === "-" || char === "+" || char === "?") return char;
  if (char !== ":") return undefined;
  const second = template.charAt(index + 1);
  if (second === "-") return ":-";
  if (second === "+") return ":+";
  if (second === "?") return ":?";
  return undefined;
}

/**
 * The `}` that closes the expression starting at `dollar`, counted the way compose-go's
 * getFirstBraceClosingIndex counts (a `{` also skips the character after it); when the
 * braces never balance, the expression runs to the last `}` of the line.
 */
function closingBrace(template: string, dollar: number, lastBrace: number): number {
  let open = 1;
  for (let index = dollar + 3; index <= lastBrace; index++) {
    const code = template.charCodeAt(index);
    if (code === 0x7d) {
      open--;
      if (open === 0) return index;
    } else if (code === 0x7b) {
      open++;
      index++;
    }
  }
  return lastBrace;
}

function operatorValue(name: string, operator: Operator, argument: string, handlers: TemplateHandlers): string {
  const value = handlers.lookup(name);
  switch (operator) {
    case ":-":
      return value === undefined || value === "" ? substituteTemplate(argument, handlers) : value;
    case "-":
      return value === undefined ? substituteTemplate(argument, handlers) : value;
    case ":+":
      return value !== undefined && value !== "" ? substituteTemplate(argument, handlers) : (value ?? "");
    case "+":
      return value !== undefined ? substituteTemplate(argument, handlers) : "";
    case ":?":
      if (value === undefined || value === "") handlers.missing(name, substituteTemplate(argument, handlers));
      return value;
    case "?":
      if (value === undefined) handlers.missing(name, substituteTemplate(argument, handlers));
      return value;
    default: {
      const unreachable: never = operator;
      return unreachable;
    }
  }
}

function plainValue(name: string, handlers: TemplateHandlers): string {
  const value = handlers.lookup(name);
  if (value !== undefined) return value;
  handlers.warn(unsetVariableWarning(name));
  return "";
}

/** [_A-Za-z] */
function isNameStart(code: number): boolean {
  return code === 0x5f || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** The end of the [_A-Za-z0-9]* run starting at `start` (whose first character is a name start). */
function scanName(template: string, start: number): number {
  let index = start + 1;
  for (; index < template.length; index++) {
    const code = template.charCodeAt(index);
    if (!isNameStart(code) && !(code >= 0x30 && code <= 0x39)) break;
  }
  return index;
}

function lookupIn(environment: Environment): (name: string) => string | undefined {
  // hasOwn: `${constructor}` must not find Object.prototype.constructor.
  return (name) => (Object.hasOwn(environment, name) ? environment[name] : undefined);
}

/** One line (the CLI prefixes file:line:col and the path); Compose's advice goes into the hint. */
function invalidFormatMessage(_path: string, template: string): string {
  return `invalid interpolation format ${JSON.stringify(template)}`;
}

const invalidFormatHint = "you may need to escape any $ with another $";

export interface InterpolateOptions {
  warn(message: string): void;
  /** Where the template sits (`services.web.image`), for the error. */
  readonly path?: string | undefined;
  readonly position?: SourcePosition | undefined;
  /** Instead of `position`: finds it, called only for an error (origins may be costly to read). */
  readonly locate?: () => SourcePosition | undefined;
}

/** One string, as the pass interpolates it. Throws E_COMPOSE_INTERPOLATION or E_COMPOSE_REQUIRED_VARIABLE. */
export function interpolateTemplate(template: string, environment: Environment, options: InterpolateOptions): string {
  const path = options.path ?? "";
  const position = (): SourcePosition | undefined => (options.locate === undefined ? options.position : options.locate());
  return substituteTemplate(template, {
    lookup: lookupIn(environment),
    warn: (message) => options.warn(message),
    invalid() {
      throw new ComposeError(ErrorCode.composeInterpolation, invalidFormatMessage(path, template), {
        hint: invalidFormatHint,
        position: position(),
        path,
      });
    },
    missing(variable, reason) {
      throw new ComposeError(ErrorCode.composeRequiredVariable, missingVariableMessage(variable, reason), {
        position: position(),
        path,
      });
    },
  });
}

// ---------------------------------------------------------------------------------------
// Type casts after interpolation (compose-go's interpolateTypeCastMapping). A string that
// cannot be cast stays a string: schema validation reports it with its position.

/** Returns the cast value, or undefined to leave the string as it is. */
export type Cast = (value: string, warn: (message: string) => void) => unknown;

const int64Max = 9223372036854775807n;
const int64Min = -9223372036854775808n;
const decimalInteger = /^[+-]?[0-9]+$/;
const decimalFloat = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const float32Max = 3.4028234663852886e38;

/** strconv.Atoi / ParseInt(s, 10, 64): optional sign, decimal digits, 64-bit range. */
export const toInteger: Cast = (value) => {
  if (!decimalInteger.test(value)) return undefined;
  if (value.length > 15) {
    const big = BigInt(value);
    if (big > int64Max || big < int64Min) return undefined;
  }
  return Number(value);
};

/** strconv.ParseFloat(s, 64) for decimal notation (Inf, NaN and hex floats stay strings). */
export const toFloat: Cast = (value) => {
  if (!decimalFloat.test(value)) return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
};

/** strconv.ParseFloat(s, 32): as toFloat, within float32 range. */
export const toFloat32: Cast = (value) => {
  const number = toFloat(value, () => undefined);
  return typeof number === "number" && Math.abs(number) <= float32Max ? number : undefined;
};

/** compose-go's toBoolean: YAML 1.1 words still work, with a warning. */
export const toBoolean: Cast = (value, warn) => {
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "y" || lower === "yes" || lower === "on") {
    warn(`${JSON.stringify(value)} for boolean is not supported by YAML 1.2, please use \`true\``);
    return true;
  }
  if (lower === "n" || lower === "no" || lower === "off") {
    warn(`${JSON.stringify(value)} for boolean is not supported by YAML 1.2, please use \`false\``);
    return false;
  }
  return undefined;
};

/** Path patterns (`*` matches any key or index) → cast. No concrete path matches two rows. */
export const typeCastRows: readonly (readonly [pattern: string, cast: Cast])[] = [
  ["services.*.cpu_count", toInteger],
  ["services.*.cpu_percent", toFloat],
  ["services.*.cpu_period", toInteger],
  ["services.*.cpu_quota", toInteger],
  ["services.*.cpu_rt_period", toInteger],
  ["services.*.cpu_rt_runtime", toInteger],
  ["services.*.cpus", toFloat32],
  ["services.*.cpu_shares", toInteger],
  ["services.*.init", toBoolean],
  ["services.*.depends_on.*.required", toBoolean],
  ["services.*.depends_on.*.restart", toBoolean],
  ["services.*.deploy.replicas", toInteger],
  ["services.*.deploy.update_config.parallelism", toInteger],
  ["services.*.deploy.update_config.max_failure_ratio", toFloat],
  ["services.*.deploy.rollback_config.parallelism", toInteger],
  ["services.*.deploy.rollback_config.max_failure_ratio", toFloat],
  ["services.*.deploy.restart_policy.max_attempts", toInteger],
  ["services.*.deploy.placement.max_replicas_per_node", toInteger],
  ["services.*.healthcheck.retries", toInteger],
  ["services.*.healthcheck.disable", toBoolean],
  ["services.*.oom_kill_disable", toBoolean],
  ["services.*.oom_score_adj", toInteger],
  ["services.*.pids_limit", toInteger],
  ["services.*.ports.*.target", toInteger],
  ["services.*.privileged", toBoolean],
  ["services.*.read_only", toBoolean],
  ["services.*.scale", toInteger],
  ["services.*.stdin_open", toBoolean],
  ["services.*.tty", toBoolean],
  ["services.*.ulimits.*", toInteger],
  ["services.*.ulimits.*.hard", toInteger],
  ["services.*.ulimits.*.soft", toInteger],
  ["services.*.volumes.*.read_only", toBoolean],
  ["services.*.volumes.*.volume.nocopy", toBoolean],
  ["networks.*.external", toBoolean],
  ["networks.*.internal", toBoolean],
  ["networks.*.attachable", toBoolean],
  ["networks.*.enable_ipv4", toBoolean],
  ["networks.*.enable_ipv6", toBoolean],
  ["volumes.*.external", toBoolean],
  ["secrets.*.external", toBoolean],
  ["configs.*.external", toBoolean],
];

/** The table as a trie over path segments, so the walk tracks matches in O(1) per step. */
interface CastNode {
  readonly children: Map<string, CastNode>;
  /** Index of the row ending here (the first, if several). */
  row: number | undefined;
  /** [this node]: most steps match one node, and need not allocate a list for it. */
  readonly alone: readonly CastNode[];
}

function newCastNode(): CastNode {
  const alone: CastNode[] = [];
  const node: CastNode = { children: new Map(), row: undefined, alone };
  alone.push(node);
  return node;
}

const castTrie = buildCastTrie(typeCastRows);
const noNodes: readonly CastNode[] = [];

function buildCastTrie(rows: typeof typeCastRows): CastNode {
  const root = newCastNode();
  rows.forEach(([pattern], rowIndex) => {
    let node = root;
    for (const segment of pattern.split(".")) {
      let child = node.children.get(segment);
      if (child === undefined) {
        child = newCastNode();
        node.children.set(segment, child);
      }
      node = child;
    }
    node.row ??= rowIndex;
  });
  return root;
}

/** The trie nodes that match one more segment; `key` undefined for a list index. */
function advance(nodes: readonly CastNode[], key: string | undefined): readonly CastNode[] {
  if (nodes.length === 0) return noNodes;
  let first: CastNode | undefined;
  let more: CastNode[] | undefined;
  for (let index = 0; index < nodes.length; index++) {
    const node = nodes[index] as CastNode;
    const exact = key === undefined ? undefined : node.children.get(key);
    if (exact !== undefined) {
      if (first === undefined) first = exact;
      else (more ??= [first]).push(exact);
    }
    const wildcard = node.children.get("*");
    if (wildcard !== undefined) {
      if (first === undefined) first = wildcard;
      else (more ??= [first]).push(wildcard);
    }
  }
  return more ?? first?.alone ?? noNodes;
}

function castAt(nodes: readonly CastNode[]): Cast | undefined {
  let row: number | undefined;
  for (let index = 0; index < nodes.length; index++) {
    const nodeRow = (nodes[index] as CastNode).row;
    if (nodeRow !== undefined && (row === undefined || nodeRow < row)) row = nodeRow;
  }
  return row === undefined ? undefined : typeCastRows[row]?.[1];
}

/**
 * Interpolate every string of `data` and apply the casts. Returns a new root; below it, a
 * container in which nothing changed is shared with the input rather than copied (values are
 * never mutated, and most of a file has nothing to substitute).
 */
export function interpolateData(
  data: Mapping,
  options: { readonly environment: Environment; readonly origins: ReadonlyMap<string, SourcePosition>; warn(message: string): void },
): Mapping {
  const segments: PathSegment[] = [];
  let template = "";
  const currentPath = (): string => segments.reduce<string>((path, segment) => joinPath(path, segment), "");
  const handlers: TemplateHandlers = {
    lookup: lookupIn(options.environment),
    warn: (message) => options.warn(message),
    invalid() {
      const path = currentPath();
      throw new ComposeError(ErrorCode.composeInterpolation, invalidFormatMessage(path, template), {
        hint: invalidFormatHint,
        position: positionOf(options.origins, path),
        path,
      });
    },
    missing(variable, reason) {
      const path = currentPath();
      throw new ComposeError(ErrorCode.composeRequiredVariable, missingVariableMessage(variable, reason), {
        position: positionOf(options.origins, path),
        path,
      });
    },
  };

  // A template's result depends on the environment alone, and large files repeat their templates
  // (an anchor merged into every service): each is substituted once. A repeat could only warn
  // again, which the context's sink deduplicates, or fail, which the first one already did.
  const substituted = new Map<string, string>();

  const visit = (value: unknown, nodes: readonly CastNode[]): unknown => {
    if (typeof value === "string") {
      let text = value;
      if (value.includes("$")) {
        const known = substituted.get(value);
        if (known === undefined) {
          template = value;
          text = substituteTemplate(value, handlers);
          substituted.set(value, text);
        } else {
          text = known;
        }
      }
      const cast = nodes.length === 0 ? undefined : castAt(nodes);
      if (cast === undefined) return text;
      const casted = cast(text, handlers.warn);
      return casted === undefined ? text : casted;
    }
    if (Array.isArray(value)) {
      const itemNodes = nodes.length === 0 ? noNodes : advance(nodes, undefined);
      let result: unknown[] | undefined;
      const itemsCast = itemNodes.length !== 0 && castAt(itemNodes) !== undefined;
      for (let index = 0; index < value.length; index++) {
        const item: unknown = value[index];
        let next = item;
        if (!isPlainLeaf(item, itemsCast)) {
          segments.push(index);
          next = visit(item, itemNodes);
          segments.pop();
        }
        if (next !== item || result !== undefined) {
          result ??= value.slice(0, index);
          result.push(next);
        }
      }
      return result ?? value;
    }
    if (typeof value !== "object" || value === null) return value;
    if (value instanceof TaggedValue) {
      const inner = visit(value.value, nodes);
      return inner === value.value ? value : new TaggedValue(value.tag, inner);
    }
    return visitMapping(value as Mapping, nodes, false);
  };

  // This walk visits every node of every file, in cold code: for-in rather than a key list per
  // mapping, and no trie step once no row can match below.
  const visitMapping = (mapping: Mapping, nodes: readonly CastNode[], copy: boolean): Mapping => {
    let result: Mapping | undefined = copy ? {} : undefined;
    let index = 0;
    for (const key in mapping) {
      const item = mapping[key];
      let child = item;
      // No trie step for a leaf that no row can cast (most keys have no row at all).
      if (!isPlainLeaf(item, nodes.length !== 0)) {
        segments.push(key);
        child = visit(item, nodes.length === 0 ? noNodes : advance(nodes, key));
        segments.pop();
      }
      if (child !== item && result === undefined) {
        result = {};
        let before = 0;
        for (const earlier in mapping) {
          if (before++ === index) break;
          setOwn(result, earlier, mapping[earlier]);
        }
      }
      if (result !== undefined) setOwn(result, key, child);
      index++;
    }
    return result ?? mapping;
  };

  return visitMapping(data, castTrie.alone, true);
}

/**
 * A leaf visit() would return as it is: a number, boolean or null, or (unless a cast may apply)
 * a string without `$`. The walk skips the call for those, the bulk of a file.
 */
function isPlainLeaf(value: unknown, mayCast: boolean): boolean {
  if (typeof value === "string") return !mayCast && !value.includes("$");
  return typeof value !== "object" || value === null;
}

/** defineProperty for `__proto__`: such a key must stay a key, not become the prototype. */
function setOwn(target: Mapping, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export const interpolatePass: Pass = {
  name: "interpolate",
  run(document, context) {
    const data = interpolateData(document.data, {
      environment: context.environment,
      origins: document.origins,
      warn: (message) => context.warn(message),
    });
    return { file: document.file, data: passTagFree(document.data, data), origins: document.origins };
  },
};
