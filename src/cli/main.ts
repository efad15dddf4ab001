// berth's command line. Every verb's implementation is imported lazily, so a command
// pays only for the modules it uses (start-up time is the floor of every command).

import { Command, CommanderError, Option } from "commander";
import { commandSignature } from "./code-cache.js";
import type { GlobalOptions } from "./global-options.js";
import { exitStatusFor, printError } from "./output.js";
import { registerContainerCommands } from "./register-container.js";
import { registerImageCommands } from "./register-image.js";
import { registerNetworkCommands } from "./register-network.js";
import { registerVolumeCommands } from "./register-volume.js";
import { registerSystemCommands } from "./register-system.js";

declare const BERTH_VERSION: string;
export const version = typeof BERTH_VERSION === "string" ? BERTH_VERSION : "0.0.0-dev";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

type Registration = (program: Command, globals: () => GlobalOptions) => void;

/** The management commands, and the top-level verbs each one defines. */
const registrations: readonly (readonly [Registration, readonly string[]])[] = [
  [registerContainerCommands, ["container"]],
  [registerImageCommands, ["image", "load", "save", "pull", "push", "login", "logout", "search"]],
  [registerVolumeCommands, ["volume"]],
  [registerSystemCommands, ["system"]],
  [registerNetworkCommands, ["network"]],
];

/**
 * The program for `verb`: a verb berth knows gets only its own command tree (hundreds of option
 * definitions are start-up time every command would pay); anything else (help, a typo) gets all of
 * them, so that help lists every command and an unknown one is reported as such.
 */
function buildProgram(verb: string): Command {
  const program = new Command("berth")
    .description("Run multi-container applications from Compose files, with no daemon.")
    .usage("[OPTIONS] COMMAND")
    .option("-f, --file <path>", "Compose configuration files (repeatable; - reads stdin)", collect, [])
    .option("-p, --project-name <name>", "Project name")
    .option("--project-directory <path>", "Alternate working directory (default: the first compose file's directory)")
    .option("--env-file <path>", "Alternate environment files (repeatable)", collect, [])
    .option("--profile <name>", "Enable a profile (repeatable)", collect, [])
    .addOption(
      new Option("--progress <type>", "Progress output type").choices(["auto", "tty", "plain", "json", "quiet"]).default("auto"),
    )
    .option("--dry-run", "Execute the command in dry-run mode", false)
    .passThroughOptions(false)
    .enablePositionalOptions(true)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.addHelpCommand(false);

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command("config")
    .description("Parse, resolve and render the compose file in canonical format")
    .argument("[services...]", "Limit to these services")
    .addOption(new Option("--format <format>", "Output format").choices(["yaml", "json"]).default("yaml"))
    .option("-q, --quiet", "Only validate the configuration, don't print anything", false)
    .option("-o, --output <path>", "Save to file (default: stdout)")
    .option("--services", "Print the service names, one per line", false)
    .option("--volumes", "Print the volume names, one per line", false)
    .option("--networks", "Print the network names, one per line", false)
    .option("--profiles", "Print the profile names, one per line", false)
    .option("--images", "Print the image names, one per line", false)
    .option("--hash <services>", "Print the service config hash, one per line ('*' for all)")
    .option("--environment", "Print the environment used for interpolation", false)
    .option("--no-interpolate", "Don't interpolate environment variables")
    .option("--no-normalize", "Don't normalize the compose model")
    .option("--no-consistency", "Don't check the model's consistency")
    .action(async (services: string[], options: Record<string, unknown>) => {
      const { runConfig } = await import("./commands/config.js");
      await runConfig(globals(), services, options);
    });

  // Management commands, with the flags of Docker's `docker container|image|volume|network …`.
  const known = verb === "config" || verb === "version" || registrations.some(([, verbs]) => verbs.includes(verb));
  for (const [register, verbs] of registrations) if (!known || verbs.includes(verb)) register(program, globals);

  program
    .command("version")
    .description("Show the berth version information")
    .addOption(new Option("-f, --format <format>", "Format the output").choices(["pretty", "json"]).default("pretty"))
    .option("--short", "Show only the version number", false)
    .action((options: { format: string; short: boolean }) => {
      if (options.short) process.stdout.write(`${version}\n`);
      else if (options.format === "json") process.stdout.write(`${JSON.stringify({ version: `v${version}` })}\n`);
      else process.stdout.write(`berth version v${version}\n`);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram(commandSignature(argv).split(" ")[0] ?? "");
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message; help and version are not failures.
      return error.exitCode === 0 ? 0 : 1;
    }
    printError(error);
    return exitStatusFor(error);
  }
}

// `berth config | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    printError(error);
    process.exitCode = 1;
  },
);
