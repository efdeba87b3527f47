/**
 * What a task knows of its sagas besides their state, kept in memory: the status index (sagas
 * by status and type, for queries and metrics) and the timer queue (each saga's next due time,
 * for the punctuator). Both are functions of the saga states, so nothing changelogs them: the
 * processor rebuilds them from the saga state store when its task opens, and updates them as
 * it writes each state. They reflect the task's writes at once, committed or not; a task
 * instance whose commit fails is discarded, and its successor rebuilds from committed state.
 */
import { BTree } from "../state/index.js";
import { TERMINAL_STATUSES, type SagaStatus } from "./events.js";
import type { SagaState } from "./state.js";
import { indexKey, indexPrefix, parseIndexKey, timerKey } from "./store-keys.js";
import { nextDueAt } from "./timers.js";

/** Where one saga stands in the index and the timer queue. */
export interface IndexEntry {
  status: SagaStatus;
  sagaType: string;
  /** The definition's version it runs on, and when it started: a listing filters on them. */
  version: number;
  startedAt: number;
  /** Its first timer's due time (undefined: none). */
  dueAt: number | undefined;
  /** When it ended (COMPLETED, ABORTED, CANCELLED; undefined: it has not). */
  endedAt: number | undefined;
}

export function indexEntry(state: SagaState | undefined): IndexEntry | undefined {
  if (state === undefined) return undefined;
  const ended = TERMINAL_STATUSES.includes(state.status);
  return {
    status: state.status,
    sagaType: state.sagaType,
    version: state.version,
    startedAt: state.startedAt,
    dueAt: nextDueAt(state),
    endedAt: ended ? state.updatedAt : undefined,
  };
}

export interface IndexedSaga {
  sagaId: string;
  sagaType: string;
  status: SagaStatus;
  version: number;
  startedAt: number;
}

/** What the status index keeps of a saga besides its key. */
interface Indexed {
  version: number;
  startedAt: number;
}

export class SagaIndex {
  /**
   * Keys `status \0 type \0 sagaId` (store-keys' indexKey): a prefix lists a status (and type).
   * Each holds the saga's version and start, so that a listing filters on them without reading
   * 100,000 states.
   */
  private readonly byStatus = new BTree<string, Indexed>();
  /** Keys `dueAt \0 sagaId`, due time zero-padded: the first key is the next timer. */
  private readonly timers = new BTree<string, undefined>();
  /** Keys `endedAt \0 sagaId` of the sagas that ended: the first key ended longest ago. */
  private readonly ended = new BTree<string, undefined>();
  private readonly counts = new Map<SagaStatus, number>();

  /** Moves a saga from its place for `before` to its place for `after` (undefined: none). */
  update(sagaId: string, before: IndexEntry | undefined, after: IndexEntry | undefined): void {
    if (before?.status !== after?.status || before?.sagaType !== after?.sagaType) {
      if (before !== undefined) {
        if (this.byStatus.delete(indexKey(before.status, before.sagaType, sagaId))) {
          this.counts.set(before.status, (this.counts.get(before.status) ?? 0) - 1);
        }
      }
      if (after !== undefined) {
        const value = { version: after.version, startedAt: after.startedAt };
        if (this.byStatus.set(indexKey(after.status, after.sagaType, sagaId), value)) {
          this.counts.set(after.status, (this.counts.get(after.status) ?? 0) + 1);
        }
      }
    } else if (
      after !== undefined &&
      (before?.version !== after.version || before.startedAt !== after.startedAt)
    ) {
      const value = { version: after.version, startedAt: after.startedAt };
      this.byStatus.set(indexKey(after.status, after.sagaType, sagaId), value);
    }
    if (before?.dueAt !== after?.dueAt) {
      if (before?.dueAt !== undefined) this.timers.delete(timerKey(before.dueAt, sagaId));
      if (after?.dueAt !== undefined) this.timers.set(timerKey(after.dueAt, sagaId), undefined);
    }
    if (before?.endedAt !== after?.endedAt) {
      if (before?.endedAt !== undefined) this.ended.delete(timerKey(before.endedAt, sagaId));
      if (after?.endedAt !== undefined) this.ended.set(timerKey(after.endedAt, sagaId), undefined);
    }
  }

  /** The sagas that ended by `time`, longest ago first, at most `limit`. */
  endedBy(time: number, limit: number): string[] {
    const ended: string[] = [];
    for (const key of this.ended.keys()) {
      if (ended.length >= limit) break;
      const entry = parseTimerKey(key);
      if (entry.dueAt > time) break;
      ended.push(entry.sagaId);
    }
    return ended;
  }

  /** The sagas with a timer due by `now`, earliest first, at most `limit`. */
  dueBy(now: number, limit: number): { sagaId: string; dueAt: number }[] {
    const due: { sagaId: string; dueAt: number }[] = [];
    for (const key of this.timers.keys()) {
      if (due.length >= limit) break;
      const timer = parseTimerKey(key);
      if (timer.dueAt > now) break;
      due.push(timer);
    }
    return due;
  }

  /** Whether the queue holds this saga's timer due at `dueAt`. */
  hasTimer(sagaId: string, dueAt: number): boolean {
    return this.timers.has(timerKey(dueAt, sagaId));
  }

  /** Takes one queue entry out (and returns how to put it back). */
  dropTimer(sagaId: string, dueAt: number): () => void {
    const key = timerKey(dueAt, sagaId);
    const had = this.timers.delete(key);
    return () => {
      if (had) this.timers.set(key, undefined);
    };
  }

  /**
   * Sagas by status (all when none) and type, in index order (status, type, id); only those
   * past the index key `after` when given (a page's cursor).
   */
  *list(status?: SagaStatus, sagaType?: string, after?: string): IterableIterator<IndexedSaga> {
    const prefix = status === undefined ? "" : indexPrefix(status, sagaType);
    const from = after !== undefined && after > prefix ? after : prefix;
    for (const [key, value] of this.byStatus.entries(from)) {
      if (!key.startsWith(prefix)) return;
      if (key === after) continue;
      const entry = parseIndexKey(key);
      if (sagaType === undefined || entry.sagaType === sagaType) yield { ...entry, ...value };
    }
  }

  count(status: SagaStatus): number {
    return this.counts.get(status) ?? 0;
  }

  /** Timers in the queue (one per saga that has any). */
  get timerCount(): number {
    return this.timers.size;
  }
}

function parseTimerKey(key: string): { sagaId: string; dueAt: number } {
  const at = key.indexOf("\u0000");
  return { dueAt: Number(key.slice(0, at)), sagaId: key.slice(at + 1) };
}

/** The index of each task open in this process, by partition: what the status API reads. */
export class SagaIndexes {
  private readonly byPartition = new Map<number, SagaIndex>();

  open(partition: number, index: SagaIndex): void {
    this.byPartition.set(partition, index);
  }

  /** Forgets `index` unless a newer instance of the task has opened meanwhile. */
  close(partition: number, index: SagaIndex): void {
    if (this.byPartition.get(partition) === index) this.byPartition.delete(partition);
  }

  get(partition: number): SagaIndex | undefined {
    return this.byPartition.get(partition);
  }
}
