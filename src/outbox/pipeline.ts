/**
 * One outbox end to end: the table, its publication and the Debezium connector that streams
 * it to Kafka; deployed and removed as a unit (the demo, benchmarks and tests use it).
 */
import type pg from "pg";
import { waitUntil } from "../util/index.js";
import type { ConnectClient } from "./connect-client.js";
import { outboxConnectorConfig, slotName } from "./connector-config.js";
import {
  createOutbox,
  publicationName,
  replicationRoleOf,
  type Outbox,
  type ReplicationRole,
} from "./outbox.js";

export interface OutboxPipelineOptions {
  pool: pg.Pool;
  connect: ConnectClient;
  /** The URL Debezium connects with: a role with REPLICATION, made here unless it is the pool's user. */
  cdcDatabaseUrl: string;
  /** Connector, slot and topic-prefix name ([a-z0-9_]). */
  name: string;
  table: string;
  encode: (schemaId: number, value: unknown) => Promise<Buffer>;
  replicationRole?: ReplicationRole;
  topicReplacement?: string;
  timeoutMs?: number;
}

/** Migrates the outbox, applies its connector, and returns once Debezium reads the WAL. */
export async function deployOutboxPipeline(options: OutboxPipelineOptions): Promise<Outbox> {
  const { pool, connect, name, table } = options;
  const outbox = createOutbox({ pool, table, encode: options.encode });
  await outbox.migrate({
    replicationRole:
      options.replicationRole ??
      replicationRoleOf(options.cdcDatabaseUrl, pool.options.connectionString),
  });
  await connect.put(
    name,
    outboxConnectorConfig({
      databaseUrl: options.cdcDatabaseUrl,
      table: outbox.table,
      name,
      topicReplacement: options.topicReplacement,
    }),
  );
  await waitUntil(
    async () =>
      (await connect.isRunning(name)) && (await slotActive(pool, name)) ? true : undefined,
    { timeoutMs: options.timeoutMs ?? 60_000, description: `connector ${name} to stream` },
  );
  return outbox;
}

export async function slotActive(pool: pg.Pool, name: string): Promise<boolean> {
  const { rows } = await pool.query<{ active: boolean }>(
    "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
    [slotName(name)],
  );
  return rows[0]?.active === true;
}

/**
 * Deletes the connector, then its replication slot (which would otherwise keep WAL forever)
 * and the publication; with `dropTable`, the outbox table too.
 */
export async function removeOutboxPipeline(options: {
  pool: pg.Pool;
  connect: ConnectClient;
  name: string;
  table: string;
  dropTable?: boolean;
  timeoutMs?: number;
}): Promise<void> {
  const { pool, connect, name } = options;
  const table = createOutbox({ pool, table: options.table, encode: noEncode }).table;
  await connect.delete(name);
  await waitUntil(async () => ((await slotActive(pool, name)) ? undefined : true), {
    timeoutMs: options.timeoutMs ?? 30_000,
    description: `replication slot ${slotName(name)} to be released`,
  });
  await pool.query(
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
    [slotName(name)],
  );
  await pool.query(`DROP PUBLICATION IF EXISTS ${publicationName(table)}`);
  if (options.dropTable === true) await pool.query(`DROP TABLE IF EXISTS ${table}`);
}

function noEncode(): Promise<Buffer> {
  return Promise.reject(new Error("this outbox only migrates"));
}
