/**
 * The capacity planner (issue 15): the design's worked examples come out exactly, the defaults
 * are the design's, and a bad input names its flag.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors/index.js";
import { capacityRows, planCapacity } from "../../src/ops/index.js";
import { humanBytes, humanCount } from "../../src/ops/capacity.js";

describe("planCapacity: the design's worked examples", () => {
  it("needs 4 workers for 20,000 TPS at 5,000 per worker, and 6 with 50 % headroom", () => {
    const plan = planCapacity({ peakTps: 20_000, tpsPerWorker: 5_000, headroom: 0.5 });
    expect(plan.workersWithoutHeadroom).toBe(4);
    expect(plan.workers).toBe(6);
    expect(plan.partitions).toBe(12);
  });

  it("stores 1,000 TPS × 86,400 × 2 KB × 1.5 = 259.2 GB a day (decimal: 259,200,000,000 bytes)", () => {
    const plan = planCapacity({ peakTps: 1_000, tpsPerWorker: 5_000 });
    expect(plan.storageBytesPerDay).toBe(259_200_000_000);
    expect(plan.storageBytesRetained).toBe(7 * 259_200_000_000);
    expect(humanBytes(plan.storageBytesPerDay)).toBe("259.2 GB");
  });

  it("sends 1,000 TPS × 86,400 × 6 = 518,400,000 messages a day", () => {
    const plan = planCapacity({ peakTps: 1_000, tpsPerWorker: 5_000 });
    expect(plan.messagesPerDay).toBe(518_400_000);
    expect(humanCount(plan.messagesPerDay)).toBe("518.4 M");
    // × 1,000 bytes × 7 days × 3 replicas
    expect(plan.brokerDiskBytes).toBe(10_886_400_000_000);
  });

  it("prints the figures in human units with the formula's numbers", () => {
    const rows = capacityRows(planCapacity({ peakTps: 1_000, tpsPerWorker: 5_000 }));
    const byFigure = new Map(rows.map(([figure, value, formula]) => [figure, { value, formula }]));
    expect(byFigure.get("storage per day")).toEqual({
      value: "259.2 GB/day",
      formula: "1,000 TPS × 86,400 s × 2,000 B × 1.5 = 259,200,000,000 B",
    });
    expect(byFigure.get("messages per day")).toEqual({
      value: "518.4 M/day",
      formula: "1,000 TPS × 86,400 s × 6 = 518,400,000",
    });
    expect(byFigure.get("broker disk")?.value).toBe("10.9 TB");
  });
});

describe("planCapacity: defaults and arithmetic", () => {
  it("takes the design's defaults: average = peak, 50 % headroom, 2,000 B × 1.5, 6 messages of 1,000 B, 7 days, 3 replicas", () => {
    const plan = planCapacity({ peakTps: 100, tpsPerWorker: 10 });
    expect(plan.input).toEqual({
      peakTps: 100,
      averageTps: 100,
      tpsPerWorker: 10,
      tpsPerWorkerSource: "given with --tps-per-worker",
      headroom: 0.5,
      bytesPerTx: 2_000,
      indexOverhead: 1.5,
      messagesPerTx: 6,
      messageBytes: 1_000,
      retentionDays: 7,
      replicationFactor: 3,
    });
    expect(plan.workers).toBe(15);
    expect(plan.assumptions.join("\n")).toContain(
      "Average: 100 transactions/s (default: the peak)",
    );
  });

  it("uses the average, not the peak, for the daily volumes and the peak for the workers", () => {
    const plan = planCapacity({ peakTps: 20_000, averageTps: 1_000, tpsPerWorker: 5_000 });
    expect(plan.workers).toBe(6);
    expect(plan.storageBytesPerDay).toBe(259_200_000_000);
    expect(plan.messagesPerDay).toBe(518_400_000);
  });

  it("rounds workers up, but not for float noise: 1,000 TPS × 1.1 / 100 is 11 workers, not 12", () => {
    expect(planCapacity({ peakTps: 1_000, tpsPerWorker: 100, headroom: 0.1 }).workers).toBe(11);
    expect(planCapacity({ peakTps: 1_001, tpsPerWorker: 100, headroom: 0 }).workers).toBe(11);
  });

  it("plans with no headroom when told (headroom 0 is allowed)", () => {
    const plan = planCapacity({ peakTps: 20_000, tpsPerWorker: 5_000, headroom: 0 });
    expect(plan.workers).toBe(4);
    expect(plan.partitions).toBe(8);
  });

  it("says where the per-worker throughput came from", () => {
    const source = "measured by `npm run bench -- saga` on 2026-12-03: 2,914 sagas/s per worker";
    const plan = planCapacity({ peakTps: 1_000, tpsPerWorker: 2_914, tpsPerWorkerSource: source });
    expect(plan.assumptions).toContain(`Per worker: 2,914 sagas/s (${source}).`);
  });
});

describe("planCapacity: bad inputs name their flag", () => {
  const base = { peakTps: 1_000, tpsPerWorker: 5_000 };
  it.each([
    [{ ...base, peakTps: 0 }, "--peak-tps takes a positive number"],
    [{ ...base, peakTps: Number.NaN }, "--peak-tps takes a positive number"],
    [{ ...base, peakTps: Infinity }, "--peak-tps takes a positive number"],
    [{ ...base, averageTps: -1 }, "--avg-tps takes a positive number"],
    [{ ...base, tpsPerWorker: 0 }, "--tps-per-worker takes a positive number"],
    [{ ...base, headroom: -0.1 }, "--headroom takes a fraction of 0 or more"],
    [{ ...base, bytesPerTx: 0 }, "--bytes-per-tx takes a positive number"],
    [{ ...base, indexOverhead: 0 }, "--index-overhead takes a positive factor"],
    [{ ...base, messagesPerTx: -6 }, "--messages-per-tx takes a positive number"],
    [{ ...base, messageBytes: 0 }, "--message-bytes takes a positive number"],
    [{ ...base, retentionDays: 0 }, "--retention-days takes a positive number"],
    [{ ...base, replicationFactor: 2.5 }, "--replication takes a whole number"],
    [{ ...base, replicationFactor: 0 }, "--replication takes a whole number"],
  ])("rejects %o with a UsageError: %s", (input, message) => {
    expect(() => planCapacity(input)).toThrow(UsageError);
    expect(() => planCapacity(input)).toThrow(message);
  });
});
