// `berth container run|create` flags → create spec (src/cli/commands/container-options.ts), and
// the output helpers of the container commands (tabwriter tables, templates, ps rows).
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import {
  parseEnvFile,
  parseFilters,
  parseMountFlag,
  parseRestartPolicy,
  parseRunFlags,
  parseTmpfsFlag,
  parseUlimit,
  parseVolumeFlag,
  type ParseContext,
} from "../../../../src/cli/commands/container-options.js";
import { containerRow, ellipsis, parseFormat, renderRows, renderTable, renderTemplate, containerHeaders } from "../../../../src/cli/commands/container-format.js";
import type { ContainerSummary } from "../../../../src/runtime/index.js";

const context: ParseContext = {
  environment: { HOME: "/root", TOKEN: "secret" },
  readFile: (file) => {
    if (file === "app.env") return "# comment\nA=1\n  B=two words\nTOKEN\nMISSING\n\nC=\n";
    if (file === "labels") return "team=core\n# x\nfeature\n";
    throw new Error(`unexpected file ${file}`);
  },
  workingDirectory: "/work",
};

describe("parseRunFlags", () => {
  it("turns docker's flags into a create spec", () => {
    expect(
      parseRunFlags(
        {
          name: "web",
          env: ["X=1", "HOME", "NOPE"],
          envFile: ["app.env"],
          workdir: "/srv",
          user: "app:staff",
          groupAdd: ["audio"],
          volume: ["/data:/data:ro", "cache:/cache", "/scratch", "./rel:/rel"],
          mount: ["type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770"],
          tmpfs: ["/tmp:rw,size=1g"],
          readOnly: true,
          capAdd: ["NET_ADMIN"],
          capDrop: ["MKNOD"],
          memory: "256m",
          memorySwap: "-1",
          cpus: "1.5",
          cpuShares: "512",
          cpusetCpus: "0-1",
          pidsLimit: "100",
          restart: "on-failure:3",
          healthCmd: "wget -q localhost",
          healthInterval: "5s",
          healthRetries: "2",
          init: true,
          entrypoint: "/bin/sh",
          label: ["a=b"],
          labelFile: ["labels"],
          network: "none",
          hostname: "h",
          ulimit: ["nofile=1024:2048", "nproc=64"],
          sysctl: ["net.ipv4.ip_forward=1"],
          shmSize: "128m",
          stopSignal: "SIGQUIT",
          stopTimeout: "3",
          securityOpt: ["no-new-privileges"],
          tty: true,
          interactive: true,
          logOpt: ["max-size=10m", "max-file=3"],
          rm: true,
        },
        "busybox:1",
        ["-c", "echo hi"],
        context,
      ),
    ).toEqual({
      image: "busybox:1",
      name: "web",
      cmd: ["-c", "echo hi"],
      entrypoint: ["/bin/sh"],
      env: ["A=1", "B=two words", "TOKEN=secret", "C=", "X=1", "HOME=/root", "NOPE"],
      workingDir: "/srv",
      user: "app:staff",
      groupAdd: ["audio"],
      labels: { team: "core", feature: "", a: "b" },
      hostname: "h",
      mounts: [
        { type: "bind", source: "/data", target: "/data", createHostPath: true, readOnly: true },
        { type: "volume", source: "cache", target: "/cache" },
        { type: "volume", target: "/scratch" },
        { type: "bind", source: "/work/rel", target: "/rel", createHostPath: true },
        { type: "tmpfs", target: "/run", sizeBytes: 67108864, mode: 0o1770 },
        { type: "tmpfs", target: "/tmp", options: ["rw", "size=1g"] },
      ],
      readOnly: true,
      capAdd: ["NET_ADMIN"],
      capDrop: ["MKNOD"],
      securityOpt: ["no-new-privileges"],
      ulimits: [
        { name: "nofile", soft: 1024, hard: 2048 },
        { name: "nproc", soft: 64, hard: 64 },
      ],
      sysctls: { "net.ipv4.ip_forward": "1" },
      shmSize: 134217728,
      init: true,
      stopSignal: "SIGQUIT",
      stopTimeout: 3,
      restartPolicy: { name: "on-failure", maximumRetryCount: 3 },
      healthcheck: { test: ["CMD-SHELL", "wget -q localhost"], intervalMs: 5000, retries: 2 },
      resources: { memory: 268435456, memorySwap: -1, nanoCpus: 1_500_000_000, cpuShares: 512, cpusetCpus: "0-1", pidsLimit: 100 },
      networkMode: "none",
      logConfig: { maxSize: "10m", maxFile: 3 },
      tty: true,
      openStdin: true,
      autoRemove: true,
    });
  });

  it("keeps a bare image bare, and --entrypoint '' resets", () => {
    expect(parseRunFlags({}, "alpine", [], context)).toEqual({ image: "alpine" });
    expect(parseRunFlags({ entrypoint: "" }, "alpine", [], context)).toEqual({ image: "alpine", entrypoint: [] });
    expect(parseRunFlags({ healthcheck: false }, "alpine", [], context)).toEqual({ image: "alpine", healthcheck: { test: ["NONE"] } });
  });

  const invalid: [string, Parameters<typeof parseRunFlags>[0], string][] = [
    ["--no-healthcheck with --health-cmd", { healthcheck: false, healthCmd: "true" }, "conflicts"],
    ["a bad restart policy", { restart: "sometimes" }, "invalid restart policy format: sometimes"],
    ["a retry count without on-failure", { restart: "always:3" }, "maximum retry count can only be used with 'on-failure'"],
    ["a bad -v mode", { volume: ["/a:/b:rx"] }, "invalid mode: rx"],
    ["a relative -v target", { volume: ["vol:data"] }, "must be absolute"],
    ["an unknown --log-opt", { logOpt: ["compress=true"] }, "unknown log opt 'compress'"],
    ["another log driver", { logDriver: "syslog" }, "log driver syslog is not supported"],
    ["a bad --cpus", { cpus: "many" }, 'invalid argument "many" for "--cpus"'],
    ["a bad --stop-timeout", { stopTimeout: "soon" }, 'for "--stop-timeout" flag'],
  ];
  it.each(invalid)("refuses %s", (_name, flags, message) => {
    expect(() => parseRunFlags(flags, "alpine", [], context)).toThrow(BerthError);
    expect(() => parseRunFlags(flags, "alpine", [], context)).toThrow(message);
  });
});

