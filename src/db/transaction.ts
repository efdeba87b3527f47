/**
 * One PostgreSQL transaction: BEGIN, the caller's work, COMMIT; ROLLBACK if the work throws.
 * The engine's writes (inbox, idempotency records, outbox rows) and a service's own changes
 * commit together through it.
 */
import pg from "pg";
import { CommitOutcomeUnknownError } from "../errors/index.js";

/**
 * Runs `fn` in a transaction on a client of `pool` and returns what it returns. If `fn` (or
 * the COMMIT) throws, the transaction is rolled back and the error rethrown; a client whose
 * ROLLBACK failed too (a broken connection) is discarded, not returned to the pool. A COMMIT
 * whose connection was lost throws CommitOutcomeUnknownError: it may have committed.
 *
 * `begin` opens the transaction: `BEGIN`, to which a caller may append its first statements
 * (without parameters), sent in the same round trip; `fn` gets their results, in order. And
 * `fn` may `defer` statements whose results it does not need (without parameters): they are
 * sent in one round trip with the COMMIT, in the order deferred, after everything `fn` ran.
 * Under load each round trip costs milliseconds of scheduling on a busy host, and a short
 * transaction is mostly round trips.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (
    client: pg.PoolClient,
    opened: pg.QueryResult[],
    defer: (statement: string) => void,
  ) => Promise<T>,
  begin = "BEGIN",
): Promise<T> {
  if (!/^BEGIN\b/i.test(begin)) throw new Error(`a transaction opens with BEGIN, not "${begin}"`);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // A query of several statements resolves to an array of their results.
    const opened = (await client.query(begin)) as pg.QueryResult | pg.QueryResult[];
    const deferred: string[] = [];
    const result = await fn(client, Array.isArray(opened) ? opened : [opened], (statement) => {
      deferred.push(statement);
    });
    // A statement that fails stops the rest, COMMIT included: the ROLLBACK below ends it.
    await client.query([...deferred, "COMMIT"].join("; ")).catch((error: unknown) => {
      // The server's own error means it did not commit; a lost connection leaves it unknown.
      throw error instanceof pg.DatabaseError ? error : new CommitOutcomeUnknownError(error);
    });
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
 * Runs `fn` after the caller has set SAVEPOINT `name` in its transaction (say, in `begin`): if
 * `fn` throws, what it did is undone (ROLLBACK TO SAVEPOINT), the transaction goes on and the
 * error is rethrown. The savepoint is not released: COMMIT keeps what it covers.
 */
export async function undoOnThrow<T>(
  client: pg.ClientBase,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!SAVEPOINT_NAME.test(name)) throw new Error(`"${name}" cannot name a savepoint`);
  try {
    return await fn();
  } catch (error) {
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    throw error;
  }
}

const SAVEPOINT_NAME = /^[a-z_][a-z0-9_]*$/;
