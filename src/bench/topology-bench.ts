/**
 * `sagastream bench topology`: the running-total topology in exactly_once and at_least_once,
 * against raw consume→produce pipes over the same data, one per candidate Kafka client and
 * mode (the ceilings), in one run. Every pipe and topology runs in a worker process of its
 * own, so the CPU time it reports is its own. Throughput: a pre-filled input drained, from the
 * worker's first consumed record until it has written every output (committed, or
 * acknowledged), then checked with a read_committed reader. Each is measured `repeat` times,
 * in turn, and the median and range printed. Latency (topology, first round): input→output
 * at a steady rate (record timestamp at produce to read_committed arrival). Restoration: a
 * fresh instance rebuilding its stores from the changelogs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Admin, Kafka } from "kafkajs";
import { createKafka } from "../kafka/kafkajs-legacy.js";
import { createLogger } from "../log/index.js";
import { DEFAULT_COMMIT_INTERVAL_MS, ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import { percentile, waitUntil } from "../util/index.js";
import {
  checkCommitted,
  checkOutput,
  createTopics,
  deleteRunTopics,
  drain,
  PARTITIONS,
  produce,
  readOutput,
  uniqueSuffix,
  type Drained,
} from "./drain.js";
import { PipeClient, PipeMode, type PipeOptions } from "./raw-pipe.js";
import { HostSpeedProbe, machineNote, measureMachine } from "./host-speed.js";
import { runningTotalTopology } from "./running-total.js";
import { benchReport, type PipeRun, type TopologyRun } from "./topology-report.js";
import { startBenchWorker } from "./worker-process.js";

const DEFAULT_RECORDS = 50_000;
const DEFAULT_REPEAT = 3;
const PACED = 5_000;
const RATE = 1_000; // records/s in the latency phase
const RESTORE_KEYS = 60_000;

export const DEFAULT_PIPE_CLIENTS: readonly PipeClient[] = [
  PipeClient.KafkaJs,
  PipeClient.Platformatic,
  PipeClient.Engine,
];

export interface TopologyBenchOptions {
  /** Records drained by each pipe and topology run (default 50,000). */
  records?: number | undefined;
  /** How many times each is measured (default 3). */
  repeat?: number | undefined;
  /** The clients whose raw pipes are measured (default kafkajs, platformatic and engine). */
  clients?: readonly PipeClient[] | undefined;
  /** The raw pipes' and the topology's commit interval, ms (default 20, the runtime's). */
  commitIntervalMs?: number | undefined;
  /** Only the raw pipes: no topology, no restoration. */
  pipesOnly?: boolean | undefined;
  /** Where @confluentinc/kafka-javascript is installed, for the "confluent" pipe. */
  confluentModule?: string | undefined;
}

async function measureRawPipe(
  kafka: Kafka,
  admin: Admin,
  base: Pick<PipeOptions, "brokers" | "input" | "commitIntervalMs" | "confluentModule">,
  client: PipeClient,
  mode: PipeMode,
  records: number,
): Promise<PipeRun> {
  const suffix = uniqueSuffix(`raw-${client}-${mode === PipeMode.ExactlyOnce ? "eos" : "alos"}`);
  const output = `bench-${suffix}-out`;
  const groupId = `bench-${suffix}`;
  const name = `the ${client} ${mode} pipe`;
  await createTopics(admin, [output]);
  const options: PipeOptions = { ...base, client, mode, output, groupId, expect: records };
  const worker = startBenchWorker("raw-pipe-worker.js", options, name);
  try {
    const drained = await drain(worker, records, `${name} to drain`);
    const reader = await readOutput(kafka, output);
    try {
      const problems = [
        await checkOutput(reader, records, `${name}'s outputs`),
        await checkCommitted(admin, groupId, base.input, records),
      ];
      return { client, mode, ...drained, problems: problems.filter(Boolean).join("; ") };
    } finally {
      await reader.stop();
    }
  } finally {
    await worker.stop().catch(() => undefined);
    await admin.deleteTopics({ topics: [output] }).catch(() => undefined);
  }
}

async function measureTopology(
  kafka: Kafka,
  admin: Admin,
  brokers: string[],
  settings: { guarantee: ProcessingGuarantee; records: number; commitIntervalMs: number },
  stateRoot: string,
  latency: boolean,
): Promise<TopologyRun> {
  const { guarantee, records } = settings;
  const suffix = uniqueSuffix(guarantee === ProcessingGuarantee.ExactlyOnce ? "eos" : "alos");
  const topics = { input: `bench-${suffix}-in`, output: `bench-${suffix}-out` };
  const name = `the ${guarantee} topology`;
  await createTopics(admin, [topics.input, topics.output]);
  await produce(kafka, topics.input, records);
  const worker = startBenchWorker(
    "running-total-worker.js",
    {
      applicationId: `bench-${suffix}`,
      brokers,
      ...topics,
      stateDir: path.join(stateRoot, suffix),
      guarantee,
      commitIntervalMs: settings.commitIntervalMs,
      expect: records,
    },
    name,
  );
  try {
    const drained: Drained = {
      ...(await drain(worker, records, `${name} to drain`)),
      problems: "",
    };
    const reader = await readOutput(kafka, topics.output);
    try {
      drained.problems = await checkOutput(reader, records, `${name}'s outputs`);
      if (!latency) return { guarantee, ...drained };
      reader.state.latencyFrom = Date.now();
      await produce(kafka, topics.input, PACED, RATE);
      await Promise.race([
        reader.waitFor(records + PACED, `${name} to pass the paced records`),
        worker.failed,
      ]);
      const latencies = reader.state.latencies.sort((a, b) => a - b);
      return {
        guarantee,
        ...drained,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
      };
    } finally {
      await reader.stop();
    }
  } finally {
    await worker.stop().catch(() => undefined);
    await deleteRunTopics(admin, `bench-${suffix}`).catch(() => undefined);
  }
}

