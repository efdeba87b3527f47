/**
 * Queries over the sagas a worker owns: one saga with its history, or a list by status and
 * type from the status index. They read the worker's local stores; the HTTP layer routes a
 * query for a saga owned elsewhere to its owner.
 */
import { partitionForKey, type StreamsApp } from "../topology/index.js";
import { countOf } from "../util/index.js";
import {
  historyPrefix,
  indexPrefix,
  SAGA_STORES,
  SagaStatus,
  parseIndexKey,
  type SagaEvent,
  type SagaRecord,
} from "../saga/index.js";

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
  history?: { seq: number; event: SagaEvent }[];
}

export interface SagaSummary {
  sagaId: string;
  sagaType: string;
  status: SagaStatus;
}

export const ALL_STATUSES = Object.values(SagaStatus);

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
  ) {}

  partitionOf(sagaId: string): number {
    return partitionForKey(Buffer.from(sagaId), this.partitions);
  }

  /** The saga, when its partition is open here and it knows the saga. */
  async get(sagaId: string): Promise<{ placement: Placement; saga: SagaView | undefined }> {
    const partition = this.partitionOf(sagaId);
    const sagas = await this.app.localStore<string, SagaRecord>(SAGA_STORES.sagas, partition);
    if (sagas === undefined) {
      const assigned = this.app.ownedPartitions().includes(partition);
      return { placement: assigned ? "opening" : "elsewhere", saga: undefined };
    }
    const record = await sagas.get(sagaId);
    if (record === undefined) return { placement: "here", saga: undefined };
    const history: { seq: number; event: SagaEvent }[] = [];
    const decisions = await this.app.localStore<string, SagaEvent[]>(
      SAGA_STORES.history,
      partition,
    );
    if (decisions !== undefined) {
      // One entry per decision, keyed by the seq of its first event.
      for await (const [key, events] of decisions.prefix(historyPrefix(sagaId))) {
        const first = Number(key.slice(historyPrefix(sagaId).length));
        events.forEach((event, i) => history.push({ seq: first + i, event }));
      }
    }
    return { placement: "here", saga: { ...view(record), history } };
  }

  /**
   * Sagas on this worker's open partitions, by status (all when none) and type, up to
   * `limit`. `served` names the partitions read in full (none is skipped silently: the
   * caller decides whether a listing missing some is an answer).
   */
  async list(filter: { status?: SagaStatus; type?: string; limit: number }): Promise<LocalListing> {
    const statuses = filter.status === undefined ? ALL_STATUSES : [filter.status];
    const sagas: SagaSummary[] = [];
    const served: number[] = [];
    for (const partition of this.app.ownedPartitions()) {
      const index = await this.app.localStore<string, string>(SAGA_STORES.index, partition);
      if (index === undefined) continue;
      for (const status of statuses) {
        for await (const [key] of index.prefix(indexPrefix(status, filter.type))) {
          sagas.push(parseIndexKey(key));
          if (sagas.length >= filter.limit) return { sagas, served };
        }
      }
      served.push(partition);
    }
    return { sagas, served };
  }

  /** How many sagas this worker holds in each status. */
  async countByStatus(): Promise<Map<SagaStatus, number>> {
    const counts = new Map<SagaStatus, number>(ALL_STATUSES.map((s) => [s, 0]));
    for (const partition of this.app.ownedPartitions()) {
      const index = await this.app.localStore<string, string>(SAGA_STORES.index, partition);
      if (index === undefined) continue;
      for (const status of ALL_STATUSES) {
        const count = await countOf(index.prefix(indexPrefix(status)));
        counts.set(status, (counts.get(status) ?? 0) + count);
      }
    }
    return counts;
  }
}

/**
 * The workers' listings as one, sorted by saga id, up to `limit`; or the partitions none of
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
  return { sagas: sagas.sort((a, b) => a.sagaId.localeCompare(b.sagaId)).slice(0, limit) };
}

function view(record: SagaRecord): SagaView {
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
