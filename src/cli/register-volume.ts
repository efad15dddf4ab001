// `berth volume …` with the flags of Docker's `docker volume …`. Definitions only: every action
// lazily imports ./commands/container.js (which re-exports ./commands/volume.js: one entry for
// the engine's verbs keeps the bundle in few chunk files), to keep start-up fast.
import type { Command } from "commander";
import type { GlobalOptions } from "./global-options.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Subcommands are defined when `volume` is the command being run (see register-container.ts). */
export function registerVolumeCommands(program: Command, _globals: () => GlobalOptions): void {
  const volume = program.command("volume").description("Manage volumes");
  program.hook("preSubcommand", (_program, subcommand) => {
    if (subcommand === volume && volume.commands.length === 0) defineVolumeSubcommands(volume);
  });
}

function defineVolumeSubcommands(volume: Command): void {

  volume
    .command("create")
    .description("Create a volume")
    .argument("[name]")
    .option("-d, --driver <string>", "Specify volume driver name", "local")
    .option("--label <list>", "Set metadata for a volume", collect)
    .option("-o, --opt <map>", "Set driver specific options", collect)
    .option("--name <string>", "Specify volume name")
    .action(async (name: string | undefined, options: { driver?: string; label?: string[]; opt?: string[]; name?: string }) => {
      const { runVolumeCreate } = await import("./commands/container.js");
      await runVolumeCreate(name, options);
    });

  volume
    .command("ls")
    .alias("list")
    .description("List volumes")
    .option("-q, --quiet", "Only display volume names")
    .option("-f, --filter <filter>", "Provide filter values (e.g. 'dangling=true')", collect)
    .option("--format <string>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
    .action(async (options: { quiet?: boolean; filter?: string[]; format?: string }) => {
      const { runVolumeList } = await import("./commands/container.js");
      await runVolumeList(options);
    });

  volume
    .command("inspect")
    .description("Display detailed information on one or more volumes")
    .argument("<volumes...>")
    .option("-f, --format <string>", "Format output using a custom template")
    .action(async (names: string[], options: { format?: string }) => {
      const { runVolumeInspect } = await import("./commands/container.js");
      await runVolumeInspect(names, options);
    });

  volume
    .command("rm")
    .alias("remove")
    .description("Remove one or more volumes")
    .argument("<volumes...>")
    .option("-f, --force", "Force the removal of one or more volumes")
    .action(async (names: string[], options: { force?: boolean }) => {
      const { runVolumeRemove } = await import("./commands/container.js");
      await runVolumeRemove(names, options);
    });

  volume
    .command("prune")
    .description("Remove unused local volumes")
    .option("-a, --all", "Remove all unused volumes, not just anonymous ones")
    .option("-f, --force", "Do not prompt for confirmation")
    .option("--filter <filter>", "Provide filter values (e.g. 'label=<label>')", collect)
    .action(async (options: { force?: boolean; all?: boolean; filter?: string[] }) => {
      const { runVolumePrune } = await import("./commands/container.js");
      await runVolumePrune(options);
    });
}
