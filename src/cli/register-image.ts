// `berth image …` (and the top-level `berth load` / `berth save`), with the flags of Docker's
// `docker image …`. Definitions only: every action lazily imports ./commands/image.js, so other
// verbs never pay for the image store's modules.
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

export function registerImageCommands(program: Command, _globals: () => GlobalOptions): void {
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
  program.addCommand(loadCommand("load"));
  program.addCommand(saveCommand("save"));
}
