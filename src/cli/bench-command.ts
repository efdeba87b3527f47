/** `sagastream bench <name>`: benchmarks that print a table of figures. */
import { Command } from "commander";
import { outboxBenchmark, sagaBenchmark, topologyBenchmark } from "../bench/index.js";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { Stack } from "../stack/index.js";

const report = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** Brings the local stack up unless a cluster is configured or already serving. */
async function localStack() {
  const config = loadConfig();
  const stack = new Stack(config, (line) => process.stderr.write(`stack: ${line}\n`));
  if (!config.externalCluster && !(await stack.isServing({ dr: false })))
    await stack.up({ dr: false });
  return { connections: config.connections, stack };
}

/** Benchmarks by name; each prints a table of figures. */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  topology: async () => topologyBenchmark((await localStack()).connections.kafkaBrokers, report),
  saga: async () => sagaBenchmark((await localStack()).connections, report),
  outbox: async () => {
    const { connections, stack } = await localStack();
    const connectPid = async () => (await stack.status()).find((c) => c.name === "connect")?.pid;
    await outboxBenchmark(connections, connectPid, report);
  },
};

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
