/** The saga benchmark's application: a 3-step saga, started by records on `<app>.starts`. */
import { createLogger } from "../log/index.js";
import { defineSaga, step } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { Serdes } from "../state/index.js";
import type { ProcessingGuarantee } from "../topology/index.js";
import { SagaWorker } from "../worker/index.js";

export const BENCH_PARTICIPANTS = ["alpha", "beta", "gamma"];

type BenchData = { id: string };
/** Long enough that no bench saga times out: the figures are the happy path's. */
const TIMEOUT_MS = 600_000;
const command = (type: string) => (d: BenchData) => ({ type, payload: { id: d.id } });

const benchSaga = defineSaga<BenchData>({
  name: "bench",
  version: 1,
  participants: BENCH_PARTICIPANTS,
  stages: [
    step({
      name: "step-alpha",
      participant: "alpha",
      command: command("Do"),
      compensation: command("Undo"),
      timeoutMs: TIMEOUT_MS,
    }),
    step({
      name: "step-beta",
      participant: "beta",
      command: command("Do"),
      compensation: command("Undo"),
      timeoutMs: TIMEOUT_MS,
    }),
    step({
      name: "step-gamma",
      participant: "gamma",
      command: command("Do"),
      pivot: true,
      timeoutMs: TIMEOUT_MS,
    }),
  ],
});

export interface BenchWorkerOptions {
  applicationId: string;
  brokers: string[];
  stateDir: string;
  guarantee: ProcessingGuarantee;
  partitions: number;
  /** Milliseconds between commits (the runtime's default when absent). */
  commitIntervalMs?: number | undefined;
  /** Warm copies of each task's stores on other workers (the runtime's default when absent). */
  numStandbyReplicas?: number | undefined;
  sessionTimeoutMs?: number | undefined;
  /** How long ended sagas stay in the store (the worker's default when absent). */
  retentionMs?: number | undefined;
}

export function benchStartTopic(applicationId: string): string {
  return `${applicationId}.starts`;
}

/** The bench worker's runtime counters, as it reports them (cumulative). */
export interface WorkerCounters {
  commits: number;
  commitLatencyMsTotal: number;
  recordsProcessed: number;
  fetchWaitMs: number;
  processMs: number;
  backPressureMs: number;
  fetches: number;
  records: number;
}

/** What the worker did between two readings of its counters, in a line. */
export function describeCounters(from: WorkerCounters, to: WorkerCounters, ms: number): string {
  const commits = to.commits - from.commits;
  const latency = (to.commitLatencyMsTotal - from.commitLatencyMsTotal) / Math.max(1, commits);
  const records = (to.recordsProcessed - from.recordsProcessed) / Math.max(1, commits);
  const fetches = to.fetches - from.fetches;
  const share = (part: number) => `${((100 * part) / Math.max(1, ms)).toFixed(0)}%`;
  return (
    `worker: ${commits} commits (one every ${(ms / Math.max(1, commits)).toFixed(0)} ms, ` +
    `${latency.toFixed(0)} ms each on average, ${records.toFixed(0)} input records each); ` +
    `its loop processing ${share(to.processMs - from.processMs)} of the time, ` +
    `waiting on fetches ${share(to.fetchWaitMs - from.fetchWaitMs)}, ` +
    `held back by a commit in flight ${share(to.backPressureMs - from.backPressureMs)}; ` +
    `${fetches} fetches (${((1000 * fetches) / Math.max(1, ms)).toFixed(0)}/s, ` +
    `${((to.records - from.records) / Math.max(1, fetches)).toFixed(1)} records each)`
  );
}

/** A worker running the bench saga. */
export function benchWorker(options: BenchWorkerOptions, codec: AvroCodec): SagaWorker {
  return new SagaWorker({
    applicationId: options.applicationId,
    brokers: options.brokers,
    sagas: [benchSaga],
    starts: [
      {
        topic: benchStartTopic(options.applicationId),
        saga: "bench",
        valueSerde: Serdes.json<BenchData>(),
        data: (e: BenchData) => e,
      },
    ],
    stateDir: options.stateDir,
    partitions: options.partitions,
    guarantee: options.guarantee,
    commitIntervalMs: options.commitIntervalMs,
    ...(options.numStandbyReplicas === undefined
      ? {}
      : { numStandbyReplicas: options.numStandbyReplicas }),
    ...(options.sessionTimeoutMs === undefined
      ? {}
      : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
    api: false,
    codec,
    logger: createLogger("error", options.applicationId),
  });
}
