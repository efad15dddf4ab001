// dist/container.cjs: only the container commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerContainerCommands } from "../register-container.js";

runCli([[registerContainerCommands, bundleVerbs.container]]);
