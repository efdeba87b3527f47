import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Examples import the package by its name, as users do; tests run them on the source.
const resolve = { alias: { sagastream: fileURLToPath(new URL("src/index.ts", import.meta.url)) } };

// Two tiers, visible by file name: `*.unit.test.ts` are pure (no I/O), `*.int.test.ts` talk
// to the real local stack, which globalSetup starts once per run when none is running.
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        resolve,
        test: { name: "unit", include: ["test/**/*.unit.test.ts"] },
      },
      {
        resolve,
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          setupFiles: ["test/support/kafka-security.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The stack runs on 2 cores next to the tests; parallel files would only fight.
          fileParallelism: false,
        },
      },
    ],
  },
});
