/** The topology benchmark's tables: raw pipes side by side, the topology, their ratios. */
import type { ProcessingGuarantee } from "../topology/index.js";
import { formatTable } from "../util/index.js";
import { PARTITIONS, spread, type Drained } from "./drain.js";
import type { PipeClient, PipeMode } from "./raw-pipe.js";

export interface PipeRun extends Drained {
  client: PipeClient;
  mode: PipeMode;
}

export interface TopologyRun extends Drained {
  guarantee: ProcessingGuarantee;
  p50?: number;
  p99?: number;
}

interface Settings {
  records: number;
  repeat: number;
  commitIntervalMs: number;
  latency: { records: number; rate: number };
}

/** Runs grouped by a label, in first-seen order. */
function groups<R>(runs: readonly R[], label: (run: R) => string): [string, R[]][] {
  const byLabel = new Map<string, R[]>();
  for (const run of runs) byLabel.set(label(run), [...(byLabel.get(label(run)) ?? []), run]);
  return [...byLabel];
}

/** The cells every row has: median records/s, range, CPU, peak RSS, what the checks found. */
function figures(runs: readonly Drained[]): string[] {
  const rate = spread(runs.map((r) => r.recordsPerSecond));
  const cpu = spread(runs.map((r) => r.cpuMsPer1000));
  const problems = [...new Set(runs.map((r) => r.problems).filter(Boolean))];
  return [
    rate.median.toFixed(0),
    `${rate.min.toFixed(0)}–${rate.max.toFixed(0)}`,
    cpu.median.toFixed(1),
    Math.max(...runs.map((r) => r.rssMb)).toFixed(0),
    problems.length === 0 ? "ok" : problems.join("; "),
  ];
}

const FIGURES = ["records/s", "range", "CPU ms / 1000 records", "peak RSS MB", "checks"];

const median = (runs: readonly Drained[]) => spread(runs.map((r) => r.recordsPerSecond)).median;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

export function benchReport(
  pipes: readonly PipeRun[],
  topology: readonly TopologyRun[],
  restoration: { records: number; seconds: number } | undefined,
  settings: Settings,
): string {
  const pipeGroups = groups(pipes, (r) => `${r.mode} ${r.client}`);
  const pipeRows = pipeGroups.map(([, runs]) => [
    runs[0]?.client ?? "",
    runs[0]?.mode ?? "",
    ...figures(runs),
  ]);
  let text =
    `\nraw consume→produce pipes: ${PARTITIONS} partitions, ${settings.records} records drained per run, ` +
    `${settings.repeat} runs each (median, range), commit interval ${settings.commitIntervalMs} ms, ` +
    `each in a process of its own\n${formatTable(["client", "mode", ...FIGURES], pipeRows)}\n`;

  // Which client's pipe is fastest in each mode, and by how much over the next.
  for (const [mode, runs] of groups(pipes, (r) => r.mode)) {
    const ranked = groups(runs, (r) => r.client)
      .map(([client, own]) => ({ client, rate: median(own) }))
      .sort((a, b) => b.rate - a.rate);
    const [first, second] = ranked;
    if (first !== undefined && second !== undefined)
      text += `${mode}: ${first.client} is fastest, ${pct(first.rate - second.rate, second.rate)} over ${second.client}\n`;
  }

  if (topology.length === 0) return text;
  const topologyGroups = groups(topology, (r) => r.guarantee);
  const rows = topologyGroups.map(([guarantee, runs]) => {
    const timed = runs.find((r) => r.p50 !== undefined);
    return [
      `StreamsApp ${guarantee}`,
      ...figures(runs),
      timed?.p50?.toFixed(0) ?? "",
      timed?.p99?.toFixed(0) ?? "",
    ];
  });
  const { records, rate } = settings.latency;
  text +=
    `\ntopology (running total with a RocksDB store, on @platformatic/kafka as the engine uses it), the same runs; ` +
    `latency: ${records} records at ${rate}/s after the first drain\n` +
    `${formatTable(["pipeline", ...FIGURES, "p50 ms", "p99 ms"], rows)}\n`;

  const clients = groups(pipes, (r) => r.client).map(([client]) => client);
  const ratioRows = topologyGroups.map(([guarantee, runs]) => [
    guarantee,
    ...clients.map((client) => {
      const raw = pipes.filter((p) => p.client === client && p.mode === guarantee);
      return raw.length === 0 ? "" : pct(median(runs), median(raw));
    }),
  ]);
  text +=
    `\ntopology / raw pipe of each client, same mode (medians of records/s)\n` +
    `${formatTable(["topology", ...clients], ratioRows)}\n`;

  if (restoration !== undefined) {
    text +=
      `\nrestoration (${PARTITIONS} tasks at once, from their changelogs, no checkpoint): ` +
      `${restoration.records} records in ${restoration.seconds.toFixed(1)} s = ` +
      `${Math.round(restoration.records / Math.max(0.001, restoration.seconds))} records/s\n`;
  }
  return text;
}
