import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Fails the run when the tests leave any berth mount, cgroup, shim, link, netns or rule behind.
    globalSetup: ["test/support/leak-check.ts"],
    // Integration and e2e tests touch the real kernel; keep them in one worker per file.
    pool: "forks",
    testTimeout: 30_000,
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".vitest-results.json" }]] : ["default"],
  },
});
