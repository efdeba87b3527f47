/**
 * The consumer helper delivers each outbox event to the handler once, even when the topic
 * holds it twice (Debezium publishes at least once across a Connect crash): the handler's
 * effect and the inbox record commit together, and a repeated message id is skipped. Events it
 * cannot decode, and one whose handler keeps failing, go to the dead-letter topic with the reason.
 */
import type avro from "avsc";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  createProducer,
  DLQ_HEADERS,
  deadLetterTopic,
  ensureTopics,
  withAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { startEventConsumer } from "../../src/outbox/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";

const { kafkaBrokers, databaseUrl, schemaRegistryUrl } = inject("connections");
const name = uniqueName("inbox");
const topic = `${name}.outbox.event.payment`;
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "event-consumer-test" };
const codec = new AvroCodec(createSchemaRegistry(schemaRegistryUrl));
const paymentTaken: avro.schema.RecordType = {
  type: "record",
  name: "PaymentTaken",
  namespace: "dev.sagastream.test",
  fields: [
    { name: "orderId", type: "string" },
    { name: "amountCents", type: "long" },
  ],
};

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await pool.end();
});

describe("startEventConsumer", () => {
  it("applies each event once, skipping a repeated message id, with the effect and inbox in one transaction", async () => {
    const schemaId = await codec.register(
      `${topic}-dev.sagastream.test.PaymentTaken`,
      paymentTaken,
    );
    await pool.query(`CREATE SCHEMA ${name}`);
    await pool.query(
      `CREATE TABLE ${name}.payments (message_id text, order_id text, amount_cents bigint)`,
    );
    const events = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => ({
        key: `order-${i % 5}`,
        value: await codec.encode(schemaId, { orderId: `order-${i % 5}`, amountCents: 100 + i }),
        headers: {
          id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
          eventType: "PaymentTaken",
        },
      })),
    );
    const duplicate = events[7];
    if (duplicate === undefined) throw new Error("no event 7");
    const bad = [
      { key: "order-x", value: Buffer.from("not avro"), headers: { id: "bad-bytes" } },
      { key: "order-x", value: duplicate.value }, // no id header
      {
        key: "order-x",
        value: await codec.encode(schemaId, { orderId: "order-x", amountCents: -1 }),
        headers: { id: "refused-by-handler", eventType: "PaymentTaken" },
      },
    ];
    // One partition, as the broker's auto-creation gave kafkajs (this client creates no topic).
    await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
    const producer = createProducer(kafka);
    await producer.send({
      messages: [...events, duplicate, ...bad].map((message) => ({ topic, ...message })),
    });
    await producer.close();

    let handlerCalls = 0;
    const consumer = await startEventConsumer<{ orderId: string; amountCents: number }>({
      kafka,
      pool,
      groupId: `${name}-payments`,
      topics: [topic],
      inbox: `${name}.inbox`,
      decode: (bytes, origin) => codec.decode(bytes, undefined, origin),
      maxAttempts: 2,
      handle: async (event, client) => {
        handlerCalls += 1;
        if (event.payload.amountCents < 0) throw new Error("a negative amount");
        await client.query(`INSERT INTO ${name}.payments VALUES ($1, $2, $3)`, [
          event.messageId,
          event.payload.orderId,
          event.payload.amountCents,
        ]);
      },
    });
    try {
      const { stats } = consumer;
      await waitUntil(
        () => (stats.handled + stats.duplicates + stats.deadLettered >= 24 ? true : undefined),
        { timeoutMs: 60_000, description: "24 deliveries" },
      );
    } finally {
      await consumer.stop();
    }
    expect(consumer.stats).toEqual({ handled: 20, duplicates: 1, deadLettered: 3 });
    expect(handlerCalls).toBe(22); // 20 events, and the refused one twice
    const { rows } = await pool.query<{ n: number; distinct_ids: number; total: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS distinct_ids, sum(amount_cents)::text AS total FROM ${name}.payments`,
    );
    expect(rows[0]).toEqual({
      n: 20,
      distinct_ids: 20,
      total: String(Array.from({ length: 20 }, (_, i) => 100 + i).reduce((a, b) => a + b)),
    });
    const dead = await readTopic(kafka, deadLetterTopic(`${name}-payments`), 3);
    expect(dead.map((d) => [d.headers[DLQ_HEADERS.code], d.headers[DLQ_HEADERS.offset]])).toEqual([
      ["WIRE_FORMAT_INVALID", "21"],
      ["DESERIALIZATION_FAILED", "22"],
      ["PROCESSING_FAILED", "23"],
    ]);
    expect(dead[2]?.headers[DLQ_HEADERS.error]).toMatch(/a negative amount/);
    expect(dead[2]?.headers.id).toBe("refused-by-handler");
  });
});
