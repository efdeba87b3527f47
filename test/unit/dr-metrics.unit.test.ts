import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { GapBasis, registerDrMetrics, type DrStatus } from "../../src/ops/index.js";

const status = (partitions: DrStatus["partitions"]): DrStatus => ({
  at: 0,
  applicationId: "orders",
  primary: { brokers: ["p:1"], reachable: true, error: undefined },
  dr: { brokers: ["d:1"] },
  partitions,
  groups: [
    { group: "orders", partitions: 2, newestAt: 0, ageSeconds: 3.5, behindOffsets: 0 },
    {
      group: "idle",
      partitions: 0,
      newestAt: undefined,
      ageSeconds: undefined,
      behindOffsets: undefined,
    },
  ],
  rpo: { records: 7, atLeast: false, seconds: 12.25 },
  notes: [],
});

const gap = (unmirrored: number, lagSeconds: number) => ({
  unmirrored,
  atLeast: false,
  oldestUnmirroredAt: 1,
  lagSeconds,
  basis: GapBasis.Matched,
});

describe("DR metrics", () => {
  it("report the monitor's latest sample, and drop partitions gone from it", async () => {
    const registry = new Registry();
    const monitor: { latest: DrStatus | undefined } = { latest: undefined };
    registerDrMetrics(registry, monitor);
    // unknown, not 0: no sample yet
    expect(await registry.metrics()).toMatch(/^sagastream_dr_rpo_seconds nan$/im);

    const partition = (p: number, g: ReturnType<typeof gap>) => ({
      topic: "orders.saga-events",
      partition: p,
      primaryEnd: 10,
      drEnd: 3,
      drLastAt: 0,
      gap: g,
    });
    monitor.latest = status([partition(0, gap(7, 12.25)), partition(1, gap(0, 0))]);
    const text = await registry.metrics();
    expect(text).toMatch(
      /^sagastream_dr_replication_lag_records\{topic="orders.saga-events",partition="0"\} 7$/m,
    );
    expect(text).toMatch(
      /^sagastream_dr_replication_lag_seconds\{topic="orders.saga-events",partition="0"\} 12.25$/m,
    );
    expect(text).toMatch(/^sagastream_dr_checkpoint_age_seconds\{group="orders"\} 3.5$/m);
    expect(text).not.toMatch(/group="idle"/);
    expect(text).toMatch(/^sagastream_dr_rpo_seconds 12.25$/m);
    expect(text).toMatch(/^sagastream_dr_rpo_records 7$/m);

    monitor.latest = status([partition(1, gap(0, 0))]);
    expect(await registry.metrics()).not.toMatch(/partition="0"/);
  });
});
