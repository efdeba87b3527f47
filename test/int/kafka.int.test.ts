/**
 * The primary Kafka and the engine's client layer support what the engine relies on: an
 * idempotent transactional producer whose aborted records a read_committed consumer never
 * sees, order kept per key, keys partitioned as the Java client does, and a zombie producer
 * fenced by its successor.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createProducer,
  ensureTopics,
  kafkaErrorId,
  partitionForKey,
  startConsuming,
  withAdmin,
  type ConsumedRecord,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers } = inject("connections");
const settings: KafkaSettings = { brokers: kafkaBrokers, clientId: "kafka-int-test" };
const topic = uniqueName("txn");
const PARTITIONS = 3;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await withAdmin(settings, (admin) => ensureTopics(admin, [{ topic, partitions: PARTITIONS }]));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await withAdmin(settings, (admin) => admin.deleteTopics({ topics: [topic] })).catch(
    () => undefined,
  );
});

function transactionalProducer(transactionalId: string): KafkaProducer {
  const producer = createProducer(settings, { transactionalId });
  closers.push(() => producer.close());
  return producer;
}

async function sendInTransaction(
  producer: KafkaProducer,
  values: string[],
  outcome: "commit" | "abort",
) {
  const tx = await producer.beginTransaction();
  for (const value of values) {
    const key = value.split("-")[0] ?? value;
    await tx.send({ messages: [{ topic, key, value: Buffer.from(value) }] });
  }
  await (outcome === "commit" ? tx.commit() : tx.abort());
}

/** Reads `topic` read_committed until `count` records arrived. */
async function readCommitted(count: number): Promise<ConsumedRecord[]> {
  const received: ConsumedRecord[] = [];
  const consuming = await startConsuming(settings, {
    groupId: uniqueName("group"),
    topics: [topic],
    concurrency: PARTITIONS,
    handle: async (record) => {
      received.push(record);
    },
  });
  try {
    await waitUntil(() => (received.length >= count ? true : undefined), {
      timeoutMs: 30_000,
      description: `${count} committed records`,
    });
  } finally {
    await consuming.stop();
  }
  return received;
}

describe("primary Kafka", () => {
  it("delivers committed transactions to a read_committed consumer and hides aborted ones", async () => {
    const producer = transactionalProducer(uniqueName("producer"));
    const keys = ["a", "b", "c", "d"];
    const batch = (n: number) => keys.flatMap((k) => [0, 1, 2].map((i) => `${k}-${n}-${i}`));
    await sendInTransaction(producer, batch(1), "commit");
    await sendInTransaction(producer, batch(2), "abort");
    await sendInTransaction(producer, batch(3), "commit");

    const expected = [...batch(1), ...batch(3)];
    const received = (await readCommitted(expected.length)).map((r) => ({
      key: String(r.key),
      value: String(r.value),
      partition: r.partition,
    }));
    expect(received.map((r) => r.value).sort()).toEqual(expected.sort());
    expect(received.some((r) => r.value.includes("-2-"))).toBe(false);
    for (const key of keys) {
      const ofKey = received.filter((r) => r.key === key);
      // one key, one partition: the Java client's
      expect(new Set(ofKey.map((r) => r.partition))).toEqual(
        new Set([partitionForKey(Buffer.from(key), PARTITIONS)]),
      );
      expect(ofKey.map((r) => r.value)).toEqual(expected.filter((v) => v.startsWith(`${key}-`)));
    }
  });

  it("fences a zombie producer that shares the transactional id", async () => {
    const transactionalId = uniqueName("fenced");
    const zombie = transactionalProducer(transactionalId);
    const zombieTx = await zombie.beginTransaction();
    await zombieTx.send({ messages: [{ topic, key: "z", value: Buffer.from("zombie") }] });
    const successor = transactionalProducer(transactionalId); // bumps the epoch
    await sendInTransaction(successor, ["s-1"], "commit");
    // The client's message names the request; the broker's error is nested inside it.
    const failure = await zombieTx.commit().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(kafkaErrorId(failure)).toBe("PRODUCER_FENCED");
  });
});
