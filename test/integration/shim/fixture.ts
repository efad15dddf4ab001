// Per-file fixture for the shim tests: one throwaway state root and one busybox rootfs
// (with the probe), built once in beforeAll and removed in afterAll.
// Not a test file itself (no `.test.ts`).

import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { makeTestRoots, removeTestRoots, shimSkipReason, sweepBundles, type TestRoots } from "../../support/bundle.js";
import { buildRootfs } from "../../support/rootfs.js";

export interface ShimFixture {
  /** Why the suite is skipped, or undefined. */
  readonly skip: string | undefined;
  /** Title for describe(): says why when skipped. */
  title(name: string): string;
  roots(): TestRoots;
  rootfs(): string;
}

export function useShimFixture(): ShimFixture {
  const skip = shimSkipReason();
  let roots: TestRoots | undefined;
  let rootfs: string | undefined;
  beforeAll(() => {
    if (skip) return;
    roots = makeTestRoots();
    rootfs = buildRootfs(path.join(roots.base, "rootfs"));
  });
  afterAll(async () => {
    // Sweep every bundle of the file (each test already proved its own), then the roots.
    const leaked = await sweepBundles();
    if (roots) removeTestRoots(roots);
    if (leaked.length > 0) throw new Error(`bundles leaked kernel objects: ${JSON.stringify(leaked)}`);
  });
  return {
    skip,
    title: (name) => (skip ? `${name} (skipped: ${skip})` : name),
    roots: () => {
      if (!roots) throw new Error("fixture not ready");
      return roots;
    },
    rootfs: () => {
      if (!rootfs) throw new Error("fixture not ready");
      return rootfs;
    },
  };
}
