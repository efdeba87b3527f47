import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import { Serdes } from "../../src/state/index.js";
import { TopologyBuilder } from "../../src/topology/index.js";
import type { ActiveTask } from "../../src/topology/active-task.js";
import { CommitPipeline } from "../../src/topology/commit-pipeline.js";
import type { CommittedRecord } from "../../src/topology/committed-records.js";
import { RegistryUnavailableError } from "../../src/errors/index.js";
import { AppMetrics, StuckPartitions } from "../../src/topology/metrics.js";
import type { FetchedPartition, PartitionFetcher } from "../../src/topology/partition-fetcher.js";
import { StreamThread } from "../../src/topology/stream-thread.js";
import type { TaskManager } from "../../src/topology/task-manager.js";
import { waitUntil } from "../../src/util/index.js";

const TOPIC = "in";
const topology = new TopologyBuilder()
  .source("in", { topics: [TOPIC], keySerde: Serdes.string, valueSerde: Serdes.string })
  .build();

function record(i: number): CommittedRecord {
  return {
    offset: BigInt(i),
    key: Buffer.from(`k${i}`),
    value: Buffer.from("v"),
    timestamp: 0,
    headers: {},
  };
}

/** One task on partition 0 that logs what the loop asks of it. */
function fakeTask(log: string[], onProcessed: (count: number) => void) {
  let position = 0n;
  let processed = 0;
  const task = {
    id: "0_0",
    partition: 0,
    uncommitted: 0,
    positions: () => new Map([[TOPIC, position]]),
    position: () => position,
    moveTo: (_topic: string, next: bigint) => {
      position = next;
    },
    warm: (records: readonly CommittedRecord[]) => {
      log.push(`warm ${records.length} from ${records[0]?.key?.toString()}`);
      return Promise.resolve();
    },
    process: (_topic: string, r: CommittedRecord) => {
      log.push(`process ${r.key?.toString()}`);
      position = r.offset + 1n;
      onProcessed(++processed);
      return Promise.resolve();
    },
    punctuate: () => Promise.resolve(),
    seal: () => undefined,
    committed: () => Promise.resolve(),
    aborted: () => undefined,
  };
  return task as unknown as ActiveTask;
}

/** The task manager of one task, as the loop sees it. */
function fakeTasks(task: ActiveTask, uncommittedRecords: () => number): TaskManager {
  const tasks = {
    openMissing: () => undefined,
    runningTasks: () => [task],
    taskFor: () => task,
    revive: () => undefined,
    uncommittedRecords,
  };
  return tasks as unknown as TaskManager;
}

function startThread(
  fetcher: PartitionFetcher,
  tasks: TaskManager,
  commits: CommitPipeline,
  stuck = new StuckPartitions(),
): StreamThread {
  const thread = new StreamThread({
    topology,
    fetcher,
    tasks,
    commits,
    logger: createLogger("silent", "test"),
    now: Date.now,
    punctuateIntervalMs: 1000,
    maxIntervalRecords: 1000,
    onLag: () => undefined,
    loop: new AppMetrics().loop,
    stuck,
    retryBackoffMs: { first: 40, max: 80 },
  });
  thread.start();
  return thread;
}

