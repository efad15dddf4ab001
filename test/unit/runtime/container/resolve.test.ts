// Docker's resolution of a create request against the image config: environment by key,
// ENTRYPOINT/CMD, working directory, labels, healthcheck, hostname. Tables of literal cases.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import {
  effectiveHealthcheck,
  processEnvironment,
  replaceOrAppendEnv,
  resolveCommand,
  resolveConfig,
} from "../../../../src/runtime/container/resolve.js";
import type { ContainerCreateSpec, ImageConfigView } from "../../../../src/runtime/container/spec.js";

const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

describe("replaceOrAppendEnv (moby's ReplaceOrAppendEnvValues)", () => {
  const table: [string, string[], string[], string[]][] = [
    ["appends new keys", ["A=1"], ["B=2"], ["A=1", "B=2"]],
    ["replaces in place", ["A=1", "B=2", "C=3"], ["B=x"], ["A=1", "B=x", "C=3"]],
    ["a bare key removes", ["A=1", "B=2"], ["A"], ["B=2"]],
    ["a bare unknown key is ignored", ["A=1"], ["Z"], ["A=1"]],
    ["empty value is a value", ["A=1"], ["A="], ["A="]],
    ["values may hold =", ["A=1"], ["A=b=c"], ["A=b=c"]],
    ["new duplicates both append", [], ["A=1", "A=2"], ["A=1", "A=2"]],
  ];
  it.each(table)("%s", (_name, defaults, overrides, expected) => {
    expect(replaceOrAppendEnv(defaults, overrides)).toEqual(expected);
  });
});

describe("ENTRYPOINT and CMD", () => {
  const image = { Entrypoint: ["/entry.sh"], Cmd: ["serve", "--port", "80"] };
  const table: [string, Pick<ContainerCreateSpec, "cmd" | "entrypoint">, { entrypoint: string[]; cmd: string[] }][] = [
    ["nothing given: the image's", {}, { entrypoint: ["/entry.sh"], cmd: ["serve", "--port", "80"] }],
    ["cmd given: replaces the image's Cmd", { cmd: ["sh"] }, { entrypoint: ["/entry.sh"], cmd: ["sh"] }],
    ["entrypoint given: image Cmd dropped", { entrypoint: ["/bin/sh"] }, { entrypoint: ["/bin/sh"], cmd: [] }],
    ["both given", { entrypoint: ["/bin/sh"], cmd: ["-c", "x"] }, { entrypoint: ["/bin/sh"], cmd: ["-c", "x"] }],
    ["empty entrypoint resets it and keeps the image Cmd", { entrypoint: [] }, { entrypoint: [], cmd: ["serve", "--port", "80"] }],
    ["empty entrypoint with a cmd", { entrypoint: [], cmd: ["id"] }, { entrypoint: [], cmd: ["id"] }],
  ];
  it.each(table)("%s", (_name, spec, expected) => {
    expect(resolveCommand(spec, image)).toEqual(expected);
  });

  it("an image without entrypoint runs the cmd", () => {
    expect(resolveCommand({}, { Cmd: ["sh"] })).toEqual({ entrypoint: [], cmd: ["sh"] });
    expect(resolveCommand({ cmd: ["ls"] }, { Entrypoint: null, Cmd: null })).toEqual({ entrypoint: [], cmd: ["ls"] });
  });
});

