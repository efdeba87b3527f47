/**
 * What the topology benchmark's runs share: filling an input, draining it through a worker
 * process, and checking the output afterwards with a read_committed reader.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, Kafka } from "kafkajs";
import { waitUntil } from "../util/index.js";
import type { BenchWorker } from "./worker-process.js";

export const PARTITIONS = 6;
const KEYS = 1_000;
const DRAIN_TIMEOUT_MS = 600_000;

/** One drain of a pre-filled input through one worker. */
export interface Drained {
  recordsPerSecond: number;
  /** CPU time of the worker per 1000 records. */
  cpuMsPer1000: number;
  rssMb: number;
  /** Problems the checks found ("" when none): missing or duplicate outputs, offsets. */
  problems: string;
}

/** Produces `count` running-total amounts over KEYS keys (paced when a rate is given). */
export async function produce(
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

export const uniqueSuffix = (label: string) =>
  `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export async function createTopics(admin: Admin, topics: string[]): Promise<void> {
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
}

/**
 * Deletes every topic of a run named `prefix`: its input and output, and its application's
 * changelog and dead-letter topics. Left behind, they slow every later run on the stack (the
 * broker keeps their partitions, and compacts the changelogs).
 */
export async function deleteRunTopics(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => isTopicOf(prefix, t));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
}

/** Whether `topic` belongs to the run or application named `prefix`. */
export function isTopicOf(prefix: string, topic: string): boolean {
  return topic.startsWith(`${prefix}-`) || topic.startsWith(`${prefix}.`);
}

/**
 * A read_committed reader of an output topic: how many records it read, and the latency of
 * those produced from `latencyFrom` on (record timestamp → arrival).
 */
export async function readOutput(kafka: Kafka, topic: string) {
  const state = { count: 0, latencies: [] as number[], latencyFrom: Number.POSITIVE_INFINITY };
  const reader = kafka.consumer({
    groupId: `bench-reader-${uniqueSuffix(topic)}`,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
  });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({
    eachBatch: ({ batch }) => {
      const now = Date.now();
      state.count += batch.messages.length;
      for (const message of batch.messages) {
        const at = Number(message.timestamp);
        if (at >= state.latencyFrom) state.latencies.push(now - at);
      }
      return Promise.resolve();
    },
  });
  const waitFor = (count: number, description: string) =>
    waitUntil(() => (state.count >= count ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 50,
      description,
    });
  return { state, waitFor, stop: () => reader.disconnect() };
}

/**
 * Waits for the worker to say it has written `records` outputs. The clock runs from its first
 * consumed record to then, both taken in the worker: the reader that checks the output runs
 * afterwards, so that it takes no CPU from the worker while it is measured.
 */
export async function drain(
  worker: BenchWorker,
  records: number,
  description: string,
): Promise<Omit<Drained, "problems">> {
  const done = new AbortController();
  const timeout = sleep(DRAIN_TIMEOUT_MS, undefined, { signal: done.signal }).then((): never => {
    throw new Error(`timed out after ${DRAIN_TIMEOUT_MS} ms waiting for ${description}`);
  });
  timeout.catch(() => undefined); // raced below; cancelled once the drain is over
  const stats = await Promise.race([worker.drained, timeout]).finally(() => {
    done.abort();
  });
  const seconds = Math.max(0.001, (stats.drainedAt - stats.firstConsumedAt) / 1000);
  return {
    recordsPerSecond: records / seconds,
    cpuMsPer1000: stats.cpuMs / (records / 1000),
    rssMb: stats.maxRssMb,
  };
}

/** Reads the output back: exactly `records` of them, or says what is wrong. */
export async function checkOutput(
  output: Awaited<ReturnType<typeof readOutput>>,
  records: number,
  description: string,
): Promise<string> {
  await output.waitFor(records, description);
  await sleep(300); // duplicates, if any, would come right behind
  return output.state.count === records
    ? ""
    : `read ${output.state.count} outputs of ${records} inputs`;
}

/** Waits until the group has committed every input offset; says what is wrong if not. */
export async function checkCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  records: number,
): Promise<string> {
  let committed = 0;
  await waitUntil(
    async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      committed = (offsets?.partitions ?? []).reduce(
        (sum, p) => sum + Math.max(0, Number(p.offset)),
        0,
      );
      return committed >= records ? true : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 100, description: "the input offsets to be committed" },
  ).catch(() => undefined);
  return committed === records ? "" : `committed ${committed} input offsets of ${records}`;
}

/** The median and range of figures. */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] ?? NaN)
      : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}
