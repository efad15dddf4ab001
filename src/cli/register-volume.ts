// PLACEHOLDER: owned by a helper. Defines `berth volume …` with commander (definitions only:
// every action lazily imports its implementation from ./commands/, to keep start-up fast).
import type { Command } from "commander";
import type { GlobalOptions } from "./global-options.js";

export function registerVolumeCommands(_program: Command, _globals: () => GlobalOptions): void {}
