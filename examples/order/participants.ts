/**
 * The example participants, each a small service with its own PostgreSQL schema: payment
 * charges and refunds, inventory reserves and releases stock, shipping ships. Every effect is a
 * row in the service's own tables, written in the transaction the SDK opens, so the tests can
 * count that none happened twice.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import {
  CommandRefusedError,
  createParticipant,
  createOutbox,
  deployOutboxPipeline,
  removeOutboxPipeline,
  replicationRoleOf,
  sagaTopics,
  type AvroCodec,
  type ConnectClient,
  type KafkaSettings,
  type Logger,
  type Outbox,
  type Participant,
} from "sagastream";
import type { FaultPlan } from "./faults.js";

export interface ParticipantServicesOptions {
  applicationId: string;
  kafka: KafkaSettings;
  codec: AvroCodec;
  pool: pg.Pool;
  faults: FaultPlan;
  /** How late a slow first attempt's answer comes (more than the step timeout). */
  slowMs: number;
  /** Prefix of the services' PostgreSQL schemas (default none: payment, inventory, shipping). */
  schemaPrefix?: string;
  concurrency?: number;
  /** Where the services log a command that failed (default: they do not). */
  logger?: Logger;
  /** Services that reply through an outbox of their own (a Debezium connector each). */
  outboxReplies?: {
    connect: ConnectClient;
    cdcDatabaseUrl: string;
    services: readonly Service[];
    /** Deploy their connectors (default true); false: only the tables, published by others. */
    connectors?: boolean;
  };
  /** The region they run in (see ParticipantOptions.region). */
  region?: string | undefined;
}

type Service = keyof ReturnType<typeof serviceSchemas>;

export function serviceSchemas(prefix = "") {
  return {
    payment: `${prefix}payment`,
    inventory: `${prefix}inventory`,
    shipping: `${prefix}shipping`,
  };
}

