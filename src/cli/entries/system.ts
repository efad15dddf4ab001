// dist/system.cjs: only the system commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerSystemCommands } from "../register-system.js";

runCli([[registerSystemCommands, bundleVerbs.system]]);
