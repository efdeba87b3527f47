/**
 * `sagastream bench saga`: a 3-step saga on one worker, exactly-once and at-least-once.
 * The worker runs in a process of its own (as it would be deployed), so its figures and its
 * CPU profile are its own; the echo participants, the producer of starts and the watcher of
 * the saga-events log run in this one. Participants answer every command at once, in batches,
 * so the figures are the engine's (state, timers, saga-events, commands, transactions), not a
 * database's. Throughput: a backlog of sagas drained. Latency: start produced → SagaCompleted
 * read, at a steady rate. Records: what the worker wrote (saga-events, commands, changelogs)
 * per saga. Memory: the worker's growth with 100,000 sagas waiting on their first step.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../config/index.js";
import { withAdmin, type KafkaSettings } from "../kafka/index.js";
import { recordMeasuredThroughput } from "../ops/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { ProcessingGuarantee } from "../topology/index.js";
import { percentile, waitUntil } from "../util/index.js";
import { HostSpeedProbe, machineNote, measureMachine } from "./host-speed.js";
import { describeHops, sagaHops } from "./saga-bench-hops.js";
import {
  headlineThroughput,
  sagaBenchReport,
  type ActiveMemory,
  type SagaBenchResult,
} from "./saga-bench-report.js";
import {
  BENCH_PARTICIPANTS,
  benchStartTopic,
  describeCounters,
  type BenchWorkerOptions,
} from "./saga-bench-app.js";
import { deleteAppTopics, startWorkerProcess, type WorkerProcess } from "./saga-bench-process.js";
import {
  perSaga,
  produceStarts,
  recordsPerSaga,
  startEchoParticipants,
  watchEvents,
} from "./saga-bench-traffic.js";

const BACKLOG = 20_000;
/**
 * The latency phase lasts this long at the given rate (at most MAX_PACED sagas). At 1,000/s
 * it lasted 5 s: its p99 was the 50 slowest sagas, and a single stall of the broker decided it.
 */
const PACED_SECONDS = 20;
const MAX_PACED = 20_000;
const ACTIVE = 100_000;
const PARTITIONS = 6;
/** A bench saga's decisions: its start, then one per step's reply. */
const DECISIONS = 1 + BENCH_PARTICIPANTS.length;

export interface SagaBenchOptions {
  /** Steady rates (sagas/s) the latency is measured at (default: 20 and 250). */
  rates?: readonly number[] | undefined;
  /** The worker's commit interval, ms (default: the runtime's). */
  commitIntervalMs?: number | undefined;
  /** Profile the worker and print where its time went. */
  profile?: boolean | undefined;
  /** Leave out the memory phase (100,000 sagas). */
  skipMemory?: boolean | undefined;
  /** Run the memory phase alone. */
  onlyMemory?: boolean | undefined;
  /** The guarantees measured, in this order (default: exactly-once, then at-least-once). */
  guarantees?: readonly ProcessingGuarantee[] | undefined;
  /**
   * Where the per-worker throughput is recorded for `sagastream capacity`, as
   * `<dir>/bench/saga.json` (default: the configuration's state dir, SAGASTREAM_STATE_DIR).
   */
  stateDir?: string | undefined;
}

interface BenchConnections {
  brokers: string[];
  schemaRegistryUrl: string;
  codec: AvroCodec;
}

/** Starts a bench worker process on this run's connections and partitions. */
function startWorker(
  connections: BenchConnections,
  options: Omit<BenchWorkerOptions, "brokers" | "partitions">,
  profileDir: string | undefined,
): Promise<WorkerProcess> {
  return startWorkerProcess(
    {
      ...options,
      brokers: connections.brokers,
      partitions: PARTITIONS,
      schemaRegistryUrl: connections.schemaRegistryUrl,
    },
    profileDir,
  );
}

const DEFAULT_RATES = [20, 250];

