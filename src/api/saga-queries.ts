/**
 * Queries over the sagas a worker owns: one saga with its history, or a list by status and
 * type from the status index. The state comes from the worker's local store, the index from
 * the open tasks' memory, the history from the saga-events log; the HTTP layer routes a query
 * for a saga owned elsewhere to its owner.
 */
import { partitionForKey, type StreamsApp } from "../topology/index.js";
import {
  indexKey,
  SAGA_STORES,
  SagaStatus,
  type IndexedSaga,
  type SagaIndexes,
  type SagaRecord,
} from "../saga/index.js";
import type { HistoryEntry, SagaHistoryReader } from "./saga-history.js";

export interface SagaView {
  sagaId: string;
  sagaType: string;
  version: number;
  status: SagaStatus;
  data: unknown;
  reason: string | undefined;
  steps: SagaRecord["state"]["steps"];
  startedAt: string;
  updatedAt: string;
  events: number;
  history?: HistoryEntry[];
}

export interface SagaSummary {
  sagaId: string;
  sagaType: string;
  status: SagaStatus;
  version: number;
  startedAt: string;
  updatedAt: string;
}

/** A listing's page: its filter, up to `limit` sagas, after the cursor of the last page. */
export type ListFilter = Partial<SagaFilter> & {
  limit: number;
  /** The index key of the last saga of the page before (listCursor). */
  after?: string | undefined;
};

/** Where a page ends: the index key of its last saga (listings are in index order). */
export function listCursor(saga: SagaSummary): string {
  return indexKey(saga.status, saga.sagaType, saga.sagaId);
}

export const ALL_STATUSES = Object.values(SagaStatus);

/** Which sagas an operator's batch acts on. */
export interface SagaFilter {
  statuses: readonly SagaStatus[];
  type?: string | undefined;
  version?: number | undefined;
  /** Started at or after this time (ms). */
  startedAfter?: number | undefined;
  /** Started before this time (ms). */
  startedBefore?: number | undefined;
}

/** Whether a saga the index lists passes the filter's version and start-time bounds. */
function matchesIndexed(saga: IndexedSaga, filter: Partial<SagaFilter>): boolean {
  if (filter.version !== undefined && saga.version !== filter.version) return false;
  if (filter.startedAfter !== undefined && saga.startedAt < filter.startedAfter) return false;
  return filter.startedBefore === undefined || saga.startedAt < filter.startedBefore;
}

/** Where a saga's partition is: open here, assigned here but still opening, or elsewhere. */
export type Placement = "here" | "opening" | "elsewhere";

/** A worker's part of a listing: its matches, and the partitions it read them from. */
export interface LocalListing {
  sagas: SagaSummary[];
  served: number[];
}

export class SagaQueries {
  constructor(
    private readonly app: StreamsApp,
    /** Partitions of the engine's topics (a saga's partition is the hash of its id). */
    readonly partitions: number,
    /** The status index of each task open here. */
    private readonly indexes: SagaIndexes,
    private readonly history: SagaHistoryReader,
  ) {}

  partitionOf(sagaId: string): number {
    return partitionForKey(Buffer.from(sagaId), this.partitions);
  }

  /**
   * The saga, when its partition is open here and it knows the saga; with its history (read
   * from the saga-events log) unless `history` is false.
   */
  async get(
    sagaId: string,
    options: { history?: boolean } = {},
  ): Promise<{ placement: Placement; saga: SagaView | undefined }> {
    const partition = this.partitionOf(sagaId);
    const sagas = await this.app.localStore<string, SagaRecord>(SAGA_STORES.sagas, partition);
    if (sagas === undefined) {
      const assigned = this.app.ownedPartitions().includes(partition);
      return { placement: assigned ? "opening" : "elsewhere", saga: undefined };
    }
    const record = await sagas.get(sagaId);
    if (record === undefined) return { placement: "here", saga: undefined };
    if (options.history === false) return { placement: "here", saga: sagaView(record) };
    const history = await this.history.read(sagaId, partition, {
      startedAt: record.state.startedAt,
      events: record.seq,
    });
    return { placement: "here", saga: { ...sagaView(record), history } };
  }

