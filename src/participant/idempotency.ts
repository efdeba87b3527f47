/**
 * A participant's record of the commands it has handled, in its own PostgreSQL database, by
 * idempotency key (saga, step, action: the same across retries). A row is written in the same
 * transaction as the handler's own changes, so a command's effect and its record commit
 * together; a redelivered or retried command finds the row and gets the same reply again.
 * A saga's rows are kept while it may still send commands (an operator may retry or cancel a
 * FAILED saga weeks later: a compensation must still find the effect it undoes), and expire a
 * TTL (7 days by default) after the participant learns that the saga ended (`sagasEnded`).
 */
import pg from "pg";
import { withTransaction } from "../db/index.js";
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
  /** The sagas known to have ended, and when: their rows expire a TTL later. */
  readonly endsTable: string;

  constructor(
    schema: string,
    private readonly ttlMs: number,
  ) {
    if (!IDENTIFIER.test(schema)) {
      throw new Error(`"${schema}" cannot name a PostgreSQL schema: use a-z, 0-9 and _`);
    }
    this.table = `${schema}.sagastream_idempotency`;
    this.endsTable = `${schema}.sagastream_saga_ends`;
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
    // Tables made before operator rounds and saga ends existed (their rows keep their expiry).
    await pool.query(
      `ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS round int NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS saga_id text`,
    );
    await pool.query(
      `CREATE INDEX IF NOT EXISTS ${schema}_idempotency_saga ON ${this.table} (saga_id)`,
    );
    await pool.query(`CREATE TABLE IF NOT EXISTS ${this.endsTable} (
      saga_id text PRIMARY KEY,
      ended_at timestamptz NOT NULL
    )`);
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
  recordStatement(sagaId: string, key: string, handled: HandledCommand): string {
    const [saga, k, outcome, reason, result] = [
      sagaId,
      key,
      handled.outcome,
      handled.reason,
      JSON.stringify(handled.result),
    ].map((value) => pg.escapeLiteral(value));
    const round = Math.trunc(handled.round ?? 0);
    // Kept until the saga ends (a command handled after its saga's end expires with the rest).
    const expiresAt = `COALESCE((SELECT ended_at FROM ${this.endsTable} WHERE saga_id = ${saga}) + ${this.ttl()}, 'infinity')`;
    return `INSERT INTO ${this.table} (key, saga_id, outcome, reason, result, round, expires_at)
       VALUES (${k}, ${saga}, ${outcome}, ${reason}, ${result}, ${round}, ${expiresAt})
       ON CONFLICT (key) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, result = EXCLUDED.result, round = EXCLUDED.round, expires_at = EXCLUDED.expires_at`;
  }

  private ttl(): string {
    return `${Math.trunc(this.ttlMs)} * interval '1 millisecond'`;
  }

  /** These sagas ended: their rows expire a TTL from now (a saga told twice keeps its first end). */
  async sagasEnded(pool: pg.Pool, sagaIds: readonly string[]): Promise<void> {
    if (sagaIds.length === 0) return;
    await withTransaction(pool, async (client) => {
      await client.query(
        `INSERT INTO ${this.endsTable} (saga_id, ended_at) SELECT unnest($1::text[]), now() ON CONFLICT (saga_id) DO NOTHING`,
        [sagaIds],
      );
      await client.query(
        `UPDATE ${this.table} SET expires_at = now() + ${this.ttl()} WHERE saga_id = ANY($1::text[]) AND expires_at = 'infinity'`,
        [sagaIds],
      );
    });
  }

  /** Deletes expired rows; returns how many. */
  async purge(pool: pg.Pool): Promise<number> {
    const { rowCount } = await pool.query(`DELETE FROM ${this.table} WHERE expires_at <= now()`);
    await pool.query(`DELETE FROM ${this.endsTable} WHERE ended_at + ${this.ttl()} <= now()`);
    return rowCount ?? 0;
  }
}
