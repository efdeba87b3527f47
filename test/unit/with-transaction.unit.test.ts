import type pg from "pg";
import { describe, expect, it } from "vitest";
import { undoOnThrow, withTransaction } from "../../src/db/index.js";

/** A pool whose one client records its statements and fails those named in `failing`. */
function fakePool(failing: string[] = []) {
  const statements: string[] = [];
  let released: unknown = "not released";
  const client = {
    // Like pg: a query of several statements resolves to an array of their results.
    query: (sql: string) => {
      statements.push(sql);
      if (failing.includes(sql)) return Promise.reject(new Error(`${sql} failed`));
      const results = sql.split("; ").map((statement) => ({ rows: [{ statement }] }));
      return Promise.resolve(results.length === 1 ? results[0] : results);
    },
    release: (error?: unknown) => {
      released = error;
    },
  };
  const pool = { connect: () => Promise.resolve(client) } as unknown as pg.Pool;
  return { pool, statements, released: () => released };
}

describe("withTransaction", () => {
  it("commits and returns what the work returned", async () => {
    const { pool, statements, released } = fakePool();
    const result = await withTransaction(pool, async (client) => {
      await client.query("INSERT 1");
      return 42;
    });
    expect(result).toBe(42);
    expect(statements).toEqual(["BEGIN", "INSERT 1", "COMMIT"]);
    expect(released()).toBeUndefined();
  });

  it("hands the work the results of the statements it opened with, in order", async () => {
    const { pool, statements } = fakePool();
    const seen = await withTransaction(
      pool,
      (_client, opened) => Promise.resolve(opened.map((r) => r.rows[0] as unknown)),
      "BEGIN; SELECT lock; SELECT found",
    );
    expect(seen).toEqual([
      { statement: "BEGIN" },
      { statement: "SELECT lock" },
      { statement: "SELECT found" },
    ]);
    expect(statements).toEqual(["BEGIN; SELECT lock; SELECT found", "COMMIT"]);
    expect(await withTransaction(pool, (_client, opened) => Promise.resolve(opened.length))).toBe(
      1,
    );
  });

  it("rolls back and rethrows when the work throws", async () => {
    const { pool, statements, released } = fakePool();
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("INSERT 1");
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(statements).toEqual(["BEGIN", "INSERT 1", "ROLLBACK"]);
    expect(released()).toBeUndefined();
  });

  it("rolls back when COMMIT fails", async () => {
    const { pool, statements } = fakePool(["COMMIT"]);
    await expect(withTransaction(pool, () => Promise.resolve(1))).rejects.toThrow("COMMIT failed");
    expect(statements).toEqual(["BEGIN", "COMMIT", "ROLLBACK"]);
  });

  it("discards a client whose ROLLBACK failed too (a broken connection)", async () => {
    const { pool, released } = fakePool(["INSERT 1", "ROLLBACK"]);
    await expect(withTransaction(pool, (client) => client.query("INSERT 1"))).rejects.toThrow(
      "INSERT 1 failed",
    );
    expect(released()).toBeInstanceOf(Error);
  });
});

describe("undoOnThrow", () => {
  it("undoes only what it ran when it throws, rethrows, and leaves the savepoint for COMMIT", async () => {
    const { pool, statements } = fakePool();
    await withTransaction(
      pool,
      async (client) => {
        await client.query("INSERT 1");
        await expect(
          undoOnThrow(client, "handler", async () => {
            await client.query("INSERT 2");
            throw new Error("refused");
          }),
        ).rejects.toThrow("refused");
        expect(await undoOnThrow(client, "handler", () => Promise.resolve("ok"))).toBe("ok");
      },
      "BEGIN; SELECT 1; SAVEPOINT handler",
    );
    expect(statements).toEqual([
      "BEGIN; SELECT 1; SAVEPOINT handler",
      "INSERT 1",
      "INSERT 2",
      "ROLLBACK TO SAVEPOINT handler",
      "COMMIT",
    ]);
  });

  it("refuses an opening that is not BEGIN", async () => {
    const { pool, statements } = fakePool();
    await expect(withTransaction(pool, () => Promise.resolve(1), "SELECT 1")).rejects.toThrow(
      /opens with BEGIN/,
    );
    expect(statements).toEqual([]);
  });
});
