/**
 * Scaling advice for a worker group, by the design's triggers: scale up when the group's lag is
 * over 10,000 records, its oldest unprocessed record older than 30 s, or the workers busy over
 * 70 % for 2 minutes; scale down when the lag stays under 100 for 10 minutes. After the group's
 * size changes, a cooldown lets it settle (tasks move, stores restore) before the next advice.
 * Pure: samples in, advice out; the sampling is `ScalingMonitor`'s.
 */

export interface ScalingTriggers {
  /** Scale up above this many records not yet processed, group-wide. */
  lagHigh: number;
  /** Scale up when the oldest unprocessed record is older than this. */
  ageHighMs: number;
  /** Scale up when the workers are busier than this fraction … */
  busyHigh: number;
  /** … for this long. */
  busyForMs: number;
  /** Scale down when the lag stays under this … */
  lagLow: number;
  /** … for this long. */
  lowForMs: number;
  /** No scale-up advice this long after the group changed size. */
  upCooldownMs: number;
  /** No scale-down advice this long after the group changed size. */
  downCooldownMs: number;
  /** Never advise fewer workers. */
  minWorkers: number;
}

export const DEFAULT_SCALING_TRIGGERS: Readonly<ScalingTriggers> = {
  lagHigh: 10_000,
  ageHighMs: 30_000,
  busyHigh: 0.7,
  busyForMs: 2 * 60_000,
  lagLow: 100,
  lowForMs: 10 * 60_000,
  upCooldownMs: 2 * 60_000,
  downCooldownMs: 10 * 60_000,
  minWorkers: 1,
};

/** What the group looked like at one moment. */
export interface ScalingSample {
  at: number;
  /** Records on the group's inputs not yet processed (committed), summed. */
  lag: number;
  /** Age of the oldest of them (0 when none). */
  oldestAgeMs: number;
  /** Fraction of the time the workers spent processing since the last sample (0–1). */
  busy: number | undefined;
  /** Workers in the group now. */
  workers: number;
  /** Partitions of the group's inputs: more workers than this would idle. */
  partitions: number;
}

export type ScalingAction = "scale up" | "hold" | "scale down";

export interface ScalingAdvice {
  action: ScalingAction;
  reason: string;
  workers: number;
  desiredWorkers: number;
  sample: ScalingSample;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

function count(n: number): string {
  return n.toLocaleString("en");
}

export class ScalingAdvisor {
  private readonly triggers: ScalingTriggers;
  private lastWorkers: number | undefined;
  /** When the group was last seen to change size (undefined: not since this advisor started). */
  private changedAt: number | undefined;
  private busySince: number | undefined;
  private lowSince: number | undefined;

  constructor(triggers: Partial<ScalingTriggers> = {}) {
    this.triggers = { ...DEFAULT_SCALING_TRIGGERS, ...triggers };
  }

  observe(sample: ScalingSample): ScalingAdvice {
    const t = this.triggers;
    if (this.lastWorkers !== undefined && sample.workers !== this.lastWorkers) {
      this.changedAt = sample.at;
    }
    this.lastWorkers = sample.workers;
    const busy = sample.busy ?? 0;
    this.busySince = busy > t.busyHigh ? (this.busySince ?? sample.at) : undefined;
    this.lowSince = sample.lag < t.lagLow ? (this.lowSince ?? sample.at) : undefined;

    const advice = (action: ScalingAction, reason: string, desiredWorkers = sample.workers) => ({
      action,
      reason,
      workers: sample.workers,
      desiredWorkers,
      sample,
    });
    if (sample.workers < t.minWorkers && sample.lag > 0) {
      // no cooldown: nothing processes these records
      return advice(
        "scale up",
        `${count(sample.lag)} record(s) waiting and ${sample.workers} worker(s) running`,
        t.minWorkers,
      );
    }
    const sinceChange = this.changedAt === undefined ? Infinity : sample.at - this.changedAt;
    const up = this.upReason(sample);
    if (up !== undefined) {
      if (sample.workers >= sample.partitions) {
        return advice(
          "hold",
          `${up}, but the group already has a worker per partition (${sample.partitions}): repartition to scale further`,
        );
      }
      if (sinceChange < t.upCooldownMs) {
        return advice(
          "hold",
          `${up}, but the group changed size ${seconds(sinceChange)} ago: cooling down for ${seconds(t.upCooldownMs - sinceChange)} more`,
        );
      }
      return advice("scale up", up, Math.min(sample.partitions, sample.workers + 1));
    }
    if (this.lowSince !== undefined && sample.workers > t.minWorkers) {
      const low = sample.at - this.lowSince;
      if (low < t.lowForMs) {
        return advice(
          "hold",
          `lag ${count(sample.lag)} under ${count(t.lagLow)} for ${seconds(low)} of ${seconds(t.lowForMs)}`,
        );
      }
      if (sinceChange < t.downCooldownMs) {
        return advice(
          "hold",
          `lag under ${count(t.lagLow)} for ${seconds(low)}, but the group changed size ${seconds(sinceChange)} ago: cooling down for ${seconds(t.downCooldownMs - sinceChange)} more`,
        );
      }
      return advice(
        "scale down",
        `lag under ${count(t.lagLow)} for ${seconds(low)}`,
        Math.max(t.minWorkers, sample.workers - 1),
      );
    }
    return advice("hold", this.holdReason(sample));
  }

  /** Why the group should grow, if it should. */
  private upReason(sample: ScalingSample): string | undefined {
    const t = this.triggers;
    if (sample.lag > t.lagHigh) return `lag ${count(sample.lag)} over ${count(t.lagHigh)}`;
    if (sample.oldestAgeMs > t.ageHighMs) {
      return `oldest unprocessed record ${seconds(sample.oldestAgeMs)} old, over ${seconds(t.ageHighMs)}`;
    }
    if (this.busySince !== undefined && sample.at - this.busySince >= t.busyForMs) {
      return `workers busy over ${Math.round(t.busyHigh * 100)} % for ${seconds(sample.at - this.busySince)}`;
    }
    return undefined;
  }

  private holdReason(sample: ScalingSample): string {
    const t = this.triggers;
    const busy =
      sample.busy === undefined
        ? ""
        : `, workers ${Math.round(sample.busy * 100)} % busy${this.busySince === undefined ? "" : ` (over ${Math.round(t.busyHigh * 100)} % for ${seconds(sample.at - this.busySince)})`}`;
    return `lag ${count(sample.lag)}, oldest record ${seconds(sample.oldestAgeMs)} old${busy}: within the triggers`;
  }
}
