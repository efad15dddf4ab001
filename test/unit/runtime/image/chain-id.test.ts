// Chain ids per the OCI image spec: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
import { describe, expect, it } from "vitest";
import { chainIds, sha256Of } from "../../../../src/runtime/image/index.js";

// Diff ids are the sha256 of "a", "b", "c"; chain ids computed independently with sha256sum.
const a = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
const b = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
const c = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";
const ab = "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676";
const abc = "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106";

describe("chainIds", () => {
  it("hashes the test vectors as sha256sum does", () => {
    expect([sha256Of("a"), sha256Of("b"), sha256Of("c")]).toEqual([a, b, c]);
  });

  it("gives the bottom layer its diff id and chains each layer above", () => {
    expect(chainIds([])).toEqual([]);
    expect(chainIds([a])).toEqual([a]);
    expect(chainIds([a, b])).toEqual([a, ab]);
    expect(chainIds([a, b, c])).toEqual([a, ab, abc]);
  });

  it("depends on order and on every layer below", () => {
    expect(chainIds([b, a])[1]).not.toBe(ab);
    expect(chainIds([c, b, c])[2]).not.toBe(abc);
  });
});
