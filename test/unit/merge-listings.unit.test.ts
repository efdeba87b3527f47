import { describe, expect, it } from "vitest";
import { mergeListings } from "../../src/api/saga-queries.js";
import { SagaStatus } from "../../src/saga/index.js";

const saga = (sagaId: string) => ({ sagaId, sagaType: "order", status: SagaStatus.Completed });

describe("mergeListings", () => {
  it("sorts every worker's matches by saga id and cuts them at the limit", () => {
    const merged = mergeListings(
      [
        { sagas: [saga("c"), saga("a")], served: [0, 2] },
        { sagas: [saga("b"), saga("d")], served: [1] },
      ],
      3,
      3,
    );
    expect(merged).toEqual({ sagas: [saga("a"), saga("b"), saga("c")] });
  });

  it("names the partitions no worker served rather than answer a short list", () => {
    const merged = mergeListings(
      [
        { sagas: [saga("a")], served: [0, 2] },
        { sagas: [], served: [5] },
      ],
      6,
      100,
    );
    expect(merged).toEqual({ missing: [1, 3, 4] });
  });

  it("answers a full page even while some partition is unserved", () => {
    const merged = mergeListings([{ sagas: [saga("b"), saga("a")], served: [] }], 4, 2);
    expect(merged).toEqual({ sagas: [saga("a"), saga("b")] });
  });
});