describe("the -v, --mount, --tmpfs, --ulimit and --restart syntaxes", () => {
  it("reads -v as docker does", () => {
    expect(parseVolumeFlag("/var/log", "/w")).toEqual({ type: "volume", target: "/var/log" });
    expect(parseVolumeFlag("logs:/var/log:ro,nocopy", "/w")).toEqual({ type: "volume", source: "logs", target: "/var/log", readOnly: true, noCopy: true });
    expect(parseVolumeFlag("/h:/c:rshared,z", "/w")).toEqual({ type: "bind", source: "/h", target: "/c", createHostPath: true, propagation: "rshared" });
    expect(() => parseVolumeFlag("a::b", "/w")).toThrow("empty section");
    expect(() => parseVolumeFlag("vol:/c:rshared", "/w")).toThrow("invalid mode");
  });

  it("reads --mount as docker does", () => {
    expect(parseMountFlag("type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave", "/w")).toEqual({ type: "bind", source: "/h", target: "/c", readOnly: true, propagation: "rslave" });
    expect(parseMountFlag("source=v,target=/c,volume-nocopy=true,volume-label=a=b", "/w")).toEqual({ type: "volume", source: "v", target: "/c", noCopy: true, labels: { a: "b" } });
    expect(parseMountFlag("target=/anon", "/w")).toEqual({ type: "volume", target: "/anon" });
    expect(parseMountFlag('type=tmpfs,"target=/t",ro=true', "/w")).toEqual({ type: "tmpfs", target: "/t", options: ["ro"] });
    expect(() => parseMountFlag("type=bind,target=/c", "/w")).toThrow("Source must not be empty");
    expect(() => parseMountFlag("type=npipe,target=/c", "/w")).toThrow("invalid mount type: npipe");
    expect(() => parseMountFlag("source=v", "/w")).toThrow("target is required");
    expect(() => parseMountFlag("target=/c,flavour=x", "/w")).toThrow("unexpected key 'flavour'");
  });

  it("reads --tmpfs, --ulimit and --restart", () => {
    expect(parseTmpfsFlag("/run")).toEqual({ type: "tmpfs", target: "/run" });
    expect(parseTmpfsFlag("/run:exec,mode=755")).toEqual({ type: "tmpfs", target: "/run", options: ["exec", "mode=755"] });
    expect(parseUlimit("core=0")).toEqual({ name: "core", soft: 0, hard: 0 });
    expect(() => parseUlimit("nofile=10:5")).toThrow("soft limit must be less than or equal to hard limit");
    expect(parseRestartPolicy("unless-stopped")).toEqual({ name: "unless-stopped" });
    expect(parseRestartPolicy("on-failure")).toEqual({ name: "on-failure" });
  });

  it("reads env files and filters", () => {
    expect(parseEnvFile("A=1\r\nB= spaced value \n", {})).toEqual(["A=1", "B= spaced value "]);
    expect(() => parseEnvFile("export B=2\n", {})).toThrow("variable 'export B' contains whitespaces");
    expect(parseFilters(["label=a=b", "label=c", "status=exited"])).toEqual({ label: ["a=b", "c"], status: ["exited"] });
    expect(() => parseFilters(["nokey"])).toThrow("bad format of filter");
  });
});