/** Fills a changelog with `keys` distinct keys, then times a fresh instance restoring it. */
async function measureRestoration(
  kafka: Kafka,
  brokers: string[],
  stateRoot: string,
  keys: number,
) {
  const admin = kafka.admin();
  await admin.connect();
  const suffix = uniqueSuffix("restore");
  const topics = { input: `bench-${suffix}-in`, output: `bench-${suffix}-out` };
  await createTopics(admin, [topics.input, topics.output]);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < keys; i += 1000) {
    const messages = Array.from({ length: Math.min(1000, keys - i) }, (_, j) => ({
      key: `k${i + j}`,
      value: "1",
    }));
    await producer.send({ topic: topics.input, acks: -1, messages });
  }
  await producer.disconnect();
  const applicationId = `bench-${suffix}`;
  const app = (stateDir: string) =>
    new StreamsApp({
      applicationId,
      brokers,
      topology: runningTotalTopology(topics),
      stateDir,
      logger: createLogger("warn", "bench"),
    });
  const filler = app(path.join(stateRoot, "filler"));
  await filler.start();
  await waitUntil(() => (filler.metrics.recordsProcessed >= keys ? true : undefined), {
    timeoutMs: 300_000,
    intervalMs: 100,
    description: `the changelog to hold ${keys} keys`,
  });
  await filler.stop();
  const restorer = app(path.join(stateRoot, "restorer")); // no checkpoint: everything from the changelog
  const started = Date.now();
  await restorer.start();
  await waitUntil(() => (restorer.metrics.restorations.length >= PARTITIONS ? true : undefined), {
    timeoutMs: 300_000,
    intervalMs: 50,
    description: "every task to restore",
  });
  const seconds = (Date.now() - started) / 1000;
  const records = restorer.metrics.restoredRecords;
  await restorer.stop();
  await deleteRunTopics(admin, applicationId).catch(() => undefined);
  await admin.disconnect();
  return { records, seconds };
}

export async function topologyBenchmark(
  brokers: string[],
  options: TopologyBenchOptions,
  progress: (line: string) => void,
): Promise<void> {
  const records = options.records ?? DEFAULT_RECORDS;
  const repeat = options.repeat ?? DEFAULT_REPEAT;
  const clients = options.clients ?? DEFAULT_PIPE_CLIENTS;
  const commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
  const kafka = createKafka({ brokers, clientId: "sagastream-bench" });
  const admin = kafka.admin();
  await admin.connect();
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), "sagastream-bench-"));
  const pipes: PipeRun[] = [];
  const topology: TopologyRun[] = [];
  let restoration: { records: number; seconds: number } | undefined;
  const input = `bench-${uniqueSuffix("raw")}-in`;
  const probe = HostSpeedProbe.start();
  try {
    // Every pipe drains the same input, each with a group of its own.
    progress(`filling the raw pipes' input with ${records} records …`);
    await createTopics(admin, [input]);
    await produce(kafka, input, records);
    const base = { brokers, input, commitIntervalMs, confluentModule: options.confluentModule };
    for (let round = 0; round < repeat; round += 1) {
      // Each round starts with another client, so that none is always measured first.
      const order = clients.map((_, i) => clients[(i + round) % clients.length] as PipeClient);
      for (const mode of [PipeMode.ExactlyOnce, PipeMode.AtLeastOnce]) {
        for (const client of order) {
          const machine = measureMachine(probe);
          const run = await measureRawPipe(kafka, admin, base, client, mode, records);
          progress(
            `round ${round + 1}/${repeat}: ${client} ${mode} raw pipe: ` +
              `${run.recordsPerSecond.toFixed(0)} records/s, ` +
              `${run.cpuMsPer1000.toFixed(1)} CPU ms per 1000 records${machineNote(machine())}` +
              (run.problems ? ` (${run.problems})` : ""),
          );
          pipes.push(run);
        }
      }
      if (options.pipesOnly === true) continue;
      for (const guarantee of [ProcessingGuarantee.ExactlyOnce, ProcessingGuarantee.AtLeastOnce]) {
        const latency = round === 0;
        const machine = measureMachine(probe);
        const run = await measureTopology(
          kafka,
          admin,
          brokers,
          { guarantee, records, commitIntervalMs },
          stateRoot,
          latency,
        );
        progress(
          `round ${round + 1}/${repeat}: ${guarantee} topology: ` +
            `${run.recordsPerSecond.toFixed(0)} records/s, ` +
            `${run.cpuMsPer1000.toFixed(1)} CPU ms per 1000 records${machineNote(machine())}` +
            (latency ? `, then ${PACED} at ${RATE}/s: p50 ${run.p50?.toFixed(0)} ms` : "") +
            (run.problems ? ` (${run.problems})` : ""),
        );
        topology.push(run);
      }
    }
    if (options.pipesOnly !== true) {
      progress(
        `measuring restoration: a changelog of ${RESTORE_KEYS} keys restored by a fresh instance …`,
      );
      restoration = await measureRestoration(kafka, brokers, stateRoot, RESTORE_KEYS);
    }
  } finally {
    await probe.stop();
    await admin.deleteTopics({ topics: [input] }).catch(() => undefined);
    await admin.disconnect();
    await rm(stateRoot, { recursive: true, force: true });
  }
  process.stdout.write(
    benchReport(pipes, topology, restoration, {
      records,
      repeat,
      commitIntervalMs,
      latency: { records: PACED, rate: RATE },
    }),
  );
}