describe("resolveConfig", () => {
  const image: ImageConfigView = {
    Env: ["PATH=/usr/bin:/bin", "GREETING=hello", "KEEP=1"],
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: ["echo $GREETING"],
    WorkingDir: "/home/app",
    User: "app",
    ExposedPorts: { "8080/tcp": {} },
    Volumes: { "/data": {} },
    Labels: { "org.example.test": "berth", shared: "image" },
    StopSignal: "SIGQUIT",
    Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 5_000_000_000, Timeout: 2_000_000_000, StartPeriod: 1_000_000_000, Retries: 3 },
  };

  it("merges the image config as Docker does", () => {
    const config = resolveConfig({
      id,
      spec: { image: "example:1", env: ["GREETING=bonjour", "EXTRA=x", "KEEP"], labels: { shared: "container", own: "1" } },
      image,
      hostHostname: "host",
    });
    expect(config).toEqual({
      hostname: "0123456789ab",
      domainname: "",
      user: "app",
      tty: false,
      openStdin: false,
      stdinOnce: false,
      env: ["PATH=/usr/bin:/bin", "GREETING=bonjour", "EXTRA=x"],
      cmd: ["echo $GREETING"],
      entrypoint: ["/bin/sh", "-c"],
      image: "example:1",
      workingDir: "/home/app",
      labels: { "org.example.test": "berth", own: "1", shared: "container" },
      stopSignal: "SIGQUIT",
      stopTimeout: null,
      healthcheck: { test: ["CMD-SHELL", "true"], intervalMs: 5000, timeoutMs: 2000, startPeriodMs: 1000, startIntervalMs: 0, retries: 3 },
      exposedPorts: { "8080/tcp": {} },
      volumes: { "/data": {} },
    });
  });

  it("takes the container's fields over the image's", () => {
    const config = resolveConfig({
      id,
      spec: {
        image: "example:1",
        user: "1000:1000",
        workingDir: "/srv",
        hostname: "web",
        domainname: "example.org",
        stopSignal: "SIGINT",
        stopTimeout: 3,
        tty: true,
        openStdin: true,
        healthcheck: { intervalMs: 1000, retries: 5 },
      },
      image,
      hostHostname: "host",
    });
    expect(config.user).toBe("1000:1000");
    expect(config.workingDir).toBe("/srv");
    expect(config.hostname).toBe("web");
    expect(config.domainname).toBe("example.org");
    expect(config.stopSignal).toBe("SIGINT");
    expect(config.stopTimeout).toBe(3);
    expect([config.tty, config.openStdin]).toEqual([true, true]);
    // Field by field: the image's test and timeouts stay, the given ones win.
    expect(config.healthcheck).toEqual({ test: ["CMD-SHELL", "true"], intervalMs: 1000, timeoutMs: 2000, startPeriodMs: 1000, startIntervalMs: 0, retries: 5 });
  });

  it("defaults the working directory to / and the hostname to the host's on the host network", () => {
    const config = resolveConfig({ id, spec: { image: "x", networkMode: "host" }, image: { Cmd: ["sh"] }, hostHostname: "machine" });
    expect(config.workingDir).toBe("/");
    expect(config.hostname).toBe("machine");
    expect(config.user).toBe("");
    expect(config.healthcheck).toBeNull();
    expect(config.stopSignal).toBe("");
  });

  it("refuses a missing command and a relative working directory", () => {
    const noCommand = (): unknown => resolveConfig({ id, spec: { image: "x" }, image: {}, hostHostname: "h" });
    expect(noCommand).toThrow(BerthError);
    expect(noCommand).toThrow("No command specified");
    const relative = (): unknown => resolveConfig({ id, spec: { image: "x", workingDir: "srv" }, image: { Cmd: ["sh"] }, hostHostname: "h" });
    expect(relative).toThrow("needs to be an absolute path");
  });
});

describe("processEnvironment (moby's CreateDaemonEnvironment)", () => {
  it("puts PATH and HOSTNAME first, TERM with a TTY, then the config's by key", () => {
    expect(processEnvironment({ env: ["A=1"], hostname: "abc", tty: false })).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOSTNAME=abc",
      "A=1",
    ]);
    expect(processEnvironment({ env: ["PATH=/x", "TERM=dumb", "HOSTNAME=mine"], hostname: "abc", tty: true })).toEqual(["PATH=/x", "HOSTNAME=mine", "TERM=dumb"]);
  });
});

describe("effectiveHealthcheck", () => {
  it("fills Docker's defaults and drops NONE", () => {
    expect(effectiveHealthcheck({ test: ["CMD", "true"], intervalMs: 0, timeoutMs: 0, startPeriodMs: 0, startIntervalMs: 0, retries: 0 })).toEqual({
      test: ["CMD", "true"],
      intervalMs: 30_000,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      startIntervalMs: 5_000,
      retries: 3,
    });
    expect(effectiveHealthcheck({ test: ["NONE"], intervalMs: 0, timeoutMs: 0, startPeriodMs: 0, startIntervalMs: 0, retries: 0 })).toBeNull();
    expect(effectiveHealthcheck({ test: [], intervalMs: 1, timeoutMs: 0, startPeriodMs: 0, startIntervalMs: 0, retries: 0 })).toBeNull();
    expect(effectiveHealthcheck(null)).toBeNull();
  });
});
