/**
 * The whole engine on the real stack: orders placed through the order service's outbox are
 * published by Debezium and start order sagas on a saga worker (exactly-once); the payment,
 * inventory and shipping services handle the commands in their own PostgreSQL schemas. Some
 * orders are refused (payment or stock) and some first answers come after the step timeout.
 * Every saga must end as the fault plan says, and the services' tables must hold each effect,
 * and each compensation, exactly once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  FaultPlan,
  orderSaga,
  startOrderService,
  startParticipants,
  type OrderData,
  type OrderService,
} from "../../examples/order/index.js";
import { createKafka } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { ConnectClient, removeOutboxPipeline } from "../../src/outbox/index.js";
import { jsonSagaSerdes, SagaWorker, sagaTopics } from "../../src/saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers, databaseUrl, connectUrl, schemaRegistryUrl } = inject("connections");
const name = uniqueName("saga");
const ORDERS = 200;
const STEP_TIMEOUT_MS = 1_500;
const faults = new FaultPlan({ failureRate: 0.1, timeoutRate: 0.05 });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 12 });
const kafka = createKafka({ brokers: kafkaBrokers, clientId: "saga-engine-test" });
const connect = new ConnectClient(connectUrl);
const codec = new AvroCodec(createSchemaRegistry(schemaRegistryUrl));
const logger = createLogger("warn", "saga-engine-test");
let stateDir = "";
let orders: OrderService;
let worker: SagaWorker;
let services: Awaited<ReturnType<typeof startParticipants>>;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "saga-engine-"));
  orders = await startOrderService({
    pool,
    connect,
    codec,
    cdcDatabaseUrl: databaseUrl,
    name: `${name}_orders`,
  });
  worker = new SagaWorker({
    applicationId: name,
    brokers: kafkaBrokers,
    sagas: [orderSaga({ stepTimeoutMs: STEP_TIMEOUT_MS })],
    starts: [orders.sagaStart()],
    stateDir,
    partitions: 4,
    logger,
  });
  await worker.start();
  services = await startParticipants({
    applicationId: name,
    kafka,
    pool,
    faults,
    slowMs: STEP_TIMEOUT_MS + 500,
    schemaPrefix: `${name}_`,
  });
});

afterAll(async () => {
  await services.stop();
  await worker.stop();
  await removeOutboxPipeline({
    pool,
    connect,
    name: `${name}_orders`,
    table: `${name}_orders.outbox`,
  });
  for (const schema of ["orders", "payment", "inventory", "shipping"]) {
    await pool.query(`DROP SCHEMA IF EXISTS ${name}_${schema} CASCADE`);
  }
  await pool.end();
  await rm(stateDir, { recursive: true, force: true });
});

/** The last saga event type of every saga, as the saga-events log tells. */
async function watchOutcomes() {
  const last = new Map<string, string>();
  const consumer = kafka.consumer({ groupId: `${name}-watcher` });
  await consumer.connect();
  await consumer.subscribe({ topic: sagaTopics(name).events, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value === null) return;
      const record = jsonSagaSerdes.event.deserialize(message.value);
      last.set(record.sagaId, record.event.type);
    },
  });
  return { last, stop: () => consumer.disconnect() };
}

async function countsByOrder(table: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ order_id: string; n: number }>(
    `SELECT order_id, count(*)::int AS n FROM ${table} GROUP BY order_id`,
  );
  return new Map(rows.map((r) => [r.order_id, r.n]));
}

describe("saga engine on the real stack", () => {
  it(`runs ${ORDERS} order sagas to the end their faults call for, each effect exactly once`, async () => {
    const watcher = await watchOutcomes();
    const placed: OrderData[] = Array.from({ length: ORDERS }, (_, i) => ({
      orderId: `order-${String(i).padStart(4, "0")}`,
      customerId: `customer-${i % 17}`,
      amountCents: 1_000 + i,
      items: [{ sku: `sku-${i % 5}`, quantity: 1 + (i % 3) }],
    }));
    try {
      for (let i = 0; i < placed.length; i += 8) {
        await Promise.all(placed.slice(i, i + 8).map((o) => orders.place(o)));
      }
      const terminal = new Set(["SagaCompleted", "SagaAborted", "SagaCancelled", "SagaFailed"]);
      await waitUntil(
        () =>
          [...watcher.last.values()].filter((t) => terminal.has(t)).length >= ORDERS
            ? true
            : undefined,
        { timeoutMs: 150_000, intervalMs: 500, description: `${ORDERS} sagas to end` },
      );
    } finally {
      await watcher.stop();
    }

    const { schemas } = services;
    const payments = await countsByOrder(`${schemas.payment}.payments`);
    const refunds = await countsByOrder(`${schemas.payment}.refunds`);
    const reservations = await countsByOrder(`${schemas.inventory}.reservations`);
    const releases = await countsByOrder(`${schemas.inventory}.releases`);
    const shipments = await countsByOrder(`${schemas.shipping}.shipments`);
    const outcome = { completed: 0, paymentRefused: 0, stockRefused: 0, slow: 0 };
    for (const { orderId } of placed) {
      const effects = {
        end: watcher.last.get(orderId),
        paid: payments.get(orderId) ?? 0,
        refunded: refunds.get(orderId) ?? 0,
        reserved: reservations.get(orderId) ?? 0,
        released: releases.get(orderId) ?? 0,
        shipped: shipments.get(orderId) ?? 0,
      };
      const expected = faults.refuses("payment", orderId)
        ? { end: "SagaAborted", paid: 0, refunded: 0, reserved: 0, released: 0, shipped: 0 }
        : faults.refuses("inventory", orderId)
          ? { end: "SagaAborted", paid: 1, refunded: 1, reserved: 0, released: 0, shipped: 0 }
          : { end: "SagaCompleted", paid: 1, refunded: 0, reserved: 1, released: 0, shipped: 1 };
      expect({ orderId, ...effects }).toEqual({ orderId, ...expected });
      if (faults.refuses("payment", orderId)) outcome.paymentRefused += 1;
      else if (faults.refuses("inventory", orderId)) outcome.stockRefused += 1;
      else outcome.completed += 1;
      if (faults.isSlow("inventory", orderId)) outcome.slow += 1;
    }
    // The plan must have exercised every path.
    expect(outcome.paymentRefused).toBeGreaterThan(0);
    expect(outcome.stockRefused).toBeGreaterThan(0);
    expect(outcome.slow).toBeGreaterThan(0);
    process.stderr.write(`saga engine: ${JSON.stringify(outcome)}\n`);
  }, 240_000);
});
