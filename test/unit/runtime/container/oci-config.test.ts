// Spec + image → config.json and shim.json, compared as literal objects.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import { allCapabilities, capabilitiesOfMask, containerCapabilities, defaultCapabilities } from "../../../../src/runtime/container/capabilities.js";
import { resolveMounts } from "../../../../src/runtime/container/mounts.js";
import { buildOciConfig, defaultDeviceRules, noNewPrivileges, validateSysctls, type HostFacts, type OciConfigInput } from "../../../../src/runtime/container/oci-config.js";
import { resolveConfig } from "../../../../src/runtime/container/resolve.js";
import { buildShimConfig, logLimits } from "../../../../src/runtime/container/shim-config.js";
import type { ContainerCreateSpec, ImageConfigView } from "../../../../src/runtime/container/spec.js";

const id = "c0ffee0000000000000000000000000000000000000000000000000000000001";
const bundle = `/var/lib/berth/containers/${id}`;
const files = {
  bundle,
  runDir: `/run/berth/containers/${id}`,
  upper: `${bundle}/upper`,
  work: `${bundle}/work`,
  merged: `${bundle}/merged`,
  log: `${bundle}/${id}-json.log`,
};
const networkFiles = { hostname: `${bundle}/hostname`, hosts: `${bundle}/hosts`, resolvConf: `${bundle}/resolv.conf` };
const host: HostFacts = { cgroupVersion: 1, swapAccounting: false, devices: [], cgroupMount: true };
const root = { uid: 0, gid: 0, additionalGids: [0], home: "/root" };
const image: ImageConfigView = { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] };

function input(spec: ContainerCreateSpec, overrides: Partial<OciConfigInput> = {}): OciConfigInput {
  const names = ["a".repeat(64), "b".repeat(64)];
  return {
    id,
    spec,
    config: resolveConfig({ id, spec, image, hostHostname: "host" }),
    mounts: resolveMounts({ mounts: spec.mounts ?? [], imageVolumes: [], volumeDataPath: (name) => `/var/lib/berth/volumes/${name}/_data`, anonymousVolumeName: () => names.shift() ?? "" }),
    user: root,
    rootPath: files.merged,
    networkFiles,
    host,
    ...overrides,
  };
}

