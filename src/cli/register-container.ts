// `berth container …` with the flags of Docker's `docker container …`. Definitions only: every
// action lazily imports its implementation from ./commands/, to keep start-up fast.
import { Command, Option } from "commander";
import type { GlobalOptions } from "./global-options.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The flags `run` and `create` share (docker's container create options that berth covers). */
function addCreateOptions(command: Command): Command {
  return command
    .option("--name <string>", "Assign a name to the container")
    .option("-e, --env <list>", "Set environment variables", collect)
    .option("--env-file <list>", "Read in a file of environment variables", collect)
    .option("-w, --workdir <string>", "Working directory inside the container")
    .option("-u, --user <string>", "Username or UID (format: <name|uid>[:<group|gid>])")
    .option("--group-add <list>", "Add additional groups to join", collect)
    .option("-v, --volume <list>", "Bind mount a volume", collect)
    .option("--mount <mount>", "Attach a filesystem mount to the container", collect)
    .option("--tmpfs <list>", "Mount a tmpfs directory", collect)
    .option("--read-only", "Mount the container's root filesystem as read only")
    .option("--cap-add <list>", "Add Linux capabilities", collect)
    .option("--cap-drop <list>", "Drop Linux capabilities", collect)
    .option("--privileged", "Give extended privileges to this container")
    .option("--security-opt <list>", "Security Options", collect)
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--memory-swap <bytes>", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option("--memory-reservation <bytes>", "Memory soft limit")
    .option("--cpus <decimal>", "Number of CPUs")
    .option("-c, --cpu-shares <int>", "CPU shares (relative weight)")
    .option("--cpu-period <int>", "Limit CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <int>", "Limit CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpuset-cpus <string>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <string>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("--pids-limit <int>", "Tune container pids limit (set -1 for unlimited)")
    .option("--ulimit <ulimit>", "Ulimit options", collect)
    .option("--sysctl <map>", "Sysctl options", collect)
    .option("--shm-size <bytes>", "Size of /dev/shm")
    .option("--restart <string>", "Restart policy to apply when a container exits")
    .option("--health-cmd <string>", "Command to run to check health")
    .option("--health-interval <duration>", "Time between running the check (ms|s|m|h)")
    .option("--health-timeout <duration>", "Maximum time to allow one check to run (ms|s|m|h)")
    .option("--health-retries <int>", "Consecutive failures needed to report unhealthy")
    .option("--health-start-period <duration>", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)")
    .option("--health-start-interval <duration>", "Time between running the check during the start period (ms|s|m|h)")
    .option("--no-healthcheck", "Disable any container-specified HEALTHCHECK")
    .option("--init", "Run an init inside the container that forwards signals and reaps processes")
    .option("--entrypoint <string>", "Overwrite the default ENTRYPOINT of the image")
    .option("-l, --label <list>", "Set meta data on a container", collect)
    .option("--label-file <list>", "Read in a line delimited file of labels", collect)
    .option("--network <network>", "Connect a container to a network (repeatable; bridge, host, none, container:<name|id>, or a network's name)", collect)
    .addOption(new Option("--net <network>").argParser(collect).hideHelp())
    .option("--network-alias <list>", "Add network-scoped alias for the container", collect)
    .addOption(new Option("--net-alias <list>").argParser(collect).hideHelp())
    .option("--ip <string>", "IPv4 address (e.g., 172.30.100.104)")
    .option("--ip6 <string>", "IPv6 address (e.g., 2001:db8::33)")
    .option("--mac-address <string>", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    .option("--dns <list>", "Set custom DNS servers", collect)
    .option("--dns-search <list>", "Set custom DNS search domains", collect)
    .option("--dns-option <list>", "Set DNS options", collect)
    .addOption(new Option("--dns-opt <list>").argParser(collect).hideHelp())
    .option("--add-host <list>", "Add a custom host-to-IP mapping (host:ip)", collect)
    .option("--expose <list>", "Expose a port or a range of ports", collect)
    .option("-p, --publish <list>", "Publish a container's port(s) to the host", collect)
    .option("-P, --publish-all", "Publish all exposed ports to random ports")
    .option("-h, --hostname <string>", "Container host name")
    .option("--domainname <string>", "Container NIS domain name")
    .option("--stop-signal <string>", "Signal to stop the container")
    .option("--stop-timeout <int>", "Timeout (in seconds) to stop a container")
    .option("-t, --tty", "Allocate a pseudo-TTY")
    .option("-i, --interactive", "Keep STDIN open even if not attached")
    .option("--log-driver <string>", "Logging driver for the container (json-file)")
    .option("--log-opt <list>", "Log driver options (max-size=, max-file=)", collect)
    .option("--rm", "Automatically remove the container and its associated anonymous volumes when it exits")
    .option("-q, --quiet", "Suppress the pull output")
    .helpOption("--help", "Print usage");
}

type Flags = Record<string, unknown>;

/**
 * `berth container` itself is defined at start-up; its ~20 subcommands and their ~130 options
 * only when `container` is the command being run (commander's preSubcommand hook fires before
 * the subcommand parses its arguments), so other verbs do not pay for building them; and of those,
 * only the one being run when the word after `container` names one.
 */
export function registerContainerCommands(program: Command, _globals: () => GlobalOptions): void {
  const container = program.command("container").description("Manage containers").enablePositionalOptions(true);
  program.hook("preSubcommand", (thisCommand, subcommand) => {
    if (subcommand === container && container.commands.length === 0) {
      // Every container verb's action imports ./commands/container.js: start fetching it (and
      // the runtime chunks it imports) now, so the file reads overlap with defining and parsing
      // the options below instead of following them.
      import("./commands/container.js").catch(() => undefined);
      // The program's operands by now: "container", then the subcommand's name (or an option).
      defineContainerSubcommands(container, thisCommand.args[1]);
    }
  });
}

/** Each subcommand's definition, with the names it answers to (aliases included). */
const subcommandDefinitions: readonly (readonly [names: readonly string[], define: (container: Command) => void])[] = [
  [
    ["run"],
    (container) => {
      addCreateOptions(
        container
          .command("run")
          .description("Create and run a new container from an image")
          .usage("[OPTIONS] IMAGE [COMMAND] [ARG...]")
          .argument("<image>")
          .argument("[command...]")
          .passThroughOptions()
          .option("-d, --detach", "Run container in background and print container ID"),
      ).action(async (image: string, command: string[], flags: Flags) => {
        const { runContainerRun } = await import("./commands/container.js");
        await runContainerRun(image, command, flags);
      });
    },
  ],
  [
    ["create"],
    (container) => {
      addCreateOptions(
        container
          .command("create")
          .description("Create a new container")
          .usage("[OPTIONS] IMAGE [COMMAND] [ARG...]")
          .argument("<image>")
          .argument("[command...]")
          .passThroughOptions(),
      ).action(async (image: string, command: string[], flags: Flags) => {
        const { runContainerCreate } = await import("./commands/container.js");
        await runContainerCreate(image, command, flags);
      });
    },
  ],
  [
    ["start"],
    (container) => {
      container
        .command("start")
        .description("Start one or more stopped containers")
        .argument("<containers...>")
        .option("-a, --attach", "Attach STDOUT/STDERR and forward signals")
        .option("-i, --interactive", "Attach container's STDIN")
        .action(async (containers: string[], options: { attach?: boolean; interactive?: boolean }) => {
          const { runContainerStart } = await import("./commands/container.js");
          await runContainerStart(containers, options);
        });
    },
  ],
  [
    ["stop", "restart"],
    (container) => {
      for (const [verb, description] of [
        ["stop", "Stop one or more running containers"],
        ["restart", "Restart one or more containers"],
      ] as const) {
        container
          .command(verb)
          .description(description)
          .argument("<containers...>")
          .option("-t, --time <int>", "Seconds to wait before killing the container")
          .addOption(new Option("--timeout <int>").hideHelp())
          .action(async (containers: string[], options: { time?: string; timeout?: string }) => {
            const commands = await import("./commands/container.js");
            await (verb === "stop" ? commands.runContainerStop : commands.runContainerRestart)(containers, options);
          });
      }
    },
  ],
  [
    ["kill"],
    (container) => {
      container
        .command("kill")
        .description("Kill one or more running containers")
        .argument("<containers...>")
        .option("-s, --signal <string>", "Signal to send to the container")
        .action(async (containers: string[], options: { signal?: string }) => {
          const { runContainerKill } = await import("./commands/container.js");
          await runContainerKill(containers, options);
        });
    },
  ],
  [
    ["rm", "remove"],
    (container) => {
      container
        .command("rm")
        .alias("remove")
        .description("Remove one or more containers")
        .argument("<containers...>")
        .option("-f, --force", "Force the removal of a running container (uses SIGKILL)")
        .option("-v, --volumes", "Remove anonymous volumes associated with the container")
        .action(async (containers: string[], options: { force?: boolean; volumes?: boolean }) => {
          const { runContainerRemove } = await import("./commands/container.js");
          await runContainerRemove(containers, options);
        });
    },
  ],
  [
    ["ls", "ps", "list"],
    (container) => {
      container
        .command("ls")
        .aliases(["ps", "list"])
        .description("List containers")
        .option("-a, --all", "Show all containers (default shows just running)")
        .option("-q, --quiet", "Only display container IDs")
        .option("-f, --filter <filter>", "Filter output based on conditions provided", collect)
        .option("--format <string>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
        .option("--no-trunc", "Don't truncate output")
        .option("-n, --last <int>", "Show n last created containers (includes all states)")
        .option("-l, --latest", "Show the latest created container (includes all states)")
        .option("-s, --size", "Display total file sizes")
        .action(async (options: Record<string, unknown> & { trunc?: boolean }) => {
          const { runContainerList } = await import("./commands/container.js");
          await runContainerList({ ...options, noTrunc: options.trunc === false });
        });
    },
  ],
  [
    ["inspect"],
    (container) => {
      container
        .command("inspect")
        .description("Display detailed information on one or more containers")
        .argument("<containers...>")
        .option("-f, --format <string>", "Format output using a custom template")
        .option("-s, --size", "Display total file sizes")
        .action(async (containers: string[], options: { format?: string; size?: boolean }) => {
          const { runContainerInspect } = await import("./commands/container.js");
          await runContainerInspect(containers, options);
        });
    },
  ],
  [
    ["logs"],
    (container) => {
      container
        .command("logs")
        .description("Fetch the logs of a container")
        .argument("<container>")
        .option("-f, --follow", "Follow log output")
        .option("-n, --tail <string>", "Number of lines to show from the end of the logs", "all")
        .option("--since <string>", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
        .option("--until <string>", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
        .option("-t, --timestamps", "Show timestamps")
        .option("--details", "Show extra details provided to logs")
        .action(async (name: string, options: Record<string, unknown>) => {
          const { runContainerLogs } = await import("./commands/container.js");
          await runContainerLogs(name, options);
        });
    },
  ],
  [
    ["exec"],
    (container) => {
      container
        .command("exec")
        .description("Execute a command in a running container")
        .usage("[OPTIONS] CONTAINER COMMAND [ARG...]")
        .argument("<container>")
        .argument("<command...>")
        .passThroughOptions()
        .option("-d, --detach", "Detached mode: run command in the background")
        .option("-e, --env <list>", "Set environment variables", collect)
        .option("--env-file <list>", "Read in a file of environment variables", collect)
        .option("-i, --interactive", "Keep STDIN open even if not attached")
        .option("-t, --tty", "Allocate a pseudo-TTY")
        .option("-u, --user <string>", "Username or UID (format: <name|uid>[:<group|gid>])")
        .option("-w, --workdir <string>", "Working directory inside the container")
        .option("--privileged", "Give extended privileges to the command")
        .action(async (name: string, command: string[], options: Record<string, unknown>) => {
          const { runContainerExec } = await import("./commands/container.js");
          await runContainerExec(name, command, options);
        });
    },
  ],
  [
    ["top"],
    (container) => {
      container
        .command("top")
        .description("Display the running processes of a container")
        .usage("CONTAINER [ps OPTIONS]")
        .argument("<container>")
        .argument("[psOptions...]")
        .passThroughOptions()
        .allowUnknownOption(true)
        .helpOption("--help", "Print usage")
        .action(async (name: string, psOptions: string[]) => {
          const { runContainerTop } = await import("./commands/container.js");
          await runContainerTop(name, psOptions);
        });
    },
  ],
  [
    ["cp"],
    (container) => {
      container
        .command("cp")
        .description("Copy files/folders between a container and the local filesystem")
        .usage("[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH")
        .argument("<source>")
        .argument("<destination>")
        .option("-a, --archive", "Archive mode (copy all uid/gid information)")
        .option("-L, --follow-link", "Always follow symbol link in SRC_PATH")
        .option("-q, --quiet", "Suppress progress output during copy")
        .action(async (source: string, destination: string, options: Record<string, unknown>) => {
          const { runContainerCopy } = await import("./commands/container.js");
          await runContainerCopy(source, destination, options);
        });
    },
  ],
  [
    ["pause", "unpause", "wait"],
    (container) => {
      for (const [verb, description] of [
        ["pause", "Pause all processes within one or more containers"],
        ["unpause", "Unpause all processes within one or more containers"],
        ["wait", "Block until one or more containers stop, then print their exit codes"],
      ] as const) {
        container
          .command(verb)
          .description(description)
          .argument("<containers...>")
          .action(async (containers: string[]) => {
            const commands = await import("./commands/container.js");
            const run = { pause: commands.runContainerPause, unpause: commands.runContainerUnpause, wait: commands.runContainerWait }[verb];
            await run(containers);
          });
      }
    },
  ],
  [
    ["port"],
    (container) => {
      container
        .command("port")
        .description("List port mappings or a specific mapping for the container")
        .usage("CONTAINER [PRIVATE_PORT[/PROTO]]")
        .argument("<container>")
        .argument("[port]")
        .action(async (name: string, port: string | undefined) => {
          const { runContainerPort } = await import("./commands/container.js");
          await runContainerPort(name, port);
        });
    },
  ],
  [
    ["rename"],
    (container) => {
      container
        .command("rename")
        .description("Rename a container")
        .argument("<container>")
        .argument("<newName>")
        .action(async (name: string, newName: string) => {
          const { runContainerRename } = await import("./commands/container.js");
          await runContainerRename(name, newName);
        });
    },
  ],
  [
    ["prune"],
    (container) => {
      container
        .command("prune")
        .description("Remove all stopped containers")
        .option("-f, --force", "Do not prompt for confirmation")
        .option("--filter <filter>", "Provide filter values (e.g. 'until=<timestamp>')", collect)
        .action(async (options: { force?: boolean; filter?: string[] }) => {
          const { runContainerPrune } = await import("./commands/container.js");
          await runContainerPrune(options);
        });
    },
  ],
  [
    ["__autoremove"],
    (container) => {
      container
        .command("__autoremove", { hidden: true })
        .argument("<id>")
        .action(async (id: string) => {
          const { runAutoRemove } = await import("./commands/container.js");
          await runAutoRemove(id);
        });
    },
  ],
];

/**
 * Define `wanted` alone when it names a subcommand (`berth container run` has no use for the other
 * ~20 and their options), else all of them: help lists them, and a typo is reported as unknown.
 */
function defineContainerSubcommands(container: Command, wanted: string | undefined): void {
  const only = wanted === undefined ? undefined : subcommandDefinitions.find(([names]) => names.includes(wanted));
  for (const [, define] of only === undefined ? subcommandDefinitions : [only]) define(container);
}
