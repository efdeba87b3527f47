import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMemberState,
  encodeMemberState,
  planAssignment,
  type MemberState,
} from "../../src/topology/index.js";

function member(state: Partial<MemberState> = {}): MemberState {
  return { address: "", active: [], standby: [], offsets: {}, ...state };
}

const members = (entries: Record<string, Partial<MemberState>>) =>
  new Map(Object.entries(entries).map(([id, state]) => [id, member(state)]));

/** Every partition runs on exactly one member, and loads differ by at most one. */
function expectBalanced(active: Map<string, number[]>, partitions: number): void {
  const all = [...active.values()].flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
  const loads = [...active.values()].map((list) => list.length);
  expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
}

describe("planAssignment", () => {
  it("deals partitions out evenly to members that hold nothing yet, each to one member", () => {
    for (const count of [1, 2, 3, 4, 5, 7]) {
      const ids = Object.fromEntries(Array.from({ length: count }, (_, i) => [`m${i}`, {}]));
      expectBalanced(planAssignment(members(ids), 6, 0).active, 6);
    }
  });

  it("moves only what a joining member takes over (regression: partition modulo members moved most)", () => {
    const before = members({ a: { active: [0, 1, 2] }, b: { active: [3, 4, 5] } });
    const { active } = planAssignment(new Map([...before, ["c", member()]]), 6, 0);
    expectBalanced(active, 6);
    const moved = [0, 1, 2, 3, 4, 5].filter(
      (p) => !(active.get(p < 3 ? "a" : "b") ?? []).includes(p),
    );
    expect(moved).toHaveLength(2); // c's share, and nothing else
    expect(active.get("c")?.sort()).toEqual(moved.sort());
  });

  it("hands a dead member's partitions to their copies, spread as the copies were (the review's 'no task restores from zero')", () => {
    // a, b, c ran 0-1, 3-4, 2-5 with one copy each, placed as the planner spreads them; b dies.
    const three = members({
      a: { active: [0, 1] },
      b: { active: [3, 4] },
      c: { active: [2, 5] },
    });
    const { standby } = planAssignment(three, 6, 1);
    const reachOf = (id: string) =>
      Object.fromEntries(
        [...(standby.get(id) ?? []), ...(three.get(id)?.active ?? [])].map((p) => [p, "9"]),
      );
    const survivors = members({
      a: { active: [0, 1], standby: standby.get("a") ?? [], offsets: reachOf("a") },
      c: { active: [2, 5], standby: standby.get("c") ?? [], offsets: reachOf("c") },
    });
    const { active } = planAssignment(survivors, 6, 1);
    for (const p of [3, 4]) {
      const to = [...active].find(([, list]) => list.includes(p))?.[0] ?? "";
      expect(survivors.get(to)?.standby, `partition ${p} went to ${to}`).toContain(p);
    }
    expectBalanced(active, 6);
  });

  it("gives a dead member's partitions to the members whose copies reach furthest", () => {
    // b died; c kept standby copies of 3 and 4, a of 5 (more advanced than c's).
    const { active } = planAssignment(
      members({
        a: { active: [0, 1], offsets: { 0: "90", 1: "90", 5: "80" } },
        c: { active: [2], standby: [3, 4], offsets: { 2: "90", 3: "75", 4: "70", 5: "10" } },
      }),
      6,
      0,
    );
    expect(active.get("a")).toEqual([0, 1, 5]);
    expect(active.get("c")).toEqual([2, 3, 4]);
  });

  it("keeps standby copies on other members than the one running the partition, sticky", () => {
    const { active, standby } = planAssignment(
      members({
        a: { active: [0, 1, 2], standby: [3, 4, 5], offsets: { 3: "5", 4: "5", 5: "5" } },
        b: { active: [3, 4, 5], standby: [0, 1, 2], offsets: { 0: "5", 1: "5", 2: "5" } },
      }),
      6,
      1,
    );
    expect(active).toEqual(
      new Map([
        ["a", [0, 1, 2]],
        ["b", [3, 4, 5]],
      ]),
    );
    expect(standby).toEqual(
      new Map([
        ["a", [3, 4, 5]],
        ["b", [0, 1, 2]],
      ]),
    );
  });

  it("never runs and keeps a standby of one partition on one member, and stays balanced unless a dead member's partitions resume from copies, whatever the members say", () => {
    const state = fc.record({
      active: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 12 }),
      standby: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 12 }),
      offsets: fc.dictionary(
        fc.integer({ min: 0, max: 11 }).map(String),
        fc.bigInt({ min: 0n, max: 1000n }).map(String),
      ),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("a", "b", "c", "d", "e"), state, { minKeys: 1 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 2 }),
        (entries, partitions, standbys) => {
          const plan = planAssignment(members(entries), partitions, standbys);
          const all = [...plan.active.values()].flat().sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
          // Uneven only where a partition nobody ran resumed from a copy past a member's share.
          const claimed = new Set(Object.values(entries).flatMap((e) => e.active));
          const copied = Object.values(entries).some((e) => Object.keys(e.offsets).length > 0);
          if (!copied || [...Array(partitions).keys()].every((p) => claimed.has(p)))
            expectBalanced(plan.active, partitions);
          for (const [id, copies] of plan.standby) {
            for (const p of copies) expect(plan.active.get(id)).not.toContain(p);
            expect(new Set(copies).size).toBe(copies.length);
          }
          const copies = [...plan.standby.values()].flat();
          const wanted = Math.min(standbys, Object.keys(entries).length - 1);
          for (let p = 0; p < partitions; p++)
            expect(copies.filter((c) => c === p)).toHaveLength(wanted);
        },
      ),
    );
  });
});

describe("member state in the subscription", () => {
  it("round-trips, and reads a version 1 member's address-only user data", () => {
    const state = member({ address: "http://w1", active: [1], standby: [2], offsets: { 2: "7" } });
    expect(decodeMemberState(encodeMemberState(state))).toEqual(state);
    expect(decodeMemberState(Buffer.from("http://old"))).toEqual(member({ address: "http://old" }));
    expect(decodeMemberState(undefined)).toEqual(member());
  });
});
