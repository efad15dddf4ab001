// What the container's process may do: capabilities (Docker's default set, cap_drop),
// user and groups, no_new_privileges, read-only root, masked and read-only /proc paths,
// tmpfs and bind mounts, rlimits, sysctls, the device cgroup, and mount destinations
// that cannot escape the rootfs through the image's symlinks.

import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  capabilityMask,
  dockerDefaultCapabilities,
  probeOutput,
  startShimOk,
  streamText,
  waitForShimExit,
  withBundle,
  type Bundle,
  type BundleOptions,
  type ProbeReport,
} from "../../support/bundle.js";
import { probeInContainer } from "../../support/rootfs.js";
import { useShimFixture } from "./fixture.js";

const fixture = useShimFixture();

async function run(options: Omit<BundleOptions, "rootfs">, check: (bundle: Bundle) => void, before?: (bundle: Bundle) => void): Promise<void> {
  await withBundle(fixture.roots(), { rootfs: fixture.rootfs(), ...options }, async (bundle) => {
    before?.(bundle);
    await startShimOk(bundle);
    await waitForShimExit(bundle);
    check(bundle);
  });
}

describe.skipIf(fixture.skip !== undefined)(fixture.title("berth-shim security"), () => {
  it("gives root Docker's default capabilities, and cap_drop removes NET_RAW", async () => {
    await run({ args: [probeInContainer] }, (bundle) => {
      const probe = probeOutput(bundle);
      const all = capabilityMask(dockerDefaultCapabilities);
      expect(probe.capabilities).toMatchObject({ CapEff: all, CapPrm: all, CapBnd: all, CapInh: "0000000000000000", CapAmb: "0000000000000000" });
      expect(probe.rawSocket).toBe("ok");
    });
    const withoutRaw = dockerDefaultCapabilities.filter((name) => name !== "CAP_NET_RAW");
    await run(
      {
        args: [probeInContainer],
        spec: (spec) => {
          for (const set of ["bounding", "effective", "permitted"] as const) spec.process.capabilities[set] = [...withoutRaw];
        },
      },
      (bundle) => {
        const probe = probeOutput(bundle);
        expect(probe.capabilities.CapEff).toBe(capabilityMask(withoutRaw));
        expect(BigInt(`0x${probe.capabilities.CapBnd}`) & (1n << 13n)).toBe(0n);
        expect(probe.rawSocket).toBe("Operation not permitted");
      },
    );
  });

  it("runs as user 1000:1000 with additional groups, no capabilities left, HOME from /etc/passwd", async () => {
    await run(
      {
        args: [probeInContainer],
        spec: (spec) => {
          spec.process.user = { uid: 1000, gid: 1000, additionalGids: [1000, 2000] };
          spec.process.env = spec.process.env.filter((entry) => !entry.startsWith("HOME="));
          spec.process.cwd = "/home/app";
        },
      },
      (bundle) => {
        const probe = probeOutput(bundle);
        expect(probe).toMatchObject({ uid: 1000, gid: 1000, euid: 1000, egid: 1000, groups: [1000, 2000], cwd: "/home/app" });
        expect(probe.capabilities.CapEff).toBe("0000000000000000");
        expect(probe.env).toContain("HOME=/home/app");
        expect(probe.umask).toBe("0022");
      },
    );
  });

  it("sets no_new_privileges and rlimits", async () => {
    await run(
      {
        args: [probeInContainer],
        spec: (spec) => {
          spec.process.noNewPrivileges = true;
          spec.process.rlimits.push({ type: "RLIMIT_CORE", soft: 0, hard: 0 });
        },
      },
      (bundle) => {
        const probe = probeOutput(bundle);
        expect(probe.noNewPrivs).toBe(1);
        expect(probe.rlimits["NOFILE"]).toEqual([1024, 4096]);
        expect(probe.rlimits["CORE"]).toEqual([0, 0]);
      },
    );
  });

  it("makes the root read-only when asked, leaving /dev/shm and tmpfs mounts writable", async () => {
    const script = "touch /x 2>&1; echo touch=$?; touch /dev/shm/x && echo shm=ok";
    await run({ args: ["/bin/sh", "-c", script], spec: (spec) => (spec.root.readonly = true) }, (bundle) => {
      const out = streamText(bundle, "stdout");
      expect(out).toContain("Read-only file system");
      expect(out).toContain("touch=1");
      expect(out).toContain("shm=ok");
    });
  });

  it("masks and write-protects Docker's /proc paths", async () => {
    // /proc/keys (a file: /dev/null on top) and /proc/acpi (a directory: an empty read-only
    // tmpfs) exist on this kernel; /proc/kcore may not, and a missing path is skipped.
    const script = "cat /proc/keys | wc -c; ls /proc/acpi | wc -l; (echo x > /proc/sys/kernel/ostype) 2>/dev/null; echo w=$?";
    await run({ args: ["/bin/sh", "-c", `${script}; ${probeInContainer} >&2`] }, (bundle) => {
      const out = streamText(bundle, "stdout").split("\n");
      expect(out[0]?.trim()).toBe("0");
      expect(out[1]?.trim()).toBe("0");
      expect(out[2]).toBe("w=1");
      const probe = JSON.parse(streamText(bundle, "stderr")) as ProbeReport;
      const mountOf = (target: string) => probe.mounts.find((mount) => mount.target === target);
      expect(mountOf("/proc/keys")).toBeDefined();
      expect(mountOf("/proc/acpi")).toMatchObject({ fstype: "tmpfs" });
      expect(mountOf("/proc/acpi")?.options.split(",")).toContain("ro");
      expect(mountOf("/proc/sys")?.options.split(",")).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev", "noexec"]));
      expect(mountOf("/sys")?.options.split(",")).toContain("ro");
    });
  });

  it("mounts a tmpfs with size and mode", async () => {
    const script = "stat -c %a /scratch; head -c 2000000 /dev/zero > /scratch/big 2>/dev/null; echo write=$?; wc -c < /scratch/big";
    await run(
      {
        args: ["/bin/sh", "-c", `${script}; ${probeInContainer} >&2`],
        spec: (spec) => spec.mounts.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1m", "mode=1770"] }),
      },
      (bundle) => {
        const out = streamText(bundle, "stdout");
        expect(out.split("\n")[0]).toBe("1770");
        expect(out).not.toContain("write=0");
        expect(Number(out.split("\n")[2])).toBeLessThanOrEqual(1024 * 1024);
        const probe = JSON.parse(streamText(bundle, "stderr")) as ProbeReport;
        const scratch = probe.mounts.find((mount) => mount.target === "/scratch");
        expect(scratch?.fstype).toBe("tmpfs");
        expect(scratch?.superOptions).toContain("size=1024k");
        expect(scratch?.options.split(",")).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
      },
    );
  });

  it("bind-mounts a host directory read-only, and a file read-write", async () => {
    const script = "cat /data/hello; touch /data/new 2>&1; echo ro=$?; echo appended >> /etc/hostfile; echo rw=$?";
    let hostDirectory = "";
    let hostFile = "";
    await run(
      {
        args: ["/bin/sh", "-c", script],
        spec: (spec) => {
          hostDirectory = path.join(fixture.roots().base, `bind-${Date.now()}`);
          hostFile = `${hostDirectory}-file`;
          spec.mounts.push({ destination: "/data", type: "bind", source: hostDirectory, options: ["rbind", "ro"] });
          spec.mounts.push({ destination: "/etc/hostfile", type: "bind", source: hostFile, options: ["bind"] });
        },
      },
      (bundle) => {
        const out = streamText(bundle, "stdout");
        expect(out).toContain("hello from the host");
        expect(out).toContain("Read-only file system");
        expect(out).toContain("ro=1");
        expect(out).toContain("rw=0");
        expect(existsSync(path.join(hostDirectory, "new"))).toBe(false);
        expect(readFileSync(hostFile, "utf8")).toBe("file\nappended\n");
        rmSync(hostDirectory, { recursive: true, force: true });
        rmSync(hostFile, { force: true });
        void bundle;
      },
      () => {
        mkdirSync(hostDirectory, { recursive: true });
        writeFileSync(path.join(hostDirectory, "hello"), "hello from the host\n");
        writeFileSync(hostFile, "file\n");
      },
    );
  });

  it("resolves mount destinations inside the rootfs even through absolute symlinks", async () => {
    const marker = `berth-escape-${process.pid}-${Date.now()}`;
    await run(
      {
        args: ["/bin/sh", "-c", `ls -d /tmp/${marker}/inside && echo contained`],
        spec: (spec) => spec.mounts.push({ destination: `/escape/${marker}/inside`, type: "tmpfs", source: "tmpfs", options: ["size=1m"] }),
      },
      (bundle) => {
        expect(streamText(bundle, "stdout")).toContain("contained");
        expect(existsSync(`/tmp/${marker}`)).toBe(false);
      },
      (bundle) => {
        // In the image: /escape -> /tmp (absolute). On the host that would be the host's /tmp.
        symlinkSync("/tmp", path.join(bundle.shimJson.rootfs.upperdir ?? "", "escape"));
      },
    );
  });

  it("applies namespaced sysctls and the device cgroup", async () => {
    const script = "cat /proc/sys/net/core/somaxconn; mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk 2>&1; echo > /dev/null && echo null=ok";
    await run(
      { args: ["/bin/sh", "-c", script], spec: (spec) => (spec.linux.sysctl = { "net.core.somaxconn": "1234" }) },
      (bundle) => {
        const out = streamText(bundle, "stdout");
        expect(out.split("\n")[0]).toBe("1234");
        expect(out).toContain("Operation not permitted");
        expect(out).toContain("null=ok");
      },
    );
  });
});