describe("output formats", () => {
  it("lays tables out like Go's tabwriter (min width 10, padding 3)", () => {
    expect(renderTable([["CONTAINER ID", "IMAGE", "NAMES"], ["abc", "busybox:latest", "x"]])).toBe("CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   x\n");
  });

  it("renders the Go-template subset", () => {
    const data = { ID: "abc", State: { Pid: 42, Running: true }, Labels: { "a.b": "c" }, Env: ["A=1", "B=2"], Nothing: null };
    expect(renderTemplate("{{.ID}}\\t{{.State.Pid}} {{.State.Running}}", data)).toBe("abc\t42 true");
    expect(renderTemplate("{{json .Labels}}", data)).toBe('{"a.b":"c"}');
    expect(renderTemplate('{{index .Labels "a.b"}}', data)).toBe("c");
    expect(renderTemplate("{{.Env}} {{.Missing}} {{.Nothing}}", data)).toBe("[A=1 B=2] <no value> <nil>");
    expect(renderTemplate('{{join .Env ","}}', data)).toBe("A=1,B=2");
    expect(parseFormat("table {{.ID}}")).toEqual({ kind: "table", template: "{{.ID}}" });
    expect(parseFormat("json")).toEqual({ kind: "json" });
    expect(ellipsis("docker-entrypoint.sh postgres", 20)).toBe("docker-entrypoint.s…");
  });

  it("builds docker ps rows, JSON lines and custom tables", () => {
    const summary: ContainerSummary = {
      Id: "0123456789ab".padEnd(64, "f"),
      Names: ["/web"],
      Image: "busybox",
      ImageID: "sha256:1",
      Command: "docker-entrypoint.sh postgres",
      Created: Date.parse("2026-01-01T11:59:00Z") / 1000,
      Ports: [],
      Labels: { team: "core" },
      State: "running",
      Status: "Up 5 seconds",
      HostConfig: { NetworkMode: "none" },
      NetworkSettings: { Networks: { none: {} } },
      Mounts: [{ Type: "volume", Name: "a-very-long-volume-name", Source: "/x", Destination: "/d", Driver: "local", Mode: "", RW: true, Propagation: "" }],
    };
    const row = containerRow(summary, { truncate: true, nowMs: Date.parse("2026-01-01T12:00:00Z") });
    expect(renderRows([row], { kind: "json" }, { columns: [], headers: containerHeaders })).toBe(
      `${JSON.stringify({
        Command: '"docker-entrypoint.s…"',
        CreatedAt: "2026-01-01 11:59:00 +0000 UTC",
        ID: "0123456789ab",
        Image: "busybox",
        Labels: "team=core",
        LocalVolumes: "1",
        Mounts: "a-very-long-vo…",
        Names: "web",
        Networks: "none",
        Ports: "",
        RunningFor: "About a minute ago",
        Size: "0B",
        State: "running",
        Status: "Up 5 seconds",
      })}\n`,
    );
    expect(renderRows([row], parseFormat("table {{.Names}}\\t{{.Status}}"), { columns: [], headers: containerHeaders })).toBe("NAMES     STATUS\nweb       Up 5 seconds\n");
    expect(renderRows([row], parseFormat('{{.ID}} {{.Label "team"}}'), { columns: [], headers: containerHeaders })).toBe("0123456789ab core\n");
  });
});
