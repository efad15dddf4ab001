// `berth volume create|ls|inspect|rm|prune`, printing what `docker volume …` prints.

import { humanSize, type VolumeInfo } from "../../runtime/index.js";
import { printResult } from "../output.js";
import { CommandError, confirm, forEachTarget, inspectEach, openEngine, withExitStatus } from "./container-common.js";
import { parseFormat, renderRows } from "./container-format.js";
import { keyValueMap, parseFilters } from "./container-arguments.js";

export async function runVolumeCreate(name: string | undefined, options: { driver?: string; label?: string[]; opt?: string[]; name?: string }): Promise<void> {
  const volumeName = name ?? options.name;
  if (name !== undefined && options.name !== undefined && name !== options.name) {
    throw new CommandError("E_CLI_USAGE", `conflicting options: either specify --name or provide positional arg, not both`, 1);
  }
  const volume = await withExitStatus(1, () =>
    openEngine().volumes.create({
      ...(volumeName !== undefined ? { name: volumeName } : {}),
      ...(options.driver !== undefined ? { driver: options.driver } : {}),
      labels: keyValueMap(options.label ?? []),
      driverOpts: keyValueMap(options.opt ?? []),
    }),
  );
  printResult(volume.Name);
}

function volumeRow(volume: VolumeInfo): Record<string, unknown> {
  return {
    Availability: "N/A",
    Driver: volume.Driver,
    Group: "N/A",
    Labels: Object.entries(volume.Labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(","),
    Links: "N/A",
    Mountpoint: volume.Mountpoint,
    Name: volume.Name,
    Scope: volume.Scope,
    Size: "N/A",
    Status: "N/A",
    LabelMap: volume.Labels,
  };
}

export async function runVolumeList(options: { quiet?: boolean; filter?: string[]; format?: string }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  const volumes = await withExitStatus(1, () => openEngine().volumes.list({ filters }));
  if (options.quiet) {
    printResult(volumes.map((volume) => `${volume.Name}\n`).join(""));
    return;
  }
  process.stdout.write(
    renderRows(volumes.map(volumeRow), parseFormat(options.format), {
      columns: ["Driver", "Name"],
      headers: { Driver: "DRIVER", Name: "VOLUME NAME", Mountpoint: "MOUNTPOINT", Labels: "LABELS", Scope: "SCOPE", Size: "SIZE", Links: "LINKS" },
    }),
  );
}

export async function runVolumeInspect(names: string[], options: { format?: string }): Promise<void> {
  const engine = openEngine();
  await inspectEach(names, (name) => engine.volumes.inspect(name), options.format);
}

export async function runVolumeRemove(names: string[], options: { force?: boolean }): Promise<void> {
  const engine = openEngine();
  await forEachTarget(names, async (name) => {
    await engine.volumes.remove(name, { force: options.force ?? false });
  });
}

export async function runVolumePrune(options: { force?: boolean; all?: boolean; filter?: string[] }): Promise<void> {
  const filters = parseFilters(options.filter ?? []);
  const warning = options.all
    ? "WARNING! This will remove all local volumes not used by at least one container."
    : "WARNING! This will remove anonymous local volumes not used by at least one container.";
  if (!options.force && !confirm(`${warning}\nAre you sure you want to continue?`)) return;
  const result = await withExitStatus(1, () => openEngine().volumes.prune({ all: options.all ?? false, filters }));
  let text = "";
  if (result.volumesDeleted.length > 0) text += `Deleted Volumes:\n${result.volumesDeleted.map((name) => `${name}\n`).join("")}\n`;
  text += `Total reclaimed space: ${humanSize(result.spaceReclaimed)}`;
  printResult(text);
}
