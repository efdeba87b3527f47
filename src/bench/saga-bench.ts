/**
 * `sagastream bench saga`: a 3-step saga on one worker, exactly-once and at-least-once.
 * Participants are echo services that answer every command at once, in batches, so the
 * figures are the engine's (state, timers, saga-events, commands, one transaction per batch),
 * not a database's. Sagas start from records produced straight to a start topic.
 * Throughput: a backlog of sagas drained. Latency: start produced → SagaCompleted read, at a
 * steady rate. Memory: the worker's growth with 100,000 sagas waiting on their first step.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka, Message } from "kafkajs";
import { createKafka } from "../kafka/index.js";
import { createLogger } from "../log/index.js";
import {
  avroSagaSerdes,
  defineSaga,
  followSagaEvents,
  sagaTopics,
  step,
  type SagaReply,
} from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { Serdes } from "../state/index.js";
import { ProcessingGuarantee } from "../topology/index.js";
import { formatTable, percentile, waitUntil } from "../util/index.js";
import { SagaWorker } from "../worker/index.js";

const BACKLOG = 10_000;
const PACED = 3_000;
const RATE = 300; // sagas/s in the latency phase
const ACTIVE = 100_000;
const PARTITIONS = 6;

type BenchData = { id: string };
const command = (type: string) => (d: BenchData) => ({ type, payload: { id: d.id } });

const benchSaga = defineSaga<BenchData>({
  name: "bench",
  version: 1,
  participants: ["alpha", "beta", "gamma"],
  stages: [
    step({
      name: "step-alpha",
      participant: "alpha",
      command: command("Do"),
      compensation: command("Undo"),
    }),
    step({
      name: "step-beta",
      participant: "beta",
      command: command("Do"),
      compensation: command("Undo"),
    }),
    step({ name: "step-gamma", participant: "gamma", command: command("Do"), pivot: true }),
  ],
});

/** Echo participants: every command is answered with success, a batch at a time. */
async function startEchoParticipants(
  kafka: Kafka,
  codec: AvroCodec,
  app: string,
  participants: string[],
) {
  const topics = sagaTopics(app);
  const serdes = await avroSagaSerdes(codec, app, participants);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const consumers = await Promise.all(
    participants.map(async (participant) => {
      const consumer = kafka.consumer({
        groupId: `${app}.echo.${participant}`,
        maxWaitTimeInMs: 20,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: topics.commands(participant), fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          const commands = serdes.command(participant);
          const messages: Message[] = [];
          for (const m of batch.messages) {
            if (m.value === null) continue;
            await commands.prepare?.(m.value);
            const c = commands.deserialize(m.value);
            const reply: SagaReply = {
              sagaId: c.sagaId,
              step: c.step,
              action: c.action,
              attempt: c.attempt,
              outcome: "success",
              retriable: false,
              reason: "",
              result: {},
            };
            messages.push({ key: c.sagaId, value: serdes.reply.serialize(reply) });
          }
          if (messages.length > 0)
            await producer.send({ topic: topics.replies, acks: -1, messages });
        },
      });
      return consumer;
    }),
  );
  return {
    stop: async () => {
      for (const c of consumers) await c.disconnect();
      await producer.disconnect();
    },
  };
}

