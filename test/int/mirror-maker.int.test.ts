/**
 * MirrorMaker 2 replicates the primary cluster to DR: a topic produced on primary appears on
 * DR under the same name with the same records, and a consumer group's committed offsets are
 * translated and written to DR, so consumers can fail over where they left off.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createAdmin,
  createProducer,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { RangeReader } from "../../src/ops/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";

const { kafkaBrokers, drKafkaBrokers } = inject("connections");
const topic = uniqueName("mirrored");
const groupId = uniqueName("group");
const recordsPerPartition = 50;
const primary: KafkaSettings = { brokers: kafkaBrokers, clientId: "mm2-int-test" };
const dr: KafkaSettings = { brokers: drKafkaBrokers, clientId: "mm2-int-test" };
let primaryAdmin: KafkaAdmin;
let drAdmin: KafkaAdmin;

beforeAll(async () => {
  primaryAdmin = createAdmin(primary);
  drAdmin = createAdmin(dr);
  await ensureTopics(primaryAdmin, [{ topic, partitions: 2 }]);
});

afterAll(async () => {
  await primaryAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await drAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await Promise.all([primaryAdmin.close(), drAdmin.close()]);
});

describe("MirrorMaker 2 (primary → DR)", () => {
  it("replicates a topic to DR under the same name with the same records", async () => {
    const producer = createProducer(primary);
    for (const partition of [0, 1]) {
      await producer.send({
        messages: Array.from({ length: recordsPerPartition }, (_, i) => ({
          topic,
          partition,
          key: `k${partition}`,
          value: Buffer.from(`p${partition}-v${i}`),
        })),
      });
    }
    await producer.close();

    const onPrimary = await readTopic(primary, topic, 2 * recordsPerPartition);
    await waitUntil(async () => ((await drAdmin.listTopics()).includes(topic) ? true : undefined), {
      timeoutMs: 60_000,
      description: `${topic} to be created on DR`,
    });
    const onDr = await readTopic(dr, topic, 2 * recordsPerPartition);
    expect(onDr).toEqual(onPrimary);
  });

  it("translates a consumer group's committed offsets to DR", async () => {
    // A real group consumes everything on primary, commits, and goes away (as before a failover).
    const consumed = await readTopic(primary, topic, 2 * recordsPerPartition, { group: groupId });
    expect(consumed).toHaveLength(2 * recordsPerPartition);

    const translated = await waitUntil(
      async () => {
        const [group] = await drAdmin.listConsumerGroupOffsets({
          groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [0, 1] }] }],
        });
        const offsets = group?.topics.find((t) => t.name === topic);
        const byPartition = new Map(
          offsets?.partitions.map((p) => [p.partitionIndex, Number(p.committedOffset)]),
        );
        return [0, 1].every((p) => (byPartition.get(p) ?? -1) >= recordsPerPartition)
          ? byPartition
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, description: `group ${groupId}'s offsets on DR` },
    );
    // The DR topic was mirrored from offset 0, so a caught-up group's offsets match exactly:
    // a consumer failing over to DR resumes after the last record it processed.
    expect(translated.get(0)).toBe(recordsPerPartition);
    expect(translated.get(1)).toBe(recordsPerPartition);
  });

  it("mirrors only committed records: an aborted transaction's stay behind (regression: the source consumer read uncommitted)", async () => {
    const txTopic = uniqueName("mirrored-tx");
    await ensureTopics(primaryAdmin, [{ topic: txTopic, partitions: 1 }]);
    const transactional = createProducer(primary, { transactionalId: uniqueName("mm2-tx") });
    const aborted = await transactional.beginTransaction();
    await aborted.send({ messages: [{ topic: txTopic, key: "k", value: Buffer.from("aborted") }] });
    await aborted.abort();
    const committed = await transactional.beginTransaction();
    await committed.send({
      messages: [{ topic: txTopic, key: "k", value: Buffer.from("committed") }],
    });
    await committed.commit();
    await transactional.close();

    const values = await waitUntil(
      async () => {
        if (!(await drAdmin.listTopics()).includes(txTopic)) return undefined;
        const reader = new RangeReader(dr, {
          topic: txTopic,
          from: { kind: "earliest" },
          to: { kind: "latest" },
        });
        try {
          const seen: string[] = [];
          for await (const { record } of reader.read(await reader.spans())) {
            seen.push(record.value?.toString() ?? "");
          }
          return seen.includes("committed") ? seen : undefined;
        } finally {
          await reader.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 1000, description: `${txTopic}'s committed record on DR` },
    );
    expect(values).toEqual(["committed"]);
    await primaryAdmin.deleteTopics({ topics: [txTopic] }).catch(() => undefined);
    await drAdmin.deleteTopics({ topics: [txTopic] }).catch(() => undefined);
  });
});
