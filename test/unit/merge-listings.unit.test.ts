import { describe, expect, it } from "vitest";
import { mergeListings } from "../../src/api/saga-queries.js";
import { SagaStatus } from "../../src/saga/index.js";

const at = new Date(0).toISOString();
const saga = (sagaId: string, status: SagaStatus = SagaStatus.Completed, sagaType = "order") => ({
  sagaId,
  sagaType,
  status,
  version: 1,
  startedAt: at,
  updatedAt: at,
});

describe("mergeListings", () => {
  it("sorts every worker's matches in index order (status, type, id) and cuts them at the limit", () => {
    const merged = mergeListings(
      [
        {
          sagas: [saga("a", SagaStatus.Running), saga("z", SagaStatus.Completed, "b")],
          served: [0],
        },
        { sagas: [saga("y", SagaStatus.Completed, "a")], served: [1] },
      ],
      2,
      2,
    );
    expect(merged).toEqual({
      sagas: [saga("y", SagaStatus.Completed, "a"), saga("z", SagaStatus.Completed, "b")],
    });
  });

  it("sorts by saga id within a status and type", () => {
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
