/**
 * MirrorMaker 2 replicates the primary cluster to DR: a topic produced on primary appears on
 * DR under the same name with the same records, and a consumer group's committed offsets are
 * translated and written to DR, so consumers can fail over where they left off.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Admin, Kafka } from "kafkajs";
import { createKafka } from "../../src/kafka/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";

const { kafkaBrokers, drKafkaBrokers } = inject("connections");
const topic = uniqueName("mirrored");
const groupId = uniqueName("group");
const recordsPerPartition = 50;
let primary: Kafka;
let dr: Kafka;
let primaryAdmin: Admin;
let drAdmin: Admin;

beforeAll(async () => {
  primary = createKafka({ brokers: kafkaBrokers, clientId: "mm2-int-test" });
  dr = createKafka({ brokers: drKafkaBrokers, clientId: "mm2-int-test" });
  primaryAdmin = primary.admin();
  drAdmin = dr.admin();
  await Promise.all([primaryAdmin.connect(), drAdmin.connect()]);
  await primaryAdmin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
});

afterAll(async () => {
  await primaryAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await drAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await Promise.all([primaryAdmin.disconnect(), drAdmin.disconnect()]);
});

describe("MirrorMaker 2 (primary → DR)", () => {
  it("replicates a topic to DR under the same name with the same records", async () => {
    const producer = primary.producer({ idempotent: true });
    await producer.connect();
    for (const partition of [0, 1]) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: recordsPerPartition }, (_, i) => ({
          partition,
          key: `k${partition}`,
          value: `p${partition}-v${i}`,
        })),
      });
    }
    await producer.disconnect();

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
        const [offsets] = await drAdmin.fetchOffsets({ groupId, topics: [topic] });
        const byPartition = new Map(
          offsets?.partitions.map((p) => [p.partition, Number(p.offset)]),
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
});
