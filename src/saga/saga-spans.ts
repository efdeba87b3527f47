/**
 * The worker's spans, made only when tracing is on (the processor holds none otherwise).
 * Per input: Debezium's hop when the record came through an outbox (its row's insert time to
 * the record's timestamp), then a decision span per saga decision, a span per command it sends
 * and one when the saga ends. Outgoing messages carry the traceparent of their span, so the
 * participant's spans are children of the command's. Decisions, commands and ends last until
 * the Kafka transaction that carries them commits: the processor hands them over as the task
 * seals an interval and ends them when it commits (or aborts).
 */
import type { Context, Span } from "@opentelemetry/api";
import { OUTBOX_HEADERS } from "../outbox/index.js";
import type { RecordMetadata, StreamRecord } from "../topology/index.js";
import {
  ATTR,
  contextOf,
  endFailed,
  parentFrom,
  SPAN,
  SpanKind,
  startSpan,
  traceparentOf,
} from "../tracing/index.js";
import { SagaStatus, TERMINAL_STATUSES, type SagaEvent, type SagaInput } from "./events.js";
import { SAGA_HEADERS, type SagaCommand } from "./messages.js";
import { participantOfSink, SAGA_EVENTS_SINK, type Outgoing } from "./outgoing.js";
import type { Origin, SagaRecord } from "./processor.js";
import type { SagaState } from "./state.js";

/** The statuses a saga.end span marks (FAILED too: it waits for an operator). */
const ENDS = new Set<SagaStatus>([...TERMINAL_STATUSES, SagaStatus.Failed]);

/** The input in hand: its origin, the context its decisions start in, and when it began. */
interface Current {
  origin: Origin;
  parent: Context;
  startedAt: number;
  metadata: RecordMetadata | undefined;
}

export class SagaSpans {
  /** Spans of the input in hand; kept if it is processed, failed if it throws. */
  private unit: Span[] = [];
  /** Spans of the inputs processed since the task last sealed an interval. */
  private open: Span[] = [];
  /** Spans of the sealed interval, whose transaction is in flight. */
  private sealed: Span[] = [];
  private current: Current | undefined;

  /**
   * A record's processing begins; `origin` is read from its headers. Through an outbox, the
   * record names when its row was inserted: Debezium's hop is a span of its own, ended at once.
   */
  beginRecord(
    record: StreamRecord<string, unknown>,
    metadata: RecordMetadata | undefined,
    origin: Origin,
  ): void {
    const startedAt = Date.now();
    let parent = parentFrom(origin.traceparent);
    const insertedAt = Date.parse(record.headers[OUTBOX_HEADERS.createdAt]?.toString() ?? "");
    if (!Number.isNaN(insertedAt)) {
      const relay = startSpan(SPAN.outboxRelay, {
        kind: SpanKind.INTERNAL,
        parent,
        attributes: { ...messaging(metadata), [ATTR.messageId]: origin.causationId },
        startTime: Math.min(insertedAt, record.timestamp),
      });
      relay.end(record.timestamp);
      parent = contextOf(relay);
    }
    this.current = { origin, parent, startedAt, metadata };
  }

  /** A decision on `input` for the saga begins (`existing` is its record, if it has one). */
  decision(
    sagaId: string,
    sagaType: string,
    input: SagaInput,
    origin: Origin,
    existing: SagaRecord | undefined,
  ): Span {
    const ofRecord = this.current !== undefined && this.current.origin === origin;
    const span = startSpan(SPAN.sagaDecision, {
      kind: ofRecord ? SpanKind.CONSUMER : SpanKind.INTERNAL,
      // Timers and parked inputs have no record in hand: a child of their own origin, else
      // of the saga's (the outbox write that started it).
      parent:
        ofRecord && this.current !== undefined
          ? this.current.parent
          : parentFrom(origin.traceparent ?? existing?.traceparent),
      attributes: {
        [ATTR.sagaId]: sagaId,
        [ATTR.sagaType]: sagaType,
        [ATTR.input]: input.type,
        ...(ofRecord ? messaging(this.current?.metadata) : {}),
        ...(origin.causationId === undefined ? {} : { [ATTR.messageId]: origin.causationId }),
      },
      startTime: ofRecord ? this.current?.startedAt : undefined,
    });
    this.unit.push(span);
    return span;
  }

