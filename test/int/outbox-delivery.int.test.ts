/**
 * Delivery through the real outbox → Debezium → Kafka path: per-aggregate order over many
 * aggregates and partitions, and a Connect worker SIGKILLed mid-stream: Debezium then replays
 * from its last flushed offset (at least once), and the consumer helper still applies each
 * event exactly once.
 */
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  orderViolations,
  SEQUENCED_EVENT_SCHEMA,
  startSequencedWriter,
  type SequencedEvent,
} from "../../src/bench/sequenced-writer.js";
import { loadConfig } from "../../src/config/index.js";
import { ensureTopics, withAdmin, type KafkaSettings } from "../../src/kafka/index.js";
import {
  ConnectClient,
  deployOutboxPipeline,
  removeOutboxPipeline,
  startEventConsumer,
  type Outbox,
} from "../../src/outbox/index.js";
import { AvroCodec, createSchemaRegistry, subjectFor } from "../../src/schema/index.js";
import { Stack } from "../../src/stack/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic, type ReadRecord } from "../support/read-topic.js";

const { kafkaBrokers, connectUrl, databaseUrl, schemaRegistryUrl } = inject("connections");
const config = loadConfig();
const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "outbox-delivery-test" };
const connect = new ConnectClient(connectUrl);
const codec = new AvroCodec(createSchemaRegistry(schemaRegistryUrl));
const PARTITIONS = 4;
const deployed: { name: string; table: string }[] = [];

/** A pipeline of its own per test: table, connector and a 4-partition topic. */
async function pipeline(
  label: string,
): Promise<{ name: string; outbox: Outbox; topic: string; schemaId: number }> {
  const name = uniqueName(label);
  const table = `${name}.outbox`;
  const topic = `${name}.outbox.event.sequenced`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: PARTITIONS }]));
  const schemaId = await codec.register(
    subjectFor(topic, "dev.sagastream.bench.Sequenced"),
    SEQUENCED_EVENT_SCHEMA,
  );
  deployed.push({ name, table });
  const outbox = await deployOutboxPipeline({
    pool,
    connect,
    cdcDatabaseUrl: databaseUrl,
    name,
    table,
    encode: (id, value) => codec.encode(id, value),
    topicReplacement: `${name}.outbox.event.\${routedByValue}`,
  });
  return { name, outbox, topic, schemaId };
}

async function decoded(records: ReadRecord[]): Promise<(SequencedEvent & { messageId: string })[]> {
  return Promise.all(
    records.map(async (r) => ({
      ...(await codec.decode<SequencedEvent>(r.value ?? Buffer.alloc(0))),
      messageId: r.headers.id ?? "",
    })),
  );
}

afterAll(async () => {
  for (const { name, table } of deployed) {
    await removeOutboxPipeline({ pool, connect, name, table }).catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  }
  await pool.end();
});

describe("outbox delivery through Debezium", () => {
  it("delivers 10,000 events over 100 aggregates with each aggregate's order kept", async () => {
    const { outbox, topic, schemaId } = await pipeline("order");
    const writer = startSequencedWriter({
      pool,
      outbox,
      schemaId,
      aggregateType: "sequenced",
      aggregates: 100,
      writers: 4,
      limit: 10_000,
    });
    await writer.done;
    expect(writer.committed).toHaveLength(10_000);

    const records = await readTopic(kafka, topic, 10_000, { timeoutMs: 120_000 });
    expect(records).toHaveLength(10_000);
    expect(new Set(records.map((r) => r.partition)).size).toBe(PARTITIONS);
    const events = await decoded(records);
    expect(events.every((e, i) => e.aggregateId === records[i]?.key)).toBe(true);
    expect(new Set(events.map((e) => e.messageId))).toEqual(
      new Set(writer.committed.map((c) => c.messageId)),
    );
    expect(orderViolations(events)).toEqual([]);
  }, 180_000);

  it.skipIf(config.externalCluster)(
    "keeps every committed event when Connect is SIGKILLed mid-stream; the consumer applies each once",
    async () => {
      const { name, outbox, topic, schemaId } = await pipeline("crash");
      const effects = `${name}.effects`; // the handler's own table
      await pool.query(`CREATE TABLE ${effects} (message_id text, aggregate_id text, seq bigint)`);
      const lastSeq = new Map<string, number>();
      let outOfOrder = 0;
      const consumer = await startEventConsumer<SequencedEvent>({
        kafka,
        pool,
        groupId: uniqueName("crash-consumer"),
        topics: [topic],
        inbox: `${name}.inbox`,
        decode: (bytes, origin) => codec.decode(bytes, undefined, origin),
        handle: async (event, client) => {
          const { aggregateId, seq } = event.payload;
          if (seq !== (lastSeq.get(aggregateId) ?? 0) + 1) outOfOrder += 1;
          lastSeq.set(aggregateId, seq);
          await client.query(`INSERT INTO ${effects} VALUES ($1, $2, $3)`, [
            event.messageId,
            aggregateId,
            seq,
          ]);
        },
      });
      const writer = startSequencedWriter({
        pool,
        outbox,
        schemaId,
        aggregateType: "sequenced",
        aggregates: 40,
        writers: 4,
      });
      const stack = new Stack(config);
      try {
        await waitUntil(() => (consumer.stats.handled >= 1_000 ? true : undefined), {
          timeoutMs: 60_000,
          description: "1,000 events through before the crash",
        });
        const pid = (await stack.status()).find((c) => c.name === "connect")?.pid;
        if (pid === undefined) throw new Error("the stack's Connect worker is not running");
        process.kill(pid, "SIGKILL");
        const committedAtKill = writer.committed.length;
        await waitUntil(
          () => (writer.committed.length >= committedAtKill + 1_000 ? true : undefined),
          { timeoutMs: 60_000, description: "1,000 more commits while Connect is down" },
        );
        await writer.stop();
        await stack.up({ dr: true }); // restarts Connect only; the connector resumes
        const total = writer.committed.length;
        await waitUntil(() => (consumer.stats.handled >= total ? true : undefined), {
          timeoutMs: 120_000,
          description: `all ${total} committed events handled`,
        });

        // At least once on the topic: every committed id is there, some perhaps twice.
        const records = await readTopic(kafka, topic, total, { timeoutMs: 60_000 });
        const onTopic = new Set(records.map((r) => r.headers.id));
        expect(writer.committed.filter((c) => !onTopic.has(c.messageId))).toEqual([]);
        expect(orderViolations(await decoded(records))).toEqual([]);
        await waitUntil(
          () =>
            consumer.stats.handled + consumer.stats.duplicates >= records.length ? true : undefined,
          { timeoutMs: 30_000, description: "the consumer to see every record" },
        );
        // Exactly once at the handler: one effect per committed event.
        expect(consumer.stats).toEqual({
          handled: total,
          duplicates: records.length - total,
          deadLettered: 0,
        });
        const { rows } = await pool.query<{ n: number; ids: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS ids FROM ${effects}`,
        );
        expect(rows[0]).toEqual({ n: total, ids: total });
        expect(outOfOrder).toBe(0);
        process.stderr.write(
          `connect crash: ${total} committed (${committedAtKill} before the kill), ` +
            `${records.length} on the topic (${records.length - total} replayed), ${total} applied once\n`,
        );
      } finally {
        await writer.stop();
        await consumer.stop();
      }
    },
    300_000,
  );
});
