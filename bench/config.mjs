#!/usr/bin/env node
// `berth config -q` against Debian's docker-compose 1.29 on a generated 1,000-service project.
//
//   node bench/config.mjs [RUNS] [SERVICES]      (defaults: 10 runs each, 1000 services)
//
// The project (bench/.work/config/, git-ignored) uses what real large files use: YAML anchors and
// merge keys, `extends` within the file and from a second file, an override file
// (compose.override.yaml), and ports, volumes, environment and depends_on on every service. It is
// written in `version: "3.8"` syntax so docker-compose 1.29 accepts it as well. Both tools get the
// same files and flags (`-f compose.yaml -f compose.override.yaml -p bench config -q`); runs are
// interleaved (berth, docker-compose, docker-compose, berth, ...) so drift hits both alike.
// The script builds dist/ first, and installs docker-compose with apt-get when it is missing (and
// says so; without root or a mirror it times berth alone). Exits non-zero when either tool fails;
// target for berth: under 300 ms.

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { berthBin, buildBerth, measure, median, positiveIntegerArgument, printTimings, repoRoot, timeInterleaved } from "./harness.mjs";

const workDirectory = path.join(repoRoot, "bench", ".work", "config");
const targetMs = 300;
const usage = "node bench/config.mjs [RUNS] [SERVICES]";
const runs = positiveIntegerArgument(process.argv[2], 10, usage);
const serviceCount = positiveIntegerArgument(process.argv[3], 1000, usage);

// ---------------------------------------------------------------------------------------------
// The project.

const pad = (index) => String(index).padStart(4, "0");
const serviceName = (index) => `svc-${pad(index)}`;
const groupSize = 10;
const volumeCount = 50;

function composeFile() {
  const lines = [
    'version: "3.8"',
    "",
    "x-defaults: &defaults",
    "  restart: unless-stopped",
    "  labels:",
    '    com.example.bench: "true"',
    "  logging:",
    "    driver: json-file",
    "    options:",
    '      max-size: "10m"',
    "",
    "x-environment: &environment",
    "  LOG_LEVEL: info",
    "  BENCH_TAG: ${BENCH_TAG:-latest}",
    "",
    "x-healthcheck: &healthcheck",
    '  test: ["CMD", "true"]',
    "  interval: 30s",
    "  timeout: 5s",
    "  retries: 3",
    "",
    "services:",
    "  db:",
    "    <<: *defaults",
    "    image: postgres:16",
    "    environment:",
    "      <<: *environment",
    "      POSTGRES_PASSWORD: bench",
    "    volumes:",
    "      - db-data:/var/lib/postgresql/data",
    "",
    "  base-local:",
    "    <<: *defaults",
    "    image: busybox:1.36",
    "    command: [sleep, infinity]",
    "    healthcheck: *healthcheck",
    "",
  ];
  for (let index = 0; index < serviceCount; index++) {
    const groupRoot = index - (index % groupSize);
    const dependency = index === groupRoot ? "db" : serviceName(groupRoot);
    lines.push(`  ${serviceName(index)}:`, "    <<: *defaults");
    if (index % 3 === 0) lines.push("    extends:", "      service: base-local");
    else if (index % 3 === 1) lines.push("    extends:", "      file: common.yaml", "      service: base-remote");
    else lines.push(`    image: "nginx:\${BENCH_TAG:-1.25}"`);
    lines.push(
      "    ports:",
      `      - "${20000 + index}:80"`,
      "    volumes:",
      `      - data-${String(index % volumeCount).padStart(2, "0")}:/data`,
      `      - ./data/${serviceName(index)}:/srv:ro`,
      "    environment:",
      "      <<: *environment",
      `      SERVICE_INDEX: "${index}"`,
      `      PEER: ${serviceName(groupRoot)}`,
      "    depends_on:",
      `      - ${dependency}`,
      "    networks:",
      "      - front",
      "      - back",
      "",
    );
  }
  lines.push("volumes:", "  db-data: {}");
  for (let index = 0; index < volumeCount; index++) lines.push(`  data-${String(index).padStart(2, "0")}: {}`);
  lines.push("", "networks:", "  front: {}", "  back:", "    internal: true", "");
  return lines.join("\n");
}

function commonFile() {
  return [
    'version: "3.8"',
    "services:",
    "  base-remote:",
    "    image: redis:7",
    "    command: [redis-server, --appendonly, \"yes\"]",
    "    environment:",
    "      FROM_COMMON: \"yes\"",
    "    healthcheck:",
    '      test: ["CMD", "redis-cli", "ping"]',
    "      interval: 10s",
    "",
  ].join("\n");
}

