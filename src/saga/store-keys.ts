/**
 * Keys of the saga worker's in-memory index and timer queue, built so that their sort order
 * serves the queries: the index sorts by status and type (a prefix lists them), the timer
 * queue by due time (the first key is the next timer).
 */
import type { SagaStatus } from "./events.js";

const SEPARATOR = "\u0000";
const DUE_DIGITS = 15; // ms since 1970 until the year 33658

export function timerKey(dueAt: number, sagaId: string): string {
  return `${String(Math.max(0, Math.floor(dueAt))).padStart(DUE_DIGITS, "0")}${SEPARATOR}${sagaId}`;
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