const defaultMounts = [
  { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"] },
];
const networkFileMounts = [
  { destination: "/etc/resolv.conf", type: "bind", source: networkFiles.resolvConf, options: ["rbind", "rprivate"] },
  { destination: "/etc/hostname", type: "bind", source: networkFiles.hostname, options: ["rbind", "rprivate"] },
  { destination: "/etc/hosts", type: "bind", source: networkFiles.hosts, options: ["rbind", "rprivate"] },
];

describe("buildOciConfig", () => {
  it("gives a plain container exactly what Docker gives it", () => {
    expect(buildOciConfig(input({ image: "busybox", cmd: ["sh", "-c", "echo hi"] }))).toEqual({
      ociVersion: "1.1.0",
      process: {
        terminal: false,
        user: { uid: 0, gid: 0, additionalGids: [0] },
        args: ["sh", "-c", "echo hi"],
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=c0ffee000000", "HOME=/root"],
        cwd: "/",
        capabilities: { bounding: defaultCapabilities, effective: defaultCapabilities, permitted: defaultCapabilities },
        noNewPrivileges: false,
      },
      root: { path: files.merged, readonly: false },
      hostname: "c0ffee000000",
      mounts: [...defaultMounts, ...networkFileMounts],
      linux: {
        namespaces: [{ type: "mount" }, { type: "network" }, { type: "uts" }, { type: "pid" }, { type: "ipc" }],
        resources: { devices: defaultDeviceRules },
        cgroupsPath: `/berth/${id}`,
        maskedPaths: [
          "/proc/asound",
          "/proc/acpi",
          "/proc/interrupts",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap",
        ],
        readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
      },
    });
  });

  it("maps every option of a busy spec", () => {
    const spec: ContainerCreateSpec = {
      image: "busybox",
      cmd: ["top"],
      hostname: "web",
      domainname: "example.org",
      tty: true,
      readOnly: true,
      capAdd: ["sys_admin"],
      capDrop: ["NET_RAW", "CAP_MKNOD"],
      securityOpt: ["no-new-privileges"],
      ulimits: [{ name: "nofile", soft: 1024, hard: 2048 }],
      sysctls: { "net.ipv4.ip_forward": "1" },
      shmSize: 128 * 1024 * 1024,
      resources: { memory: 64 * 1024 * 1024, nanoCpus: 1_500_000_000, cpuShares: 512, cpusetCpus: "0", pidsLimit: 50 },
      mounts: [
        { type: "bind", source: "/srv/data", target: "/data", readOnly: true },
        { type: "volume", source: "cache", target: "/var/cache/app" },
        { type: "tmpfs", target: "/run", sizeBytes: 64 * 1024 * 1024, mode: 0o1777 },
        { type: "volume", target: "/anon" },
      ],
    };
    const config = buildOciConfig(input(spec, { user: { uid: 1000, gid: 1000, additionalGids: [1000, 10], home: "/home/app" } }));
    const expectedCaps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"];
    expect(config.process).toEqual({
      terminal: true,
      user: { uid: 1000, gid: 1000, additionalGids: [1000, 10] },
      args: ["top"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web", "TERM=xterm", "HOME=/home/app"],
      cwd: "/",
      // Not root: only the bounding set, as execve would leave it.
      capabilities: { bounding: expectedCaps },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 2048, soft: 1024 }],
      noNewPrivileges: true,
    });
    expect(config.root).toEqual({ path: files.merged, readonly: true });
    expect(config.hostname).toBe("web");
    expect(config.domainname).toBe("example.org");
    expect(config.mounts).toEqual([
      ...defaultMounts.slice(0, 6),
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=134217728"] },
      { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "ro", "rprivate"] },
      { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=1777"] },
      { destination: "/anon", type: "bind", source: `/var/lib/berth/volumes/${"a".repeat(64)}/_data`, options: ["rbind", "rprivate"] },
      ...networkFileMounts.map((mount) => ({ ...mount, options: ["rbind", "ro", "rprivate"] })),
      { destination: "/var/cache/app", type: "bind", source: "/var/lib/berth/volumes/cache/_data", options: ["rbind", "rprivate"] },
    ]);
    expect(config.linux.resources).toEqual({
      devices: defaultDeviceRules,
      memory: { limit: 67108864 },
      cpu: { shares: 512, period: 100000, quota: 150000, cpus: "0" },
      pids: { limit: 50 },
    });
    expect(config.linux.sysctl).toEqual({ "net.ipv4.ip_forward": "1" });
  });

  it("grants a privileged container everything: all capabilities, no masks, /sys writable, host devices", () => {
    const device = { path: "/dev/loop0", type: "b" as const, major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    const config = buildOciConfig(input({ image: "x", privileged: true }, { host: { ...host, devices: [device] } }));
    expect(config.process.capabilities).toEqual({ bounding: allCapabilities, effective: allCapabilities, permitted: allCapabilities });
    expect(config.linux.maskedPaths).toBeUndefined();
    expect(config.linux.readonlyPaths).toBeUndefined();
    expect(config.linux.devices).toEqual([device]);
    expect(config.linux.resources.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(config.mounts.find((mount) => mount.destination === "/sys")?.options).toEqual(["nosuid", "noexec", "nodev"]);
  });

  it("shares the host's network namespace with --network host, and adds a cgroup namespace on v2", () => {
    const hostNetwork = buildOciConfig(input({ image: "x", networkMode: "host" }));
    expect(hostNetwork.linux.namespaces).toEqual([{ type: "mount" }, { type: "uts" }, { type: "pid" }, { type: "ipc" }]);
    expect(hostNetwork.hostname).toBe("host");
    const v2 = buildOciConfig(input({ image: "x" }, { host: { ...host, cgroupVersion: 2, cgroupMount: false } }));
    expect(v2.linux.namespaces.at(-1)).toEqual({ type: "cgroup" });
    expect(v2.mounts.some((mount) => mount.type === "cgroup")).toBe(false);
  });

  it("sets swap only where the kernel accounts it, defaulting to twice the memory", () => {
    const spec: ContainerCreateSpec = { image: "x", resources: { memory: 100 * 1024 * 1024 } };
    expect(buildOciConfig(input(spec)).linux.resources.memory).toEqual({ limit: 104857600 });
    expect(buildOciConfig(input(spec, { host: { ...host, swapAccounting: true } })).linux.resources.memory).toEqual({ limit: 104857600, swap: 209715200 });
    const unlimited: ContainerCreateSpec = { image: "x", resources: { memory: 100 * 1024 * 1024, memorySwap: -1 } };
    expect(buildOciConfig(input(unlimited, { host: { ...host, swapAccounting: true } })).linux.resources.memory).toEqual({ limit: 104857600, swap: -1 });
  });

  const invalid: [string, ContainerCreateSpec, string][] = [
    ["a tiny memory limit", { image: "x", resources: { memory: 1024 } }, "Minimum memory limit allowed is 6MB"],
    ["swap below memory", { image: "x", resources: { memory: 64 << 20, memorySwap: 32 << 20 } }, "memoryswap limit should be larger"],
    ["cpus and a quota", { image: "x", resources: { nanoCpus: 1e9, cpuQuota: 5000 } }, "cannot both be set"],
    ["an unknown ulimit", { image: "x", ulimits: [{ name: "bogus", soft: 1, hard: 1 }] }, "invalid ulimit type: bogus"],
    ["a host-wide sysctl", { image: "x", sysctls: { "kernel.panic": "1" } }, "sysctl 'kernel.panic' is not allowed"],
    ["a net sysctl on the host network", { image: "x", networkMode: "host", sysctls: { "net.core.somaxconn": "1" } }, "not allowed in host network namespace"],
    ["an unknown security option", { image: "x", securityOpt: ["seccomp=/profile.json"] }, "invalid --security-opt"],
    ["an unknown capability", { image: "x", capAdd: ["FLY"] }, 'unknown capability: "FLY"'],
  ];
  it.each(invalid)("refuses %s", (_name, spec, message) => {
    const attempt = (): unknown => buildOciConfig(input(spec));
    expect(attempt).toThrow(BerthError);
    expect(attempt).toThrow(message);
  });
});

describe("capabilities (moby's TweakCapabilities)", () => {
  const table: [string, Parameters<typeof containerCapabilities>[0], readonly string[]][] = [
    ["defaults", {}, defaultCapabilities],
    ["drop one, any spelling", { capDrop: ["net_raw"] }, defaultCapabilities.filter((cap) => cap !== "CAP_NET_RAW")],
    ["add one", { capAdd: ["NET_ADMIN"] }, [...defaultCapabilities, "CAP_NET_ADMIN"]],
    ["drop ALL, add back", { capDrop: ["ALL"], capAdd: ["CHOWN", "cap_kill"] }, ["CAP_CHOWN", "CAP_KILL"]],
    ["add ALL, drop one", { capAdd: ["all"], capDrop: ["SYS_ADMIN"] }, allCapabilities.filter((cap) => cap !== "CAP_SYS_ADMIN")],
    ["adding a default twice keeps one", { capAdd: ["CHOWN"] }, defaultCapabilities],
    ["privileged wins", { privileged: true, capDrop: ["ALL"] }, allCapabilities],
  ];
  it.each(table)("%s", (_name, request, expected) => {
    expect(containerCapabilities(request)).toEqual(expected);
  });

  it("means the host's bounding set by 'all' (moby's GetAllCapabilities)", () => {
    // This machine's: everything up to CAP_CHECKPOINT_RESTORE except CAP_SYS_RESOURCE (bit 24).
    const available = capabilitiesOfMask("000001fffeffffff");
    expect(available).toHaveLength(40);
    expect(available).not.toContain("CAP_SYS_RESOURCE");
    expect(containerCapabilities({ privileged: true, available })).toEqual(available);
    expect(containerCapabilities({ capAdd: ["ALL"], capDrop: ["KILL"], available })).toEqual(available.filter((cap) => cap !== "CAP_KILL"));
    expect(() => containerCapabilities({ capAdd: ["SYS_RESOURCE"], available })).toThrow('unknown capability: "SYS_RESOURCE"');
    expect(capabilitiesOfMask("0")).toEqual([]);
  });
});

describe("security options and sysctls", () => {
  it("reads no-new-privileges in its three spellings", () => {
    expect(noNewPrivileges([])).toBe(false);
    expect(noNewPrivileges(["no-new-privileges"])).toBe(true);
    expect(noNewPrivileges(["no-new-privileges=true"])).toBe(true);
    expect(noNewPrivileges(["no-new-privileges:true", "no-new-privileges=false"])).toBe(false);
    expect(noNewPrivileges(["seccomp=unconfined", "apparmor=unconfined", "label=disable"])).toBe(false);
  });

  it("allows namespaced sysctls", () => {
    expect(validateSysctls({ "kernel.shmmax": "1", "fs.mqueue.msg_max": "10", "net.ipv4.tcp_syncookies": "0" }, "none")).toEqual({
      "kernel.shmmax": "1",
      "fs.mqueue.msg_max": "10",
      "net.ipv4.tcp_syncookies": "0",
    });
  });
});

describe("buildShimConfig", () => {
  it("writes the monitor's instructions with Docker's defaults", () => {
    const spec: ContainerCreateSpec = { image: "x" };
    const config = resolveConfig({ id, spec, image, hostHostname: "h" });
    expect(buildShimConfig({ id, spec, config, layerPaths: ["/l/bottom", "/l/middle", "/l/top"], paths: files })).toEqual({
      id,
      bundle,
      runDir: files.runDir,
      rootfs: { lowerdirs: ["/l/top", "/l/middle", "/l/bottom"], upperdir: files.upper, workdir: files.work, target: files.merged },
      log: { path: files.log, maxSize: 0, maxFiles: 1 },
      stdin: false,
      restart: { policy: "no", maxRetries: 0 },
      stop: { signal: 15, timeoutSeconds: 10 },
      init: false,
      healthcheck: null,
    });
  });

  it("carries restart policy, stop settings, init, stdin, log rotation and the healthcheck", () => {
    const spec: ContainerCreateSpec = {
      image: "x",
      openStdin: true,
      init: true,
      stopSignal: "SIGQUIT",
      stopTimeout: 2,
      restartPolicy: { name: "on-failure", maximumRetryCount: 4 },
      logConfig: { maxSize: "10m", maxFile: 3 },
      healthcheck: { test: ["CMD-SHELL", "wget -q localhost"], intervalMs: 1000, retries: 2 },
    };
    const config = resolveConfig({ id, spec, image, hostHostname: "h" });
    expect(buildShimConfig({ id, spec, config, layerPaths: ["/l/only"], paths: files })).toEqual({
      id,
      bundle,
      runDir: files.runDir,
      rootfs: { lowerdirs: ["/l/only"], upperdir: files.upper, workdir: files.work, target: files.merged },
      log: { path: files.log, maxSize: 10485760, maxFiles: 3 },
      stdin: true,
      restart: { policy: "on-failure", maxRetries: 4 },
      stop: { signal: 3, timeoutSeconds: 2 },
      init: true,
      healthcheck: { test: ["CMD-SHELL", "wget -q localhost"], intervalMs: 1000, timeoutMs: 30000, retries: 2, startPeriodMs: 0, startIntervalMs: 5000 },
    });
  });

  it("checks the log options as json-file does", () => {
    expect(logLimits({})).toEqual({ maxSize: 0, maxFiles: 1 });
    expect(() => logLimits({ logConfig: { maxFile: 3 } })).toThrow("max-file can only be set if max-size is set");
    expect(() => logLimits({ logConfig: { maxSize: "1m", maxFile: 0 } })).toThrow("max-file cannot be less than 1");
  });
});
