/**
 * Keys of the saga worker's stores, built so that RocksDB's byte order serves the queries:
 * timers sort by due time (a range scan finds the due ones), the index by status and type
 * (a prefix scan lists them).
 */
import type { SagaInput } from "./events.js";
import type { SagaStatus } from "./events.js";

const SEPARATOR = "\u0000";
const DUE_DIGITS = 15; // ms since 1970 until the year 33658

export type TimerInput = Extract<SagaInput, { type: "Timeout" | "RetryDue" }>;

export interface TimerEntry {
  sagaId: string;
  input: TimerInput;
}

export function timerKey(sagaId: string, input: TimerInput): string {
  const due = String(Math.max(0, Math.floor(input.at))).padStart(DUE_DIGITS, "0");
  return [due, sagaId, input.type, input.step, input.action, String(input.attempt)].join(SEPARATOR);
}

/** The first key after every timer due at or before `time`. */
export function timersDueBy(time: number): string {
  return String(Math.floor(time) + 1).padStart(DUE_DIGITS, "0");
}

export function indexKey(status: SagaStatus, sagaType: string, sagaId: string): string {
  return [status, sagaType, sagaId].join(SEPARATOR);
}

/** The prefix of index keys for a status (and a type). */
export function indexPrefix(status: SagaStatus, sagaType?: string): string {
  return sagaType === undefined
    ? `${status}${SEPARATOR}`
    : `${status}${SEPARATOR}${sagaType}${SEPARATOR}`;
}

export function parseIndexKey(key: string): {
  status: SagaStatus;
  sagaType: string;
  sagaId: string;
} {
  const [status = "", sagaType = "", sagaId = ""] = key.split(SEPARATOR);
  return { status: status as SagaStatus, sagaType, sagaId };
}

/** A saga's history entries sort by sequence under its id: a prefix scan reads them in order. */
export function historyKey(sagaId: string, seq: number): string {
  return `${sagaId}${SEPARATOR}${String(seq).padStart(10, "0")}`;
}

export function historyPrefix(sagaId: string): string {
  return `${sagaId}${SEPARATOR}`;
}
