// Which bundle runs which verb. The build writes one CommonJS bundle per family below
// (dist/<family>.cjs, from src/cli/entries/<family>.ts) holding only that family's commands, and
// dist/berth.cjs with all of them for help and unknown verbs. A smaller bundle is less source to
// read and less compiled code for V8 to deserialize on every start (src/cli/launcher.ts).

export const bundleVerbs = {
  container: ["container"],
  image: ["image", "load", "save", "pull", "push", "login", "logout", "search"],
  volume: ["volume"],
  network: ["network"],
  system: ["system"],
  config: ["config"],
  version: ["version"],
} as const satisfies Record<string, readonly string[]>;

export type BundleFamily = keyof typeof bundleVerbs;

/** The bundle, without `.cjs`, that runs `verb`: its family's, else the whole CLI's (`berth`). */
export function bundleFor(verb: string): BundleFamily | "berth" {
  for (const [family, verbs] of Object.entries(bundleVerbs) as [BundleFamily, readonly string[]][]) {
    if (verbs.includes(verb)) return family;
  }
  return "berth";
}
