import { describe, expect, it } from "vitest";
import { parseCpuTimes, stealNote } from "../../src/bench/cpu-steal.js";

describe("CPU steal", () => {
  it("reads the total and the steal time from /proc/stat's first line", () => {
    const stat = "cpu  100 5 50 800 10 0 5 30 0 0\ncpu0 50 2 25 400 5 0 2 15 0 0\n";
    expect(parseCpuTimes(stat)).toEqual({ total: 1000, steal: 30 });
    expect(parseCpuTimes("intr 1 2 3\n")).toBeUndefined();
    expect(parseCpuTimes("cpu  1 2 3\n")).toBeUndefined(); // a kernel without a steal field
  });

  it("notes a share rounded, and nothing where it cannot tell", () => {
    expect(stealNote(undefined)).toBe("");
    expect(stealNote(12.4)).toBe(", CPU steal 12%");
  });
});
