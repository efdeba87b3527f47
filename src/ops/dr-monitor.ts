/**
 * Samples `drStatus` on an interval and keeps the latest, for a worker's metrics
 * (dr-metrics.ts): a failed sample is logged and the previous one kept.
 */
import type { Logger } from "../log/index.js";
import { drStatus, type DrStatus, type DrStatusOptions } from "./dr-status.js";

export interface DrMonitorOptions extends DrStatusOptions {
  /** How often to sample (ms, default 10 s). */
  intervalMs?: number | undefined;
  logger?: Logger | undefined;
}

export const DEFAULT_DR_INTERVAL_MS = 10_000;

export class DrMonitor {
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<DrStatus> | undefined;
  /** The latest sample. */
  latest: DrStatus | undefined;

  constructor(private readonly options: DrMonitorOptions) {}

  start(): void {
    const tick = () => {
      this.sample().catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, "dr: sampling the replication lag failed");
      });
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? DEFAULT_DR_INTERVAL_MS);
    this.timer.unref();
  }

  /** Samples now (joining a sample under way). */
  async sample(): Promise<DrStatus> {
    this.sampling ??= drStatus(this.options)
      .then((status) => {
        this.latest = status;
        return status;
      })
      .finally(() => {
        this.sampling = undefined;
      });
    return this.sampling;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling?.catch(() => undefined);
  }
}