async function runMode(
  connections: BenchConnections,
  guarantee: ProcessingGuarantee,
  options: SagaBenchOptions,
  probe: HostSpeedProbe,
  report: (line: string) => void,
): Promise<SagaBenchResult> {
  const { brokers, codec } = connections;
  const app = `bench-saga-${guarantee === ProcessingGuarantee.ExactlyOnce ? "eos" : "alos"}-${Date.now().toString(36)}`;
  const kafka: KafkaSettings = { brokers, clientId: app };
  const startTopic = benchStartTopic(app);
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const profileDir = options.profile === true ? path.join(stateDir, "profile") : undefined;
  const worker = await startWorker(
    connections,
    { applicationId: app, stateDir, guarantee, commitIntervalMs: options.commitIntervalMs },
    profileDir,
  ); // creates the topics the watcher reads
  const watcher = await watchEvents(kafka, codec, app);
  const echo = await startEchoParticipants(kafka, codec, app, BENCH_PARTICIPANTS);
  try {
    report(`${guarantee}: draining ${BACKLOG} sagas …`);
    const backlog = Array.from({ length: BACKLOG }, (_, i) => `b-${i}`);
    const first = Date.now();
    const drainMachine = measureMachine(probe);
    const drainCounters = await worker.counters();
    await produceStarts(kafka, startTopic, backlog);
    await waitUntil(() => (watcher.completedAt.size >= BACKLOG ? true : undefined), {
      timeoutMs: 900_000,
      intervalMs: 100,
      description: `${BACKLOG} sagas to complete`,
    });
    const last = Math.max(...watcher.completedAt.values());
    const sagasPerSecond = BACKLOG / Math.max(0.001, (last - first) / 1000);
    const machine = drainMachine();

    report(`${guarantee}: ${sagasPerSecond.toFixed(0)} sagas/s${machineNote(machine)}`);
    report(
      `${guarantee}: ${describeCounters(drainCounters, await worker.counters(), Date.now() - first)}`,
    );
    const latency: SagaBenchResult["latency"] = [];
    let completed = BACKLOG;
    for (const [run, rate] of (options.rates ?? DEFAULT_RATES).entries()) {
      const count = Math.min(MAX_PACED, Math.round(rate * PACED_SECONDS));
      report(`${guarantee}: ${count} sagas at ${rate}/s for latency …`);
      // Numbered by run: a rate given twice must not start the same sagas again.
      const paced = Array.from({ length: count }, (_, i) => `p${run}-${rate}-${i}`);
      const pacedMachine = measureMachine(probe);
      const pacedCounters = await worker.counters();
      const pacedFrom = Date.now();
      const startedAt = await produceStarts(kafka, startTopic, paced, rate);
      completed += count;
      await waitUntil(() => (watcher.completedAt.size >= completed ? true : undefined), {
        timeoutMs: 300_000,
        intervalMs: 50,
        description: `the sagas paced at ${rate}/s to complete`,
      });
      const latencies = paced
        .map((id) => (watcher.completedAt.get(id) ?? 0) - (startedAt.get(id) ?? 0))
        .sort((a, b) => a - b);
      const [p50, p99] = [percentile(latencies, 50), percentile(latencies, 99)];
      const machine = pacedMachine();
      report(
        `${guarantee}: at ${rate}/s p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms${machineNote(machine)}`,
      );
      const times = { sentAt: startedAt, ...watcher };
      report(`${guarantee}: at ${rate}/s ${describeHops(sagaHops(paced, times, DECISIONS))}`);
      report(
        `${guarantee}: ${describeCounters(pacedCounters, await worker.counters(), Date.now() - pacedFrom)}`,
      );
      latency.push({ rate, p50, p99, machine });
    }
    await echo.stop();
    const profile = await worker.stop();
    report(`${guarantee}: counting the records the worker wrote …`);
    const records = await recordsPerSaga(kafka, app, completed);
    report(`${guarantee}: records produced per saga ${perSaga(records)}`);
    return { mode: guarantee, sagasPerSecond, machine, latency, records, profile };
  } finally {
    await echo.stop();
    await worker.stop().catch(() => undefined); // already stopped unless the run failed
    await watcher.stop();
    await rm(stateDir, { recursive: true, force: true });
    await deleteAppTopics(kafka, app);
  }
}

