// PLACEHOLDER: owned by a helper; replaced with the real pass.
import type { Pass } from "./context.js";

export const normalizePass: Pass = { name: "normalize", run: (document) => document };
