/**
 * Samples a worker group's backlog (GroupLagProbe) and a worker's busy share on an interval
 * and keeps the latest scaling advice (ScalingAdvisor), for `GET /scaling`, the metrics and
 * `sagastream scale advise`.
 */
import type { KafkaSettings } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { GroupLagProbe, type GroupLag } from "./group-lag.js";
import { ScalingAdvisor, type ScalingAdvice, type ScalingTriggers } from "./scaling.js";

export interface ScalingMonitorOptions {
  kafka: KafkaSettings;
  groupId: string;
  /** The group's input topics. */
  topics: readonly string[];
  triggers?: Partial<ScalingTriggers> | undefined;
  /** How often to sample (ms, default 10 s). */
  intervalMs?: number | undefined;
  /** The workers' busy share since the last call (0–1), where known. */
  busy?: (() => number | undefined) | undefined;
  logger?: Logger | undefined;
}

export interface ScalingReport {
  advice: ScalingAdvice;
  lag: GroupLag;
}

export const DEFAULT_SCALING_INTERVAL_MS = 10_000;

export class ScalingMonitor {
  private readonly probe: GroupLagProbe;
  private readonly advisor: ScalingAdvisor;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<ScalingReport> | undefined;
  /** The latest sample's advice and backlog. */
  latest: ScalingReport | undefined;

  constructor(private readonly options: ScalingMonitorOptions) {
    this.probe = new GroupLagProbe(options.kafka, options.groupId, options.topics);
    this.advisor = new ScalingAdvisor(options.triggers);
  }

  start(): void {
    const every = this.options.intervalMs ?? DEFAULT_SCALING_INTERVAL_MS;
    const tick = () => {
      this.sample().catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, "scaling: sampling the group's lag failed");
      });
    };
    tick();
    this.timer = setInterval(tick, every);
    this.timer.unref();
  }

  /** Samples now (joining a sample under way). */
  async sample(): Promise<ScalingReport> {
    this.sampling ??= (async () => {
      try {
        const lag = await this.probe.sample();
        const advice = this.advisor.observe({
          at: lag.at,
          lag: lag.lag,
          oldestAgeMs: lag.oldestAgeMs,
          busy: this.options.busy?.(),
          workers: lag.workers,
          partitions: lag.partitionCount,
        });
        this.latest = { advice, lag };
        return this.latest;
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling?.catch(() => undefined);
    await this.probe.close();
  }
}
