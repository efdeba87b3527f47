/**
 * The primary Kafka and the engine's client layer support what the engine relies on: an
 * idempotent transactional producer whose aborted records a read_committed consumer never
 * sees, order kept per key, keys partitioned as the Java client does, a zombie producer
 * fenced by its successor; and a consumer group whose members hand each record over in order
 * per partition and commit only what they handled, across a rebalance and a failing handler.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createProducer,
  ensureTopics,
  kafkaErrorId,
  partitionForKey,
  startConsuming,
  withAdmin,
  topicOffsets,
  type ConsumedRecord,
  type Consuming,
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

describe("consumer group members (startConsuming)", () => {
  it("keep each partition's order across a rebalance and a failing handler, and commit only what they handled", async () => {
    const groupTopic = uniqueName("group");
    const partitions = 4;
    const keys = 24;
    const perKey = 100;
    await withAdmin(settings, (admin) => ensureTopics(admin, [{ topic: groupTopic, partitions }]));
    closers.push(() =>
      withAdmin(settings, (admin) => admin.deleteTopics({ topics: [groupTopic] })),
    );
    const producer = createProducer(settings);
    for (let seq = 1; seq <= perKey; seq += 1) {
      await producer.send({
        messages: Array.from({ length: keys }, (_, k) => ({
          topic: groupTopic,
          key: `k${k}`,
          value: Buffer.from(String(seq)),
        })),
      });
    }
    await producer.close();

    const groupId = uniqueName("members");
    const handledSeqs = new Map<string, number[]>(); // per key, in the order handled
    let handled = 0;
    const handledBy = new Map<string, number>();
    let failedOnce = false;
    const member = (name: string) =>
      startConsuming(settings, {
        groupId,
        topics: [groupTopic],
        concurrency: partitions,
        commitIntervalMs: 50,
        heartbeatIntervalMs: 500, // the first member hears of the rebalance soon
        handle: async (record) => {
          const key = String(record.key);
          const seq = Number(String(record.value));
          if (key === "k3" && seq === 10 && !failedOnce) {
            failedOnce = true;
            throw new Error(`${name}: a transient failure`); // retried; k3's order must hold
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
          handledSeqs.set(key, [...(handledSeqs.get(key) ?? []), seq]);
          handled += 1;
          handledBy.set(name, (handledBy.get(name) ?? 0) + 1);
        },
      });
    const members: Consuming[] = [await member("first")];
    try {
      await waitUntil(() => (handled >= (keys * perKey) / 4 ? true : undefined), {
        timeoutMs: 30_000,
        description: "a quarter of the records handled by the first member",
      });
      members.push(await member("second")); // the group rebalances
      await waitUntil(
        () =>
          [...Array(keys).keys()].every((k) => handledSeqs.get(`k${k}`)?.includes(perKey))
            ? true
            : undefined,
        { timeoutMs: 60_000, description: "every key's last record handled" },
      );
    } finally {
      for (const m of members) await m.stop();
    }

    expect(failedOnce).toBe(true);
    expect(handledBy.get("second")).toBeGreaterThan(0); // it did take partitions over
    for (let k = 0; k < keys; k += 1) {
      const seqs = handledSeqs.get(`k${k}`) ?? [];
      // Every record at least once; a record handled again (by the next owner of its
      // partition, from the last commit) only ever repeats a run of earlier ones.
      expect(new Set(seqs)).toEqual(new Set(Array.from({ length: perKey }, (_, i) => i + 1)));
      let highest = 0;
      for (const seq of seqs) {
        if (seq > highest) {
          expect(seq, `k${k}: ${seqs.join(",")}`).toBe(highest + 1);
          highest = seq;
        }
      }
    }
    // Stopped members committed what they handled: the group is at the end of every partition.
    const [group] = await withAdmin(settings, (admin) =>
      admin.listConsumerGroupOffsets({ groups: [groupId] }),
    );
    const committed = new Map(
      group?.topics
        .find((t) => t.name === groupTopic)
        ?.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
    );
    const ends = await withAdmin(settings, (admin) => topicOffsets(admin, groupTopic));
    expect(ends.map((p) => committed.get(p.partition))).toEqual(ends.map((p) => p.high));
  });

  it("refuses a topic that does not exist, saying to create it (none is created)", async () => {
    const missing = uniqueName("missing");
    await expect(
      startConsuming(settings, {
        groupId: uniqueName("members"),
        topics: [missing],
        retries: 1,
        handle: () => Promise.resolve(),
      }),
    ).rejects.toThrow(new RegExp(`Unknown topic ${missing}.*Create it first`));
    const topics = await withAdmin(settings, (admin) => admin.listTopics());
    expect(topics).not.toContain(missing);
  });
});
