/**
 * Services emit domain events through the outbox: createOutbox writes the event in the caller's
 * transaction, Debezium (configured by outboxConnectorConfig) publishes it keyed by aggregate id
 * with its ids as headers, and the payload decodes to the original object.
 */
import type avro from "avsc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  headerText,
  startConsuming,
  withAdmin,
  type ConsumedRecord,
  type Consuming,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import {
  ConnectClient,
  deployOutboxPipeline,
  removeOutboxPipeline,
  type Outbox,
} from "../../src/outbox/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers, connectUrl, databaseUrl, schemaRegistryUrl } = inject("connections");
const name = uniqueName("svc");
const table = `${name}.outbox`;
const topic = `${name}.outbox.event.order`;
const connect = new ConnectClient(connectUrl);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "outbox-int-test" };
const codec = new AvroCodec(createSchemaRegistry(schemaRegistryUrl));
const received: ConsumedRecord[] = [];
let consumer: Consuming | undefined;
let outbox: Outbox;
let schemaId: number;

const orderPlaced: avro.schema.RecordType = {
  type: "record",
  name: "OrderPlaced",
  namespace: "dev.sagastream.test",
  fields: [
    { name: "orderId", type: "string" },
    { name: "amountCents", type: "long" },
  ],
};

beforeAll(async () => {
  schemaId = await codec.register(`${topic}-dev.sagastream.test.OrderPlaced`, orderPlaced);
  outbox = await deployOutboxPipeline({
    pool,
    connect,
    cdcDatabaseUrl: databaseUrl,
    name,
    table,
    encode: (id, value) => codec.encode(id, value),
    topicReplacement: `${name}.outbox.event.\${routedByValue}`,
  });
  await outbox.migrate(); // idempotent
});

afterAll(async () => {
  await consumer?.stop();
  await removeOutboxPipeline({ pool, connect, name, table });
  await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await pool.end();
});

async function inTransaction(
  fn: (client: pg.PoolClient) => Promise<void>,
  outcome: "COMMIT" | "ROLLBACK",
) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await fn(client);
    await client.query(outcome);
  } finally {
    client.release();
  }
}

async function arrived(count: number): Promise<void> {
  if (consumer === undefined) {
    await withAdmin(kafka, (admin) =>
      waitUntil(async () => ((await admin.listTopics()).includes(topic) ? true : undefined), {
        timeoutMs: 60_000,
        description: `Debezium to create ${topic}`,
      }),
    );
    consumer = await startConsuming(kafka, {
      groupId: uniqueName("reader"),
      topics: [topic],
      handle: async (record) => {
        received.push(record);
      },
    });
  }
  await waitUntil(() => (received.length >= count ? true : undefined), {
    timeoutMs: 60_000,
    description: `${count} events on ${topic}`,
  });
}

describe("outbox → Debezium → Kafka", () => {
  it("publishes a committed event keyed by aggregate id, with its ids as headers, decoding to the original", async () => {
    let messageId = "";
    await inTransaction(async (client) => {
      await client.query("SELECT 1"); // the service's own business change would be here
      messageId = await outbox.publish(client, {
        aggregateType: "order",
        aggregateId: "order-1",
        type: "OrderPlaced",
        schemaId,
        payload: { orderId: "order-1", amountCents: 4200 },
        correlationId: "corr-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      });
    }, "COMMIT");
    await arrived(1);
    const [event] = received;
    if (event === undefined) throw new Error("no event arrived");
    expect(event.key?.toString()).toBe("order-1");
    expect(headerText(event, "id")).toBe(messageId);
    expect(headerText(event, "eventType")).toBe("OrderPlaced");
    expect(headerText(event, "correlationId")).toBe("corr-1");
    expect(headerText(event, "traceparent")).toBe(
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    expect(await codec.decode(event.value ?? Buffer.alloc(0))).toEqual({
      orderId: "order-1",
      amountCents: 4200,
    });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0]).toEqual({ n: 0 }); // deleted in the same transaction
  });

  it("publishes nothing for a rolled-back transaction", async () => {
    const payload = (orderId: string) => ({
      aggregateType: "order",
      aggregateId: orderId,
      type: "OrderPlaced",
      schemaId,
      payload: { orderId, amountCents: 1 },
    });
    await inTransaction(async (client) => {
      await outbox.publish(client, payload("rolled-back"));
    }, "ROLLBACK");
    await inTransaction(async (client) => {
      await outbox.publish(client, payload("sentinel"));
    }, "COMMIT");
    // The WAL is ordered: once the later sentinel is here, the rolled-back event never will be.
    await arrived(2);
    expect(received.map((m) => m.key?.toString())).toEqual(["order-1", "sentinel"]);
  });
});
