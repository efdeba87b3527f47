/**
 * A participant's record of the commands it has handled, in its own PostgreSQL database, by
 * idempotency key (saga, step, action: the same across retries). A row is written in the same
 * transaction as the handler's own changes, so a command's effect and its record commit
 * together; a redelivered or retried command finds the row and gets the same reply again.
 * Rows expire after a TTL (7 days by default), longer than any saga's retries.
 */
import pg from "pg";
import type { SagaCommand, StepResult } from "../saga/index.js";

export const Outcome = {
  Success: "success",
  Refused: "refused",
  /** A compensation ran before its command ever did: the command must now be refused. */
  Voided: "voided",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface HandledCommand {
  outcome: Outcome;
  reason: string;
  result: StepResult;
  /** The operator round it was handled in (a refusal holds only within its round). */
  round?: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export class IdempotencyStore {
  readonly table: string;

  constructor(
    schema: string,
    private readonly ttlMs: number,
  ) {
    if (!IDENTIFIER.test(schema)) {
      throw new Error(`"${schema}" cannot name a PostgreSQL schema: use a-z, 0-9 and _`);
    }
    this.table = `${schema}.sagastream_idempotency`;
  }

  async migrate(pool: pg.Pool): Promise<void> {
    const schema = this.table.split(".")[0] ?? "public";
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
      key text PRIMARY KEY,
      outcome text NOT NULL,
      reason text NOT NULL DEFAULT '',
      result jsonb NOT NULL DEFAULT '{}',
      expires_at timestamptz NOT NULL
    )`);
    // Tables made before operator rounds existed.
    await pool.query(
      `ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS round int NOT NULL DEFAULT 0`,
    );
    await pool.query(
      `CREATE INDEX IF NOT EXISTS ${schema}_idempotency_expiry ON ${this.table} (expires_at)`,
    );
  }

  /**
   * The statement that holds, until the transaction ends, a lock on the command's step (its
   * command and its compensation alike): a second delivery handled at the same time (by the
   * next owner of the partition, during a rebalance) waits, then finds the first one's record.
   * A statement without parameters, so that it can open the transaction with its BEGIN.
   */
  lockStatement(step: Pick<SagaCommand, "sagaId" | "step">): string {
    const name = pg.escapeLiteral(`${this.table}/${step.sagaId}/${step.step}`);
    return `SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
  }

  async find(client: pg.ClientBase, key: string): Promise<HandledCommand | undefined> {
    return this.found(await client.query<HandledCommand>(this.findStatement(key)));
  }

  /** The statement that finds `key`'s record, without parameters (see lockStatement). */
  findStatement(key: string): string {
    return `SELECT outcome, reason, result, round FROM ${this.table} WHERE key = ${pg.escapeLiteral(key)} AND expires_at > now()`;
  }

  /** The record a findStatement found, if any. */
  found(result: pg.QueryResult | undefined): HandledCommand | undefined {
    return (result?.rows as HandledCommand[] | undefined)?.[0];
  }

  /** The statement that records `key`'s outcome, without parameters (for a deferred write). */
  recordStatement(key: string, handled: HandledCommand): string {
    const [k, outcome, reason, result] = [
      key,
      handled.outcome,
      handled.reason,
      JSON.stringify(handled.result),
    ].map((value) => pg.escapeLiteral(value));
    const round = Math.trunc(handled.round ?? 0);
    return `INSERT INTO ${this.table} (key, outcome, reason, result, round, expires_at)
       VALUES (${k}, ${outcome}, ${reason}, ${result}, ${round}, now() + ${this.ttlMs} * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, result = EXCLUDED.result, round = EXCLUDED.round, expires_at = EXCLUDED.expires_at`;
  }

  /** Deletes expired rows; returns how many. */
  async purge(pool: pg.Pool): Promise<number> {
    const { rowCount } = await pool.query(`DELETE FROM ${this.table} WHERE expires_at <= now()`);
    return rowCount ?? 0;
  }
}
