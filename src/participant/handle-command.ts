/**
 * How a participant handles one command, in one PostgreSQL transaction: the command's record
 * in the idempotency store decides whether the handler runs at all, the handler's changes and
 * the record of its outcome commit together, and `decided` may write the reply (to an outbox)
 * in the same transaction.
 *
 * Outcomes: a handler that returns succeeds; one that throws CommandRefusedError refuses
 * (recorded; the saga compensates); any other error is transient (nothing recorded; the saga
 * retries). A compensation whose command never succeeded here succeeds without running, and
 * voids that command should it still arrive.
 */
import type pg from "pg";
import { undoOnThrow, withTransaction } from "../db/index.js";
import {
  CircuitOpenError,
  CommandRefusedError,
  CommitOutcomeUnknownError,
  toError,
} from "../errors/index.js";
import type { Logger } from "../log/index.js";
import { idempotencyKey, StepAction, type SagaCommand, type StepResult } from "../saga/index.js";
import type { CircuitBreakers } from "./circuit-breaker.js";
import { Outcome, type HandledCommand, type IdempotencyStore } from "./idempotency.js";

export interface CommandContext {
  /** Inside the transaction that records the command as handled: write your changes here. */
  client: pg.PoolClient;
  command: SagaCommand;
  /** Runs a call to `downstream` through its circuit breaker. */
  call<T>(downstream: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Sends the reply `ms` later, without holding up the partition (the effect commits now): a
   * slow acknowledgment, for demos and fault-injection tests of step timeouts.
   */
  delayReply: (ms: number) => void;
}

export type CommandHandler = (
  payload: Record<string, unknown>,
  context: CommandContext,
) => Promise<StepResult | undefined>;

export interface ParticipantStats {
  succeeded: number;
  refused: number;
  failed: number;
  duplicates: number;
  /** Compensations answered without running: their command never succeeded here. */
  nothingToUndo: number;
  deadLettered: number;
}

export interface CommandHandling {
  name: string;
  pool: pg.Pool;
  store: IdempotencyStore;
  handlers: Readonly<Record<string, CommandHandler>>;
  fallback: CommandHandler | undefined;
  breakers: CircuitBreakers;
  stats: ParticipantStats;
  logger: Logger | undefined;
}

const HANDLER_SAVEPOINT = "handler";

/** Which count of ParticipantStats a handled command adds to, once its transaction commits. */
type Tally = "succeeded" | "refused" | "failed" | "duplicates" | "nothingToUndo";

export interface HandledOnce extends HandledCommand {
  /** A failure the saga should retry (nothing was recorded). */
  transient?: true;
  /** For a transient failure: how long the saga should wait before retrying. */
  retryAfterMs?: number;
  /** `decided` wrote the reply in the transaction. */
  replied?: boolean;
  /** How much later the handler asked the reply to go (0: at once). */
  delayMs: number;
}

/**
 * Writes the reply in the transaction (to an outbox), if it does, through `defer` (sent with
 * the COMMIT); says whether it did.
 */
export type Decided = (
  defer: (statement: string) => void,
  handled: HandledCommand,
  delayMs: number,
) => Promise<boolean>;

/**
 * Runs the handler (or answers from the record) in one transaction. Throws only when it cannot
 * know whether that transaction committed (CommitOutcomeUnknownError): the caller handles the
 * command again. Each outcome is counted in `stats` once its transaction has committed.
 */
export async function handleCommand(
  h: CommandHandling,
  command: SagaCommand,
  decided: Decided,
): Promise<HandledOnce> {
  const delay = { ms: 0 };
  try {
    // One round trip opens the transaction, takes the step's lock (another member may be
    // handling the same command after a rebalance: one at a time), sets the savepoint the
    // handler's work is undone to if it throws, and looks for the command's record (after the
    // lock: each statement reads what was committed before it began).
    const key = idempotencyKey(command);
    const begin = [
      "BEGIN",
      h.store.lockStatement(command),
      `SAVEPOINT ${HANDLER_SAVEPOINT}`,
      h.store.findStatement(key),
    ].join("; ");
    const { handled, tally } = await withTransaction(
      h.pool,
      async (client, opened, defer) => {
        const earlier = h.store.found(opened.at(-1));
        const decision = await decide(h, client, defer, command, earlier, delay);
        if (decision.tally === "failed") return decision;
        const replied = await decided(defer, decision.handled, delay.ms);
        return { handled: { ...decision.handled, replied }, tally: decision.tally };
      },
      begin,
    );
    h.stats[tally] += 1;
    return { ...handled, delayMs: delay.ms };
  } catch (thrown) {
    // Its effect may have committed: answering "transient" (not done) could leave it
    // uncompensated. Handled again, the command finds its record, or runs.
    if (thrown instanceof CommitOutcomeUnknownError) throw thrown;
    h.stats.failed += 1;
    h.logger?.warn(
      { sagaId: command.sagaId, step: command.step, err: thrown },
      "command failed; the saga will retry",
    );
    // An open breaker says when it tries again: a retry before then would fail the same way.
    const retryAfterMs = thrown instanceof CircuitOpenError ? thrown.retryInMs : 0;
    return { ...transient(toError(thrown).message), retryAfterMs, delayMs: 0 };
  }
}

function transient(reason: string): HandledCommand & { transient: true } {
  return { outcome: Outcome.Refused, reason, result: {}, transient: true };
}

/**
 * What the command's outcome is, recording it (the records are written with the COMMIT);
 * throws on a transient failure. `earlier` is the command's record, if it was handled before.
 */
async function decide(
  h: CommandHandling,
  client: pg.PoolClient,
  defer: (statement: string) => void,
  command: SagaCommand,
  earlier: HandledCommand | undefined,
  delay: { ms: number },
): Promise<{ handled: HandledCommand & { transient?: true }; tally: Tally }> {
  const key = idempotencyKey(command);
  const round = command.round ?? 0;
  // A refusal holds within its round: an operator's retry (the next round) runs the handler again.
  const refusedBefore = earlier?.outcome === Outcome.Refused && (earlier.round ?? 0) < round;
  if (earlier !== undefined && !refusedBefore) {
    const handled =
      earlier.outcome === Outcome.Voided
        ? { outcome: Outcome.Refused, reason: "compensated before it ran", result: {} }
        : earlier;
    return { handled, tally: "duplicates" };
  }
  if (command.action === StepAction.Undo) {
    const doKey = idempotencyKey({ ...command, action: StepAction.Do });
    const done = await h.store.find(client, doKey);
    if (done?.outcome !== Outcome.Success) {
      if (done === undefined) {
        const voided = { outcome: Outcome.Voided, reason: "", result: {} };
        defer(h.store.recordStatement(command.sagaId, doKey, voided));
      }
      const handled = { outcome: Outcome.Success, reason: "nothing to undo", result: {} };
      defer(h.store.recordStatement(command.sagaId, key, handled));
      return { handled, tally: "nothingToUndo" };
    }
  }
  const handler = h.handlers[command.type];
  if (handler === undefined) {
    // Nothing was written: the transaction commits empty.
    const reason = `participant ${h.name} has no handler for ${command.type}: deploy one`;
    return { handled: transient(reason), tally: "failed" };
  }
  const context: CommandContext = {
    client,
    command,
    call: (downstream, fn) => h.breakers.of(downstream).run(fn),
    delayReply: (ms) => {
      delay.ms = ms;
    },
  };
  const handled = await runHandler(h, handler, command, context);
  defer(h.store.recordStatement(command.sagaId, key, { ...handled, round }));
  return { handled, tally: handled.outcome === Outcome.Success ? "succeeded" : "refused" };
}

/** The handler's outcome; its changes are undone if it throws (then the fallback may answer). */
async function runHandler(
  h: CommandHandling,
  handler: CommandHandler,
  command: SagaCommand,
  context: CommandContext,
): Promise<HandledCommand> {
  try {
    const result = await undoOnThrow(context.client, HANDLER_SAVEPOINT, () =>
      handler(command.payload, context),
    );
    return { outcome: Outcome.Success, reason: "", result: result ?? {} };
  } catch (thrown) {
    if (thrown instanceof CircuitOpenError && h.fallback !== undefined) {
      const result = await h.fallback(command.payload, context);
      return { outcome: Outcome.Success, reason: "", result: result ?? {} };
    }
    if (thrown instanceof CommandRefusedError) {
      return { outcome: Outcome.Refused, reason: thrown.message, result: {} };
    }
    throw thrown;
  }
}
