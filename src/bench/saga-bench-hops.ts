/**
 * Where paced sagas spent their time, hop by hop, from what the bench's watcher saw: when each
 * start was sent, when the worker made each decision (the timestamp of its saga-events record:
 * the time its input was processed), and when the watcher read the saga's completion. Between
 * two decisions lie a commit, the participant's read, its reply and the worker's read of it.
 */
import { percentile } from "../util/index.js";

export interface SagaTimes {
  sentAt: ReadonlyMap<string, number>;
  /** Per saga, the time of each of its decisions, in order. */
  decidedAt: ReadonlyMap<string, readonly number[]>;
  completedAt: ReadonlyMap<string, number>;
}

export interface HopFigures {
  name: string;
  p50: number;
  p99: number;
  /** The hop's mean over the slowest 1% of sagas (end to end). */
  slowestMean: number;
}

/** The hops of sagas that made `decisions` decisions each; sagas seen otherwise are left out. */
export function sagaHops(
  ids: readonly string[],
  times: SagaTimes,
  decisions: number,
): HopFigures[] {
  const names = [
    "start → decision 1",
    ...Array.from({ length: decisions - 1 }, (_, i) => `decision ${i + 1} → ${i + 2}`),
    `decision ${decisions} → read`,
  ];
  const rows: number[][] = [];
  for (const id of ids) {
    const sent = times.sentAt.get(id);
    const decided = times.decidedAt.get(id);
    const completed = times.completedAt.get(id);
    if (sent === undefined || completed === undefined || decided?.length !== decisions) continue;
    const points = [sent, ...decided, completed];
    rows.push(points.slice(1).map((at, i) => at - (points[i] as number)));
  }
  if (rows.length === 0) return [];
  const total = (row: number[]) => row.reduce((sum, ms) => sum + ms, 0);
  const slowest = [...rows]
    .sort((a, b) => total(b) - total(a))
    .slice(0, Math.max(1, Math.ceil(rows.length / 100)));
  return names.map((name, hop) => {
    const values = rows.map((row) => row[hop] as number).sort((a, b) => a - b);
    const slowestMean =
      slowest.reduce((sum, row) => sum + (row[hop] as number), 0) / slowest.length;
    return { name, p50: percentile(values, 50), p99: percentile(values, 99), slowestMean };
  });
}

/** One line: each hop's p50 / p99, and its mean in the slowest 1% of sagas. */
export function describeHops(hops: readonly HopFigures[]): string {
  if (hops.length === 0) return "no saga seen whole";
  const ms = (n: number) => n.toFixed(0);
  return (
    `hop by hop, p50 / p99 (mean in the slowest 1%) ms: ` +
    hops.map((h) => `${h.name} ${ms(h.p50)} / ${ms(h.p99)} (${ms(h.slowestMean)})`).join(", ")
  );
}
