// The whole CLI (dist/berth.cjs): every command family, for help, unknown verbs, and anything
// the launcher cannot place in one family's bundle (src/cli/bundles.ts).

import { bundleVerbs } from "./bundles.js";
import { runCli, type Registration } from "./program.js";
import { registerConfigCommand } from "./register-config.js";
import { registerContainerCommands } from "./register-container.js";
import { registerImageCommands } from "./register-image.js";
import { registerNetworkCommands } from "./register-network.js";
import { registerSystemCommands } from "./register-system.js";
import { registerVolumeCommands } from "./register-volume.js";

/** Every family, in the order help lists them. */
const allRegistrations: readonly Registration[] = [
  [registerConfigCommand, bundleVerbs.config],
  [registerContainerCommands, bundleVerbs.container],
  [registerImageCommands, bundleVerbs.image],
  [registerVolumeCommands, bundleVerbs.volume],
  [registerSystemCommands, bundleVerbs.system],
  [registerNetworkCommands, bundleVerbs.network],
];

runCli(allRegistrations);
