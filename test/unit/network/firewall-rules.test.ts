// Firewall rules as data: the lines for a normal, an internal and a dual-stack network, the
// restore input with and without the shared chains present, removal, and iptables-save parsing.

import { describe, expect, it } from "vitest";
import { NetworkErrorCode, networkRules, parseSave, renderApply, type FirewallNetwork } from "../../../src/network/index.js";
import { renderRemove, renderRemoveBase, stateAfterApply, stateAfterRemove } from "../../../src/network/firewall-rules.js";

const id = "3f2a9c1d2e4b".padEnd(64, "0");
const normal: FirewallNetwork = {
  id,
  bridge: "br-3f2a9c1d2e4b",
  subnets: ["172.18.0.0/16"],
  internal: false,
  masquerade: true,
  ports: [
    { hostIp: "0.0.0.0", hostPort: 8080, containerIp: "172.18.0.2", containerPort: 80, protocol: "tcp" },
    { hostIp: "127.0.0.1", hostPort: 5353, containerIp: "172.18.0.3", containerPort: 53, protocol: "udp" },
  ],
};

const normalFilter = [
  ":BERTH-FW-3f2a9c1d2e4b - [0:0]",
  "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -j ACCEPT",
  "-A BERTH-FW-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
  "-A BERTH-FW-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -m conntrack --ctstate DNAT -j ACCEPT",
  "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
  "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -o br-+ -j DROP",
  "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -j ACCEPT",
  "-A BERTH-FW-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -j DROP",
  "-A BERTH-FORWARD -j BERTH-FW-3f2a9c1d2e4b",
];

