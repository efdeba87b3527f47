import { describe, expect, it } from "vitest";
import { assignCopartitioned } from "../../src/topology/index.js";

const topics = new Map([
  ["replies", [0, 1, 2, 3, 4, 5]],
  ["control", [0, 1, 2, 3, 4, 5]],
  ["orders", [0, 1, 2, 3, 4, 5]],
]);

describe("assignCopartitioned", () => {
  it("gives partition p of every topic to one member, for any member count (regression: round robin split tasks)", () => {
    for (const count of [1, 2, 3, 4, 5, 7]) {
      const members = Array.from({ length: count }, (_, i) => `m${i}`);
      const assignment = assignCopartitioned(members, topics);
      const owner = new Map<string, string>(); // `${partition}` → member
      let assigned = 0;
      for (const [member, byTopic] of assignment) {
        for (const [topic, partitions] of Object.entries(byTopic)) {
          for (const p of partitions) {
            assigned += 1;
            expect(owner.get(String(p)) ?? member, `${topic}/${p} with ${count} members`).toBe(
              member,
            );
            owner.set(String(p), member);
          }
        }
      }
      expect(assigned).toBe(18);
      const perMember = [...assignment.values()].map((t) => (t.replies ?? []).length);
      expect(Math.max(...perMember) - Math.min(...perMember)).toBeLessThanOrEqual(1);
    }
  });
});
