/**
 * The example order world for the engine's integration tests: a unique name, the order
 * service (its outbox deployed), the three participant services, and their cleanup.
 */
import pg from "pg";
import { inject } from "vitest";
import {
  startOrderService,
  startParticipants,
  type FaultPlan,
  type OrderService,
} from "../../examples/order/index.js";
import type { Connections } from "../../src/config/index.js";
import type { KafkaSettings } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { ConnectClient, removeOutboxPipeline } from "../../src/outbox/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { uniqueName } from "./names.js";

/** `connections` moves parts of the world elsewhere (e.g. onto a cluster of the test's own). */
export function orderWorld(label: string, moved: Partial<Connections> = {}) {
  const connections = { ...inject("connections"), ...moved };
  const name = uniqueName(label);
  const pool = new pg.Pool({ connectionString: connections.databaseUrl, max: 16 });
  // Warnings of the test's own clients and services (a participant's failed command, a
  // consumer's rebalance) explain a saga that ends otherwise than expected.
  const logger = createLogger("warn", `${label}-test`);
  const settings: KafkaSettings = {
    brokers: connections.kafkaBrokers,
    clientId: `${label}-test`,
    security: connections.kafkaSecurity,
    logger,
  };
  const connect = new ConnectClient(connections.connectUrl);
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  let services: Awaited<ReturnType<typeof startParticipants>> | undefined;
  let orderService: OrderService | undefined;
  return {
    name,
    connections,
    pool,
    /** The options of the example worker (`dist/examples/order/worker.js`) for this world. */
    workerOptions(stepTimeoutMs: number) {
      return {
        applicationId: name,
        brokers: connections.kafkaBrokers,
        schemaRegistryUrl: connections.schemaRegistryUrl,
        orderService: `${name}_orders`,
        partitions: 6,
        stepTimeoutMs,
        logLevel: "info", // for the kill tests' timeline (WorkerTimeline)
      };
    },
    /** The test's Kafka settings (its clients log warnings through the test's logger). */
    kafka: settings,
    codec,
    /** The order service, its outbox and connector deployed. */
    async startOrderService(): Promise<OrderService> {
      orderService = await startOrderService({
        pool,
        connect,
        codec,
        cdcDatabaseUrl: connections.databaseUrl,
        name: `${name}_orders`,
      });
      return orderService;
    },
    /** The three services; those in `outboxReplies` answer through an outbox of their own. */
    async startParticipants(
      faults: FaultPlan,
      slowMs: number,
      outboxReplies: readonly ("payment" | "inventory" | "shipping")[] = [],
    ) {
      services = await startParticipants({
        applicationId: name,
        kafka: settings,
        codec,
        pool,
        faults,
        slowMs,
        logger,
        schemaPrefix: `${name}_`,
        outboxReplies: {
          connect,
          cdcDatabaseUrl: connections.databaseUrl,
          services: outboxReplies,
        },
      });
      return services;
    },
    async cleanup(): Promise<void> {
      await services?.stop();
      if (orderService !== undefined) {
        const service = `${name}_orders`;
        await removeOutboxPipeline({ pool, connect, name: service, table: `${service}.outbox` });
      }
      for (const schema of ["orders", "payment", "inventory", "shipping"]) {
        await pool.query(`DROP SCHEMA IF EXISTS ${name}_${schema} CASCADE`);
      }
      await pool.end();
    },
  };
}