/** Memory with ACTIVE sagas in flight: no participant answers, so they all wait on step one. */
async function measureActive(
  connections: BenchConnections,
  report: (line: string) => void,
): Promise<ActiveMemory> {
  const app = `bench-saga-active-${Date.now().toString(36)}`;
  const kafka: KafkaSettings = { brokers: connections.brokers, clientId: app };
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const worker = await startWorker(
    connections,
    { applicationId: app, stateDir, guarantee: ProcessingGuarantee.ExactlyOnce },
    undefined,
  );
  try {
    const before = await worker.memory();
    report(`memory: starting ${ACTIVE} sagas that wait on their first step …`);
    const topic = benchStartTopic(app);
    await produceStarts(
      kafka,
      topic,
      Array.from({ length: ACTIVE }, (_, i) => `a-${i}`),
    );
    // Every start is processed once the worker has committed its offset.
    await withAdmin(kafka, (admin) =>
      waitUntil(
        async () => {
          const [group] = await admin.listConsumerGroupOffsets({ groups: [app] });
          const partitions = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
          const done = partitions.reduce(
            (sum, p) => sum + Math.max(0, Number(p.committedOffset)),
            0,
          );
          return done >= ACTIVE ? true : undefined;
        },
        { timeoutMs: 900_000, intervalMs: 500, description: `${ACTIVE} sagas to start` },
      ),
    );
    const after = await worker.memory();
    const mb = (when: "afterGc" | "released", key: keyof NodeJS.MemoryUsage) =>
      (after[when][key] - before[when][key]) / 2 ** 20;
    return {
      rssMb: mb("released", "rss"),
      rssPooledMb: mb("afterGc", "rss"),
      heapMb: mb("released", "heapUsed"),
      externalMb: mb("released", "external"),
    };
  } finally {
    await worker.stop();
    await rm(stateDir, { recursive: true, force: true });
    await deleteAppTopics(kafka, app);
  }
}

/** Partitions in the whole cluster, internal topics included. */
async function clusterPartitions(kafka: KafkaSettings): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const topics = await admin.listTopics({ includeInternals: true });
    const metadata = await admin.metadata({ topics });
    let partitions = 0;
    // A topic deleted meanwhile comes back without metadata.
    for (const topic of metadata.topics.values() as Iterable<
      { partitionsCount: number } | undefined
    >)
      partitions += topic?.partitionsCount ?? 0;
    return partitions;
  });
}

export async function sagaBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  options: SagaBenchOptions,
  report: (line: string) => void,
): Promise<void> {
  const bench: BenchConnections = {
    brokers: connections.kafkaBrokers,
    schemaRegistryUrl: connections.schemaRegistryUrl,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
  };
  const partitionsBefore = await clusterPartitions({ brokers: bench.brokers, clientId: "bench" });
  report(`cluster: ${partitionsBefore} partitions before this run`);
  const guarantees = options.guarantees ?? [
    ProcessingGuarantee.ExactlyOnce,
    ProcessingGuarantee.AtLeastOnce,
  ];
  const results: SagaBenchResult[] = [];
  const probe = HostSpeedProbe.start();
  try {
    if (options.onlyMemory !== true)
      for (const guarantee of guarantees)
        results.push(await runMode(bench, guarantee, options, probe, report));
  } finally {
    await probe.stop();
  }
  const memory = options.skipMemory === true ? undefined : await measureActive(bench, report);
  const setup = {
    backlog: BACKLOG,
    active: ACTIVE,
    partitions: PARTITIONS,
    clusterPartitions: partitionsBefore,
    commitIntervalMs: options.commitIntervalMs,
  };
  process.stdout.write(sagaBenchReport(results, memory, setup));
  const headline = headlineThroughput(results, setup, new Date());
  if (headline !== undefined) {
    const file = await recordMeasuredThroughput(
      options.stateDir ?? loadConfig().stateDir,
      headline,
    );
    report(
      `${headline.sagasPerSecond.toFixed(0)} sagas/s per worker (${headline.guarantee}) recorded in ${file} for \`sagastream capacity\``,
    );
  }
}
