import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration and e2e tests touch the real kernel; keep them in one worker per file.
    pool: "forks",
    testTimeout: 30_000,
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".vitest-results.json" }]] : ["default"],
  },
});
