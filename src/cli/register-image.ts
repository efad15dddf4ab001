// `berth image …` (and the top-level `berth load` / `berth save` / `berth pull` / `berth push`,
// `berth login` / `logout` / `search`), with the flags of Docker's `docker image …`. Definitions
// only: every action lazily imports ./commands/image.js or ./commands/registry.js, so other verbs
// never pay for the image store's or the registry client's modules.
import { Command } from "commander";
import type { GlobalOptions } from "./global-options.js";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function loadCommand(name: string): Command {
  return new Command(name)
    .description("Load an image from a tar archive or STDIN")
    .option("-i, --input <file>", "Read from tar archive file, or an OCI image layout directory, instead of STDIN")
    .option("-q, --quiet", "Suppress the load output", false)
    .action(async (options: { input?: string; quiet: boolean }) => {
      const { runImageLoad } = await import("./commands/image.js");
      await runImageLoad(options);
    });
}

function saveCommand(name: string): Command {
  return new Command(name)
    .description("Save one or more images to a tar archive (streamed to STDOUT by default)")
    .argument("<images...>", "Images to save")
    .option("-o, --output <file>", "Write to a file, instead of STDOUT")
    .action(async (images: string[], options: { output?: string }) => {
      const { runImageSave } = await import("./commands/image.js");
      await runImageSave(images, options);
    });
}

function pullCommand(name: string, globals: () => GlobalOptions): Command {
  return new Command(name)
    .description("Download an image from a registry")
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("-q, --quiet", "Suppress verbose output", false)
    .option("--platform <platform>", "Set platform if server is multi-platform capable (os/arch[/variant])")
    .action(async (reference: string, options: { quiet: boolean; platform?: string }) => {
      const { runImagePull } = await import("./commands/registry.js");
      await runImagePull(reference, options, globals().progress);
    });
}

function pushCommand(name: string, globals: () => GlobalOptions): Command {
  return new Command(name)
    .description("Upload an image to a registry")
    .argument("<name>", "NAME[:TAG]")
    .option("-q, --quiet", "Suppress verbose output", false)
    .action(async (reference: string, options: { quiet: boolean }) => {
      const { runImagePush } = await import("./commands/registry.js");
      await runImagePush(reference, options, globals().progress);
    });
}

function loginCommand(): Command {
  return new Command("login")
    .description("Log in to a registry (Docker Hub when no server is given)")
    .argument("[server]", "SERVER")
    .option("-u, --username <username>", "Username")
    .option("-p, --password <password>", "Password")
    .option("--password-stdin", "Take the password from stdin", false)
    .action(async (server: string | undefined, options: { username?: string; password?: string; passwordStdin: boolean }) => {
      const { runLogin } = await import("./commands/registry.js");
      await runLogin(server, options);
    });
}

function logoutCommand(): Command {
  return new Command("logout")
    .description("Log out from a registry (Docker Hub when no server is given)")
    .argument("[server]", "SERVER")
    .action(async (server: string | undefined) => {
      const { runLogout } = await import("./commands/registry.js");
      await runLogout(server);
    });
}

function searchCommand(): Command {
  return new Command("search")
    .description("Search the catalog of a registry ([HOST[:PORT]/]TERM) for images")
    .argument("<term>", "[HOST[:PORT]/]TERM")
    .option("--format <format>", "Output format: 'table' or 'json'")
    .option("--limit <limit>", "Max number of search results", "25")
    .option("--no-trunc", "Don't truncate output")
    .action(async (term: string, options: { format?: string; limit: string; trunc: boolean }) => {
      const { runSearch } = await import("./commands/registry.js");
      await runSearch(term, options);
    });
}

/** The family's top-level verbs besides `image`, in the order help lists them. */
const topLevelCommands: Readonly<Record<string, (globals: () => GlobalOptions) => Command>> = {
  load: () => loadCommand("load"),
  save: () => saveCommand("save"),
  pull: (globals) => pullCommand("pull", globals),
  push: (globals) => pushCommand("push", globals),
  login: loginCommand,
  logout: logoutCommand,
  search: searchCommand,
};

/**
 * The family's commands. `berth pull` (or load, save, push, login, logout, search) being run
 * defines only itself: the others, and `image` with its subcommands, are start-up time it would
 * not use.
 */
export function registerImageCommands(program: Command, globals: () => GlobalOptions, verb = ""): void {
  const only = Object.hasOwn(topLevelCommands, verb) ? topLevelCommands[verb] : undefined;
  if (only !== undefined) {
    program.addCommand(only(globals));
    return;
  }
  const image = program.command("image").description("Manage images");
  image.addHelpCommand(false);

  image
    .command("ls")
    .alias("list")
    .description("List images")
    .argument("[repository]", "Show only images of this REPOSITORY[:TAG]")
    .option("-a, --all", "Show all images (default hides intermediate images)", false)
    .option("--digests", "Show digests", false)
    .option("-f, --filter <filter>", "Filter output based on conditions provided (dangling=, label=, reference=, before=, since=)", collect, [])
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go-style template")
    .option("--no-trunc", "Don't truncate output")
    .option("-q, --quiet", "Only show image IDs", false)
    .action(async (repository: string | undefined, options: Record<string, unknown>) => {
      const { runImageList } = await import("./commands/image.js");
      await runImageList(repository, options);
    });

  image
    .command("rm")
    .alias("remove")
    .description("Remove one or more images")
    .argument("<images...>", "Images to remove")
    .option("-f, --force", "Force removal of the image", false)
    .option("--no-prune", "Do not delete untagged parents")
    .action(async (images: string[], options: { force: boolean }) => {
      const { runImageRemove } = await import("./commands/image.js");
      await runImageRemove(images, options);
    });

  image
    .command("tag")
    .description("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    .argument("<source>", "SOURCE_IMAGE[:TAG]")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action(async (source: string, target: string) => {
      const { runImageTag } = await import("./commands/image.js");
      await runImageTag(source, target);
    });

  image
    .command("inspect")
    .description("Display detailed information on one or more images")
    .argument("<images...>", "Images to inspect")
    .option("-f, --format <format>", "Format output using a custom template: 'json', or a Go-style template")
    .action(async (images: string[], options: { format?: string }) => {
      const { runImageInspect } = await import("./commands/image.js");
      await runImageInspect(images, options);
    });

  image
    .command("prune")
    .description("Remove unused images")
    .option("-a, --all", "Remove all unused images, not just dangling ones", false)
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (options: { all: boolean; force: boolean }) => {
      const { runImagePrune } = await import("./commands/image.js");
      await runImagePrune(options);
    });

  image.addCommand(loadCommand("load"));
  image.addCommand(saveCommand("save"));
  image.addCommand(pullCommand("pull", globals));
  image.addCommand(pushCommand("push", globals));
  for (const define of Object.values(topLevelCommands)) program.addCommand(define(globals));
}
