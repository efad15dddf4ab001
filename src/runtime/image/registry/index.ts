// The registry client's entry: login, logout and search for the CLI. Each loads its module on
// first call, so importing the image store (every `container run`) never loads node:https.
// Pull and push are ImageStore methods (store.ts), which load ./pull.js and ./push.js the same way.

import type { LoginRequest, LoginResult } from "./login.js";
import type { SearchRequest, SearchResult } from "./search.js";

export type { LoginRequest, LoginResult } from "./login.js";
export type { SearchRequest, SearchResult } from "./search.js";

export async function loginRegistry(request: LoginRequest): Promise<LoginResult> {
  return (await import("./login.js")).loginRegistry(request);
}

export async function logoutRegistry(request: {
  readonly server?: string;
  readonly environment?: Readonly<Record<string, string | undefined>>;
}): Promise<{ serverKey: string; removed: boolean }> {
  return (await import("./login.js")).logoutRegistry(request);
}

export async function searchRegistry(request: SearchRequest): Promise<SearchResult[]> {
  return (await import("./search.js")).searchRegistry(request);
}
