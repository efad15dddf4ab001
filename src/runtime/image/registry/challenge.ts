// WWW-Authenticate challenges (RFC 7235), as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
//   Basic realm="basic-realm"
// A header may carry several challenges; parameter values are tokens or quoted strings.

export interface AuthChallenge {
  /** Lower case: `bearer`, `basic`. */
  readonly scheme: string;
  /** Parameter names in lower case. */
  readonly parameters: Readonly<Record<string, string>>;
}

const tokenCharacter = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: { scheme: string; parameters: Record<string, string> }[] = [];
  let position = 0;
  const skipSpace = (): void => {
    while (position < header.length && (header[position] === " " || header[position] === "\t")) position++;
  };
  const readToken = (): string => {
    const start = position;
    while (position < header.length && tokenCharacter.test(header[position] as string)) position++;
    return header.slice(start, position);
  };
  const readQuoted = (): string => {
    position++; // opening quote
    let value = "";
    while (position < header.length && header[position] !== '"') {
      if (header[position] === "\\" && position + 1 < header.length) position++;
      value += header[position];
      position++;
    }
    position++; // closing quote
    return value;
  };
  while (position < header.length) {
    skipSpace();
    if (header[position] === ",") {
      position++;
      continue;
    }
    const word = readToken();
    if (word === "") {
      position++; // a character no grammar allows here: skip it
      continue;
    }
    skipSpace();
    const current = challenges.at(-1);
    if (header[position] === "=" && current !== undefined) {
      // name=value belongs to the challenge being read (token68 values are not used by registries).
      position++;
      skipSpace();
      const value = header[position] === '"' ? readQuoted() : readToken();
      current.parameters[word.toLowerCase()] = value;
      continue;
    }
    challenges.push({ scheme: word.toLowerCase(), parameters: {} });
  }
  return challenges;
}

/** The challenge berth answers: Bearer when offered, else Basic. */
export function preferredChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((challenge) => challenge.scheme === "bearer") ?? challenges.find((challenge) => challenge.scheme === "basic");
}

/** `repository:library/busybox:pull` for a pull of that repository path. */
export function repositoryScope(repositoryPath: string, actions: readonly ("pull" | "push")[]): string {
  return `repository:${repositoryPath}:${actions.join(",")}`;
}
