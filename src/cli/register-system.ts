// `berth system …`: check and prune. Definitions only: the actions lazily import the engine's
// commands (through ./commands/container.js, one chunk), to keep start-up fast.
import type { Command } from "commander";
import type { GlobalOptions } from "./global-options.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Subcommands are defined when `system` is the command being run (see register-container.ts). */
export function registerSystemCommands(program: Command, _globals: () => GlobalOptions): void {
  const system = program.command("system").description("Manage berth");
  program.hook("preSubcommand", (_program, subcommand) => {
    if (subcommand === system && system.commands.length === 0) defineSystemSubcommands(system);
  });
}

function defineSystemSubcommands(system: Command): void {
  system
    .command("check")
    .description("List berth's leftover kernel objects (bridges, veths, netns, chains, mounts, cgroups, shims); exit 1 if any")
    .option("-q, --quiet", "Print nothing; only the exit status tells")
    .option("--format <string>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
    .action(async (options: { quiet?: boolean; format?: string }) => {
      const { runSystemCheck } = await import("./commands/container.js");
      await runSystemCheck(options);
    });

  system
    .command("prune")
    .description("Remove unused data and berth's leftover kernel objects")
    .option("-a, --all", "Remove all unused images not just dangling ones")
    .option("--volumes", "Prune anonymous volumes")
    .option("-f, --force", "Do not prompt for confirmation")
    .option("--filter <filter>", "Provide filter values (e.g. 'label=<key>=<value>')", collect)
    .action(async (options: { all?: boolean; volumes?: boolean; force?: boolean; filter?: string[] }) => {
      const { runSystemPrune } = await import("./commands/container.js");
      await runSystemPrune(options);
    });

  system
    .command("boot")
    .description("Start the containers whose restart policy brings them back after a reboot (always; unless-stopped and on-failure unless stopped by hand), as dockerd does when it starts; run it at boot (contrib/systemd/berth-boot.service)")
    .action(async () => {
      const { runSystemBoot } = await import("./commands/container.js");
      await runSystemBoot();
    });
}
