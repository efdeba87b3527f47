/**
 * The saga benchmark's per-worker throughput, recorded in `<state dir>/bench/saga.json` for
 * `sagastream capacity`: the round trip, a missing file, a damaged one, and the headline figure.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { headlineThroughput, type SagaBenchResult } from "../../src/bench/saga-bench-report.js";
import { UsageError } from "../../src/errors/index.js";
import {
  measuredThroughputFile,
  readMeasuredThroughput,
  recordMeasuredThroughput,
  type MeasuredThroughput,
} from "../../src/ops/index.js";

const root = await mkdtemp(path.join(os.tmpdir(), "measured-throughput-"));
afterAll(() => rm(root, { recursive: true, force: true }));

const measured: MeasuredThroughput = {
  sagasPerSecond: 2_914.4,
  measuredAt: "2026-12-03T10:00:00.000Z",
  guarantee: "exactly_once",
  measured: "a 3-step saga on one worker process",
};

describe("the recorded saga benchmark result", () => {
  it("is read back as written, from <state dir>/bench/saga.json", async () => {
    const stateDir = path.join(root, "round-trip");
    const file = await recordMeasuredThroughput(stateDir, measured);
    expect(file).toBe(path.join(stateDir, "bench", "saga.json"));
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(measured);
    expect(await readMeasuredThroughput(stateDir)).toEqual(measured);
  });

  it("replaces the last result", async () => {
    const stateDir = path.join(root, "replaced");
    await recordMeasuredThroughput(stateDir, measured);
    const later = { ...measured, sagasPerSecond: 3_100, measuredAt: "2026-12-04T10:00:00.000Z" };
    await recordMeasuredThroughput(stateDir, later);
    expect(await readMeasuredThroughput(stateDir)).toEqual(later);
  });

  it("is undefined when the benchmark never ran", async () => {
    expect(await readMeasuredThroughput(path.join(root, "never"))).toBeUndefined();
  });

  it("is a UsageError saying what to do when the file is not a result", async () => {
    const stateDir = path.join(root, "damaged");
    await mkdir(path.dirname(measuredThroughputFile(stateDir)), { recursive: true });
    for (const text of ["{", JSON.stringify({ ...measured, sagasPerSecond: "fast" })]) {
      await writeFile(measuredThroughputFile(stateDir), text);
      await expect(readMeasuredThroughput(stateDir)).rejects.toThrow(UsageError);
      await expect(readMeasuredThroughput(stateDir)).rejects.toThrow("--tps-per-worker");
    }
  });
});

describe("headlineThroughput: the figure the saga benchmark records", () => {
  const run = (mode: string, sagasPerSecond: number) =>
    ({ mode, sagasPerSecond }) as unknown as SagaBenchResult;
  const setup = { backlog: 20_000, partitions: 6, commitIntervalMs: undefined };
  const at = new Date("2026-12-03T10:00:00Z");

  it("is the median of the exactly-once runs, whatever ran before them", () => {
    const results = [
      run("at_least_once", 4_000),
      run("exactly_once", 2_500),
      run("exactly_once", 3_100),
      run("exactly_once", 2_900),
    ];
    expect(headlineThroughput(results, setup, at)).toMatchObject({
      sagasPerSecond: 2_900,
      guarantee: "exactly_once",
      measuredAt: "2026-12-03T10:00:00.000Z",
    });
  });

  it("is the first guarantee's when exactly-once was not measured, and none without a run", () => {
    expect(headlineThroughput([run("at_least_once", 3_000)], setup, at)?.guarantee).toBe(
      "at_least_once",
    );
    expect(headlineThroughput([], setup, at)).toBeUndefined();
  });
});
