/**
 * The console's live charts' figures: each second, this worker's Prometheus registry is read
 * (sagas started and ended, step latency, lag, dead letters) and the last five minutes kept.
 * The group's series sums the workers' counts second by second and keeps the slowest worker's
 * latency percentiles.
 */
import type { Registry } from "prom-client";

export interface Series {
  /** Seconds since the epoch, one per sample. */
  t: number[];
  startedPerSecond: number[];
  endedPerSecond: number[];
  /** Step latency over the second (ms); null when no step ended in it. */
  stepP50Ms: (number | null)[];
  stepP99Ms: (number | null)[];
  lag: number[];
  deadLetters: number[];
}

const KEEP = 300;
const ENDS = new Set(["COMPLETED", "ABORTED", "CANCELLED", "FAILED"]);

export function emptySeries(): Series {
  return {
    t: [],
    startedPerSecond: [],
    endedPerSecond: [],
    stepP50Ms: [],
    stepP99Ms: [],
    lag: [],
    deadLetters: [],
  };
}

/**
 * The `q` quantile of the observations a histogram's cumulative buckets gained between two
 * readings (upper bound → count), interpolated within its bucket as Prometheus'
 * histogram_quantile does; undefined when none were observed.
 */
export function quantileOfDelta(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  q: number,
): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i += 1) {
    const count = counts[i] ?? 0;
    if (count < rank) continue;
    const upper = bounds[i] ?? 0;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
    const inBucket = count - below;
    return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return bounds.at(-2);
}

interface Reading {
  started: number;
  ended: number;
  buckets: Map<number, number>;
  lag: number;
  deadLetters: number;
}

type MetricValue = { value: number; labels: Record<string, string | number>; metricName?: string };

async function values(registry: Registry, name: string): Promise<MetricValue[]> {
  const metric = registry.getSingleMetric(name);
  return metric === undefined ? [] : ((await metric.get()).values as MetricValue[]);
}

async function read(registry: Registry): Promise<Reading> {
  const reading: Reading = { started: 0, ended: 0, buckets: new Map(), lag: 0, deadLetters: 0 };
  for (const { labels, value } of await values(registry, "sagastream_saga_transitions_total")) {
    if (labels["status"] === "RUNNING") reading.started += value;
    else if (ENDS.has(String(labels["status"]))) reading.ended += value;
  }
  for (const v of await values(registry, "sagastream_step_duration_seconds")) {
    if (v.metricName !== "sagastream_step_duration_seconds_bucket") continue;
    const le = v.labels["le"] === "+Inf" ? Infinity : Number(v.labels["le"]);
    reading.buckets.set(le, (reading.buckets.get(le) ?? 0) + v.value);
  }
  for (const { value } of await values(registry, "sagastream_consumer_lag")) reading.lag += value;
  for (const { value } of await values(registry, "sagastream_dead_letters")) {
    reading.deadLetters += value;
  }
  return reading;
}

function push<T>(list: T[], value: T): void {
  list.push(value);
  if (list.length > KEEP) list.shift();
}

const toMs = (seconds: number | undefined) =>
  seconds === undefined ? null : Math.round(seconds * 1000 * 10) / 10;

/** Samples a worker's registry every second while the server runs. */
export class SeriesSampler {
  private readonly series = emptySeries();
  private last: Reading | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly registry: () => Registry | undefined) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.sample().catch(() => undefined); // a failed reading leaves a gap
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(now = Date.now()): Promise<void> {
    const registry = this.registry();
    if (registry === undefined) return;
    const reading = await read(registry);
    const last = this.last;
    this.last = reading;
    if (last === undefined) return;
    const s = this.series;
    push(s.t, Math.floor(now / 1000));
    push(s.startedPerSecond, Math.max(0, reading.started - last.started));
    push(s.endedPerSecond, Math.max(0, reading.ended - last.ended));
    push(s.stepP50Ms, toMs(quantileOfDelta(last.buckets, reading.buckets, 0.5)));
    push(s.stepP99Ms, toMs(quantileOfDelta(last.buckets, reading.buckets, 0.99)));
    push(s.lag, reading.lag);
    push(s.deadLetters, reading.deadLetters);
  }

  snapshot(): Series {
    return structuredClone(this.series);
  }
}

/** The workers' series as the group's: counts summed per second, the slowest latency kept. */
export function mergeSeries(parts: readonly Series[]): Series {
  const bySecond = new Map<number, { sums: number[]; p50: number | null; p99: number | null }>();
  for (const part of parts) {
    part.t.forEach((t, i) => {
      const entry = bySecond.get(t) ?? { sums: [0, 0, 0, 0], p50: null, p99: null };
      const add = [
        part.startedPerSecond[i],
        part.endedPerSecond[i],
        part.lag[i],
        part.deadLetters[i],
      ];
      entry.sums = entry.sums.map((sum, k) => sum + (add[k] ?? 0));
      const max = (a: number | null, b: number | null | undefined) =>
        b === null || b === undefined ? a : a === null ? b : Math.max(a, b);
      entry.p50 = max(entry.p50, part.stepP50Ms[i]);
      entry.p99 = max(entry.p99, part.stepP99Ms[i]);
      bySecond.set(t, entry);
    });
  }
  const merged = emptySeries();
  for (const t of [...bySecond.keys()].sort((a, b) => a - b)) {
    const { sums, p50, p99 } = bySecond.get(t) ?? { sums: [], p50: null, p99: null };
    merged.t.push(t);
    merged.startedPerSecond.push(sums[0] ?? 0);
    merged.endedPerSecond.push(sums[1] ?? 0);
    merged.lag.push(sums[2] ?? 0);
    merged.deadLetters.push(sums[3] ?? 0);
    merged.stepP50Ms.push(p50);
    merged.stepP99Ms.push(p99);
  }
  return merged;
}