describe("networkRules", () => {
  it("gives a normal network DNAT per port, MASQUERADE, loopback guards and the forward policy", () => {
    expect(networkRules(normal)).toEqual({
      v4: {
        raw: [
          ":BERTH-PR-3f2a9c1d2e4b - [0:0]",
          "-A BERTH-PR-3f2a9c1d2e4b -s 127.0.0.0/8 -i br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-PR-3f2a9c1d2e4b -d 127.0.0.0/8 -i br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-PR-3f2a9c1d2e4b -d 127.0.0.1/32 ! -i lo -p udp -m udp --dport 5353 -j DROP",
          "-A BERTH-PREROUTING -j BERTH-PR-3f2a9c1d2e4b",
        ],
        nat: [
          ":BERTH-DN-3f2a9c1d2e4b - [0:0]",
          ":BERTH-PO-3f2a9c1d2e4b - [0:0]",
          "-A BERTH-DN-3f2a9c1d2e4b -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80",
          "-A BERTH-DN-3f2a9c1d2e4b -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.18.0.3:53",
          "-A BERTH-PO-3f2a9c1d2e4b -s 172.18.0.0/16 ! -o br-3f2a9c1d2e4b -j MASQUERADE",
          "-A BERTH-PO-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -m addrtype --src-type LOCAL -j MASQUERADE",
          "-A BERTH-PO-3f2a9c1d2e4b -s 172.18.0.0/16 -o br-3f2a9c1d2e4b -m conntrack --ctstate DNAT -j MASQUERADE",
          "-A BERTH-DNAT -j BERTH-DN-3f2a9c1d2e4b",
          "-A BERTH-POSTROUTING -j BERTH-PO-3f2a9c1d2e4b",
        ],
        filter: normalFilter,
      },
      v6: { raw: [], nat: [], filter: [] },
    });
  });

  it("gives an internal network no NAT, no published ports, and a closed bridge", () => {
    expect(networkRules({ ...normal, internal: true })).toEqual({
      v4: {
        raw: [
          ":BERTH-PR-3f2a9c1d2e4b - [0:0]",
          "-A BERTH-PR-3f2a9c1d2e4b -s 127.0.0.0/8 -i br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-PR-3f2a9c1d2e4b -d 127.0.0.0/8 -i br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-PREROUTING -j BERTH-PR-3f2a9c1d2e4b",
        ],
        nat: [],
        filter: [
          ":BERTH-FW-3f2a9c1d2e4b - [0:0]",
          "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -j ACCEPT",
          "-A BERTH-FW-3f2a9c1d2e4b -i br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-FW-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -j DROP",
          "-A BERTH-FORWARD -j BERTH-FW-3f2a9c1d2e4b",
        ],
      },
      v6: { raw: [], nat: [], filter: [] },
    });
    // Its jump goes first in BERTH-FORWARD, ahead of every other network's ACCEPTs.
    expect(renderApply({ ...normal, internal: true }, 4)).toContain("-I BERTH-FORWARD 1 -j BERTH-FW-3f2a9c1d2e4b\n");
  });

  it("gives a dual-stack network the same shape over IPv6, without masquerade when asked", () => {
    const dual: FirewallNetwork = {
      ...normal,
      subnets: ["172.18.0.0/16", "fd00:b3e7:1::/64"],
      masquerade: false,
      ports: [
        { hostIp: "::", hostPort: 8080, containerIp: "fd00:b3e7:1::2", containerPort: 80, protocol: "tcp" },
        { hostIp: "2001:DB8:0:0::5", hostPort: 8081, containerIp: "fd00:b3e7:1:0::2", containerPort: 80, protocol: "sctp" },
      ],
    };
    const rules = networkRules(dual);
    expect(rules.v6).toEqual({
      raw: [],
      nat: [
        ":BERTH-DN-3f2a9c1d2e4b - [0:0]",
        ":BERTH-PO-3f2a9c1d2e4b - [0:0]",
        "-A BERTH-DN-3f2a9c1d2e4b -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:b3e7:1::2]:80",
        "-A BERTH-DN-3f2a9c1d2e4b -d 2001:db8::5/128 -p sctp -m sctp --dport 8081 -j DNAT --to-destination [fd00:b3e7:1::2]:80",
        "-A BERTH-PO-3f2a9c1d2e4b -o br-3f2a9c1d2e4b -m addrtype --src-type LOCAL -j MASQUERADE",
        "-A BERTH-PO-3f2a9c1d2e4b -s fd00:b3e7:1::/64 -o br-3f2a9c1d2e4b -m conntrack --ctstate DNAT -j MASQUERADE",
        "-A BERTH-DNAT -j BERTH-DN-3f2a9c1d2e4b",
        "-A BERTH-POSTROUTING -j BERTH-PO-3f2a9c1d2e4b",
      ],
      filter: normalFilter,
    });
    expect(rules.v4.nat.filter((line) => line.includes("DNAT --to"))).toEqual([]);
  });

  it("refuses what cannot be right", () => {
    const port = normal.ports[0]!;
    for (const bad of [
      { ...normal, id: "not-hex" },
      { ...normal, bridge: "br-x -j ACCEPT" },
      { ...normal, subnets: ["172.18.0.0/33"] },
      { ...normal, ports: [{ ...port, containerIp: "fd00::2" }] },
      { ...normal, ports: [{ ...port, containerIp: "10.0.0.2" }] },
      { ...normal, ports: [{ ...port, hostPort: 0 }] },
      { ...normal, ports: [{ ...port, protocol: "icmp" as "tcp" }] },
      { ...normal, subnets: ["fd00::/64"], ports: [{ ...port, hostIp: "::1", containerIp: "fd00::2" }] },
    ]) {
      expect(() => networkRules(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: NetworkErrorCode.invalid }));
    }
  });
});