  /** The decision was refused (a late reply, a stale timer): it sends nothing. */
  rejected(span: Span, reason: string): void {
    span.setAttribute(ATTR.rejected, reason);
  }

  /**
   * The decision took the saga to `state` with `events` and sends `outgoing`: each message
   * gets its own span's traceparent (the saga-events record the decision's).
   */
  decided(
    span: Span,
    sagaId: string,
    before: SagaState | undefined,
    state: SagaState,
    events: readonly SagaEvent[],
    outgoing: readonly Outgoing[],
  ): void {
    span.setAttributes({
      [ATTR.sagaVersion]: state.version,
      [ATTR.sagaStatus]: state.status,
      [ATTR.events]: events.length,
    });
    const parent = contextOf(span);
    for (const { sink, record } of outgoing) {
      if (sink === SAGA_EVENTS_SINK) {
        record.headers[SAGA_HEADERS.traceparent] = Buffer.from(traceparentOf(span));
        continue;
      }
      const command = record.value as SagaCommand;
      const sent = startSpan(SPAN.sagaCommand, {
        kind: SpanKind.PRODUCER,
        parent,
        attributes: {
          [ATTR.sagaId]: command.sagaId,
          [ATTR.sagaType]: command.sagaType,
          [ATTR.participant]: participantOfSink(sink),
          [ATTR.commandType]: command.type,
          [ATTR.step]: command.step,
          [ATTR.action]: command.action,
          [ATTR.attempt]: command.attempt,
          [ATTR.messageId]: record.headers[SAGA_HEADERS.messageId]?.toString(),
        },
      });
      record.headers[SAGA_HEADERS.traceparent] = Buffer.from(traceparentOf(sent));
      this.unit.push(sent);
    }
    if (ENDS.has(state.status) && before?.status !== state.status) {
      const end = startSpan(SPAN.sagaEnd, {
        kind: SpanKind.INTERNAL,
        parent,
        attributes: {
          [ATTR.sagaId]: sagaId,
          [ATTR.sagaType]: state.sagaType,
          [ATTR.sagaStatus]: state.status,
          [ATTR.sagaDurationMs]: state.updatedAt - state.startedAt,
        },
      });
      this.unit.push(end);
    }
  }

  /** The input in hand was processed: its spans go with the next commit. */
  accept(): void {
    for (const span of this.unit) this.open.push(span);
    this.unit.length = 0;
    this.current = undefined;
  }

  /** The input in hand threw: it is rolled back, and its spans end as failed. */
  reject(error: unknown): void {
    for (const span of this.unit) endFailed(span, error);
    this.unit.length = 0;
    this.current = undefined;
  }

  /** The task sealed an interval: the spans so far go with its transaction. */
  sealedInterval(): void {
    this.sealed = this.open;
    this.open = [];
  }

  /** The sealed interval's transaction committed: its messages are out. */
  committed(): void {
    for (const span of this.sealed) span.end();
    this.sealed = [];
  }

  /** It aborted: nothing of it was sent (the inputs are processed again). */
  aborted(): void {
    for (const span of this.sealed) endFailed(span, "the transaction aborted");
    for (const span of this.open) endFailed(span, "the transaction aborted");
    this.sealed = [];
    this.open = [];
  }

  /** The task closed: what it had not committed is lost with it. */
  closed(): void {
    this.aborted();
  }
}

function messaging(metadata: RecordMetadata | undefined) {
  if (metadata === undefined) return {};
  return {
    [ATTR.system]: "kafka",
    [ATTR.destination]: metadata.topic,
    [ATTR.partition]: String(metadata.partition),
    [ATTR.offset]: Number(metadata.offset),
  };
}
