/**
 * The saga processor: one per task, owning the sagas whose ids hash to its partition. For each
 * input (a starting domain event, a reply, an operator's request, a due timer) it loads the
 * saga's state, lets `decide` answer, and writes what follows: the new state in the store, one
 * record on the saga-events log with the decision's events, the commands to participants. The
 * runtime commits all of it, with the input offsets, in one Kafka transaction.
 *
 * The status index and the timers are functions of the saga states: they live in memory
 * (SagaIndex), rebuilt from the state store when the task opens, and cost no record.
 */
import type { Logger } from "../log/index.js";
import type { WritableStore } from "../state/index.js";
import {
  PunctuationType,
  type Headers,
  type Processor,
  type ProcessorContext,
  type StreamRecord,
} from "../topology/index.js";
import { decideTimerSafely } from "./decide.js";
import type { SagaDefinition } from "./definition.js";
import { DEFAULT_SAGA_LIMITS, withinLimits, type SagaLimits } from "./limits.js";
import type { SagaEvent, SagaInput } from "./events.js";
import { outgoingOf } from "./outgoing.js";
import {
  SAGA_HEADERS,
  type SagaCommand,
  type SagaControl,
  type SagaDecision,
  type SagaReply,
} from "./messages.js";
import type { SagaRegistry } from "./registry.js";
import { ParkedInputs } from "./parked-inputs.js";
import { indexEntry, SagaIndex, type SagaIndexes } from "./saga-index.js";
import { fold, type SagaState } from "./state.js";
import { timersOf } from "./timers.js";
import { SagaSpans } from "./saga-spans.js";
import { tracingEnabled } from "../tracing/index.js";

export const SAGA_STORES = { sagas: "sagas", parked: "parked" } as const;

/** A saga's stored state, with what its outgoing messages carry. */
export interface SagaRecord {
  sagaId: string;
  state: SagaState;
  /** Events in its history so far. */
  seq: number;
  correlationId: string;
  traceparent: string | undefined;
}

/** An input as the processor receives it from its sources. */
export type SagaMessage =
  | { kind: "start"; sagaType: string; data: unknown }
  | { kind: "reply"; reply: SagaReply }
  | { kind: "control"; control: SagaControl };

export interface SagaProcessorOptions {
  registry: SagaRegistry;
  /** How often due timers are looked for (wall clock). */
  timerIntervalMs: number;
  /** Sagas whose due timers fire per look, to keep each transaction small. */
  maxTimersPerTick: number;
  logger: Logger;
  /** Told of every saga's new events, after they are applied (for metrics). */
  observer?: SagaObserver | undefined;
  /** Where the task's index is published for queries while the task is open. */
  indexes?: SagaIndexes | undefined;
  /** What a saga may carry (default DEFAULT_SAGA_LIMITS). */
  limits?: Partial<SagaLimits> | undefined;
  /**
   * How long a saga that ended (COMPLETED, ABORTED, CANCELLED) stays in the store (ms,
   * default 7 days); then its state is deleted, with a tombstone in the changelog. Its history
   * stays in the saga-events log.
   */
  retentionMs?: number | undefined;
}

export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export type SagaObserver = (
  before: SagaState | undefined,
  events: readonly SagaEvent[],
  after: SagaState,
) => void;

export interface Origin {
  causationId: string | undefined;
  correlationId: string | undefined;
  traceparent: string | undefined;
}

const NO_ORIGIN: Origin = {
  causationId: undefined,
  correlationId: undefined,
  traceparent: undefined,
};

/** More due timers than this for one saga in one look means a timer that never clears. */
const MAX_TIMERS_PER_SAGA = 64;

type Context = ProcessorContext<string, SagaDecision | SagaCommand>;

function header(headers: Headers, name: string): string | undefined {
  return headers[name]?.toString();
}

