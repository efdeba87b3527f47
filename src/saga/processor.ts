/**
 * The saga processor: one per task, owning the sagas whose ids hash to its partition. For each
 * input (a starting domain event, a reply, an operator's request, a due timer) it loads the
 * saga's state, lets `decide` answer, and turns the events into effects: the new state and its
 * index entry in the stores, the events on the saga-events log, commands to participants, and
 * timers for timeouts and retries. The runtime commits all of it, with the input offsets, in
 * one Kafka transaction.
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
import { decide } from "./decide.js";
import type { SagaDefinition } from "./definition.js";
import type { SagaEvent, SagaInput } from "./events.js";
import {
  nameUuid,
  SAGA_HEADERS,
  type SagaCommand,
  type SagaControl,
  type SagaEventRecord,
  type SagaReply,
} from "./messages.js";
import type { SagaRegistry } from "./registry.js";
import { concludedAttempts, fold, type SagaState } from "./state.js";
import { historyKey, indexKey, timerKey, timersDueBy, type TimerEntry } from "./store-keys.js";

export const SAGA_STORES = {
  sagas: "sagas",
  timers: "saga-timers",
  index: "saga-index",
  history: "saga-history",
} as const;
export const SAGA_EVENTS_SINK = "saga-events";
export function commandSink(participant: string): string {
  return `commands-${participant}`;
}

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
  /** Timers fired per look, to keep each transaction small. */
  maxTimersPerTick: number;
  logger: Logger;
  /** Told of every saga's new events, after they are applied (for metrics). */
  observer?: SagaObserver | undefined;
}

export type SagaObserver = (
  before: SagaState | undefined,
  events: readonly SagaEvent[],
  after: SagaState,
) => void;

interface Origin {
  causationId: string | undefined;
  correlationId: string | undefined;
  traceparent: string | undefined;
}

type Context = ProcessorContext<string, SagaEventRecord | SagaCommand>;

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
  SagaEventRecord | SagaCommand
