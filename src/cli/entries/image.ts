// dist/image.cjs: only the image, load, save, pull, push, login, logout and search commands (src/cli/bundles.ts).
import { bundleVerbs } from "../bundles.js";
import { runCli } from "../program.js";
import { registerImageCommands } from "../register-image.js";

runCli([[registerImageCommands, bundleVerbs.image]]);
