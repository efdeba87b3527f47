/**
 * The primary Kafka supports what the engine relies on: an idempotent transactional producer
 * whose aborted records a read_committed consumer never sees, with order kept per key.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Admin, Consumer, Kafka, Producer } from "kafkajs";
import { createKafka } from "../../src/kafka/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers } = inject("connections");
const topic = uniqueName("txn");
let kafka: Kafka;
let admin: Admin;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  kafka = createKafka({ brokers: kafkaBrokers, clientId: "kafka-int-test" });
  admin = kafka.admin();
  await admin.connect();
  closers.push(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  for (const close of closers.reverse()) await close();
});

async function transactionalProducer(transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  closers.push(() => producer.disconnect());
  return producer;
}

async function sendInTransaction(
  producer: Producer,
  values: string[],
  outcome: "commit" | "abort",
) {
  const tx = await producer.transaction();
  for (const value of values) {
    const key = value.split("-")[0] ?? value;
    await tx.send({ topic, acks: -1, messages: [{ key, value }] });
  }
  await (outcome === "commit" ? tx.commit() : tx.abort());
}

describe("primary Kafka", () => {
  it("delivers committed transactions to a read_committed consumer and hides aborted ones", async () => {
    const producer = await transactionalProducer(uniqueName("producer"));
    const keys = ["a", "b", "c", "d"];
    const batch = (n: number) => keys.flatMap((k) => [0, 1, 2].map((i) => `${k}-${n}-${i}`));
    await sendInTransaction(producer, batch(1), "commit");
    await sendInTransaction(producer, batch(2), "abort");
    await sendInTransaction(producer, batch(3), "commit");

    const received: { key: string; value: string; partition: number }[] = [];
    const consumer: Consumer = kafka.consumer({
      groupId: uniqueName("group"),
      readUncommitted: false,
    });
    await consumer.connect();
    closers.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        received.push({ key: String(message.key), value: String(message.value), partition });
      },
    });
    const expected = [...batch(1), ...batch(3)];
    await waitUntil(() => (received.length >= expected.length ? true : undefined), {
      timeoutMs: 30_000,
      description: `${expected.length} committed records`,
    });
    // Past the committed records' end nothing else may arrive; give an aborted straggler a chance.
    await consumer.stop();

    expect(received.map((r) => r.value).sort()).toEqual(expected.sort());
    expect(received.some((r) => r.value.includes("-2-"))).toBe(false);
    for (const key of keys) {
      const ofKey = received.filter((r) => r.key === key);
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1); // one key, one partition
      expect(ofKey.map((r) => r.value)).toEqual(expected.filter((v) => v.startsWith(`${key}-`)));
    }
  });

  it("fences a zombie producer that shares the transactional id", async () => {
    const transactionalId = uniqueName("fenced");
    const zombie = await transactionalProducer(transactionalId);
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic, messages: [{ key: "z", value: "zombie" }] });
    const successor = await transactionalProducer(transactionalId); // bumps the epoch
    await sendInTransaction(successor, ["s-1"], "commit");
    await expect(zombieTx.commit()).rejects.toThrow(
      /fenced|epoch|ProducerFenced|INVALID_PRODUCER_EPOCH/i,
    );
  });
});
