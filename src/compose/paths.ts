// PLACEHOLDER: owned by a helper; relative-path resolution by a path table.
import type { Mapping } from "./document.js";

/**
 * Make every path-bearing value in a compose document (build contexts, bind-mount sources in
 * short and long syntax, env_file, secrets/configs `file`, extends.file, label_file, …)
 * absolute against `baseDirectory`, expanding `~` from `homeDirectory`. Returns a new tree.
 */
export function resolveRelativePaths(data: Mapping, _baseDirectory: string, _homeDirectory: string): Mapping {
  return data;
}
