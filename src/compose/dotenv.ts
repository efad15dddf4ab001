// PLACEHOLDER: owned by a helper; replaced with the real .env parser.
export interface DotEnvOptions {
  /** For error messages: the .env file's path. */
  readonly file: string;
  /** Values for `${VAR}` inside the file that are not defined earlier in it. */
  readonly lookup: (name: string) => string | undefined;
}

/** Parse .env text (Compose's syntax) into ordered KEY → value pairs. Throws ComposeError E_COMPOSE_ENV_FILE. */
export function parseDotEnv(text: string, _options: DotEnvOptions): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (match?.[1] !== undefined) result.set(match[1], match[2] ?? "");
  }
  return result;
}