describe("renderApply", () => {
  it("creates the shared chains and jumps when nothing is there", () => {
    expect(renderApply(normal, 4)).toBe(
      [
        "*raw",
        "-N BERTH-PREROUTING",
        ":BERTH-PR-3f2a9c1d2e4b - [0:0]",
        "-I PREROUTING 1 -j BERTH-PREROUTING",
        ...networkRules(normal).v4.raw.slice(1, -1),
        "-A BERTH-PREROUTING -j BERTH-PR-3f2a9c1d2e4b",
        "COMMIT",
        "*nat",
        "-N BERTH-DNAT",
        "-N BERTH-POSTROUTING",
        ":BERTH-DN-3f2a9c1d2e4b - [0:0]",
        ":BERTH-PO-3f2a9c1d2e4b - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-A POSTROUTING -j BERTH-POSTROUTING",
        ...networkRules(normal).v4.nat.slice(2, -2),
        "-A BERTH-DNAT -j BERTH-DN-3f2a9c1d2e4b",
        "-A BERTH-POSTROUTING -j BERTH-PO-3f2a9c1d2e4b",
        "COMMIT",
        "*filter",
        "-N BERTH-FORWARD",
        ":BERTH-FW-3f2a9c1d2e4b - [0:0]",
        "-I FORWARD 1 -j BERTH-FORWARD",
        ...normalFilter.slice(1, -1),
        "-A BERTH-FORWARD -j BERTH-FW-3f2a9c1d2e4b",
        "COMMIT",
        "",
      ].join("\n"),
    );
    expect(renderApply(normal, 6)).toBe("");
  });

  it("adds nothing twice, and rewrites only the tables that changed", () => {
    const present = stateAfterApply(normal, 4, parseSave(""));
    expect(renderApply(normal, 4, present)).toBe("");
    const moved: FirewallNetwork = { ...normal, ports: [{ ...normal.ports[0]!, hostPort: 9090 }, normal.ports[1]!] };
    // A rule changed in place: that chain alone is rewritten; the unchanged one is not touched.
    expect(renderApply(moved, 4, present)).toBe(
      [
        "*nat",
        ":BERTH-DN-3f2a9c1d2e4b - [0:0]",
        "-A BERTH-DN-3f2a9c1d2e4b -p tcp -m tcp --dport 9090 -j DNAT --to-destination 172.18.0.2:80",
        "-A BERTH-DN-3f2a9c1d2e4b -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.18.0.3:53",
        "COMMIT",
        "",
      ].join("\n"),
    );
    // The kernel's own account (iptables-save) counts as well as this process's memory.
    const saved = ["*raw", ...networkRules(normal).v4.raw, ":BERTH-PREROUTING - [0:0]", "-A PREROUTING -j BERTH-PREROUTING", "COMMIT"].join("\n");
    expect(renderApply(normal, 4, parseSave(saved))).not.toContain("*raw");
  });

  it("publishes a port by inserting its rules and withdraws it by deleting them, never flushing a chain for it", () => {
    const present = stateAfterApply(normal, 4, parseSave(""));
    const added: FirewallNetwork = {
      ...normal,
      ports: [...normal.ports, { hostIp: "127.0.0.1", hostPort: 7070, containerIp: "172.18.0.4", containerPort: 70, protocol: "tcp" }],
    };
    const adding = renderApply(added, 4, present);
    expect(adding).toBe(
      [
        "*raw",
        "-I BERTH-PR-3f2a9c1d2e4b 4 -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 7070 -j DROP",
        "COMMIT",
        "*nat",
        "-I BERTH-DN-3f2a9c1d2e4b 3 -d 127.0.0.1/32 -p tcp -m tcp --dport 7070 -j DNAT --to-destination 172.18.0.4:70",
        "COMMIT",
        "",
      ].join("\n"),
    );
    // The inserts land where the plan has the rules: the kernel then holds the plan exactly.
    const after = stateAfterApply(added, 4, present);
    expect(renderApply(added, 4, after)).toBe("");
    for (const table of ["raw", "nat"] as const) {
      const expected = [...(present.get(table)?.rules ?? [])];
      for (const line of adding.split("\n").filter((text) => text.startsWith("-I "))) {
        const [, chain, position, ...rest] = line.split(" ");
        if (table === "raw" ? chain?.startsWith("BERTH-PR") : chain?.startsWith("BERTH-DN")) {
          const chainRules = expected.filter((rule) => rule.startsWith(`-A ${chain} `));
          const anchor = chainRules[Number(position) - 1];
          const at = anchor === undefined ? expected.lastIndexOf(chainRules.at(-1) ?? "") + 1 : expected.indexOf(anchor);
          expected.splice(at, 0, `-A ${chain} ${rest.join(" ")}`);
        }
      }
      const ownRules = (rules: readonly string[]): string[] => rules.filter((rule) => /^-A BERTH-(PR|DN)-/.test(rule));
      expect(ownRules(expected)).toEqual(ownRules(after.get(table)?.rules ?? []));
    }
    const withdrawn: FirewallNetwork = { ...normal, ports: [normal.ports[1]!] };
    expect(renderApply(withdrawn, 4, present)).toBe(
      ["*nat", "-D BERTH-DN-3f2a9c1d2e4b -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80", "COMMIT", ""].join("\n"),
    );
  });

  it("removes a network's chains and jumps, and the shared ones once no network is left", () => {
    const present = stateAfterApply({ ...normal, id: "aaaaaaaaaaaa" }, 4, stateAfterApply(normal, 4, parseSave("")));
    expect(renderRemove(id, present)).toBe(
      [
        "*raw",
        "-D BERTH-PREROUTING -j BERTH-PR-3f2a9c1d2e4b",
        "-F BERTH-PR-3f2a9c1d2e4b",
        "-X BERTH-PR-3f2a9c1d2e4b",
        "COMMIT",
        "*nat",
        "-D BERTH-DNAT -j BERTH-DN-3f2a9c1d2e4b",
        "-D BERTH-POSTROUTING -j BERTH-PO-3f2a9c1d2e4b",
        "-F BERTH-DN-3f2a9c1d2e4b",
        "-X BERTH-DN-3f2a9c1d2e4b",
        "-F BERTH-PO-3f2a9c1d2e4b",
        "-X BERTH-PO-3f2a9c1d2e4b",
        "COMMIT",
        "*filter",
        "-D BERTH-FORWARD -j BERTH-FW-3f2a9c1d2e4b",
        "-F BERTH-FW-3f2a9c1d2e4b",
        "-X BERTH-FW-3f2a9c1d2e4b",
        "COMMIT",
        "",
      ].join("\n"),
    );
    const afterOne = stateAfterRemove(id, present);
    expect(renderRemove(id, afterOne)).toBe("");
    expect(renderRemoveBase(4, afterOne)).toBe(""); // aaaaaaaaaaaa's chains remain
    const afterBoth = stateAfterRemove("aaaaaaaaaaaa", afterOne);
    expect(renderRemoveBase(4, afterBoth)).toBe(
      [
        "*raw",
        "-D PREROUTING -j BERTH-PREROUTING",
        "-X BERTH-PREROUTING",
        "COMMIT",
        "*nat",
        "-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-D OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT",
        "-D POSTROUTING -j BERTH-POSTROUTING",
        "-X BERTH-DNAT",
        "-X BERTH-POSTROUTING",
        "COMMIT",
        "*filter",
        "-D FORWARD -j BERTH-FORWARD",
        "-X BERTH-FORWARD",
        "COMMIT",
        "",
      ].join("\n"),
    );
    expect(renderRemoveBase(4, parseSave(""))).toBe("");
  });
});

describe("parseSave", () => {
  it("reads chains and rules per table, ignoring comments and counters", () => {
    const state = parseSave(
      [
        "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 02:50:43 2026",
        "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD DROP [12:3456]",
        ":BERTH-FORWARD - [0:0]",
        "[5:300] -A FORWARD -j BERTH-FORWARD",
        "COMMIT",
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        "COMMIT",
      ].join("\n"),
    );
    expect([...state.keys()]).toEqual(["filter", "nat"]);
    expect([...(state.get("filter")?.chains ?? [])]).toEqual(["INPUT", "FORWARD", "BERTH-FORWARD"]);
    expect(state.get("filter")?.rules).toEqual(["-A FORWARD -j BERTH-FORWARD"]);
    expect(state.get("nat")?.rules).toEqual([]);
  });
});
