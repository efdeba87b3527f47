/**
 * The saga benchmark's traffic around its worker: echo participants that answer every command,
 * the producer of starts, the watcher of completions, and the count of records the worker wrote.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { MessagesStreamModes } from "@platformatic/kafka";
import {
  createConsumer,
  createProducer,
  deadLetterTopic,
  topicOffsets,
  withAdmin,
  type KafkaSettings,
  type ProducedRecord,
} from "../kafka/index.js";
import { avroSagaSerdes, followSagaEvents, sagaTopics, type SagaReply } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { KafkaPartitionFetcher } from "../topology/index.js";
import { BENCH_PARTICIPANTS } from "./saga-bench-app.js";

/** Echo participants: every command is answered with success, a batch at a time. */
export async function startEchoParticipants(
  kafka: KafkaSettings,
  codec: AvroCodec,
  app: string,
  participants: string[],
) {
  const topics = sagaTopics(app);
  const serdes = await avroSagaSerdes(codec, app, participants);
  const producer = createProducer(kafka);
  const consumer = createConsumer(kafka, { groupId: `${app}.echo`, maxWaitTimeMs: 10 });
  const commands = new Map(participants.map((p) => [topics.commands(p), serdes.command(p)]));
  const stream = await consumer.consume({
    topics: [...commands.keys()],
    autocommit: false,
    mode: MessagesStreamModes.EARLIEST,
  });
  // Replies go out a batch at a time: what arrived while the previous batch was being sent.
  let pending: ProducedRecord[] = [];
  let sending: Promise<void> | undefined;
  const flush = (): void => {
    if (sending !== undefined || pending.length === 0) return;
    const messages = pending;
    pending = [];
    sending = producer
      .send({ messages })
      .then(() => undefined)
      .finally(() => {
        sending = undefined;
        flush();
      });
  };
  stream.on("data", (message) => {
    const serde = commands.get(message.topic);
    // A tombstone has no value: (its type says Buffer, the client passes undefined).
    if (serde === undefined || (message.value as Buffer | undefined) === undefined) return;
    void (async () => {
      await serde.prepare?.(message.value);
      const c = serde.deserialize(message.value);
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
      pending.push({ topic: topics.replies, key: c.sagaId, value: serdes.reply.serialize(reply) });
      flush();
    })();
  });
  return {
    stop: once(async () => {
      await stream.close();
      await sending;
      await consumer.close();
      await producer.close();
    }),
  };
}

/** Produces a start per id (paced when a rate is given); returns when each was sent. */
export async function produceStarts(
  kafka: KafkaSettings,
  topic: string,
  ids: string[],
  ratePerSecond?: number,
): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const producer = createProducer(kafka);
  const chunk = ratePerSecond === undefined ? 1_000 : Math.max(1, Math.round(ratePerSecond / 50));
  const started = Date.now();
  try {
    for (let i = 0; i < ids.length; i += chunk) {
      const now = Date.now();
      const messages = ids.slice(i, i + chunk).map((id): ProducedRecord => {
        sentAt.set(id, now);
        return { topic, key: id, value: Buffer.from(JSON.stringify({ id })) };
      });
      await producer.send({ messages });
      if (ratePerSecond !== undefined) {
        const due = started + ((i + chunk) / ratePerSecond) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  } finally {
    await producer.close();
  }
  return sentAt;
}

/**
 * Follows the saga-events log: when each saga's completion arrived, and when the worker made
 * each of its decisions (a decision's events share its record's timestamp).
 */
export async function watchEvents(kafka: KafkaSettings, codec: AvroCodec, app: string) {
  const completedAt = new Map<string, number>();
  const decidedAt = new Map<string, number[]>();
  const follower = await followSagaEvents(
    kafka,
    { applicationId: app, groupId: `${app}.bench-watcher`, codec },
    ({ record, receivedAt, timestamp }) => {
      const decided = decidedAt.get(record.sagaId);
      if (decided === undefined) decidedAt.set(record.sagaId, [timestamp]);
      else if (decided[decided.length - 1] !== timestamp) decided.push(timestamp);
      if (record.event.type === "SagaCompleted") completedAt.set(record.sagaId, receivedAt);
    },
  );
  return { completedAt, decidedAt, stop: () => follower.stop() };
}

/** `fn` run at its first call only; later calls get the same promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= fn());
}

/** Records the worker wrote per saga, by kind of topic. */
export interface RecordCounts {
  sagas: number;
  sagaEvents: number;
  commands: number;
  changelog: number;
  deadLetters: number;
}

/**
 * Counts the records on `topics` now, committed ones (read committed from the start; a
 * transaction's markers are not records). Resolves once every partition was read to its end.
 */
async function countRecords(
  kafka: KafkaSettings,
  topics: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>(topics.map((t) => [t, 0]));
  const ranges: { topic: string; partition: number; low: bigint; high: bigint }[] = [];
  await withAdmin(kafka, async (admin) => {
    for (const topic of topics) {
      for (const p of await topicOffsets(admin, topic)) {
        if (p.high > p.low) ranges.push({ topic, ...p });
      }
    }
  });
  const consumer = createConsumer(kafka, { groupId: `sagastream-count-${Date.now()}` });
  const fetcher = new KafkaPartitionFetcher(consumer);
  try {
    for (const { topic, partition, low, high } of ranges) {
      let position = low;
      while (position < high) {
        const [fetched] = await fetcher.fetch([{ topic, partition, offset: position }], 100);
        if (fetched === undefined || fetched.next <= position) continue;
        const inRange = fetched.records.filter((r) => r.offset < high).length;
        counts.set(topic, (counts.get(topic) ?? 0) + inRange);
        position = fetched.next;
      }
    }
  } finally {
    await consumer.close();
  }
  return counts;
}

/** What the worker of `app` wrote for `sagas` sagas. */
export async function recordsPerSaga(
  kafka: KafkaSettings,
  app: string,
  sagas: number,
): Promise<RecordCounts> {
  const topics = sagaTopics(app);
  const changelogs = await withAdmin(kafka, async (admin) =>
    (await admin.listTopics()).filter((t) => t.startsWith(`${app}-`) && t.endsWith("-changelog")),
  );
  const commandTopics = BENCH_PARTICIPANTS.map((p) => topics.commands(p));
  const dlq = deadLetterTopic(app);
  const counts = await countRecords(kafka, [topics.events, ...commandTopics, ...changelogs, dlq]);
  const sum = (names: readonly string[]) => names.reduce((n, t) => n + (counts.get(t) ?? 0), 0);
  return {
    sagas,
    sagaEvents: sum([topics.events]),
    commands: sum(commandTopics),
    changelog: sum(changelogs),
    deadLetters: sum([dlq]),
  };
}

export function perSaga(counts: RecordCounts): string {
  const per = (n: number) => (n / Math.max(counts.sagas, 1)).toFixed(2);
  const total = counts.sagaEvents + counts.commands + counts.changelog + counts.deadLetters;
  return (
    `${per(total)} (saga-events ${per(counts.sagaEvents)}, commands ${per(counts.commands)}, ` +
    `changelogs ${per(counts.changelog)}${counts.deadLetters > 0 ? `, dead letters ${per(counts.deadLetters)}` : ""})`
  );
}
