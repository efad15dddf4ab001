// `user`, `user:group`, `uid:gid` resolved against the container's /etc/passwd and /etc/group,
// exactly as runc's GetExecUser and moby's getUser do: the first matching entry wins, a numeric
// id with no entry is taken as is, supplementary groups come from /etc/group only when no group
// was given, and the primary gid leads the additional gids (moby, since CVE-2023-25173).

import { BerthError } from "../../errors.js";

export const UserErrorCode = "E_CONTAINER_USER";

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export interface ProcessUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  /** From passwd; "/" when the user has no entry (runc's default). */
  readonly home: string;
}

const maxId = 2 ** 31 - 1;

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const fields = trimmed.split(":");
    entries.push({ name: fields[0] ?? "", uid: toInt(fields[2]), gid: toInt(fields[3]), home: fields[5] ?? "" });
  }
  return entries;
}

export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const fields = trimmed.split(":");
    const members = (fields[3] ?? "").split(",").filter((member) => member !== "");
    entries.push({ name: fields[0] ?? "", gid: toInt(fields[2]), members });
  }
  return entries;
}

/** Go's Atoi as runc's parser uses it: a malformed field counts as 0. */
const toInt = (text: string | undefined): number => {
  const value = Number.parseInt(text ?? "", 10);
  return Number.isNaN(value) ? 0 : value;
};

const numeric = (text: string): number | undefined => (/^-?\d+$/.test(text) ? Number(text) : undefined);

function checkRange(value: number): number {
  if (value < 0 || value > maxId) throw new BerthError(UserErrorCode, "user or group id out of range");
  return value;
}

export interface ResolveUserInput {
  /** `""` (root), `name`, `uid`, `name:group`, `uid:gid`. */
  readonly user: string;
  /** File contents; undefined when the container has no such file. */
  readonly passwd: string | undefined;
  readonly group: string | undefined;
  readonly groupAdd?: readonly string[];
}

export function resolveUser({ user, passwd, group, groupAdd = [] }: ResolveUserInput): ProcessUser {
  const colon = user.indexOf(":");
  const userArg = colon < 0 ? user : user.slice(0, colon);
  const groupArg = colon < 0 ? "" : user.slice(colon + 1);
  const uidArg = numeric(userArg);
  const gidArg = numeric(groupArg);
  const passwdEntries = passwd === undefined ? [] : parsePasswd(passwd);
  const groupEntries = group === undefined ? [] : parseGroup(group);

  let uid = 0;
  let gid = 0;
  let home = "/";
  let supplementary: number[] = [];
  const matchedUser = passwdEntries.find((entry) =>
    userArg === "" ? entry.uid === 0 : uidArg !== undefined ? entry.uid === uidArg : entry.name === userArg,
  );
  if (matchedUser !== undefined) {
    uid = matchedUser.uid;
    gid = matchedUser.gid;
    home = matchedUser.home;
  } else if (userArg !== "") {
    if (uidArg === undefined) throw new BerthError(UserErrorCode, `unable to find user ${userArg}: no matching entries in passwd file`);
    uid = checkRange(uidArg);
  }

  if (groupArg !== "") {
    const matchedGroup = groupEntries.find((entry) => (gidArg !== undefined ? entry.gid === gidArg : entry.name === groupArg));
    if (matchedGroup !== undefined) gid = matchedGroup.gid;
    else if (gidArg === undefined) throw new BerthError(UserErrorCode, `unable to find group ${groupArg}: no matching entries in group file`);
    else gid = checkRange(gidArg);
  } else if (matchedUser !== undefined) {
    supplementary = groupEntries.filter((entry) => entry.members.includes(matchedUser.name)).map((entry) => entry.gid);
  }

  return { uid, gid, additionalGids: [gid, ...supplementary, ...additionalGroups(groupAdd, groupEntries)], home };
}

/** runc's GetAdditionalGroups, in the order given: names or numbers, each once. */
function additionalGroups(requested: readonly string[], groups: readonly GroupEntry[]): number[] {
  const seen = new Set<number>();
  for (const wanted of requested) {
    const found = groups.find((entry) => (entry.name === wanted || String(entry.gid) === wanted) && !seen.has(entry.gid));
    if (found !== undefined) {
      seen.add(found.gid);
      continue;
    }
    const gid = numeric(wanted);
    if (gid === undefined) throw new BerthError(UserErrorCode, `Unable to find group ${wanted}`);
    seen.add(checkRange(gid));
  }
  return [...seen];
}
