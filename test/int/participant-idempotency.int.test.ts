/**
 * A participant's record of the commands it handled, on the real PostgreSQL.
 *
 * It handles one step at a time: a command delivered twice
 * at once (the partition's next owner handling it while the first still runs, during a
 * rebalance) runs its handler once, and a compensation arriving while its command runs cannot
 * be lost under the command's success. Regression (the review's "participant deduplication is
 * check-then-act"): the record was read, the handler run, the outcome upserted; both
 * deliveries ran the handler, and an undo recorded as "voided" was overwritten by the
 * concurrent do's success, leaving its effect never compensated.
 *
 * And an operator's retry is a new round: a command refused before runs again. Regression ("an
 * operator's retry of a refused step gets the recorded refusal again until the row expires").
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CommandRefusedError } from "../../src/errors/index.js";
import { createLogger } from "../../src/log/index.js";
import { CircuitBreakers, IdempotencyStore, Outcome } from "../../src/participant/index.js";
import {
  handleCommand,
  type CommandHandling,
  type ParticipantStats,
} from "../../src/participant/handle-command.js";
import { StepAction, type SagaCommand } from "../../src/saga/index.js";
import { uniqueName } from "../support/names.js";

const { databaseUrl } = inject("connections");
const pool = new pg.Pool({ connectionString: databaseUrl, max: 6 });
const schema = uniqueName("participant_concurrency");
const store = new IdempotencyStore(schema, 7 * 24 * 3600_000);
/** How long each handler holds its transaction: long enough for the other delivery to arrive. */
const HANDLER_MS = 300;

beforeAll(async () => {
  await store.migrate(pool);
  await pool.query(`CREATE TABLE ${schema}.effects (saga_id text, action text)`);
});

afterAll(async () => {
  await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await pool.end();
});

/** `entered` is told when a handler has begun (its effect written, not yet committed). */
function handling(
  entered: () => void = () => undefined,
): CommandHandling & { stats: ParticipantStats } {
  /** Records its effect, then takes its time, as a handler calling a slow service does. */
  const slowly =
    (action: string) =>
    async (
      _payload: Record<string, unknown>,
      { client, command }: { client: pg.PoolClient; command: SagaCommand },
    ) => {
      await client.query(`INSERT INTO ${schema}.effects VALUES ($1, $2)`, [command.sagaId, action]);
      entered();
      await new Promise((resolve) => setTimeout(resolve, HANDLER_MS));
      return {};
    };
  return {
    name: "payment",
    pool,
    store,
    handlers: { Charge: slowly("charge"), Refund: slowly("refund") },
    fallback: undefined,
    breakers: new CircuitBreakers(),
    stats: {
      succeeded: 0,
      refused: 0,
      failed: 0,
      duplicates: 0,
      nothingToUndo: 0,
      deadLettered: 0,
    },
    logger: createLogger("silent", "test"),
  };
}

function command(sagaId: string, action: StepAction, round = 0): SagaCommand {
  return {
    round,
    sagaId,
    sagaType: "order",
    version: 1,
    step: "charge",
    action,
    attempt: 1,
    type: action === StepAction.Do ? "Charge" : "Refund",
    payload: {},
  };
}

async function effects(sagaId: string): Promise<string[]> {
  const { rows } = await pool.query<{ action: string }>(
    `SELECT action FROM ${schema}.effects WHERE saga_id = $1 ORDER BY action`,
    [sagaId],
  );
  return rows.map((r) => r.action);
}

const noReply = () => Promise.resolve(false);

