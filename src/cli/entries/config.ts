// dist/config.cjs: only the config commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerConfigCommand } from "../register-config.js";

runCli([[registerConfigCommand, bundleVerbs.config]]);