describe("StreamThread", () => {
  it("reads the keys of each 256 fetched records into the stores before processing them", async () => {
    const log: string[] = [];
    const records = Array.from({ length: 600 }, (_, i) => record(i));
    let done: () => void = () => undefined;
    const allProcessed = new Promise<void>((resolve) => (done = resolve));
    const task = fakeTask(log, (count) => {
      if (count === records.length) done();
    });
    const tasks = fakeTasks(task, () => 0);
    let served = false;
    const fetcher: PartitionFetcher = {
      fetch: async (): Promise<FetchedPartition[]> => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (served) return [];
        served = true;
        return [{ topic: TOPIC, partition: 0, from: 0n, records, next: 600n, lastStable: 600n }];
      },
    };
    const commits = new CommitPipeline({
      sink: { commit: () => Promise.resolve(new Map()) },
      intervalMs: 20,
      now: Date.now,
      onFailed: () => undefined,
    });
    const thread = startThread(fetcher, tasks, commits);
    await allProcessed;
    await thread.stop();
    const warms = log.flatMap((line, i) => (line.startsWith("warm") ? [`${i}: ${line}`] : []));
    // Each warm comes right before the first record of its batch is processed.
    expect(warms).toEqual([
      "0: warm 256 from k0",
      "257: warm 256 from k256",
      "514: warm 88 from k512",
    ]);
    expect(log[1]).toBe("process k0");
    expect(log[258]).toBe("process k256");
    expect(log[515]).toBe("process k512");
    expect(log.filter((line) => line.startsWith("process"))).toHaveLength(600);
  });

  it("starts the next commit while the loop waits on a fetch, as soon as the one in flight settles", async () => {
    const log: string[] = [];
    let processed = 0;
    const task = fakeTask(log, (count) => (processed = count));
    let sealed = 0;
    const sealable = task as unknown as { seal: () => unknown };
    Object.defineProperty(task, "uncommitted", { get: () => processed - sealed });
    sealable.seal = () => {
      if (processed <= sealed) return undefined;
      sealed = processed;
      return { outputs: [], offsets: [], records: 1 };
    };
    const tasks = fakeTasks(task, () => processed - sealed);
    let fetchPending = false;
    let firstSettledAt = 0;
    const starts: { fetchPending: boolean; at: number }[] = [];
    const commits = new CommitPipeline({
      sink: {
        commit: async () => {
          starts.push({ fetchPending, at: Date.now() });
          await new Promise((resolve) => setTimeout(resolve, 30));
          if (firstSettledAt === 0) firstSettledAt = Date.now();
          return new Map();
        },
      },
      intervalMs: 10,
      now: Date.now,
      onFailed: () => undefined,
    });
    let served = 0;
    const fetcher: PartitionFetcher = {
      // Two records, one fetch each; then a broker that holds each fetch for its whole wait.
      fetch: async (_positions, waitMs): Promise<FetchedPartition[]> => {
        if (served < 2) {
          served += 1;
          const r = record(served - 1);
          return [
            {
              topic: TOPIC,
              partition: 0,
              from: r.offset,
              records: [r],
              next: r.offset + 1n,
              lastStable: r.offset + 1n,
            },
          ];
        }
        fetchPending = true;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        fetchPending = false;
        return [];
      },
    };
    const thread = startThread(fetcher, tasks, commits);
    await waitUntil(() => (starts.length >= 2 ? true : undefined), {
      timeoutMs: 3_000,
      intervalMs: 5,
      description: "the second commit to start",
    });
    await thread.stop();
    // The first commit took the first record; the second record waited for it to settle.
    expect(starts).toHaveLength(2);
    expect(starts[1]?.fetchPending).toBe(true);
    expect((starts[1]?.at ?? 0) - firstSettledAt).toBeLessThan(20);
  });

  it("retries a record whose registry is out of reach in place: no reopening, the partition rests meanwhile", async () => {
    const log: string[] = [];
    const task = fakeTask(log, () => undefined);
    const failures = ["registry down", "registry down"];
    const process = task.process.bind(task);
    (task as unknown as { process: typeof process }).process = (topic, r) => {
      if (r.offset === 1n && failures.length > 0) {
        log.push(`fail k1`);
        return Promise.reject(new RegistryUnavailableError(7, new Error(failures.shift())));
      }
      return process(topic, r);
    };
    let revived = 0;
    const tasks = fakeTasks(task, () => 0);
    (tasks as unknown as { revive: () => void }).revive = () => (revived += 1);
    const fetchesAt: number[] = [];
    const fetcher: PartitionFetcher = {
      // Serves the records from where the task stands, like a broker.
      fetch: async (positions): Promise<FetchedPartition[]> => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const at = positions[0]?.offset;
        if (at === undefined || at >= 3n) return [];
        fetchesAt.push(Date.now());
        const records = [0, 1, 2].filter((i) => BigInt(i) >= at).map(record);
        return [{ topic: TOPIC, partition: 0, from: at, records, next: 3n, lastStable: 3n }];
      },
    };
    const commits = new CommitPipeline({
      sink: { commit: () => Promise.resolve(new Map()) },
      intervalMs: 20,
      now: Date.now,
      onFailed: () => undefined,
    });
    const stuck = new StuckPartitions();
    const thread = startThread(fetcher, tasks, commits, stuck);
    const reasons: string[] = [];
    await waitUntil(
      () => {
        for (const s of stuck.list()) reasons.push(`${s.where}: ${s.reason}`);
        return log.includes("process k2") ? true : undefined;
      },
      { timeoutMs: 3_000, intervalMs: 2, description: "every record to be processed" },
    );
    await thread.stop();
    expect(log.filter((line) => !line.startsWith("warm"))).toEqual([
      "process k0",
      "fail k1",
      "fail k1",
      "process k1",
      "process k2",
    ]);
    expect(revived).toBe(0);
    expect(fetchesAt).toHaveLength(3);
    // Each retry waited its backoff (40 ms, then 80), with no fetch of the partition between.
    expect((fetchesAt[1] ?? 0) - (fetchesAt[0] ?? 0)).toBeGreaterThanOrEqual(38);
    expect((fetchesAt[2] ?? 0) - (fetchesAt[1] ?? 0)).toBeGreaterThanOrEqual(78);
    expect(reasons[0]).toMatch(/^in\/0: the schema registry could not be asked .*registry down/);
    expect(stuck.list()).toEqual([]); // it advanced
  });

  it("marks a partition the broker answers with an error as stuck, and rests instead of asking again at once (regression: it looked idle)", async () => {
    const log: string[] = [];
    const task = fakeTask(log, () => undefined);
    let fetches = 0;
    const fetcher: PartitionFetcher = {
      fetch: (): Promise<FetchedPartition[]> => {
        fetches += 1;
        // OFFSET_OUT_OF_RANGE (1): the position was deleted by retention; answered at once.
        return Promise.resolve([
          {
            topic: TOPIC,
            partition: 0,
            from: 0n,
            records: [],
            next: 0n,
            lastStable: 9n,
            errorCode: 1,
          },
        ]);
      },
    };
    const commits = new CommitPipeline({
      sink: { commit: () => Promise.resolve(new Map()) },
      intervalMs: 20,
      now: Date.now,
      onFailed: () => undefined,
    });
    const stuck = new StuckPartitions();
    const thread = startThread(
      fetcher,
      fakeTasks(task, () => 0),
      commits,
      stuck,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await thread.stop();
    expect(stuck.list().map((s) => [s.where, s.reason])).toEqual([
      ["in/0", "fetching at offset 0: the broker answered error code 1"],
    ]);
    expect(fetches).toBeLessThanOrEqual(4); // one per 200 ms rest, not thousands
    expect(log).toEqual([]);
  });
});