describe("participant deduplication under concurrent deliveries", () => {
  it("runs a command delivered twice at once only once, both deliveries answering alike", async () => {
    const h = handling();
    const sagaId = uniqueName("twice");
    const [first, second] = await Promise.all([
      handleCommand(h, command(sagaId, StepAction.Do), noReply),
      handleCommand(h, command(sagaId, StepAction.Do), noReply),
    ]);
    expect(await effects(sagaId)).toEqual(["charge"]);
    expect([first.outcome, second.outcome]).toEqual([Outcome.Success, Outcome.Success]);
    expect(h.stats).toMatchObject({ succeeded: 1, duplicates: 1 });
  });

  it("compensates a command whose compensation arrived while it ran (never 'nothing to undo' over a success)", async () => {
    let inside: () => void = () => undefined;
    const doInside = new Promise<void>((resolve) => (inside = resolve));
    const h = handling(() => {
      inside();
    });
    const sagaId = uniqueName("undo_during_do");
    const doing = handleCommand(h, command(sagaId, StepAction.Do), noReply);
    await doInside; // the do runs its handler: the compensation arrives now
    const undoing = handleCommand(h, command(sagaId, StepAction.Undo), noReply);
    const [done, undone] = await Promise.all([doing, undoing]);
    expect(done.outcome).toBe(Outcome.Success);
    expect(undone.outcome).toBe(Outcome.Success);
    expect(await effects(sagaId)).toEqual(["charge", "refund"]); // charged, and refunded
    const { rows } = await pool.query<{ outcome: string }>(
      `SELECT outcome FROM ${store.table} WHERE key = $1`,
      [`${sagaId}/charge/do`],
    );
    expect(rows.map((r) => r.outcome)).toEqual([Outcome.Success]);
  });
});

describe("an operator's retry of a refused command", () => {
  it("runs the handler again in the next round, and answers the recorded refusal within a round", async () => {
    const h = handling();
    let refuse = true;
    h.handlers = {
      Charge: async (_payload, { client, command: c }) => {
        if (refuse) throw new CommandRefusedError("card declined");
        await client.query(`INSERT INTO ${schema}.effects VALUES ($1, 'charge')`, [c.sagaId]);
        return {};
      },
    };
    const sagaId = uniqueName("retried");
    expect((await handleCommand(h, command(sagaId, StepAction.Do), noReply)).outcome).toBe(
      Outcome.Refused,
    );
    refuse = false; // the operator fixed the cause
    const again = await handleCommand(h, command(sagaId, StepAction.Do), noReply);
    expect(again).toMatchObject({ outcome: Outcome.Refused, reason: "card declined" }); // a redelivery
    const retried = await handleCommand(h, command(sagaId, StepAction.Do, 1), noReply);
    expect(retried.outcome).toBe(Outcome.Success);
    expect(await effects(sagaId)).toEqual(["charge"]);
    // The round's success is recorded: later deliveries of any round answer it, running nothing.
    expect((await handleCommand(h, command(sagaId, StepAction.Do, 1), noReply)).outcome).toBe(
      Outcome.Success,
    );
    expect((await handleCommand(h, command(sagaId, StepAction.Do, 0), noReply)).outcome).toBe(
      Outcome.Success,
    );
    expect(await effects(sagaId)).toEqual(["charge"]);
    expect(h.stats).toMatchObject({ refused: 1, succeeded: 1, duplicates: 3 });
  });
});

describe("a saga's records, over time", () => {
  async function expiries(sagaId: string): Promise<(string | null)[]> {
    const { rows } = await pool.query<{ expires: string | null }>(
      `SELECT CASE WHEN expires_at = 'infinity' THEN 'never' ELSE 'in ' || round(extract(epoch FROM expires_at - now()) / 86400) || ' days' END AS expires
       FROM ${store.table} WHERE saga_id = $1 ORDER BY key`,
      [sagaId],
    );
    return rows.map((r) => r.expires);
  }

  it("keeps them while the saga may still send commands, and lets them expire a TTL after it ended (regression: they expired 7 days after being written, and a FAILED saga cancelled later got 'nothing to undo' for a charge that happened)", async () => {
    const h = handling();
    const sagaId = uniqueName("long_failed");
    await handleCommand(h, command(sagaId, StepAction.Do), noReply);
    expect(await expiries(sagaId)).toEqual(["never"]);
    await store.sagasEnded(pool, [sagaId]);
    expect(await expiries(sagaId)).toEqual(["in 7 days"]);
    // A command handled after its saga's end (a late delivery) expires with the others.
    await handleCommand(h, command(sagaId, StepAction.Undo), noReply);
    expect(await expiries(sagaId)).toEqual(["in 7 days", "in 7 days"]);
    await store.sagasEnded(pool, [sagaId]); // told twice: nothing changes
    expect(await expiries(sagaId)).toEqual(["in 7 days", "in 7 days"]);
  });
});
