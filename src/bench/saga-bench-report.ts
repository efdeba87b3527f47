/** The saga benchmark's report: its table of throughput and latency, records per saga, memory. */
import type { MeasuredThroughput } from "../ops/index.js";
import { ProcessingGuarantee } from "../topology/index.js";
import { formatTable } from "../util/index.js";
import { profileReport, type ProfileSummary } from "./cpu-profile.js";
import { spread } from "./drain.js";
import type { MachineReading } from "./host-speed.js";
import { perSaga, type RecordCounts } from "./saga-bench-traffic.js";

/** One guarantee's run. */
export interface SagaBenchResult {
  mode: string;
  sagasPerSecond: number;
  /** The machine during the drain (steal, host probe). */
  machine: MachineReading;
  latency: { rate: number; p50: number; p99: number; machine: MachineReading }[];
  records: RecordCounts;
  profile: ProfileSummary | undefined;
}

/** The worker's growth with the memory phase's sagas in flight, MB. */
export interface ActiveMemory {
  /** What the worker holds: RSS once V8 returned the pages it pooled. */
  rssMb: number;
  /** RSS after an ordinary GC: with the pages V8 pooled at the height of the burst. */
  rssPooledMb: number;
  heapMb: number;
  /** Buffers and other memory V8 tracks outside its heap. */
  externalMb: number;
}

export interface SagaBenchSetup {
  backlog: number;
  /** Sagas in flight in the memory phase. */
  active: number;
  /** The bench's topics' partitions. */
  partitions: number;
  /** Partitions in the whole cluster before the run. */
  clusterPartitions: number;
  commitIntervalMs: number | undefined;
}

const percent = (value: number | undefined) => (value === undefined ? "?" : `${value.toFixed(0)}%`);
const ms = (value: number | undefined) => (value === undefined ? "?" : value.toFixed(1));

export function sagaBenchReport(
  results: readonly SagaBenchResult[],
  memory: ActiveMemory | undefined,
  setup: SagaBenchSetup,
): string {
  const { backlog, active, partitions, clusterPartitions, commitIntervalMs } = setup;
  const rows = results.flatMap((r) =>
    r.latency.map((l, i) => [
      i === 0 ? r.mode : "",
      i === 0 ? r.sagasPerSecond.toFixed(0) : "",
      i === 0 ? percent(r.machine.steal) : "",
      i === 0 ? ms(r.machine.host) : "",
      String(l.rate),
      l.p50.toFixed(0),
      l.p99.toFixed(0),
      percent(l.machine.steal),
      ms(l.machine.host),
    ]),
  );
  const profiles = results.map((r) => (r.profile ? profileReport(r.mode, r.profile) : ""));
  const throughput =
    results.length === 0
      ? ""
      : `throughput draining ${backlog} sagas, latency at steady rates` +
        `${commitIntervalMs === undefined ? "" : `, commit interval ${commitIntervalMs} ms`}\n` +
        "(steal: the CPU the hypervisor gave other guests meanwhile; host: the CPU ms a fixed " +
        "piece of work took meanwhile on a thread of its own, which rises when the host runs " +
        "this VM slower without stealing from it; figures fall as either rises)\n" +
        `${formatTable(["mode", "drained sagas/s", "steal", "host", "at sagas/s", "p50 ms", "p99 ms", "steal", "host"], rows)}\n\n` +
        results
          .map((r) => `records produced per saga, ${r.mode}: ${perSaga(r.records)}\n`)
          .join("");
  return (
    `\nsaga benchmark: 3-step saga, one worker process, ${partitions} partitions, echo participants, ` +
    `on a cluster of ${clusterPartitions} partitions (figures fall as the local stack gathers ` +
    `topics: each run deletes its own, \`sagastream stack down --purge\` empties the stack); ` +
    throughput +
    (memory === undefined
      ? ""
      : `memory with ${active} active sagas (waiting on step one): ` +
        `RSS per active saga ${((memory.rssMb * 1024) / active).toFixed(2)} KB ` +
        `(worker RSS +${memory.rssMb.toFixed(0)} MB: JS heap +${memory.heapMb.toFixed(0)} MB, ` +
        `buffers +${memory.externalMb.toFixed(0)} MB, the rest native; measured after a last-resort GC, ` +
        `which returns the pages V8 pools for reuse, as it does when its heap nears its limit); ` +
        `after an ordinary GC, with those pages: RSS +${memory.rssPooledMb.toFixed(0)} MB, ` +
        `${((memory.rssPooledMb * 1024) / active).toFixed(2)} KB per saga\n`) +
    profiles.join("")
  );
}

/**
 * The figure `sagastream capacity` plans with: the median drained sagas/s of the exactly-once
 * runs (the runtime's default guarantee; one run unless `--guarantee` repeats it), else of the
 * first guarantee measured. Undefined when nothing was drained (`--only-memory`).
 */
export function headlineThroughput(
  results: readonly SagaBenchResult[],
  setup: Pick<SagaBenchSetup, "backlog" | "partitions" | "commitIntervalMs">,
  measuredAt: Date,
): MeasuredThroughput | undefined {
  const guarantee = results.some((r) => r.mode === ProcessingGuarantee.ExactlyOnce)
    ? ProcessingGuarantee.ExactlyOnce
    : results[0]?.mode;
  if (guarantee === undefined) return undefined;
  const runs = results.filter((r) => r.mode === guarantee).map((r) => r.sagasPerSecond);
  return {
    sagasPerSecond: spread(runs).median,
    measuredAt: measuredAt.toISOString(),
    guarantee,
    measured:
      `a 3-step saga on one worker process with echo participants, ${setup.partitions} partitions, ` +
      `a backlog of ${setup.backlog} sagas drained${setup.commitIntervalMs === undefined ? "" : `, commit interval ${setup.commitIntervalMs} ms`}; ` +
      `median of ${runs.length} run(s)`,
  };
}
