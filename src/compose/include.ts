// PLACEHOLDER: owned by a helper; replaced with the real pass.
import type { Pass } from "./context.js";

export const includePass: Pass = { name: "include", run: (document) => document };
