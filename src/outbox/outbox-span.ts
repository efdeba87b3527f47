/**
 * The outbox write's span, where a saga's trace starts: a child of the event's traceparent, or
 * of the service's active span when it has none (its own SDK), or a new trace. The row then
 * carries this span's traceparent, so every later hop is its descendant.
 */
import {
  activeContext,
  ATTR,
  endFailed,
  parentFrom,
  SPAN,
  SpanKind,
  startSpan,
  traceparentOf,
} from "../tracing/index.js";

interface Traced {
  aggregateType: string;
  aggregateId: string;
  type: string;
  traceparent?: string | undefined;
}

/** Runs `write` with `event` carrying the span's traceparent; resolves to the message id. */
export async function tracedWrite<E extends Traced>(
  table: string,
  event: E,
  write: (event: E) => Promise<string>,
): Promise<string> {
  const span = startSpan(SPAN.outboxWrite, {
    kind: SpanKind.PRODUCER,
    parent: parentFrom(event.traceparent, activeContext()),
    attributes: {
      [ATTR.outboxTable]: table,
      [ATTR.aggregateType]: event.aggregateType,
      [ATTR.aggregateId]: event.aggregateId,
      [ATTR.eventType]: event.type,
    },
  });
  try {
    const id = await write({ ...event, traceparent: traceparentOf(span) });
    span.setAttribute(ATTR.messageId, id);
    span.end();
    return id;
  } catch (error) {
    endFailed(span, error);
    throw error;
  }
}
