// dist/version.cjs: `berth version` alone, which every bundle defines (src/cli/bundles.ts).
import { runCli } from "../program.js";

runCli([]);
