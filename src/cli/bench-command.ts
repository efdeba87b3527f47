/** `sagastream bench <name>`: benchmarks that print a table of figures. */
import { Command } from "commander";
import {
  DEFAULT_PIPE_CLIENTS,
  failoverBenchmark,
  formatDrDrill,
  runDrDrill,
  soakBenchmark,
  consoleBenchmark,
  outboxBenchmark,
  PipeClient,
  replayBenchmark,
  sagaBenchmark,
  topologyBenchmark,
} from "../bench/index.js";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { Stack } from "../stack/index.js";
import { ProcessingGuarantee } from "../topology/index.js";

const report = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** Brings the local stack up unless a cluster is configured or already serving. */
async function localStack() {
  const config = loadConfig();
  const stack = new Stack(config, (line) => process.stderr.write(`stack: ${line}\n`));
  if (!config.externalCluster && !(await stack.isServing({ dr: false })))
    await stack.up({ dr: false });
  return { connections: config.connections, stack };
}

interface BenchOptions {
  rate?: number[];
  commitInterval?: number;
  profile?: boolean;
  skipMemory?: boolean;
  records?: number;
  repeat?: number;
  clients?: PipeClient[];
  pipesOnly?: boolean;
  confluentModule?: string;
  onlyMemory?: boolean;
  guarantee?: ProcessingGuarantee[];
  sagas?: number;
  standbys?: number[];
  minutes?: number;
  retention?: number;
}

/** Benchmarks by name; each prints a table of figures. */
const BENCHMARKS: Record<string, (options: BenchOptions) => Promise<void>> = {
  replay: async (options) =>
    replayBenchmark(
      (await localStack()).connections,
      { records: options.records, repeat: options.repeat },
      report,
    ),
  topology: async (options) => {
    const { confluentModule } = options;
    // With the Confluent client at hand, it is a candidate like the others.
    const clients =
      options.clients ??
      (confluentModule === undefined ? undefined : [...DEFAULT_PIPE_CLIENTS, PipeClient.Confluent]);
    if (clients?.includes(PipeClient.Confluent) === true && confluentModule === undefined)
      throw new UsageError(
        "the confluent pipe needs --confluent-module <dir>, where @confluentinc/kafka-javascript is installed",
      );
    await topologyBenchmark(
      (await localStack()).connections.kafkaBrokers,
      {
        records: options.records,
        repeat: options.repeat,
        clients,
        commitIntervalMs: options.commitInterval,
        pipesOnly: options.pipesOnly,
        confluentModule,
      },
      report,
    );
  },
  saga: async (options) =>
    sagaBenchmark(
      (await localStack()).connections,
      {
        rates: options.rate,
        commitIntervalMs: options.commitInterval,
        profile: options.profile,
        skipMemory: options.skipMemory,
        onlyMemory: options.onlyMemory,
        guarantees: options.guarantee,
      },
      report,
    ),
  failover: async (options) =>
    failoverBenchmark(
      (await localStack()).connections,
      { sagas: options.sagas, standbys: options.standbys },
      report,
    ),
  soak: async (options) =>
    soakBenchmark(
      (await localStack()).connections,
      {
        minutes: options.minutes,
        rate: options.rate?.[0],
        retentionSeconds: options.retention,
      },
      report,
    ),
  dr: async (options) => {
    const config = loadConfig();
    const stack = new Stack(config, (line) => process.stderr.write(`stack: ${line}\n`));
    const drill = await runDrDrill(
      config,
      stack,
      { rate: options.rate?.[0], failback: { afterSeconds: 20 } },
      report,
    );
    process.stdout.write(`\n${formatDrDrill(drill)}\n`);
  },
  console: async (options) =>
    consoleBenchmark((await localStack()).connections, { sagas: options.sagas }, report),
  outbox: async () => {
    const { connections, stack } = await localStack();
    const connectPid = async () => (await stack.status()).find((c) => c.name === "connect")?.pid;
    await outboxBenchmark(connections, connectPid, report);
  },
};