/** Produces a start per id (paced when a rate is given); returns when each was sent. */
async function produceStarts(
  kafka: Kafka,
  topic: string,
  ids: string[],
  ratePerSecond?: number,
): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const chunk = ratePerSecond === undefined ? 1_000 : Math.max(1, Math.round(ratePerSecond / 50));
  const started = Date.now();
  for (let i = 0; i < ids.length; i += chunk) {
    const messages = ids
      .slice(i, i + chunk)
      .map((id) => ({ key: id, value: JSON.stringify({ id }), timestamp: String(Date.now()) }));
    const now = Date.now();
    for (const m of messages) sentAt.set(m.key, now);
    await producer.send({ topic, acks: -1, messages });
    if (ratePerSecond !== undefined) {
      const due = started + ((i + chunk) / ratePerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  await producer.disconnect();
  return sentAt;
}

/** Follows the saga-events log: when each saga's completion arrived, and how many started. */
async function watchEvents(kafka: Kafka, codec: AvroCodec, app: string) {
  const completedAt = new Map<string, number>();
  let started = 0;
  const follower = await followSagaEvents(
    kafka,
    { applicationId: app, groupId: `${app}.bench-watcher`, codec },
    ({ record, receivedAt }) => {
      if (record.event.type === "SagaCompleted") completedAt.set(record.sagaId, receivedAt);
      else if (record.event.type === "SagaStarted") started += 1;
    },
  );
  return { completedAt, started: () => started, stop: () => follower.stop() };
}

/** A worker running the bench saga, started by records on `<app>.starts`. */
function benchWorker(
  app: string,
  brokers: string[],
  codec: AvroCodec,
  stateDir: string,
  guarantee: ProcessingGuarantee,
): SagaWorker {
  return new SagaWorker({
    applicationId: app,
    brokers,
    sagas: [benchSaga],
    starts: [
      {
        topic: `${app}.starts`,
        saga: "bench",
        valueSerde: Serdes.json<BenchData>(),
        data: (e: BenchData) => e,
      },
    ],
    stateDir,
    partitions: PARTITIONS,
    guarantee,
    api: false,
    codec,
    logger: createLogger("error", app),
  });
}

interface Result {
  mode: string;
  sagasPerSecond: number;
  p50: number;
  p99: number;
}

async function runMode(
  { brokers, codec }: BenchConnections,
  guarantee: ProcessingGuarantee,
  report: (line: string) => void,
): Promise<Result> {
  const app = `bench-saga-${guarantee === ProcessingGuarantee.ExactlyOnce ? "eos" : "alos"}-${Date.now().toString(36)}`;
  const kafka = createKafka({ brokers, clientId: app });
  const startTopic = `${app}.starts`;
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const worker = benchWorker(app, brokers, codec, stateDir, guarantee);
  await worker.start(); // creates the topics the watcher reads
  const watcher = await watchEvents(kafka, codec, app);
  const echo = await startEchoParticipants(kafka, codec, app, ["alpha", "beta", "gamma"]);
  try {
    report(`${guarantee}: draining ${BACKLOG} sagas …`);
    const backlog = Array.from({ length: BACKLOG }, (_, i) => `b-${i}`);
    const first = Date.now();
    await produceStarts(kafka, startTopic, backlog);
    await waitUntil(() => (watcher.completedAt.size >= BACKLOG ? true : undefined), {
      timeoutMs: 900_000,
      intervalMs: 100,
      description: `${BACKLOG} sagas to complete`,
    });
    const last = Math.max(...watcher.completedAt.values());
    const sagasPerSecond = BACKLOG / Math.max(0.001, (last - first) / 1000);

    report(`${guarantee}: ${PACED} sagas at ${RATE}/s for latency …`);
    const paced = Array.from({ length: PACED }, (_, i) => `p-${i}`);
    const startedAt = await produceStarts(kafka, startTopic, paced, RATE);
    await waitUntil(() => (watcher.completedAt.size >= BACKLOG + PACED ? true : undefined), {
      timeoutMs: 300_000,
      intervalMs: 50,
      description: "the paced sagas to complete",
    });
    const latencies = paced
      .map((id) => (watcher.completedAt.get(id) ?? 0) - (startedAt.get(id) ?? 0))
      .sort((a, b) => a - b);
    return {
      mode: guarantee,
      sagasPerSecond,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  } finally {
    await echo.stop();
    await worker.stop();
    await watcher.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Memory with ACTIVE sagas in flight: no participant answers, so they all wait on step one. */
async function measureActive({ brokers, codec }: BenchConnections, report: (line: string) => void) {
  const app = `bench-saga-active-${Date.now().toString(36)}`;
  const kafka = createKafka({ brokers, clientId: app });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const startTopic = `${app}.starts`;
  const worker = benchWorker(app, brokers, codec, stateDir, ProcessingGuarantee.ExactlyOnce);
  global.gc?.();
  const before = process.memoryUsage();
  await worker.start();
  const watcher = await watchEvents(kafka, codec, app);
  try {
    report(`memory: starting ${ACTIVE} sagas that wait on their first step …`);
    await produceStarts(
      kafka,
      startTopic,
      Array.from({ length: ACTIVE }, (_, i) => `a-${i}`),
    );
    await waitUntil(() => (watcher.started() >= ACTIVE ? true : undefined), {
      timeoutMs: 900_000,
      intervalMs: 200,
      description: `${ACTIVE} sagas to start`,
    });
    global.gc?.();
    const after = process.memoryUsage();
    return {
      rssMb: (after.rss - before.rss) / 2 ** 20,
      heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    };
  } finally {
    await worker.stop();
    await watcher.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

interface BenchConnections {
  brokers: string[];
  codec: AvroCodec;
}

export async function sagaBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  report: (line: string) => void,
): Promise<void> {
  const bench: BenchConnections = {
    brokers: connections.kafkaBrokers,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
  };
  const results = [
    await runMode(bench, ProcessingGuarantee.ExactlyOnce, report),
    await runMode(bench, ProcessingGuarantee.AtLeastOnce, report),
  ];
  const memory = await measureActive(bench, report);
  const rows = results.map((r) => [
    r.mode,
    r.sagasPerSecond.toFixed(0),
    r.p50.toFixed(0),
    r.p99.toFixed(0),
  ]);
  process.stdout.write(
    `\nsaga benchmark: 3-step saga, one worker, ${PARTITIONS} partitions, echo participants; ` +
      `throughput draining ${BACKLOG} sagas, latency at ${RATE} sagas/s\n` +
      `${formatTable(["mode", "sagas/s", "p50 ms", "p99 ms"], rows)}\n\n` +
      `memory with ${ACTIVE} active sagas (waiting on step one): worker RSS +${memory.rssMb.toFixed(0)} MB, ` +
      `JS heap ${memory.heapMb >= 0 ? "+" : ""}${memory.heapMb.toFixed(0)} MB (${((memory.rssMb * 1024) / ACTIVE).toFixed(1)} KB of RSS per active saga; the heap figure is noisy without --expose-gc)\n`,
  );
}
