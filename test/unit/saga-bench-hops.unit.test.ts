import { describe, expect, it } from "vitest";
import { describeHops, sagaHops } from "../../src/bench/saga-bench-hops.js";

describe("sagaHops", () => {
  // 200 sagas, two decisions each: every hop 10 ms, except saga 0's second hop (500 ms) and
  // saga 1's last hop (300 ms), the two slowest sagas.
  const ids = Array.from({ length: 200 }, (_, i) => `s${i}`);
  const sentAt = new Map(ids.map((id) => [id, 1000] as [string, number]));
  const decidedAt = new Map(ids.map((id) => [id, [1010, 1020]] as [string, number[]]));
  const completedAt = new Map(ids.map((id) => [id, 1030] as [string, number]));
  decidedAt.set("s0", [1010, 1510]);
  completedAt.set("s0", 1520);
  completedAt.set("s1", 1320);

  it("gives each hop's percentiles, and where the slowest 1% spent their time", () => {
    const hops = sagaHops(ids, { sentAt, decidedAt, completedAt }, 2);
    expect(hops.map((h) => h.name)).toEqual([
      "start → decision 1",
      "decision 1 → 2",
      "decision 2 → read",
    ]);
    expect(hops.map((h) => h.p50)).toEqual([10, 10, 10]);
    expect(hops.map((h) => h.p99)).toEqual([10, 10, 10]);
    // The slowest 1% of 200: sagas 0 and 1.
    expect(hops.map((h) => h.slowestMean)).toEqual([10, 255, 155]);
    expect(describeHops(hops)).toContain("decision 1 → 2 10 / 10 (255)");
  });

  it("leaves out sagas not seen whole", () => {
    const partial = new Map(decidedAt);
    partial.set("s5", [1010]);
    const hops = sagaHops(["s5", "s6", "unknown"], { sentAt, decidedAt: partial, completedAt }, 2);
    expect(hops.map((h) => h.p50)).toEqual([10, 10, 10]);
    expect(sagaHops(["unknown"], { sentAt, decidedAt, completedAt }, 2)).toEqual([]);
    expect(describeHops([])).toBe("no saga seen whole");
  });
});