function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`expected a positive number, got "${value}"`);
  return n;
}

function positiveInteger(value: string): number {
  const n = positive(value);
  if (!Number.isInteger(n)) throw new UsageError(`expected a whole number, got "${value}"`);
  return n;
}

const GUARANTEES: readonly string[] = Object.values(ProcessingGuarantee);

function guarantee(value: string, earlier: ProcessingGuarantee[] | undefined) {
  if (!GUARANTEES.includes(value))
    throw new UsageError(`unknown guarantee "${value}" (known: ${GUARANTEES.join(", ")})`);
  return [...(earlier ?? []), value as ProcessingGuarantee];
}

const CLIENTS: readonly string[] = Object.values(PipeClient);

function clientList(value: string): PipeClient[] {
  const names = value.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !CLIENTS.includes(name));
  if (unknown.length > 0 || names.length === 0)
    throw new UsageError(`unknown client "${unknown.join(",")}" (known: ${CLIENTS.join(", ")})`);
  return names as PipeClient[];
}

export function benchCommand(): Command {
  return new Command("bench")
    .description("run a benchmark against the local stack and print its figures")
    .argument("[name]", `which benchmark: ${Object.keys(BENCHMARKS).join(", ")}`)
    .option(
      "--rate <sagas/s>",
      "saga: a steady rate to measure latency at, repeatable (default 20 and 250); soak: the rate (default 100)",
      (value: string, earlier: number[] | undefined) => [...(earlier ?? []), positive(value)],
    )
    .option(
      "--commit-interval <ms>",
      "saga, topology: the worker's commit interval (topology: also the raw pipes'; default 10)",
      positive,
    )
    .option("--profile", "saga: profile the worker process and print where its time went")
    .option("--skip-memory", "saga: leave out the memory phase (100,000 sagas in flight)")
    .option(
      "--records <n>",
      "topology: records drained by each raw pipe and topology run (default 50000)",
      positiveInteger,
    )
    .option(
      "--repeat <n>",
      "topology: how many times each raw pipe and topology is measured (default 3)",
      positiveInteger,
    )
    .option(
      "--clients <list>",
      `topology: the raw pipes' clients, comma-separated, of ${CLIENTS.join(", ")} (default ${DEFAULT_PIPE_CLIENTS.join(",")})`,
      clientList,
    )
    .option("--pipes-only", "topology: measure the raw pipes only (no topology, no restoration)")
    .option(
      "--confluent-module <dir>",
      "topology: where @confluentinc/kafka-javascript is installed (not a dependency); adds the confluent pipe",
    )
    .option("--only-memory", "saga: run the memory phase alone")
    .option(
      "--guarantee <name>",
      `saga: measure this processing guarantee only, repeatable (${GUARANTEES.join(", ")}; default both)`,
      guarantee,
    )
    .option("--minutes <n>", "soak: how long sagas run (default 10)", positive)
    .option(
      "--retention <seconds>",
      "soak: how long ended sagas stay in the store (default 60)",
      positive,
    )
    .option(
      "--sagas <n>",
      "failover: sagas in flight when a worker is killed; console: sagas held (default 100000 both)",
      positiveInteger,
    )
    .option(
      "--standbys <list>",
      "failover: standby replica counts to measure, comma-separated (default 0,1)",
      (value: string) =>
        value.split(",").map((n) => {
          const count = Number(n);
          if (!Number.isInteger(count) || count < 0)
            throw new UsageError(`--standbys takes whole numbers, e.g. 0,1 (got "${value}")`);
          return count;
        }),
    )
    .action(async (name: string | undefined, options: BenchOptions) => {
      const names = Object.keys(BENCHMARKS);
      const bench = name === undefined ? undefined : BENCHMARKS[name];
      if (bench === undefined) {
        throw new UsageError(
          name === undefined
            ? `name a benchmark: ${names.join(", ") || "none exist yet"}`
            : `no benchmark named "${name}" (available: ${names.join(", ") || "none yet"})`,
        );
      }
      await bench(options);
    });
}
