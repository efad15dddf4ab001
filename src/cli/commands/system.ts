// `berth system check` and `berth system prune`: Docker's prune (stopped containers, unused
// networks, dangling images, with -a and --volumes) plus berth's own kernel leftovers, which
// `check` lists without touching.

import type { Leftover } from "../../runtime/index.js";
import { humanSize } from "../../runtime/index.js";
import { printResult } from "../output.js";
import { CommandError, confirm, openEngine, silentExit, withExitStatus } from "./container-common.js";
import { parseFilters } from "./container-arguments.js";
import { parseFormat, renderRows } from "./container-format.js";

const leftoverHeaders: Readonly<Record<string, string>> = { Kind: "KIND", Name: "NAME", Reason: "REASON" };

const leftoverRow = (leftover: Leftover): Record<string, unknown> => ({ Kind: leftover.kind, Name: leftover.name, Reason: leftover.reason });

/** Lists the leftovers; exits 1 when there are any, so scripts and CI can assert a clean host. */
export async function runSystemCheck(options: { format?: string; quiet?: boolean }): Promise<void> {
  const leftovers = await withExitStatus(1, () => openEngine().system.check());
  if (!options.quiet) {
    const format = parseFormat(options.format);
    if (leftovers.length === 0 && format.kind === "table" && format.template === undefined) process.stderr.write("No leftovers: every berth kernel object belongs to a live container or network.\n");
    else process.stdout.write(renderRows(leftovers.map(leftoverRow), format, { columns: ["Kind", "Name", "Reason"], headers: leftoverHeaders }));
  }
  if (leftovers.length > 0) throw silentExit(1);
}

export async function runSystemPrune(options: { all?: boolean; volumes?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  const warning = [
    "WARNING! This will remove:",
    "  - all stopped containers",
    "  - all networks not used by at least one container",
    ...(options.volumes ? ["  - all anonymous volumes not used by at least one container"] : []),
    options.all ? "  - all images without at least one container associated to them" : "  - all dangling images",
    "  - berth's own kernel objects that nothing running uses (see `berth system check`)",
    "",
  ].join("\n");
  if (!options.force && !confirm(`${warning}\nAre you sure you want to continue?`)) return;
  const engine = openEngine();
  // Leftovers first: a container whose shim died is recorded as exited, and so pruned below.
  const kernel = await withExitStatus(1, () => engine.system.prune());
  const containers = await withExitStatus(1, () => engine.containers.prune({ filters }));
  const networks = await withExitStatus(1, () => engine.networks.prune({ filters }));
  const volumes = options.volumes ? await withExitStatus(1, () => engine.volumes.prune({ all: false, filters })) : undefined;
  const images = await withExitStatus(1, () => engine.images.pruneWithReport({ all: options.all ?? false }));
  const section = (title: string, lines: readonly string[]): string => (lines.length === 0 ? "" : `${title}:\n${lines.map((line) => `${line}\n`).join("")}\n`);
  let text = "";
  text += section("Deleted Containers", containers.containersDeleted);
  text += section("Deleted Networks", networks);
  text += section("Deleted Volumes", volumes?.volumesDeleted ?? []);
  text += section("Deleted Images", images.lines.map((line) => line.replace(/^Untagged:/, "untagged:").replace(/^Deleted:/, "deleted:")));
  text += section("Reclaimed Leftovers", kernel.reclaimed.map((leftover) => `${leftover.kind} ${leftover.name} (${leftover.reason})`));
  text += `Total reclaimed space: ${humanSize(containers.spaceReclaimed + (volumes?.spaceReclaimed ?? 0) + images.reclaimedBytes)}`;
  printResult(text);
  if (kernel.remaining.length > 0 || kernel.errors.length > 0) {
    const remaining = kernel.remaining.map((leftover) => `${leftover.kind} ${leftover.name}`).join(", ");
    const detail = [remaining === "" ? "" : `still there: ${remaining}`, ...kernel.errors].filter((part) => part !== "").join("; ");
    throw new CommandError("E_SYSTEM_PRUNE", `system prune: could not reclaim every leftover: ${detail}`, 1);
  }
}

/** After a boot, what dockerd would do when it starts: bring back the containers their restart policy wants. */
export async function runSystemBoot(): Promise<void> {
  const result = await withExitStatus(1, () => openEngine().containers.restartAfterBoot());
  if (result.started.length > 0) printResult(result.started.join("\n"));
  for (const failure of result.failed) process.stderr.write(`${failure.name}: ${failure.error}\n`);
  if (result.failed.length > 0) throw silentExit(1);
}
