/** `sagastream bench <name>`: benchmarks that print a table of figures. */
import { Command } from "commander";
import { UsageError } from "../errors/index.js";

/** Benchmarks by name; each prints its own table. The topology bench arrives with issue 3. */
const BENCHMARKS: Record<string, () => Promise<void>> = {};

export function benchCommand(): Command {
  return new Command("bench")
    .description("run a benchmark against the local stack and print its figures")
    .argument("[name]", "which benchmark")
    .action(async (name: string | undefined) => {
      const names = Object.keys(BENCHMARKS);
      const bench = name === undefined ? undefined : BENCHMARKS[name];
      if (bench === undefined) {
        throw new UsageError(
          name === undefined
            ? `name a benchmark: ${names.join(", ") || "none exist yet"}`
            : `no benchmark named "${name}" (available: ${names.join(", ") || "none yet"})`,
        );
      }
      await bench();
    });
}