async function migrate(pool: pg.Pool, schemas: ReturnType<typeof serviceSchemas>): Promise<void> {
  for (const schema of Object.values(schemas))
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schemas.payment}.payments
    (order_id text NOT NULL, payment_id text NOT NULL, amount_cents bigint NOT NULL, at timestamptz DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schemas.payment}.refunds
    (order_id text NOT NULL, payment_id text NOT NULL, at timestamptz DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schemas.inventory}.reservations
    (order_id text NOT NULL, reservation_id text NOT NULL, at timestamptz DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schemas.inventory}.releases
    (order_id text NOT NULL, reservation_id text NOT NULL, at timestamptz DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schemas.shipping}.shipments
    (order_id text NOT NULL, tracking_number text NOT NULL, at timestamptz DEFAULT now())`);
}

function text(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  return typeof value === "string" ? value : "";
}

/** Starts the three participant services; `stop()` stops them all. */
export async function startParticipants(options: ParticipantServicesOptions) {
  const schemas = serviceSchemas(options.schemaPrefix);
  await migrate(options.pool, schemas);
  const replyOutboxes = await deployReplyOutboxes(options, schemas);
  const common = (service: Service) => ({
    applicationId: options.applicationId,
    kafka: options.kafka,
    region: options.region,
    codec: options.codec,
    pool: options.pool,
    concurrency: options.concurrency ?? 6,
    name: service,
    schema: schemas[service],
    replyOutbox: replyOutboxes.outboxOf(service),
    ...(options.logger === undefined ? {} : { logger: options.logger.child({ service }) }),
  });
  const { faults } = options;
  const participants: Participant[] = [
    await createParticipant({
      ...common("payment"),
      handlers: {
        ChargePayment: async (payload, { client }) => {
          const orderId = text(payload, "orderId");
          if (faults.refuses("payment", orderId)) throw new CommandRefusedError("card declined");
          const paymentId = randomUUID();
          await client.query(`INSERT INTO ${schemas.payment}.payments VALUES ($1, $2, $3)`, [
            orderId,
            paymentId,
            Number(payload.amountCents),
          ]);
          return { paymentId };
        },
        RefundPayment: async (payload, { client }) => {
          await client.query(`INSERT INTO ${schemas.payment}.refunds VALUES ($1, $2)`, [
            text(payload, "orderId"),
            text(payload, "paymentId"),
          ]);
          return {};
        },
      },
    }),
    await createParticipant({
      ...common("inventory"),
      handlers: {
        ReserveStock: async (payload, { client, command, delayReply }) => {
          const orderId = text(payload, "orderId");
          // A slow acknowledgment: the reservation is made now, its answer comes too late.
          if (command.attempt === 1 && faults.isSlow("inventory", orderId)) {
            delayReply(options.slowMs);
          }
          if (faults.refuses("inventory", orderId)) throw new CommandRefusedError("out of stock");
          const reservationId = randomUUID();
          await client.query(`INSERT INTO ${schemas.inventory}.reservations VALUES ($1, $2)`, [
            orderId,
            reservationId,
          ]);
          return { reservationId };
        },
        ReleaseStock: async (payload, { client }) => {
          await client.query(`INSERT INTO ${schemas.inventory}.releases VALUES ($1, $2)`, [
            text(payload, "orderId"),
            text(payload, "reservationId"),
          ]);
          return {};
        },
      },
    }),
    await createParticipant({
      ...common("shipping"),
      handlers: {
        ShipOrder: async (payload, { client }) => {
          const trackingNumber = `TRK-${randomUUID().slice(0, 8)}`;
          await client.query(`INSERT INTO ${schemas.shipping}.shipments VALUES ($1, $2)`, [
            text(payload, "orderId"),
            trackingNumber,
          ]);
          return { trackingNumber };
        },
      },
    }),
  ];
  return {
    schemas,
    participants,
    async stop(): Promise<void> {
      for (const p of participants) await p.stop();
      await replyOutboxes.remove();
    },
  };
}

/** An outbox table whose connector runs elsewhere (another region's, made by a failover). */
async function migratedOutbox(
  pool: pg.Pool,
  table: string,
  encode: (id: number, value: unknown) => Promise<Buffer>,
  cdcDatabaseUrl: string,
): Promise<Outbox> {
  const outbox = createOutbox({ pool, table, encode });
  await outbox.migrate({
    replicationRole: replicationRoleOf(cdcDatabaseUrl, pool.options.connectionString),
  });
  return outbox;
}

/** Each listed service's reply outbox, its connector routing every row to `<app>.replies`. */
async function deployReplyOutboxes(
  options: ParticipantServicesOptions,
  schemas: ReturnType<typeof serviceSchemas>,
) {
  const replies = options.outboxReplies;
  const deployed = new Map<Service, { outbox: Outbox; name: string; table: string }>();
  for (const service of replies?.services ?? []) {
    if (replies === undefined) break;
    const name = `${schemas[service]}_replies`;
    const table = `${schemas[service]}.saga_replies`;
    const encode = (id: number, value: unknown) => options.codec.encode(id, value);
    const outbox =
      replies.connectors === false
        ? await migratedOutbox(options.pool, table, encode, replies.cdcDatabaseUrl)
        : await deployOutboxPipeline({
            pool: options.pool,
            connect: replies.connect,
            cdcDatabaseUrl: replies.cdcDatabaseUrl,
            name,
            table,
            encode,
            topicReplacement: sagaTopics(options.applicationId).replies,
          });
    deployed.set(service, { outbox, name, table });
  }
  return {
    outboxOf: (service: Service) => deployed.get(service)?.outbox,
    async remove(): Promise<void> {
      for (const { name, table } of deployed.values()) {
        if (replies === undefined || replies.connectors === false) break;
        await removeOutboxPipeline({ pool: options.pool, connect: replies.connect, name, table });
      }
    },
  };
}
