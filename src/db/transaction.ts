/**
 * One PostgreSQL transaction: BEGIN, the caller's work, COMMIT; ROLLBACK if the work throws.
 * The engine's writes (inbox, idempotency records, outbox rows) and a service's own changes
 * commit together through it.
 */
import type pg from "pg";

/**
 * Runs `fn` in a transaction on a client of `pool` and returns what it returns. If `fn` (or
 * the COMMIT) throws, the transaction is rolled back and the error rethrown; a client whose
 * ROLLBACK failed too (a broken connection) is discarded, not returned to the pool.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs `fn` inside the caller's transaction so that, if it throws, only what it did is undone
 * (ROLLBACK TO SAVEPOINT) and the transaction goes on; the error is rethrown.
 */
export async function withSavepoint<T>(
  client: pg.ClientBase,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" cannot name a savepoint`);
  await client.query(`SAVEPOINT ${name}`);
  try {
    const result = await fn();
    await client.query(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (error) {
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    throw error;
  }
}
