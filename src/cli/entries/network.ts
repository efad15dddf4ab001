// dist/network.cjs: only the network commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerNetworkCommands } from "../register-network.js";

runCli([[registerNetworkCommands, bundleVerbs.network]]);