> {
  private sagas!: WritableStore<string, SagaRecord>;
  private timers!: WritableStore<string, TimerEntry>;
  private index!: WritableStore<string, string>;
  /** A saga's events, one entry per decision (keyed by its first event's seq). */
  private history!: WritableStore<string, SagaEvent[]>;
  /**
   * No timer is due before this (ms): ticks before it skip the scan of the timer store. It may
   * be early (a timer cancelled since), never late: every new timer lowers it.
   */
  private nextDueAt = 0;

  constructor(private readonly options: SagaProcessorOptions) {}

  init(context: Context): void {
    this.sagas = context.store(SAGA_STORES.sagas);
    this.timers = context.store(SAGA_STORES.timers);
    this.index = context.store(SAGA_STORES.index);
    this.history = context.store(SAGA_STORES.history);
    context.schedule(this.options.timerIntervalMs, PunctuationType.WallClock, (now) =>
      this.fireTimers(now, context),
    );
  }

  async process(record: StreamRecord<string, SagaMessage>, context: Context): Promise<void> {
    const sagaId = record.key;
    if (typeof sagaId !== "string" || sagaId === "") {
      throw new Error("a saga message needs its saga id as the record key");
    }
    const message = record.value;
    const existing = await this.sagas.get(sagaId);
    const definition =
      message.kind === "start"
        ? this.options.registry.latest(message.sagaType)
        : existing && this.definitionOf(existing.state);
    if (definition === undefined) {
      if (message.kind === "start") {
        throw new Error(`no saga "${message.sagaType}" is deployed on this worker`);
      }
      if (existing === undefined) {
        this.options.logger.warn(
          { sagaId, kind: message.kind },
          "message for an unknown saga: ignored",
        );
        return;
      }
      throw new Error(
        `saga ${existing.state.sagaType} v${existing.state.version} is not deployed on this worker: ` +
          "keep every version with instances in flight deployed",
      );
    }
    // Inputs are timed when processed, not when produced: a step's timeout must count from
    // when its command actually left, however far behind the task was.
    const at = context.currentSystemTimeMs();
    await this.apply(context, sagaId, existing, definition, inputOf(message, at), {
      causationId: header(record.headers, SAGA_HEADERS.messageId),
      correlationId: header(record.headers, SAGA_HEADERS.correlationId),
      traceparent: header(record.headers, SAGA_HEADERS.traceparent),
    });
  }

  private definitionOf(state: SagaState): SagaDefinition<unknown> | undefined {
    return this.options.registry.version(state.sagaType, state.version);
  }

  private async apply(
    context: Context,
    sagaId: string,
    existing: SagaRecord | undefined,
    definition: SagaDefinition<unknown>,
    input: SagaInput,
    origin: Origin,
  ): Promise<void> {
    const decision = decide(definition, sagaId, existing?.state, input);
    if ("rejected" in decision) {
      this.options.logger.debug(
        { sagaId, input: input.type, reason: decision.rejected },
        "input rejected",
      );
      return;
    }
    const { events } = decision;
    const state = fold(events, existing?.state);
    if (state === undefined) return;
    const record: SagaRecord = {
      sagaId,
      state,
      seq: (existing?.seq ?? 0) + events.length,
      correlationId: existing?.correlationId ?? origin.correlationId ?? sagaId,
      traceparent: existing?.traceparent ?? origin.traceparent,
    };
    this.sagas.put(sagaId, record);
    this.options.observer?.(existing?.state, events, state);
    // A timeout that can no longer matter is dropped now, not fired later to be ignored.
    for (const { step, action, attempt, timeoutAt } of concludedAttempts(existing?.state, state)) {
      this.timers.delete(
        timerKey(sagaId, { type: "Timeout", at: timeoutAt, step, action, attempt }),
      );
    }
    if (existing?.state.status !== state.status) {
      if (existing !== undefined) {
        this.index.delete(indexKey(existing.state.status, existing.state.sagaType, sagaId));
      }
      this.index.put(indexKey(state.status, state.sagaType, sagaId), "");
    }
    const headers = (messageId: string, causationId: string | undefined): Headers => {
      const h: Headers = {
        [SAGA_HEADERS.messageId]: Buffer.from(messageId),
        [SAGA_HEADERS.sagaId]: Buffer.from(sagaId),
        [SAGA_HEADERS.sagaType]: Buffer.from(state.sagaType),
        [SAGA_HEADERS.sagaVersion]: Buffer.from(String(state.version)),
        [SAGA_HEADERS.correlationId]: Buffer.from(record.correlationId),
      };
      if (causationId !== undefined) h[SAGA_HEADERS.causationId] = Buffer.from(causationId);
      if (record.traceparent !== undefined) {
        h[SAGA_HEADERS.traceparent] = Buffer.from(record.traceparent);
      }
      return h;
    };
    this.history.put(historyKey(sagaId, record.seq - events.length + 1), [...events]);
    for (const [i, event] of events.entries()) {
      const seq = record.seq - events.length + i + 1;
      const eventId = nameUuid(`${sagaId}#${seq}`);
      await context.forward(
        {
          key: sagaId,
          value: { sagaId, seq, event },
          timestamp: event.at,
          headers: headers(eventId, origin.causationId),
        },
        SAGA_EVENTS_SINK,
      );
      if (event.type === "CommandIssued") {
        const command: SagaCommand = {
          sagaId,
          sagaType: state.sagaType,
          version: state.version,
          step: event.step,
          action: event.action,
          attempt: event.attempt,
          type: event.command.type,
          payload: event.command.payload,
        };
        const commandId = nameUuid(`${sagaId}/${event.step}/${event.action}/${event.attempt}`);
        await context.forward(
          {
            key: sagaId,
            value: command,
            timestamp: event.at,
            headers: headers(commandId, eventId),
          },
          commandSink(event.participant),
        );
        this.schedule(sagaId, {
          type: "Timeout",
          at: event.timeoutAt,
          step: event.step,
          action: event.action,
          attempt: event.attempt,
        });
      } else if (event.type === "RetryScheduled") {
        this.schedule(sagaId, {
          type: "RetryDue",
          at: event.retryAt,
          step: event.step,
          action: event.action,
          attempt: event.attempt,
        });
      }
    }
  }

  private schedule(sagaId: string, input: TimerEntry["input"]): void {
    this.timers.put(timerKey(sagaId, input), { sagaId, input });
    this.nextDueAt = Math.min(this.nextDueAt, input.at);
  }

  /** Fires the timers due by `now`, each timed `now` (a late punctuation must not shorten the next deadline). */
  private async fireTimers(now: number, context: Context): Promise<void> {
    if (now < this.nextDueAt) return;
    let fired = 0;
    let next = Number.POSITIVE_INFINITY; // the first timer left, unless the tick's budget ran out
    for await (const [key, timer] of this.timers.range(undefined, timersDueBy(now))) {
      if (fired >= this.options.maxTimersPerTick) {
        next = now;
        break;
      }
      fired += 1;
      this.timers.delete(key);
      const existing = await this.sagas.get(timer.sagaId);
      const definition = existing && this.definitionOf(existing.state);
      if (existing === undefined || definition === undefined) {
        this.options.logger.error(
          { sagaId: timer.sagaId, timer: timer.input },
          "timer for a saga this worker cannot run: dropped",
        );
        continue;
      }
      await this.apply(
        context,
        timer.sagaId,
        existing,
        definition,
        { ...timer.input, at: now },
        {
          causationId: undefined,
          correlationId: undefined,
          traceparent: undefined,
        },
      );
    }
    this.nextDueAt = next === now ? now : await this.firstDueAfter(now);
  }

  /** The due time of the first timer left after `now` (infinity when none). */
  private async firstDueAfter(now: number): Promise<number> {
    for await (const [, timer] of this.timers.range(timersDueBy(now))) return timer.input.at;
    return Number.POSITIVE_INFINITY;
  }
}
