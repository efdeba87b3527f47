/**
 * The example order service: it stores an order and, in the same PostgreSQL transaction,
 * writes its OrderPlaced event to its outbox; Debezium publishes the event, and the event
 * starts an order saga whose id is the order id.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import avro from "avsc";
import type pg from "pg";
import {
  avroSerde,
  deployOutboxPipeline,
  loadSchemaDirectory,
  startTracing,
  subjectFor,
  withTransaction,
  type AvroCodec,
  type ConnectClient,
  type Outbox,
  type SagaStart,
} from "sagastream";
import type { OrderData } from "./saga.js";

/** The project's schemas/ folder, found upwards from this module (source or build). */
function schemasDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "schemas", "outbox.event.order"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the schemas/ folder of sagastream");
    dir = parent;
  }
  return path.join(dir, "schemas");
}

export async function orderPlacedSchema(): Promise<avro.Schema> {
  const file = (await loadSchemaDirectory(schemasDir())).find((f) =>
    f.fullName.endsWith(".OrderPlaced"),
  );
  if (file === undefined) throw new Error("schemas/outbox.event.order/OrderPlaced.avsc is missing");
  return file.schema;
}

/** How OrderPlaced events on `topic` start order sagas (the order id is the saga id). */
export function orderSagaStart(
  codec: AvroCodec,
  topic: string,
  schema: avro.Schema,
): SagaStart<OrderData> {
  return {
    topic,
    saga: "order",
    valueSerde: avroSerde<OrderData>(codec, { reader: avro.Type.forSchema(schema) }),
    data: (event) => ({
      orderId: event.orderId,
      customerId: event.customerId,
      amountCents: event.amountCents,
      items: event.items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
    }),
  };
}

export interface OrderServiceOptions {
  pool: pg.Pool;
  connect: ConnectClient;
  codec: AvroCodec;
  /** Where Debezium connects (a role with REPLICATION). */
  cdcDatabaseUrl: string;
  /** Names the service's schema, outbox connector and topic prefix ([a-z0-9_]). */
  name: string;
}

/** The topic order events reach, for a service named `name`. */
export function orderTopic(name: string): string {
  return `${name}.outbox.event.order`;
}

export async function startOrderService(options: OrderServiceOptions) {
  const { pool, codec, name } = options;
  // Spans of its outbox writes start each saga's trace, when the OTEL_* variables ask for it.
  await startTracing({ serviceName: "order-service" });
  const topic = orderTopic(name);
  const schema = await orderPlacedSchema();
  const schemaId = await codec.register(
    subjectFor(topic, avro.Type.forSchema(schema).name ?? ""),
    schema,
  );
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${name}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${name}.orders (
    order_id text PRIMARY KEY, customer_id text NOT NULL, amount_cents bigint NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now())`);
  const outbox: Outbox = await deployOutboxPipeline({
    pool,
    connect: options.connect,
    cdcDatabaseUrl: options.cdcDatabaseUrl,
    name,
    table: `${name}.outbox`,
    encode: (id, value) => codec.encode(id, value),
    topicReplacement: `${name}.outbox.event.\${routedByValue}`,
  });
  return {
    name,
    topic,
    /** Stores the order and publishes OrderPlaced, atomically. */
    async place(order: OrderData): Promise<void> {
      await withTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO ${name}.orders (order_id, customer_id, amount_cents) VALUES ($1, $2, $3)`,
          [order.orderId, order.customerId, order.amountCents],
        );
        await outbox.publish(client, {
          aggregateType: "order",
          aggregateId: order.orderId,
          type: "OrderPlaced",
          schemaId,
          payload: { ...order, currency: "EUR" },
        });
      });
    },
    /** How OrderPlaced events start order sagas. */
    sagaStart: () => orderSagaStart(codec, topic, schema),
  };
}

export type OrderService = Awaited<ReturnType<typeof startOrderService>>;
