/**
 * `sagastream bench topology`: the running-total topology in exactly_once and at_least_once,
 * against a raw kafkajs consume→produce pipe over the same data (the baseline), in one run.
 * Throughput: draining a backlog. Latency: input→output at a steady rate (record timestamp
 * at produce to read_committed arrival).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka } from "kafkajs";
import { createKafka } from "../kafka/kafkajs-legacy.js";
import { createLogger } from "../log/index.js";
import { ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import { waitUntil } from "../util/index.js";
import { runningTotalTopology } from "./running-total.js";
import { formatTable, percentile } from "../util/index.js";

const BACKLOG = 50_000;
const PACED = 5_000;
const RATE = 1_000; // records/s in the latency phase
const PARTITIONS = 6;
const KEYS = 1_000;
const RESTORE_KEYS = 60_000;

interface Pipeline {
  name: string;
  start(topics: { input: string; output: string }): Promise<{ stop(): Promise<void> }>;
}

interface Result {
  name: string;
  recordsPerSecond: number;
  p50: number;
  p99: number;
  rssMb: number;
}

async function produce(
  kafka: Kafka,
  topic: string,
  count: number,
  ratePerSecond?: number,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const chunk = ratePerSecond === undefined ? 1000 : Math.max(1, ratePerSecond / 50);
  const started = Date.now();
  for (let i = 0; i < count; i += chunk) {
    const messages = Array.from({ length: Math.min(chunk, count - i) }, (_, j) => ({
      key: `key-${(i + j) % KEYS}`,
      value: String(((i + j) % 10) + 1),
      timestamp: String(Date.now()),
    }));
    await producer.send({ topic, acks: -1, messages });
    if (ratePerSecond !== undefined) {
      const due = started + ((i + chunk) / ratePerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  await producer.disconnect();
}

async function measure(kafka: Kafka, pipeline: Pipeline, label: string): Promise<Result> {
  const admin = kafka.admin();
  await admin.connect();
  const suffix = `${label}-${Date.now().toString(36)}`;
  const topics = { input: `bench-${suffix}-in`, output: `bench-${suffix}-out` };
  await admin.createTopics({
    topics: [topics.input, topics.output].map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  await produce(kafka, topics.input, BACKLOG);

  let outputs = 0;
  let firstAt = 0;
  let lastAt = 0;
  const latencies: number[] = [];
  let measuring = false;
  const reader = kafka.consumer({
    groupId: `bench-reader-${suffix}`,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
  });
  await reader.connect();
  await reader.subscribe({ topic: topics.output, fromBeginning: true });
  await reader.run({
    eachBatch: ({ batch }) => {
      const now = Date.now();
      if (firstAt === 0) firstAt = now;
      for (const message of batch.messages) {
        outputs += 1;
        if (measuring) latencies.push(now - Number(message.timestamp));
      }
      lastAt = now;
      return Promise.resolve();
    },
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const running = await pipeline.start(topics);
  await waitUntil(() => (outputs >= BACKLOG ? true : undefined), {
    timeoutMs: 600_000,
    intervalMs: 100,
    description: `${pipeline.name} to drain ${BACKLOG} records`,
  });
  const recordsPerSecond = BACKLOG / Math.max(0.001, (lastAt - firstAt) / 1000);

  measuring = true;
  await produce(kafka, topics.input, PACED, RATE);
  await waitUntil(() => (outputs >= BACKLOG + PACED ? true : undefined), {
    timeoutMs: 120_000,
    intervalMs: 50,
    description: `${pipeline.name} to pass the paced records`,
  });
  clearInterval(sampler);
  await running.stop();
  await reader.disconnect();
  await admin.deleteTopics({ topics: [topics.input, topics.output] }).catch(() => undefined);
  await admin.disconnect();
  latencies.sort((a, b) => a - b);
  return {
    name: pipeline.name,
    recordsPerSecond,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rssMb: peakRss / 2 ** 20,
  };
}

function rawPipe(kafka: Kafka): Pipeline {
  return {
    name: "raw kafkajs pipe (baseline)",
    async start(topics) {
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      const consumer = kafka.consumer({ groupId: `bench-raw-${Date.now()}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: topics.input, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 4,
        eachBatch: async ({ batch }) => {
          await producer.send({
            topic: topics.output,
            acks: -1,
            messages: batch.messages.map((m) => ({
              key: m.key,
              value: m.value,
              timestamp: m.timestamp,
            })),
          });
        },
      });
      return {
        stop: async () => {
          await consumer.disconnect();
          await producer.disconnect();
        },
      };
    },
  };
}

function streamsApp(
  brokers: string[],
  guarantee: ProcessingGuarantee,
  stateRoot: string,
): Pipeline {
  return {
    name: `StreamsApp ${guarantee}`,
    async start(topics) {
      const app = new StreamsApp({
        applicationId: `bench-${guarantee}-${Date.now().toString(36)}`,
        brokers,
        topology: runningTotalTopology(topics),
        stateDir: stateRoot,
        guarantee,
        logger: createLogger("warn", "bench"),
      });
      await app.start();
      return { stop: () => app.stop() };
    },
  };
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
  const suffix = `restore-${Date.now().toString(36)}`;
  const topics = { input: `bench-${suffix}-in`, output: `bench-${suffix}-out` };
  await admin.createTopics({
    topics: [topics.input, topics.output].map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
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
  await admin.deleteTopics({ topics: [topics.input, topics.output] }).catch(() => undefined);
  await admin.disconnect();
  return { records, seconds };
}

export async function topologyBenchmark(
  brokers: string[],
  report: (line: string) => void,
): Promise<void> {
  const kafka = createKafka({ brokers, clientId: "sagastream-bench" });
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), "sagastream-bench-"));
  const pipelines = [
    rawPipe(kafka),
    streamsApp(brokers, ProcessingGuarantee.ExactlyOnce, stateRoot),
    streamsApp(brokers, ProcessingGuarantee.AtLeastOnce, stateRoot),
  ];
  const results: Result[] = [];
  let restoration = { records: 0, seconds: 0 };
  try {
    for (const [i, pipeline] of pipelines.entries()) {
      report(`measuring ${pipeline.name}: drain ${BACKLOG} records, then ${PACED} at ${RATE}/s …`);
      results.push(await measure(kafka, pipeline, `p${i}`));
    }
    report(
      `measuring restoration: a changelog of ${RESTORE_KEYS} keys restored by a fresh instance …`,
    );
    restoration = await measureRestoration(kafka, brokers, stateRoot, RESTORE_KEYS);
  } finally {
    await rm(stateRoot, { recursive: true, force: true });
  }
  const baseline = results[0];
  const rows = results.map((r) => [
    r.name,
    r.recordsPerSecond.toFixed(0),
    baseline === undefined
      ? ""
      : `${((r.recordsPerSecond / baseline.recordsPerSecond) * 100).toFixed(0)}%`,
    r.p50.toFixed(0),
    r.p99.toFixed(0),
    r.rssMb.toFixed(0),
  ]);
  const header = ["pipeline", "records/s", "vs baseline", "p50 ms", "p99 ms", "peak RSS MB"];
  process.stdout.write(
    `\ntopology benchmark: ${PARTITIONS} partitions, ${KEYS} keys, backlog ${BACKLOG}, latency at ${RATE} records/s\n` +
      `${formatTable(header, rows)}\n` +
      `\nrestoration (${PARTITIONS} tasks at once, from their changelogs, no checkpoint): ` +
      `${restoration.records} records in ${restoration.seconds.toFixed(1)} s = ` +
      `${Math.round(restoration.records / Math.max(0.001, restoration.seconds))} records/s\n`,
  );
}
