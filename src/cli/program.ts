// berth's command line: the global flags, `version`, and whichever command families the running
// bundle registers (src/cli/bundles.ts). Every verb's implementation is imported lazily, so a
// command pays only for the modules it uses (start-up time is the floor of every command).

import { Command, CommanderError, Option } from "commander";
import { commandSignature } from "./code-cache.js";
import type { GlobalOptions } from "./global-options.js";
import { exitStatusFor, printError } from "./output.js";

declare const BERTH_VERSION: string;
export const version = typeof BERTH_VERSION === "string" ? BERTH_VERSION : "0.0.0-dev";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Defines a family's commands; `verb` is the top-level verb being run ("" for help), for a family that can define less for it. */
type Register = (program: Command, globals: () => GlobalOptions, verb: string) => void;

/** A command family: how it defines its commands, and the top-level verbs it defines. */
export type Registration = readonly [Register, readonly string[]];

/**
 * The program for `verb`: a verb berth knows gets only its own command tree (hundreds of option
 * definitions are start-up time every command would pay); anything else (help, a typo) gets all of
 * them, so that help lists every command and an unknown one is reported as such.
 */
function buildProgram(verb: string, registrations: readonly Registration[]): Command {
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
  const known = verb === "version" || registrations.some(([, verbs]) => verbs.includes(verb));
  for (const [register, verbs] of registrations) if (!known || verbs.includes(verb)) register(program, globals, known ? verb : "");

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

/** Run the command in `argv` with these command families; resolves to the exit status. */
export async function main(argv: readonly string[], registrations: readonly Registration[]): Promise<number> {
  const program = buildProgram(commandSignature(argv).split(" ")[0] ?? "", registrations);
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

/** A bundle's entry: run this process's command and set its exit status. */
export function runCli(registrations: readonly Registration[]): void {
  // `berth config | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  main(process.argv.slice(2), registrations).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      printError(error);
      process.exitCode = 1;
    },
  );
}
