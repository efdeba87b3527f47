/**
 * What one decision sends, built without I/O: one saga-events record carrying the decision's
 * events, and a command per CommandIssued, each with the headers that trace it (its own id,
 * what caused it, the saga's correlation id and traceparent). Ids are derived from the saga id
 * and its sequence, so processing the same inputs again sends the same messages.
 */
import type { Headers, StreamRecord } from "../topology/index.js";
import type { SagaEvent } from "./events.js";
import {
  decisionId,
  nameUuid,
  SAGA_HEADERS,
  type SagaCommand,
  type SagaDecision,
} from "./messages.js";
import type { SagaRecord } from "./processor.js";

export const SAGA_EVENTS_SINK = "saga-events";
const COMMAND_SINK = "commands-";
export function commandSink(participant: string): string {
  return `${COMMAND_SINK}${participant}`;
}
/** The participant a command sink sends to. */
export function participantOfSink(sink: string): string {
  return sink.slice(COMMAND_SINK.length);
}

export interface Outgoing {
  sink: string;
  record: StreamRecord<string, SagaDecision | SagaCommand>;
}

/**
 * The messages of the decision that took the saga to `record` with `events`, the first of
 * them numbered `firstSeq`, at `at`; `causationId` is the id of the input that caused it.
 */
export function outgoingOf(
  record: SagaRecord,
  events: readonly SagaEvent[],
  firstSeq: number,
  causationId: string | undefined,
  at: number,
): Outgoing[] {
  const { sagaId, state } = record;
  const headers = (messageId: string, causedBy: string | undefined): Headers => {
    const h: Headers = {
      [SAGA_HEADERS.messageId]: Buffer.from(messageId),
      [SAGA_HEADERS.sagaId]: Buffer.from(sagaId),
      [SAGA_HEADERS.sagaType]: Buffer.from(state.sagaType),
      [SAGA_HEADERS.sagaVersion]: Buffer.from(String(state.version)),
      [SAGA_HEADERS.correlationId]: Buffer.from(record.correlationId),
    };
    if (causedBy !== undefined) h[SAGA_HEADERS.causationId] = Buffer.from(causedBy);
    if (record.traceparent !== undefined) {
      h[SAGA_HEADERS.traceparent] = Buffer.from(record.traceparent);
    }
    return h;
  };
  const id = decisionId(sagaId, firstSeq);
  const decisionHeaders = headers(id, causationId);
  decisionHeaders[SAGA_HEADERS.status] = Buffer.from(state.status);
  const outgoing: Outgoing[] = [
    {
      sink: SAGA_EVENTS_SINK,
      record: {
        key: sagaId,
        value: { sagaId, firstSeq, events: [...events] },
        timestamp: at,
        headers: decisionHeaders,
      },
    },
  ];
  for (const event of events) {
    if (event.type !== "CommandIssued") continue;
    const command: SagaCommand = {
      sagaId,
      sagaType: state.sagaType,
      version: state.version,
      step: event.step,
      action: event.action,
      attempt: event.attempt,
      round: state.steps[event.step]?.round ?? 0,
      type: event.command.type,
      payload: event.command.payload,
    };
    const commandId = nameUuid(`${sagaId}/${event.step}/${event.action}/${event.attempt}`);
    outgoing.push({
      sink: commandSink(event.participant),
      record: { key: sagaId, value: command, timestamp: event.at, headers: headers(commandId, id) },
    });
  }
  return outgoing;
}
