/**
 * Making the engine's spans: their names and attributes (one list, documented in the README),
 * and spans whose parent is a traceparent header. Called only when `tracingEnabled()`.
 */
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type TimeInput,
} from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent } from "./traceparent.js";

/** Span names, one per hop of a saga's trace. */
export const SPAN = {
  /** The service's outbox insert, in its own transaction: where a saga's trace starts. */
  outboxWrite: "outbox.write",
  /** Debezium: from the outbox row's insert to the Kafka record's timestamp. */
  outboxRelay: "outbox.relay",
  /** The worker's decision on one input for one saga, until its Kafka transaction commits. */
  sagaDecision: "saga.decide",
  /** A command the decision sends, until the transaction that sends it commits. */
  sagaCommand: "saga.command",
  /** The saga reaching an end status, until that decision commits. */
  sagaEnd: "saga.end",
  /** A participant handling one command: its transaction, its handler, its reply. */
  participantHandle: "participant.handle",
  /** The participant's reply, until it is sent (or committed to its outbox). */
  participantReply: "participant.reply",
} as const;

/** Attribute keys: the messaging conventions where they fit, the engine's own otherwise. */
export const ATTR = {
  sagaId: "sagastream.saga.id",
  sagaType: "sagastream.saga.type",
  sagaVersion: "sagastream.saga.version",
  sagaStatus: "sagastream.saga.status",
  sagaDurationMs: "sagastream.saga.duration_ms",
  input: "sagastream.input",
  events: "sagastream.decision.events",
  rejected: "sagastream.decision.rejected",
  step: "sagastream.step",
  action: "sagastream.step.action",
  attempt: "sagastream.step.attempt",
  participant: "sagastream.participant",
  commandType: "sagastream.command.type",
  outcome: "sagastream.reply.outcome",
  retriable: "sagastream.reply.retriable",
  replyDelayMs: "sagastream.reply.delay_ms",
  aggregateType: "sagastream.outbox.aggregate_type",
  aggregateId: "sagastream.outbox.aggregate_id",
  eventType: "sagastream.outbox.event_type",
  outboxTable: "sagastream.outbox.table",
  messageId: "messaging.message.id",
  conversationId: "messaging.message.conversation_id",
  system: "messaging.system",
  destination: "messaging.destination.name",
  partition: "messaging.destination.partition.id",
  offset: "messaging.kafka.offset",
} as const;

export { SpanKind };

const tracer = () => trace.getTracer("sagastream");

/** The context a span whose parent is `traceparent` starts in (`fallback` if there is none). */
export function parentFrom(traceparent: string | undefined, fallback: Context = ROOT_CONTEXT) {
  const parent = parseTraceparent(traceparent);
  return parent === undefined ? fallback : trace.setSpanContext(ROOT_CONTEXT, parent);
}

/** The context of `span`, for its children. */
export function contextOf(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/** The traceparent that makes the receiver's spans children of `span`. */
export function traceparentOf(span: Span): string {
  return formatTraceparent(span.spanContext());
}

export interface SpanStart {
  kind: SpanKind;
  parent: Context;
  attributes?: Attributes | undefined;
  startTime?: TimeInput | undefined;
}

export function startSpan(name: string, start: SpanStart): Span {
  const options: SpanOptions = { kind: start.kind };
  if (start.attributes !== undefined) options.attributes = start.attributes;
  if (start.startTime !== undefined) options.startTime = start.startTime;
  return tracer().startSpan(name, options, start.parent);
}

/** Ends `span` as failed with `error`. */
export function endFailed(span: Span, error: unknown, endTime?: TimeInput): void {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end(endTime);
}

/** The active context: a service's own span (its SDK's context manager), else the root. */
export function activeContext(): Context {
  return context.active();
}