function inputOf(message: SagaMessage, at: number): SagaInput {
  switch (message.kind) {
    case "start":
      return { type: "Start", at, data: message.data };
    case "reply":
      return { type: "Reply", at, ...message.reply };
    case "control":
      return message.control.type === "Cancel"
        ? { type: "Cancel", at, reason: message.control.reason }
        : { type: "Retry", at };
  }
}

export class SagaProcessor implements Processor<
  string,
  SagaMessage,
  string,
  SagaDecision | SagaCommand
> {
  private sagas!: WritableStore<string, SagaRecord>;
  private readonly index = new SagaIndex();
  private readonly parked = new ParkedInputs();
  /** Sagas with parked inputs that this worker can run: re-driven at the next ticks. */
  private redrivable: string[] = [];
  private partition: number | undefined;
  private readonly limits: SagaLimits;
  /** Only when tracing is on: off, nothing is spent on spans. */
  private readonly spans: SagaSpans | undefined;

  constructor(private readonly options: SagaProcessorOptions) {
    this.limits = { ...DEFAULT_SAGA_LIMITS, ...options.limits };
    this.spans = tracingEnabled() ? new SagaSpans() : undefined;
  }

  /** Runs after the stores are restored: rebuilds the index and the timers from the states. */
  async init(context: Context): Promise<void> {
    this.sagas = context.store(SAGA_STORES.sagas);
    for await (const [sagaId, record] of this.sagas.range()) {
      this.index.update(sagaId, undefined, indexEntry(record.state));
    }
    await this.openParked(context);
    this.partition = context.partition;
    this.options.indexes?.open(context.partition, this.index);
    context.schedule(this.options.timerIntervalMs, PunctuationType.WallClock, (now) =>
      this.fireTimers(now, context),
    );
  }

  close(): void {
    if (this.partition !== undefined) this.options.indexes?.close(this.partition, this.index);
    this.spans?.closed();
  }

  sealed(): void {
    this.spans?.sealedInterval();
  }

  committed(): void {
    this.spans?.committed();
  }

  aborted(): void {
    this.spans?.aborted();
  }

  async process(record: StreamRecord<string, SagaMessage>, context: Context): Promise<void> {
    const spans = this.spans;
    if (spans === undefined) return this.processInput(record, context);
    try {
      await this.processInput(record, context);
      spans.accept();
    } catch (error) {
      spans.reject(error);
      throw error;
    }
  }

  private async processInput(
    record: StreamRecord<string, SagaMessage>,
    context: Context,
  ): Promise<void> {
    const sagaId = record.key;
    if (typeof sagaId !== "string" || sagaId === "") {
      throw new Error("a saga message needs its saga id as the record key");
    }
    const message = withinLimits(sagaId, record.value, this.limits);
    // Inputs are timed when processed, not when produced: a step's timeout must count from
    // when its command actually left, however far behind the task was.
    const at = context.currentSystemTimeMs();
    const origin: Origin = {
      causationId: header(record.headers, SAGA_HEADERS.messageId),
      correlationId: header(record.headers, SAGA_HEADERS.correlationId),
      traceparent: header(record.headers, SAGA_HEADERS.traceparent),
    };
    this.spans?.beginRecord(record, context.metadata, origin);
    const existing = await this.sagas.get(sagaId);
    if (message.kind === "start") {
      const definition = this.options.registry.latest(message.sagaType);
      if (definition === undefined) {
        throw new Error(`no saga "${message.sagaType}" is deployed on this worker`);
      }
      await this.apply(context, sagaId, existing, definition, inputOf(message, at), origin);
      return;
    }
    if (existing === undefined) {
      this.options.logger.warn(
        { sagaId, kind: message.kind },
        "message for an unknown saga: ignored",
      );
      return;
    }
    const runner = this.options.registry.runnerOf(existing.state);
    if ("reason" in runner) {
      const { reason } = runner;
      this.options.logger.warn({ sagaId, kind: message.kind, reason }, "input parked");
      this.parked.park(sagaId, { message, origin, reason, parkedAt: at });
      return;
    }
    const { definition } = runner;
    const undo: (() => void)[] = [];
    try {
      const current = await this.redrive(context, sagaId, existing, at, undo);
      await this.apply(context, sagaId, current, definition, inputOf(message, at), origin);
    } catch (error) {
      for (const step of undo.reverse()) step();
      throw error;
    }
  }

  private definitionOf(state: SagaState): SagaDefinition<unknown> | undefined {
    const runner = this.options.registry.runnerOf(state);
    return "definition" in runner ? runner.definition : undefined;
  }

  /** Reads the parked inputs; those this worker can run are re-driven at the next ticks. */
  private async openParked(context: Context): Promise<void> {
    this.redrivable = [];
    const waiting = new Map<string, number>();
    for (const sagaId of await this.parked.open(context.store(SAGA_STORES.parked))) {
      const state = (await this.sagas.get(sagaId))?.state;
      const runner = state && this.options.registry.runnerOf(state);
      if (runner === undefined || "definition" in runner) this.redrivable.push(sagaId);
      else waiting.set(runner.reason, (waiting.get(runner.reason) ?? 0) + 1);
    }
    for (const [reason, sagas] of waiting) {
      this.options.logger.warn({ sagas, reason }, "sagas with parked inputs wait for a definition");
    }
    if (this.redrivable.length > 0) {
      this.options.logger.info({ sagas: this.redrivable.length }, "re-driving parked inputs");
    }
  }

  /** Applies the saga's parked inputs, oldest first; returns its record after them. */
  private async redrive(
    context: Context,
    sagaId: string,
    record: SagaRecord,
    at: number,
    undo: (() => void)[],
  ): Promise<SagaRecord> {
    if (!this.parked.has(sagaId)) return record;
    const definition = this.definitionOf(record.state);
    if (definition === undefined) return record;
    const taken = await this.parked.take(sagaId);
    undo.push(taken.undo);
    let current = record;
    for (const { message, origin } of taken.inputs) {
      const before = current;
      const after = await this.apply(
        context,
        sagaId,
        before,
        definition,
        inputOf(message, at),
        origin,
      );
      if (after === undefined) continue;
      undo.push(() => {
        this.index.update(sagaId, indexEntry(after.state), indexEntry(before.state));
      });
      current = after;
    }
    return current;
  }

  /**
   * Decides and writes: the state, one saga-events record, the commands; then the index. The
   * index changes last, when nothing can throw any more: a record that throws is rolled back
   * whole by the task, and the index must not keep what the store forgets. Returns the new
   * record, or undefined when the input was rejected.
   */
  private async apply(
    context: Context,
    sagaId: string,
    existing: SagaRecord | undefined,
    definition: SagaDefinition<unknown>,
    input: SagaInput,
    origin: Origin,
  ): Promise<SagaRecord | undefined> {
    const span = this.spans?.decision(sagaId, definition.name, input, origin, existing);
    const decision = decideTimerSafely(
      definition,
      sagaId,
      existing?.state,
      input,
      (reason, error) => {
        this.options.logger.error({ sagaId, err: error }, `${reason}: the saga fails`);
      },
    );
    if ("rejected" in decision) {
      // An operator's refused request is worth seeing; late replies and stale timers are not.
      const operator = input.type === "Cancel" || input.type === "Retry";
      this.options.logger[operator ? "warn" : "debug"](
        { sagaId, input: input.type, reason: decision.rejected },
        operator ? "operator request refused" : "input rejected",
      );
      if (span !== undefined) this.spans?.rejected(span, decision.rejected);
      return undefined;
    }
    const { events } = decision;
    const state = fold(events, existing?.state);
    if (state === undefined || events.length === 0) return undefined;
    const firstSeq = (existing?.seq ?? 0) + 1;
    const record: SagaRecord = {
      sagaId,
      state,
      seq: firstSeq - 1 + events.length,
      correlationId: existing?.correlationId ?? origin.correlationId ?? sagaId,
      traceparent: existing?.traceparent ?? origin.traceparent,
    };
    this.sagas.put(sagaId, record);
    const outgoing = outgoingOf(record, events, firstSeq, origin.causationId, input.at);
    if (span !== undefined)
      this.spans?.decided(span, sagaId, existing?.state, state, events, outgoing);
    for (const { sink, record: message } of outgoing) {
      await context.forward(message, sink);
    }
    this.index.update(sagaId, indexEntry(existing?.state), indexEntry(state));
    this.options.observer?.(existing?.state, events, state);
    return record;
  }

  /**
   * Fires the timers due by `now`, each timed `now` (a late punctuation must not shorten the
   * next deadline). A punctuation is one unit for the task: if it throws, the task forgets its
   * store writes and outputs, so the index changes made in it are undone here.
   */
  private async fireTimers(now: number, context: Context): Promise<void> {
    const due = this.index.dueBy(now, this.options.maxTimersPerTick);
    const undo: (() => void)[] = [];
    try {
      const redriven = this.redrivable.splice(0, this.options.maxTimersPerTick);
      undo.push(() => this.redrivable.unshift(...redriven));
      for (const sagaId of redriven) {
        const record = await this.sagas.get(sagaId);
        if (record !== undefined) await this.redrive(context, sagaId, record, now, undo);
      }
      for (const { sagaId, dueAt } of due) {
        const record = await this.sagas.get(sagaId);
        const definition = record && this.definitionOf(record.state);
        if (record === undefined || definition === undefined) {
          this.options.logger.warn(
            { sagaId, dueAt },
            "timer for a saga this worker cannot run: kept in its state, it fires once a worker that runs it opens the task",
          );
          undo.push(this.index.dropTimer(sagaId, dueAt));
          continue;
        }
        let current = record;
        for (let fired = 0; fired < MAX_TIMERS_PER_SAGA; fired++) {
          const timer = timersOf(current.state).find((t) => t.at <= now);
          if (timer === undefined) break;
          const input = { ...timer, at: now };
          const next = await this.apply(context, sagaId, current, definition, input, NO_ORIGIN);
          if (next === undefined) break;
          const [from, to] = [indexEntry(current.state), indexEntry(next.state)];
          undo.push(() => {
            this.index.update(sagaId, to, from);
          });
          current = next;
        }
        // A timer still due would fire at every look (one that `decide` rejects): drop it,
        // and any queue entry the state does not account for.
        const left = indexEntry(current.state)?.dueAt;
        if (left !== undefined && left <= now) {
          this.options.logger.warn(
            { sagaId, dueAt: left },
            "a due timer did not change its saga: dropped until the saga changes",
          );
          undo.push(this.index.dropTimer(sagaId, left));
        }
        if (left !== dueAt && this.index.hasTimer(sagaId, dueAt)) {
          undo.push(this.index.dropTimer(sagaId, dueAt));
        }
      }
      await this.archiveEnded(now, undo);
      this.spans?.accept();
    } catch (error) {
      for (const step of undo.reverse()) step();
      this.spans?.reject(error);
      throw error;
    }
  }

  /**
   * Deletes the sagas that ended longer than the retention ago, a tick's worth at a time: a
   * tombstone goes to the changelog, which compaction then empties of them, so a worker's
   * stores and restores are bounded by the sagas in flight and those ended within the
   * retention, not by the application's age. The saga-events log keeps their history.
   */
  private async archiveEnded(now: number, undo: (() => void)[]): Promise<void> {
    const retention = this.options.retentionMs ?? DEFAULT_RETENTION_MS;
    for (const sagaId of this.index.endedBy(now - retention, this.options.maxTimersPerTick)) {
      const entry = indexEntry((await this.sagas.get(sagaId))?.state);
      this.sagas.delete(sagaId);
      this.index.update(sagaId, entry, undefined);
      undo.push(() => {
        this.index.update(sagaId, undefined, entry);
      });
    }
  }
}
