/**
 * The transactional outbox: a service writes its domain event in the same PostgreSQL
 * transaction as its business change; Debezium reads the WAL and publishes it. By default the
 * row is deleted in the same transaction (the WAL still has it), so the table never grows.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { tracingEnabled } from "../tracing/index.js";
import { tracedWrite } from "./outbox-span.js";

export interface OutboxOptions {
  pool: pg.Pool;
  /** Encodes payloads in the Confluent wire format (see src/schema AvroCodec). */
  encode: (schemaId: number, value: unknown) => Promise<Buffer>;
  /** Schema-qualified table name (default `public.sagastream_outbox`). */
  table?: string;
  /** Delete the row in the same transaction (default true). */
  deleteAfterInsert?: boolean;
}

export type OutboxEvent = OutboxEventFields &
  (
    | { schemaId: number; payload: unknown }
    /** A value its writer already encoded (Confluent wire format), published as it is. */
    | { encoded: Buffer }
  );

interface OutboxEventFields {
  aggregateType: string;
  aggregateId: string;
  /** The event type, e.g. `OrderPlaced`; becomes the `eventType` header. */
  type: string;
  messageId?: string | undefined;
  correlationId?: string | undefined;
  causationId?: string | undefined;
  traceparent?: string | undefined;
}

export const OUTBOX_COLUMNS = [
  "id",
  "aggregatetype",
  "aggregateid",
  "type",
  "payload",
  "correlation_id",
  "causation_id",
  "traceparent",
] as const;

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

export function outboxTable(table = "public.sagastream_outbox"): {
  qualified: string;
  schema: string;
  name: string;
} {
  if (!IDENTIFIER.test(table)) {
    throw new Error(
      `outbox table "${table}" must be [schema.]name in lower case letters, digits and _`,
    );
  }
  const [schema, name] = table.includes(".") ? table.split(".") : ["public", table];
  return { qualified: `${schema}.${name}`, schema: schema ?? "public", name: name ?? table };
}

export function createOutbox(options: OutboxOptions) {
  const table = outboxTable(options.table);
  const deleteAfterInsert = options.deleteAfterInsert ?? true;

  /**
   * What `publish` sends, without parameters (values as literals), to be sent with other
   * statements in one round trip (see withTransaction's `defer`), and the message id.
   */
  async function statements(event: OutboxEvent): Promise<{ id: string; statements: string }> {
    const id = event.messageId ?? randomUUID();
    const payload =
      "encoded" in event ? event.encoded : await options.encode(event.schemaId, event.payload);
    const text = (value: string | null | undefined) =>
      value === null || value === undefined ? "NULL" : pg.escapeLiteral(value);
    const values = [
      text(id),
      text(event.aggregateType),
      text(event.aggregateId),
      text(event.type),
      `decode('${payload.toString("hex")}', 'hex')`,
      text(event.correlationId ?? id),
      text(event.causationId),
      text(event.traceparent),
    ];
    // created_at is the insert's time, not the transaction's start (now()): Debezium's hop is
    // traced from it (the outboxCreatedAt header).
    let sql = `INSERT INTO ${table.qualified} (${OUTBOX_COLUMNS.join(", ")}, created_at) VALUES (${values.join(", ")}, clock_timestamp())`;
    if (deleteAfterInsert) sql += `; DELETE FROM ${table.qualified} WHERE id = ${text(id)}`;
    return { id, statements: sql };
  }

  return {
    table: table.qualified,

    /**
     * Writes `event` inside the caller's transaction (`client` has run BEGIN). Returns the
     * message id, which consumers use to deduplicate.
     */
    async publish(client: pg.ClientBase, event: OutboxEvent): Promise<string> {
      const write = async (traced: OutboxEvent) => {
        const { id, statements: sql } = await statements(traced);
        await client.query(sql);
        return id;
      };
      return tracingEnabled() ? tracedWrite(table.qualified, event, write) : write(event);
    },

    statements,

    /**
     * Creates the table and the publication Debezium reads and, when given, the login role with
     * REPLICATION that Debezium connects as, allowed to read only this table (idempotent).
     */
    async migrate(
      migration: { replicationRole?: ReplicationRole | undefined } = {},
    ): Promise<void> {
      const { pool } = options;
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${table.schema}`);
      await pool.query(`CREATE TABLE IF NOT EXISTS ${table.qualified} (
        id uuid PRIMARY KEY,
        aggregatetype text NOT NULL,
        aggregateid text NOT NULL,
        type text NOT NULL,
        payload bytea NOT NULL,
        correlation_id text,
        causation_id text,
        traceparent text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
      const publication = publicationName(table.qualified);
      const { rowCount } = await pool.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [
        publication,
      ]);
      if (rowCount === 0)
        await pool.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table.qualified}`);
      if (migration.replicationRole !== undefined) {
        await migrateReplicationRole(pool, migration.replicationRole, table);
      }
    },
  };
}

export interface ReplicationRole {
  user: string;
  password: string;
}

/** The role in `cdcUrl`, unless it is `databaseUrl`'s own user (then there is none to make). */
export function replicationRoleOf(
  cdcUrl: string,
  databaseUrl: string | undefined,
): ReplicationRole | undefined {
  const cdc = new URL(cdcUrl);
  const user = decodeURIComponent(cdc.username);
  const owner = databaseUrl === undefined ? "" : decodeURIComponent(new URL(databaseUrl).username);
  if (user === "" || user === owner) return undefined;
  return { user, password: decodeURIComponent(cdc.password) };
}

async function migrateReplicationRole(
  pool: pg.Pool,
  role: ReplicationRole,
  table: { qualified: string; schema: string },
): Promise<void> {
  const user = pg.escapeIdentifier(role.user);
  const password = pg.escapeLiteral(role.password);
  const { rowCount } = await pool.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.user]);
  // CREATE ROLE takes no parameters; the name and password are escaped instead.
  await pool.query(
    `${rowCount === 0 ? "CREATE" : "ALTER"} ROLE ${user} WITH LOGIN REPLICATION PASSWORD ${password}`,
  );
  await pool.query(
    `GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(await currentDatabase(pool))} TO ${user}`,
  );
  await pool.query(`GRANT USAGE ON SCHEMA ${table.schema} TO ${user}`);
  await pool.query(`GRANT SELECT ON ${table.qualified} TO ${user}`);
}

async function currentDatabase(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ name: string }>("SELECT current_database() AS name");
  return rows[0]?.name ?? "postgres";
}

export type Outbox = ReturnType<typeof createOutbox>;

export function publicationName(qualifiedTable: string): string {
  return `${qualifiedTable.replace(".", "_")}_pub`;
}
