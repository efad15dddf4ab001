// A plain busybox root filesystem for shim tests: Debian's static busybox with its
// applet links, /etc/passwd and /etc/group with root and `app` (1000:1000), and the
// probe program (test/support/probe.c, compiled here with `gcc -O2 -static`) at
// /usr/local/bin/probe. Not a test file itself (no `.test.ts`).

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const busyboxBinary = "/bin/busybox";
export const probeSource = path.join(path.dirname(fileURLToPath(import.meta.url)), "probe.c");
/** Where the probe sits inside the rootfs. */
export const probeInContainer = "/usr/local/bin/probe";

export const passwdFile = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
export const groupFile = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

/** Why the rootfs cannot be built here, or undefined when it can. */
export function rootfsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (chroot to install busybox applets)";
  if (!existsSync(busyboxBinary)) return `${busyboxBinary} is missing (apt-get install busybox-static)`;
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is missing (needed to build the probe)";
  return undefined;
}

/** Compile the probe once per source version; returns the host path of the binary. */
export function buildProbe(): string {
  const source = readFileSync(probeSource);
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const output = path.join(tmpdir(), `berth-probe-${digest}`);
  if (existsSync(output)) return output;
  const temporary = `${output}.${process.pid}.tmp`;
  execFileSync("gcc", ["-O2", "-static", "-o", temporary, probeSource], { stdio: "pipe" });
  renameSync(temporary, output);
  return output;
}

/** Build the rootfs in `directory` (created). Returns `directory`. */
export function buildRootfs(directory: string): string {
  for (const sub of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app", "usr/local/bin", "var", "run"]) {
    mkdirSync(path.join(directory, sub), { recursive: true });
  }
  chmodSync(path.join(directory, "tmp"), 0o1777);
  copyFileSync(busyboxBinary, path.join(directory, "bin", "busybox"));
  chmodSync(path.join(directory, "bin", "busybox"), 0o755);
  // Relative to the new root: `busybox --install -s DIR` run from the host would write
  // links to the host's busybox path (runtime-feasibility §1).
  execFileSync("chroot", [directory, "/bin/busybox", "--install", "-s", "/bin"], { stdio: "pipe" });
  writeFileSync(path.join(directory, "etc", "passwd"), passwdFile);
  writeFileSync(path.join(directory, "etc", "group"), groupFile);
  writeFileSync(path.join(directory, "etc", "hostname"), "rootfs\n");
  execFileSync("chown", ["1000:1000", path.join(directory, "home", "app")]);
  const probe = path.join(directory, probeInContainer);
  copyFileSync(buildProbe(), probe);
  chmodSync(probe, 0o755);
  // A file that is not executable, for the 126 test.
  writeFileSync(path.join(directory, "etc", "not-executable"), "#!/bin/sh\necho never\n");
  chmodSync(path.join(directory, "etc", "not-executable"), 0o644);
  if (!statSync(path.join(directory, "bin", "sh")).isFile()) throw new Error("busybox install failed: no /bin/sh");
  return directory;
}
