/**
 * A saga's timeline from the saga-events log alone (no worker needs to run): each event with
 * its time since the start, step, attempt, the command sent and the outcome the participant
 * answered; how long each step's action took, from its first command to its outcome; and how
 * long the saga took. `sagaTimeline` is pure; `readSagaHistory` reads the one partition that
 * holds the saga.
 */
import { partitionForKey, type KafkaSettings } from "../kafka/index.js";
import { eventsOf, sagaDecisionReader, type SagaEvent } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import type { Position } from "./positions.js";
import { RangeReader } from "./range-reader.js";

export interface HistoryEvent {
  seq: number;
  event: SagaEvent;
}

export interface TimelineRow {
  seq: number;
  at: number;
  /** ms since the saga started. */
  sinceStartMs: number;
  type: SagaEvent["type"];
  step: string | undefined;
  action: string | undefined;
  attempt: number | undefined;
  detail: string;
}

export interface StepSpan {
  step: string;
  action: "do" | "undo";
  attempts: number;
  startedAt: number;
  endedAt: number | undefined;
  durationMs: number | undefined;
  outcome: "succeeded" | "failed" | "compensated" | "open";
}

export interface SagaTimeline {
  rows: TimelineRow[];
  steps: StepSpan[];
  startedAt: number | undefined;
  endedAt: number | undefined;
  /** Start to end (undefined while it runs). */
  durationMs: number | undefined;
  /** The last status event's type (SagaCompleted, SagaAborted, ...), or undefined. */
  end: SagaEvent["type"] | undefined;
}

const ENDS = new Set(["SagaCompleted", "SagaAborted", "SagaCancelled"]);

function detailOf(event: SagaEvent): string {
  switch (event.type) {
    case "SagaStarted":
      return `${event.sagaType} v${event.version}`;
    case "CommandIssued":
      return `${event.command.type} → ${event.participant}`;
    case "StepSucceeded":
      return Object.keys(event.result).length === 0 ? "" : JSON.stringify(event.result);
    case "RetryScheduled":
      return `retry at +${event.retryAt - event.at} ms: ${event.reason}`;
    case "StepFailed":
    case "CompensationStarted":
    case "SagaFailed":
      return event.reason;
    default:
      return "";
  }
}

export function sagaTimeline(history: readonly HistoryEvent[]): SagaTimeline {
  const sorted = [...history].sort((a, b) => a.seq - b.seq);
  const startedAt = sorted[0]?.event.at;
  const steps: StepSpan[] = [];
  const open = new Map<string, StepSpan>(); // `${step}/${action}`
  const close = (step: string, action: "do" | "undo", at: number, outcome: StepSpan["outcome"]) => {
    const span = open.get(`${step}/${action}`);
    if (span === undefined) return;
    open.delete(`${step}/${action}`);
    Object.assign(span, { endedAt: at, durationMs: at - span.startedAt, outcome });
  };
  let end: SagaEvent["type"] | undefined;
  let endedAt: number | undefined;
  const rows = sorted.map(({ seq, event }): TimelineRow => {
    const withStep = event as { step?: string; action?: "do" | "undo"; attempt?: number };
    switch (event.type) {
      case "CommandIssued": {
        const key = `${event.step}/${event.action}`;
        const span = open.get(key);
        if (span === undefined) {
          const opened: StepSpan = {
            step: event.step,
            action: event.action,
            attempts: 1,
            startedAt: event.at,
            endedAt: undefined,
            durationMs: undefined,
            outcome: "open",
          };
          open.set(key, opened);
          steps.push(opened);
        } else span.attempts += 1;
        break;
      }
      case "StepSucceeded":
        close(event.step, "do", event.at, "succeeded");
        break;
      case "StepFailed":
        close(event.step, "do", event.at, "failed");
        break;
      case "StepCompensated":
        close(event.step, "undo", event.at, "compensated");
        break;
      case "SagaFailed":
        close(event.step, event.action, event.at, "failed");
        end = event.type;
        break;
      default:
        if (ENDS.has(event.type)) {
          end = event.type;
          endedAt = event.at;
        }
    }
    return {
      seq,
      at: event.at,
      sinceStartMs: event.at - (startedAt ?? event.at),
      type: event.type,
      step: withStep.step,
      action: withStep.action,
      attempt: withStep.attempt,
      detail: detailOf(event),
    };
  });
  return {
    rows,
    steps,
    startedAt,
    endedAt,
    durationMs: endedAt === undefined || startedAt === undefined ? undefined : endedAt - startedAt,
    end,
  };
}

/**
 * The saga's events from its saga-events topic: only the partition its id hashes to is read,
 * from `from` (default: the log's start). A decision written twice is listed once.
 */
export async function readSagaHistory(options: {
  kafka: KafkaSettings;
  codec: AvroCodec;
  topic: string;
  sagaId: string;
  from?: Position | undefined;
}): Promise<HistoryEvent[]> {
  const reader = new RangeReader(options.kafka, {
    topic: options.topic,
    from: options.from ?? { kind: "earliest" },
    to: { kind: "latest" },
    partitions: (count) => [partitionForKey(Buffer.from(options.sagaId), count)],
  });
  const decode = sagaDecisionReader(options.codec);
  const bySeq = new Map<number, SagaEvent>();
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      if (record.value === null || record.key?.toString("utf8") !== options.sagaId) continue;
      for (const { seq, event } of eventsOf(await decode(record.value))) bySeq.set(seq, event);
    }
  } finally {
    await reader.close();
  }
  return [...bySeq].map(([seq, event]) => ({ seq, event }));
}
