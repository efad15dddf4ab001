// PLACEHOLDER: owned by a helper; replaced with the real pass.
import type { Pass } from "./context.js";

export const interpolatePass: Pass = { name: "interpolate", run: (document) => document };
