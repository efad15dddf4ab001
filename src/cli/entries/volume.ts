// dist/volume.cjs: only the volume commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerVolumeCommands } from "../register-volume.js";

runCli([[registerVolumeCommands, bundleVerbs.volume]]);
