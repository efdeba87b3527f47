/**
 * The stack's PostgreSQL runs with wal_level=logical and Connect runs Debezium: a row written to
 * an outbox table is published by the Outbox EventRouter, keyed by aggregate id, with its Avro
 * payload bytes passed through untouched.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import {
  headerText,
  startConsuming,
  withAdmin,
  type ConsumedRecord,
  type Consuming,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { ConnectClient } from "../../src/outbox/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers, connectUrl, databaseUrl } = inject("connections");
const name = uniqueName("outbox");
const schema = name; // also the slot, publication and topic prefix: all [a-z0-9_]
const connector = `${name}-connector`;
const topic = `${name}.outbox.event.order`;
const connect = new ConnectClient(connectUrl);
const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "debezium-int-test" };
let consumer: Consuming | undefined;

function connectorConfig(): Record<string, string> {
  const url = new URL(databaseUrl);
  return {
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "plugin.name": "pgoutput",
    "database.hostname": url.hostname,
    "database.port": url.port,
    "database.user": decodeURIComponent(url.username),
    "database.password": decodeURIComponent(url.password),
    "database.dbname": url.pathname.slice(1),
    "topic.prefix": name,
    "slot.name": `${name}_slot`,
    "publication.name": `${name}_pub`,
    "publication.autocreate.mode": "disabled",
    "table.include.list": `${schema}.outbox`,
    "snapshot.mode": "no_data",
    "tombstones.on.delete": "false",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    transforms: "outbox",
    "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
    "transforms.outbox.route.topic.replacement": `${name}.outbox.event.\${routedByValue}`,
    "transforms.outbox.table.fields.additional.placement": "type:header:eventType",
  };
}

beforeAll(async () => {
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`CREATE TABLE ${schema}.outbox (
    id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
    type text NOT NULL, payload bytea NOT NULL)`);
  await db.query(`CREATE PUBLICATION ${name}_pub FOR TABLE ${schema}.outbox`);
  await connect.put(connector, connectorConfig());
  await waitUntil(async () => ((await connect.isRunning(connector)) ? true : undefined), {
    timeoutMs: 60_000,
    description: `connector ${connector} to run`,
  });
  // Streaming has begun once the connector's replication slot is active.
  await waitUntil(
    async () => {
      const { rows } = await db.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [`${name}_slot`],
      );
      return rows[0]?.active === true ? true : undefined;
    },
    { timeoutMs: 60_000, description: "the replication slot to be active" },
  );
});

afterAll(async () => {
  await consumer?.stop();
  await connect.delete(connector).catch(() => undefined);
  await waitUntil(
    async () => {
      const { rows } = await db.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [`${name}_slot`],
      );
      if (rows[0]?.active === true) return undefined;
      if (rows.length > 0) await db.query("SELECT pg_drop_replication_slot($1)", [`${name}_slot`]);
      return true;
    },
    { timeoutMs: 30_000, description: "the replication slot to be released" },
  ).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${name}_pub`);
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
});

async function waitForTopic(name: string): Promise<void> {
  await withAdmin(kafka, (admin) =>
    waitUntil(async () => ((await admin.listTopics()).includes(name) ? true : undefined), {
      timeoutMs: 60_000,
      description: `Debezium to create ${name}`,
    }),
  );
}

/** Bytes in the Confluent wire format (magic 0, schema id 7, a body) that must pass untouched. */
function wirePayload(seed: number): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from([seed, 0xff, 0x00, 0x80, seed])]);
}

async function writeEvent(id: string, aggregateId: string, payload: Buffer, deleteAfter: boolean) {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      `INSERT INTO ${schema}.outbox (id, aggregatetype, aggregateid, type, payload) VALUES ($1, 'order', $2, 'OrderPlaced', $3)`,
      [id, aggregateId, payload],
    );
    // Debezium reads the WAL, so the row may go in the same transaction: the table never grows.
    if (deleteAfter) await client.query(`DELETE FROM ${schema}.outbox WHERE id = $1`, [id]);
    await client.query("COMMIT");
  } finally {
    client.release();
  }
}

describe("Debezium outbox on the stack's PostgreSQL", () => {
  it("publishes committed outbox rows keyed by aggregate id with the payload bytes untouched", async () => {
    const events = [
      {
        id: "00000000-0000-4000-8000-000000000001",
        aggregateId: "order-1",
        payload: wirePayload(1),
        deleteAfter: false,
      },
      {
        id: "00000000-0000-4000-8000-000000000002",
        aggregateId: "order-2",
        payload: wirePayload(2),
        deleteAfter: true,
      },
    ];
    for (const e of events) await writeEvent(e.id, e.aggregateId, e.payload, e.deleteAfter);

    const received: ConsumedRecord[] = [];
    await waitForTopic(topic);
    consumer = await startConsuming(kafka, {
      groupId: `${name}-reader`,
      topics: [topic],
      handle: async (record) => {
        received.push(record);
      },
    });
    await waitUntil(() => (received.length >= events.length ? true : undefined), {
      timeoutMs: 60_000,
      description: `${events.length} outbox events on ${topic}`,
    });

    expect(received).toHaveLength(events.length);
    received.forEach((message, i) => {
      const event = events[i];
      expect(message.key?.toString()).toBe(event?.aggregateId);
      expect(message.value).toEqual(event?.payload);
      expect(headerText(message, "id")).toBe(event?.id);
      expect(headerText(message, "eventType")).toBe("OrderPlaced");
    });
  });
});
