import { defineConfig } from "vitest/config";

// Two tiers, visible by file name: `*.unit.test.ts` are pure (no I/O), `*.int.test.ts` talk
// to the real local stack, which globalSetup starts once per run when none is running.
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: { name: "unit", include: ["test/**/*.unit.test.ts"] },
      },
      {
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The stack runs on 2 cores next to the tests; parallel files would only fight.
          fileParallelism: false,
        },
      },
    ],
  },
});