  /**
   * Sagas on this worker's open partitions matching `filter` (every status when it names
   * none), in index order (status, type, id) from the cursor on: up to `limit` of each
   * partition, for the caller to merge. `served` names the partitions read (none is skipped
   * silently: the caller decides whether a listing missing some is an answer). The index
   * answers the filter; only each match's state is read (for its summary), so a page costs at
   * most `limit` reads per partition, however many sagas there are.
   */
  async list(filter: ListFilter): Promise<LocalListing> {
    // In index order, so that each partition's first `limit` are the page's candidates.
    const statuses = [
      ...(filter.statuses === undefined || filter.statuses.length === 0
        ? ALL_STATUSES
        : filter.statuses),
    ].sort();
    const sagas: SagaSummary[] = [];
    const served: number[] = [];
    for (const partition of this.app.ownedPartitions()) {
      const index = this.indexes.get(partition);
      const store = await this.app.localStore<string, SagaRecord>(SAGA_STORES.sagas, partition);
      if (index === undefined || store === undefined) continue;
      let found = 0;
      for (const status of statuses) {
        for (const indexed of index.list(status, filter.type, filter.after)) {
          if (found >= filter.limit) break;
          if (!matchesIndexed(indexed, filter)) continue;
          const record = await store.get(indexed.sagaId);
          if (record === undefined) continue;
          sagas.push(summaryOf(record));
          found += 1;
        }
      }
      served.push(partition);
    }
    return { sagas, served };
  }

  /**
   * The ids of the sagas on this worker's open partitions that match `filter`, and the
   * partitions read, from the status index alone (it keeps each saga's version and start).
   */
  match(filter: SagaFilter): Promise<{ sagaIds: string[]; served: number[] }> {
    const sagaIds: string[] = [];
    const served: number[] = [];
    for (const partition of this.app.ownedPartitions()) {
      const index = this.indexes.get(partition);
      if (index === undefined) continue;
      for (const status of filter.statuses) {
        for (const indexed of index.list(status, filter.type)) {
          if (matchesIndexed(indexed, filter)) sagaIds.push(indexed.sagaId);
        }
      }
      served.push(partition);
    }
    return Promise.resolve({ sagaIds, served });
  }

  /** The partitions whose sagas this worker can answer for now (their tasks are open). */
  servedPartitions(): number[] {
    return this.app.ownedPartitions().filter((p) => this.indexes.get(p) !== undefined);
  }

  /** How many sagas this worker holds in each status. */
  countByStatus(): Promise<Map<SagaStatus, number>> {
    const counts = new Map<SagaStatus, number>(ALL_STATUSES.map((s) => [s, 0]));
    for (const partition of this.app.ownedPartitions()) {
      const index = this.indexes.get(partition);
      if (index === undefined) continue;
      for (const status of ALL_STATUSES) {
        counts.set(status, (counts.get(status) ?? 0) + index.count(status));
      }
    }
    return Promise.resolve(counts);
  }
}

/**
 * The workers' listings as one, in index order (status, type, id), up to `limit`; or the partitions none of
 * them served, when the matches fall short of `limit` (a full page is an answer even then).
 */
export function mergeListings(
  listings: readonly LocalListing[],
  partitions: number,
  limit: number,
): { sagas: SagaSummary[] } | { missing: number[] } {
  const sagas = listings.flatMap((l) => l.sagas);
  const served = new Set(listings.flatMap((l) => l.served));
  const missing = [...Array(partitions).keys()].filter((p) => !served.has(p));
  if (sagas.length < limit && missing.length > 0) return { missing };
  const keyed = sagas.map((saga) => [listCursor(saga), saga] as const);
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { sagas: keyed.slice(0, limit).map(([, saga]) => saga) };
}

function summaryOf(record: SagaRecord): SagaSummary {
  const { state } = record;
  return {
    sagaId: record.sagaId,
    sagaType: state.sagaType,
    status: state.status,
    version: state.version,
    startedAt: new Date(state.startedAt).toISOString(),
    updatedAt: new Date(state.updatedAt).toISOString(),
  };
}

/** A saga's state as the API shows it. */
export function sagaView(record: SagaRecord): SagaView {
  const { state } = record;
  return {
    sagaId: record.sagaId,
    sagaType: state.sagaType,
    version: state.version,
    status: state.status,
    data: state.data,
    reason: state.reason,
    steps: state.steps,
    startedAt: new Date(state.startedAt).toISOString(),
    updatedAt: new Date(state.updatedAt).toISOString(),
    events: record.seq,
  };
}
