/**
 * A listing's pages over two partitions (SagaQueries on fakes of the runtime's narrow
 * interfaces): in index order (status, type, id), each page after the last one's cursor, every
 * saga once; version and start-time filters read the states.
 */
import { describe, expect, it } from "vitest";
import {
  listCursor,
  mergeListings,
  SagaQueries,
  type ListFilter,
  type SagaSummary,
} from "../../src/api/saga-queries.js";
import type { SagaHistoryReader } from "../../src/api/saga-history.js";
import {
  SagaIndex,
  SagaIndexes,
  SagaStatus,
  type SagaRecord,
  type SagaState,
} from "../../src/saga/index.js";
import type { StreamsApp } from "../../src/topology/index.js";

function state(status: SagaStatus, startedAt: number, version = 1): SagaState {
  return {
    sagaType: "order",
    version,
    status,
    data: {},
    steps: {},
    reason: undefined,
    cancelled: false,
    failed: undefined,
    startedAt,
    updatedAt: startedAt,
  };
}

/** States read from the fake stores. */
let reads = 0;

/** Two partitions' stores and indexes, with sagas given as [id, partition, state]. */
function queries(sagas: [string, number, SagaState][]): SagaQueries {
  const stores = new Map<number, Map<string, SagaRecord>>([
    [0, new Map()],
    [1, new Map()],
  ]);
  const indexes = new SagaIndexes();
  const byPartition = [new SagaIndex(), new SagaIndex()];
  byPartition.forEach((index, p) => {
    indexes.open(p, index);
  });
  for (const [sagaId, partition, s] of sagas) {
    stores.get(partition)?.set(sagaId, { sagaId, state: s, seq: 1 } as SagaRecord);
    byPartition[partition]?.update(sagaId, undefined, {
      status: s.status,
      sagaType: s.sagaType,
      version: s.version,
      startedAt: s.startedAt,
      dueAt: undefined,
      endedAt: undefined,
    });
  }
  const app = {
    ownedPartitions: () => [0, 1],
    localStore: (_store: string, partition: number) =>
      Promise.resolve({
        get: (id: string) => {
          reads += 1;
          return Promise.resolve(stores.get(partition)?.get(id));
        },
      }),
  } as unknown as StreamsApp;
  return new SagaQueries(app, 2, indexes, {} as SagaHistoryReader);
}

async function page(q: SagaQueries, filter: ListFilter): Promise<SagaSummary[]> {
  const merged = mergeListings([await q.list(filter)], 2, filter.limit);
  if (!("sagas" in merged)) throw new Error("partitions missing");
  return merged.sagas;
}

const sagas: [string, number, SagaState][] = [
  ["r1", 0, state(SagaStatus.Running, 10)],
  ["r2", 1, state(SagaStatus.Running, 20)],
  ["r3", 0, state(SagaStatus.Running, 30, 2)],
  ["a1", 1, state(SagaStatus.Aborted, 40)],
  ["c1", 0, state(SagaStatus.Completed, 50)],
  ["c2", 1, state(SagaStatus.Completed, 60, 2)],
];

describe("a listing's pages", () => {
  it("go through every saga once, in index order, whatever status each partition holds", async () => {
    const q = queries(sagas);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const sagasOfPage = await page(q, { limit: 2, after });
      seen.push(...sagasOfPage.map((s) => s.sagaId));
      const last = sagasOfPage.at(-1);
      if (last === undefined || sagasOfPage.length < 2) break;
      after = listCursor(last);
    }
    // ABORTED < COMPLETED < RUNNING, as their index keys sort
    expect(seen).toEqual(["a1", "c1", "c2", "r1", "r2", "r3"]);
  });

  it("filter by status, version and start time", async () => {
    const q = queries(sagas);
    const ids = async (filter: Omit<ListFilter, "limit">) =>
      (await page(q, { limit: 100, ...filter })).map((s) => s.sagaId);
    expect(await ids({ statuses: [SagaStatus.Running] })).toEqual(["r1", "r2", "r3"]);
    expect(await ids({ version: 2 })).toEqual(["c2", "r3"]);
    expect(await ids({ startedAfter: 20, startedBefore: 50 })).toEqual(["a1", "r2", "r3"]);
  });

  it("read only the states of the sagas they show: the index knows version and start", async () => {
    const q = queries(sagas);
    reads = 0;
    expect(await page(q, { limit: 100, version: 3 })).toEqual([]);
    expect(reads).toBe(0);
    expect((await q.match({ statuses: [SagaStatus.Running], version: 2 })).sagaIds).toEqual(["r3"]);
    expect(reads).toBe(0);
    await page(q, { limit: 1, startedAfter: 30 });
    expect(reads).toBeLessThanOrEqual(2); // one per partition at most
  });

  it("say each saga's version and times", async () => {
    const [first] = await page(queries(sagas), { limit: 1 });
    expect(first).toEqual({
      sagaId: "a1",
      sagaType: "order",
      status: SagaStatus.Aborted,
      version: 1,
      startedAt: new Date(40).toISOString(),
      updatedAt: new Date(40).toISOString(),
    });
  });
});
