// `berth config`: the loader's result, printed as `docker compose config` does.

import { Option, type Command } from "commander";
import type { GlobalOptions } from "./global-options.js";

export function registerConfigCommand(program: Command, globals: () => GlobalOptions): void {
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
}
