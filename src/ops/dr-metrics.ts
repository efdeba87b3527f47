/**
 * DR's lag as Prometheus gauges, from a DrMonitor's latest sample: per mirrored partition the
 * records not on DR and the oldest one's age, per group its newest checkpoint's age, and the
 * RPO (NaN until a sample has it, and while the primary does not answer). Partitions and
 * groups gone from the sample leave the gauges.
 */
import { Gauge, type Registry } from "prom-client";
import type { DrStatus } from "./dr-status.js";

export function registerDrMetrics(
  registry: Registry,
  monitor: { readonly latest: DrStatus | undefined },
): void {
  const partitionGauge = (
    name: string,
    help: string,
    value: (gap: NonNullable<DrStatus["partitions"][number]["gap"]>) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["topic", "partition"],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of monitor.latest?.partitions ?? []) {
          if (p.gap !== undefined) {
            this.set({ topic: p.topic, partition: String(p.partition) }, value(p.gap));
          }
        }
      },
    });
  partitionGauge(
    "sagastream_dr_replication_lag_records",
    "Committed records on the primary not on DR yet, by topic and partition (counted up to a cap)",
    (gap) => gap.unmirrored,
  );
  partitionGauge(
    "sagastream_dr_replication_lag_seconds",
    "Age of the oldest record on the primary not on DR yet, by topic and partition (0: none)",
    (gap) => gap.lagSeconds,
  );
  new Gauge({
    name: "sagastream_dr_checkpoint_age_seconds",
    help: "Age of a consumer group's newest MirrorMaker 2 checkpoint on DR",
    labelNames: ["group"],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of monitor.latest?.groups ?? []) {
        if (g.ageSeconds !== undefined) this.set({ group: g.group }, g.ageSeconds);
      }
    },
  });
  new Gauge({
    name: "sagastream_dr_rpo_seconds",
    help: "Data a loss of the primary would cost now: the age of the oldest record not on DR",
    registers: [registry],
    collect() {
      this.set(monitor.latest?.rpo?.seconds ?? NaN);
    },
  });
  new Gauge({
    name: "sagastream_dr_rpo_records",
    help: "Data a loss of the primary would cost now: the records not on DR",
    registers: [registry],
    collect() {
      this.set(monitor.latest?.rpo?.records ?? NaN);
    },
  });
}
