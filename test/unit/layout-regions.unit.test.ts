import { afterEach, describe, expect, it } from "vitest";
import {
  decodeLayout,
  defaultRegion,
  encodeLayout,
  initialLayout,
  layoutRegion,
  LayoutState,
  runsIn,
  standingBy,
  type AppLayout,
} from "../../src/saga/index.js";

const live: AppLayout = { generation: 2, partitions: 6, state: LayoutState.Active, at: 1 };

describe("the layout's region", () => {
  afterEach(() => {
    delete process.env["SAGASTREAM_REGION"];
  });

  it("is the primary when the record names none, as every record before regions did", () => {
    expect(layoutRegion(decodeLayout(encodeLayout(initialLayout(6))))).toBe("primary");
    expect(runsIn(live, "primary")).toBe(true);
    expect(runsIn(live, "dr")).toBe(false);
  });

  it("survives the record's encoding", () => {
    const moved = decodeLayout(encodeLayout({ ...live, region: "dr" }));
    expect(moved).toEqual({ ...live, region: "dr", next: undefined });
    expect(runsIn(moved, "dr")).toBe(true);
    expect(standingBy(moved, "primary")).toBe('the application runs in region "dr", not "primary"');
  });

  it("stands every region by while the layout is frozen", () => {
    const frozen: AppLayout = {
      ...live,
      state: LayoutState.Frozen,
      next: { generation: 3, partitions: 12 },
      region: "dr",
    };
    expect(standingBy(frozen, "dr")).toBe("frozen for the move to 12 partitions");
    expect(runsIn(frozen, "dr")).toBe(false);
  });

  it("of a process comes from SAGASTREAM_REGION, else the primary", () => {
    expect(defaultRegion()).toBe("primary");
    process.env["SAGASTREAM_REGION"] = "dr";
    expect(defaultRegion()).toBe("dr");
  });
});
