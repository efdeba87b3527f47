import { describe, expect, it } from "vitest";
import { orderViolations } from "../../src/bench/sequenced-writer.js";

const e = (aggregateId: string, seq: number, messageId = `${aggregateId}-${seq}`) => ({
  aggregateId,
  seq,
  messageId,
});

describe("orderViolations", () => {
  it("accepts interleaved aggregates each in order, and replays of ids already seen", () => {
    expect(
      orderViolations([
        e("a", 1),
        e("b", 1),
        e("a", 2),
        e("a", 1),
        e("a", 2),
        e("b", 2),
        e("a", 3),
      ]),
    ).toEqual([]);
  });

  it("reports a gap, a swap and a new id that goes backwards", () => {
    expect(orderViolations([e("a", 1), e("a", 3)])).toEqual(["a: seq 3 where 2 was due"]);
    expect(orderViolations([e("b", 2), e("b", 1)])).toEqual([
      "b: seq 2 where 1 was due",
      "b: seq 1 where 3 was due",
    ]);
    expect(orderViolations([e("c", 1), e("c", 1, "another-id")])).toEqual([
      "c: seq 1 where 2 was due",
    ]);
  });
});
