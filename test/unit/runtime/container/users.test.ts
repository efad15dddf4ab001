// `--user` resolved against the container's /etc/passwd and /etc/group as runc and moby do.
import { describe, expect, it } from "vitest";
import { BerthError } from "../../../../src/errors.js";
import { resolveUser, type ProcessUser } from "../../../../src/runtime/container/users.js";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "app:x:1000:1000:app:/home/app:/bin/sh",
  "# a comment",
  "",
  "dup:x:1000:2000:second app:/home/dup:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
].join("\n");

const group = ["root:x:0:", "wheel:x:10:root,app", "audio:x:29:app", "staff:x:50:", "app:x:1000:", "nogroup:x:65534:"].join("\n");

describe("resolveUser", () => {
  const table: [string, string, string[], ProcessUser][] = [
    ["default is root, with root's groups", "", [], { uid: 0, gid: 0, additionalGids: [0, 10], home: "/root" }],
    ["name", "app", [], { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: "/home/app" }],
    ["uid finds the first entry", "1000", [], { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: "/home/app" }],
    ["uid without an entry", "4242", [], { uid: 4242, gid: 0, additionalGids: [0], home: "/" }],
    ["name:group sets the gid and no supplementary groups", "app:staff", [], { uid: 1000, gid: 50, additionalGids: [50], home: "/home/app" }],
    ["uid:gid numeric, no entries", "4242:4343", [], { uid: 4242, gid: 4343, additionalGids: [4343], home: "/" }],
    ["name:gid numeric", "daemon:29", [], { uid: 1, gid: 29, additionalGids: [29], home: "/usr/sbin" }],
    ["group_add by name and number, in order", "daemon", ["staff", "4000", "wheel"], { uid: 1, gid: 1, additionalGids: [1, 50, 4000, 10], home: "/usr/sbin" }],
    ["group_add with the primary group again", "app", ["app"], { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29, 1000], home: "/home/app" }],
  ];
  it.each(table)("%s (%s)", (_name, user, groupAdd, expected) => {
    expect(resolveUser({ user, passwd, group, groupAdd })).toEqual(expected);
  });

  it("works without /etc/passwd or /etc/group (scratch images)", () => {
    expect(resolveUser({ user: "", passwd: undefined, group: undefined })).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/" });
    expect(resolveUser({ user: "7:8", passwd: undefined, group: undefined })).toEqual({ uid: 7, gid: 8, additionalGids: [8], home: "/" });
  });

  const failures: [string, string, string[], string][] = [
    ["unknown name", "ghost", [], "unable to find user ghost: no matching entries in passwd file"],
    ["unknown group name", "app:ghosts", [], "unable to find group ghosts: no matching entries in group file"],
    ["unknown group_add name", "app", ["ghosts"], "Unable to find group ghosts"],
    ["negative uid", "-1", [], "out of range"],
  ];
  it.each(failures)("refuses %s", (_name, user, groupAdd, message) => {
    const attempt = (): unknown => resolveUser({ user, passwd, group, groupAdd });
    expect(attempt).toThrow(BerthError);
    expect(attempt).toThrow(message);
  });
});
