// `berth network …` with the flags of Docker's `docker network …`. Definitions only: every action
// lazily imports the network commands (through ./commands/container.js, one chunk), to keep start-up fast.
import type { Command } from "commander";
import type { NetworkCreateFlags } from "./commands/network.js";
import type { GlobalOptions } from "./global-options.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Subcommands are defined when `network` is the command being run (see register-container.ts). */
export function registerNetworkCommands(program: Command, _globals: () => GlobalOptions): void {
  const network = program.command("network").description("Manage networks");
  program.hook("preSubcommand", (_program, subcommand) => {
    if (subcommand === network && network.commands.length === 0) defineNetworkSubcommands(network);
  });
}

function defineNetworkSubcommands(network: Command): void {
  network
    .command("create")
    .description("Create a network")
    .argument("<name>")
    .option("-d, --driver <string>", "Driver to manage the Network", "bridge")
    .option("--subnet <strings>", "Subnet in CIDR format that represents a network segment", collect)
    .option("--ip-range <strings>", "Allocate container ip from a sub-range", collect)
    .option("--gateway <strings>", "IPv4 or IPv6 Gateway for the master subnet", collect)
    .option("--aux-address <map>", "Auxiliary IPv4 or IPv6 addresses used by Network driver", collect)
    .option("--ipv6", "Enable or disable IPv6 networking")
    .option("--internal", "Restrict external access to the network")
    .option("--attachable", "Enable manual container attachment")
    .option("--label <list>", "Set metadata on a network", collect)
    .option("-o, --opt <map>", "Set driver specific options", collect)
    .option("--ipam-driver <string>", "IP Address Management Driver", "default")
    .option("--ipam-opt <map>", "Set IPAM driver specific options", collect)
    .action(async (name: string, options: NetworkCreateFlags) => {
      const { runNetworkCreate } = await import("./commands/container.js");
      await runNetworkCreate(name, options);
    });

  network
    .command("ls")
    .alias("list")
    .description("List networks")
    .option("-q, --quiet", "Only display network IDs")
    .option("-f, --filter <filter>", "Provide filter values (e.g. 'driver=bridge')", collect)
    .option("--format <string>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
    .option("--no-trunc", "Do not truncate the output")
    .action(async (options: { quiet?: boolean; filter?: string[]; format?: string; trunc?: boolean }) => {
      const { runNetworkList } = await import("./commands/container.js");
      await runNetworkList({ ...options, noTrunc: options.trunc === false });
    });

  network
    .command("inspect")
    .description("Display detailed information on one or more networks")
    .argument("<networks...>")
    .option("-f, --format <string>", "Format output using a custom template")
    .option("-v, --verbose", "Verbose output for diagnostics")
    .action(async (names: string[], options: { format?: string; verbose?: boolean }) => {
      const { runNetworkInspect } = await import("./commands/container.js");
      await runNetworkInspect(names, options);
    });

  network
    .command("rm")
    .alias("remove")
    .description("Remove one or more networks")
    .argument("<networks...>")
    .option("-f, --force", "Do not error if the network does not exist")
    .action(async (names: string[], options: { force?: boolean }) => {
      const { runNetworkRemove } = await import("./commands/container.js");
      await runNetworkRemove(names, options);
    });

  network
    .command("prune")
    .description("Remove all unused networks")
    .option("-f, --force", "Do not prompt for confirmation")
    .option("--filter <filter>", "Provide filter values (e.g. 'until=<timestamp>')", collect)
    .action(async (options: { force?: boolean; filter?: string[] }) => {
      const { runNetworkPrune } = await import("./commands/container.js");
      await runNetworkPrune(options);
    });

  network
    .command("connect")
    .description("Connect a container to a network")
    .usage("[OPTIONS] NETWORK CONTAINER")
    .argument("<network>")
    .argument("<container>")
    .option("--alias <strings>", "Add network-scoped alias for the container", collect)
    .option("--ip <string>", "IPv4 address (e.g., 172.30.100.104)")
    .option("--ip6 <string>", "IPv6 address (e.g., 2001:db8::33)")
    .action(async (networkName: string, container: string, options: { alias?: string[]; ip?: string; ip6?: string }) => {
      const { runNetworkConnect } = await import("./commands/container.js");
      await runNetworkConnect(networkName, container, options);
    });

  network
    .command("disconnect")
    .description("Disconnect a container from a network")
    .usage("[OPTIONS] NETWORK CONTAINER")
    .argument("<network>")
    .argument("<container>")
    .option("-f, --force", "Force the container to disconnect from a network")
    .action(async (networkName: string, container: string, options: { force?: boolean }) => {
      const { runNetworkDisconnect } = await import("./commands/container.js");
      await runNetworkDisconnect(networkName, container, options);
    });
}