/** Every tenth service changes: a new image tag, an extra variable, an extra port. */
function overrideFile() {
  const lines = ['version: "3.8"', "services:"];
  for (let index = 0; index < serviceCount; index += groupSize) {
    lines.push(
      `  ${serviceName(index)}:`,
      "    image: nginx:1.27",
      "    environment:",
      '      OVERRIDDEN: "yes"',
      "    ports:",
      `      - "${40000 + index}:443"`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

function writeProject() {
  rmSync(workDirectory, { recursive: true, force: true });
  mkdirSync(workDirectory, { recursive: true });
  writeFileSync(path.join(workDirectory, "compose.yaml"), composeFile());
  writeFileSync(path.join(workDirectory, "common.yaml"), commonFile());
  writeFileSync(path.join(workDirectory, "compose.override.yaml"), overrideFile());
}

// ---------------------------------------------------------------------------------------------
// The two commands.

const projectArgs = ["-f", "compose.yaml", "-f", "compose.override.yaml", "-p", "bench"];

/** The caller's environment minus anything that would steer either tool. */
function cleanEnvironment() {
  const environment = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("COMPOSE_") && key !== "BENCH_TAG" && key !== "BERTH_DEBUG") environment[key] = value;
  }
  return environment;
}
const environment = cleanEnvironment();

const tools = {
  berth: (args) => [process.execPath, [berthBin, ...projectArgs, ...args]],
  "docker-compose": (args) => ["docker-compose", [...projectArgs, ...args]],
};

function run(tool, args) {
  const [command, commandArgs] = tools[tool](args);
  const { result, milliseconds } = measure(() =>
    spawnSync(command, commandArgs, {
      cwd: workDirectory,
      env: environment,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 256 * 1024 * 1024,
    }),
  );
  if (result.status !== 0) {
    const reason = result.error ? String(result.error) : `exit status ${result.status}`;
    const stderr = (result.stderr ?? "").trim().split("\n").slice(-20).join("\n");
    console.error(`${tool} ${args.join(" ")} failed (${reason}):\n${stderr}`);
    process.exit(1);
  }
  return { stdout: result.stdout, milliseconds };
}

function commandExists(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** Debian's docker-compose 1.29, without the recommended docker.io daemon (config needs no engine). */
function ensureDockerCompose() {
  if (commandExists("docker-compose")) return true;
  console.log("docker-compose not found: installing Debian's package (apt-get install -y --no-install-recommends docker-compose)");
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "docker-compose"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status === 0;
  if (!install()) {
    console.log("apt-get install failed; running apt-get update and trying once more");
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    if (!install()) {
      console.log("could not install docker-compose (needs root and a Debian mirror): timing berth alone");
      return false;
    }
  }
  return commandExists("docker-compose");
}

// ---------------------------------------------------------------------------------------------

buildBerth();
writeProject();
const withCompose = ensureDockerCompose();
const contenders = withCompose ? ["berth", "docker-compose"] : ["berth"];

const sizes = ["compose.yaml", "common.yaml", "compose.override.yaml"]
  .map((file) => `${file} ${(statSync(path.join(workDirectory, file)).size / 1024).toFixed(0)} KiB`)
  .join(", ");
console.log(`project: ${serviceCount + 2} services in ${path.relative(repoRoot, workDirectory)}/ (${sizes})`);
if (withCompose) console.log(`docker-compose: ${spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" }).stdout.trim()}`);
console.log(`node: ${process.version}; ${runs} interleaved runs each of: config -q ${projectArgs.join(" ")}`);

// Warm-up (not timed): both must accept the files, and must agree on which services there are.
for (const tool of contenders) run(tool, ["config", "-q"]);
if (withCompose) {
  const [berthServices, composeServices] = contenders.map((tool) =>
    run(tool, ["config", "--services"]).stdout.split("\n").filter(Boolean).sort(),
  );
  if (berthServices.join("\n") !== composeServices.join("\n")) {
    console.log(`warning: config --services differs: berth lists ${berthServices.length}, docker-compose ${composeServices.length}`);
  }
}

const timings = timeInterleaved(contenders, runs, (tool) => run(tool, ["config", "-q"]).milliseconds);
printTimings(timings);
const berthMedian = median(timings["berth"]);
if (withCompose) console.log(`ratio berth/docker-compose: ${(berthMedian / median(timings["docker-compose"])).toFixed(2)}`);
console.log(`berth target: under ${targetMs} ms: ${berthMedian < targetMs ? "met" : "NOT met"}`);
