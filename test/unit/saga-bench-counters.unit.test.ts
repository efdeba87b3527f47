import { describe, expect, it } from "vitest";
import { describeCounters, type WorkerCounters } from "../../src/bench/saga-bench-app.js";

const zero: WorkerCounters = {
  commits: 0,
  commitLatencyMsTotal: 0,
  recordsProcessed: 0,
  fetchWaitMs: 0,
  processMs: 0,
  backPressureMs: 0,
  fetches: 0,
  records: 0,
};

describe("describeCounters", () => {
  it("says what the worker did between two readings, per commit and as shares of the span", () => {
    const before = { ...zero, commits: 10, commitLatencyMsTotal: 100, recordsProcessed: 500 };
    const after: WorkerCounters = {
      ...zero,
      commits: 60,
      commitLatencyMsTotal: 1100,
      recordsProcessed: 5500,
      processMs: 900,
      fetchWaitMs: 100,
      backPressureMs: 230,
      fetches: 40,
      records: 5000,
    };
    expect(describeCounters(before, after, 1000)).toBe(
      "worker: 50 commits (one every 20 ms, 20 ms each on average, 100 input records each); " +
        "its loop processing 90% of the time, waiting on fetches 10%, " +
        "held back by a commit in flight 23%; 40 fetches (40/s, 125.0 records each)",
    );
  });
});
