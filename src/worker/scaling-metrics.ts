/**
 * What an autoscaler needs from a worker, as Prometheus gauges (from its ScalingMonitor's
 * latest sample): the group's lag per input partition and its oldest unprocessed record (read
 * from Kafka, so every worker reports the whole group), this worker's busy share, and the
 * advice with the worker count it asks for.
 */
import { Gauge, type Registry } from "prom-client";
import type { ScalingReport } from "../ops/index.js";

const ACTION_VALUE = { "scale up": 1, hold: 0, "scale down": -1 } as const;

export function registerScalingMetrics(
  registry: Registry,
  latest: () => ScalingReport | undefined,
): void {
  new Gauge({
    name: "sagastream_group_lag_records",
    help: "Records on the group's inputs not yet processed, by topic and partition (read from Kafka)",
    labelNames: ["topic", "partition"],
    registers: [registry],
    collect() {
      for (const p of latest()?.lag.partitions ?? []) {
        this.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  new Gauge({
    name: "sagastream_group_oldest_unprocessed_seconds",
    help: "Age of the oldest record on the group's inputs not yet processed (0: none waits)",
    registers: [registry],
    collect() {
      this.set((latest()?.lag.oldestAgeMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: "sagastream_busy_ratio",
    help: "Share of the time this worker's loop spent processing between the last two samples",
    registers: [registry],
    collect() {
      this.set(latest()?.advice.sample.busy ?? 0);
    },
  });
  new Gauge({
    name: "sagastream_scaling_advice",
    help: "The scaling advice by the triggers: 1 scale up, 0 hold, -1 scale down",
    registers: [registry],
    collect() {
      const advice = latest()?.advice;
      this.set(advice === undefined ? 0 : ACTION_VALUE[advice.action]);
    },
  });
  new Gauge({
    name: "sagastream_scaling_desired_workers",
    help: "How many workers the group should have by the triggers (an autoscaler's target)",
    registers: [registry],
    collect() {
      const advice = latest()?.advice;
      if (advice !== undefined) this.set(advice.desiredWorkers);
    },
  });
}
