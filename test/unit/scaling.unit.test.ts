import { describe, expect, it } from "vitest";
import { ScalingAdvisor, type ScalingSample } from "../../src/ops/index.js";

const MINUTE = 60_000;
const calm: Omit<ScalingSample, "at"> = {
  lag: 500,
  oldestAgeMs: 1_000,
  busy: 0.3,
  workers: 2,
  partitions: 6,
};

/** Samples every 10 s from `from` to `to` (minutes), each `sample` at its time. */
function run(
  advisor: ScalingAdvisor,
  fromMin: number,
  toMin: number,
  sample: (at: number) => Partial<ScalingSample>,
) {
  const advice = [];
  for (let at = fromMin * MINUTE; at <= toMin * MINUTE; at += 10_000) {
    advice.push(advisor.observe({ ...calm, at, ...sample(at) }));
  }
  return advice;
}

describe("scaling advice by the design's triggers", () => {
  it("says scale up as soon as the lag is over 10,000, by one worker", () => {
    const advisor = new ScalingAdvisor();
    expect(advisor.observe({ ...calm, at: 0 }).action).toBe("hold");
    const up = advisor.observe({ ...calm, at: 10_000, lag: 10_001 });
    expect(up).toMatchObject({ action: "scale up", workers: 2, desiredWorkers: 3 });
    expect(up.reason).toBe("lag 10,001 over 10,000");
    expect(advisor.observe({ ...calm, at: 20_000, lag: 10_000 }).action).toBe("hold");
  });

  it("says scale up when the oldest unprocessed record is over 30 s old", () => {
    const advice = new ScalingAdvisor().observe({ ...calm, at: 0, oldestAgeMs: 31_000 });
    expect(advice.action).toBe("scale up");
    expect(advice.reason).toMatch(/oldest unprocessed record 31 s old, over 30 s/);
  });

  it("says scale up only once the workers have been over 70 % busy for 2 minutes", () => {
    const advisor = new ScalingAdvisor();
    const advice = run(advisor, 0, 3, () => ({ busy: 0.8 }));
    const firstUp = advice.findIndex((a) => a.action === "scale up");
    expect(advice[firstUp]?.sample.at).toBe(2 * MINUTE);
    expect(advice.slice(0, firstUp).every((a) => a.action === "hold")).toBe(true);
    // a dip under the trigger starts the 2 minutes again
    advisor.observe({ ...calm, at: 3 * MINUTE + 10_000, busy: 0.5 });
    const again = run(advisor, 3.5, 5.4, () => ({ busy: 0.9 }));
    expect(again.every((a) => a.action === "hold")).toBe(true);
  });

  it("says scale down once the lag has stayed under 100 for 10 minutes, never under the minimum", () => {
    const advisor = new ScalingAdvisor();
    const advice = run(advisor, 0, 11, () => ({ lag: 40 }));
    const firstDown = advice.findIndex((a) => a.action === "scale down");
    expect(advice[firstDown]?.sample.at).toBe(10 * MINUTE);
    expect(advice[firstDown]).toMatchObject({ workers: 2, desiredWorkers: 1 });
    expect(advice[firstDown - 1]?.reason).toMatch(/lag 40 under 100 for 590 s of 600 s/);
    const single = new ScalingAdvisor();
    expect(run(single, 0, 20, () => ({ lag: 0, workers: 1 })).map((a) => a.action)).not.toContain(
      "scale down",
    );
  });

  it("holds through the cooldown after the group changed size, then advises again", () => {
    const advisor = new ScalingAdvisor();
    advisor.observe({ ...calm, at: 0 });
    expect(advisor.observe({ ...calm, at: 10_000, lag: 50_000 }).action).toBe("scale up");
    // the autoscaler added a worker; the lag is still high while tasks move
    const during = run(advisor, 0.5, 2.4, () => ({ lag: 50_000, workers: 3 }));
    expect(during.every((a) => a.action === "hold")).toBe(true);
    expect(during[0]?.reason).toMatch(
      /lag 50,000 over 10,000, but the group changed size 0 s ago: cooling down for 120 s more/,
    );
    const after = advisor.observe({ ...calm, at: 2.5 * MINUTE, lag: 50_000, workers: 3 });
    expect(after).toMatchObject({ action: "scale up", desiredWorkers: 4 });
    // no scale-down within 10 minutes of a change either, however long the lag was low
    const idle = new ScalingAdvisor();
    run(idle, 0, 4.9, () => ({ lag: 0, workers: 3 }));
    const quiet = run(idle, 5, 14.9, () => ({ lag: 0, workers: 2 }));
    expect(quiet.map((a) => a.action)).not.toContain("scale down");
    expect(quiet.at(-1)?.reason).toMatch(
      /lag under 100 for 890 s, but the group changed size 590 s ago: cooling down for 10 s more/,
    );
    expect(idle.observe({ ...calm, at: 15 * MINUTE, lag: 0, workers: 2 }).action).toBe(
      "scale down",
    );
  });

  it("never advises more workers than partitions: it says to repartition", () => {
    const advice = new ScalingAdvisor().observe({ ...calm, at: 0, lag: 20_000, workers: 6 });
    expect(advice.action).toBe("hold");
    expect(advice.reason).toMatch(/a worker per partition \(6\): repartition/);
  });

  it("scales a group with no worker up at once when records wait, cooldown or not", () => {
    const advisor = new ScalingAdvisor();
    advisor.observe({ ...calm, at: 0, workers: 1 });
    const advice = advisor.observe({ ...calm, at: 1_000, workers: 0, lag: 5 });
    expect(advice).toMatchObject({ action: "scale up", desiredWorkers: 1 });
    expect(advisor.observe({ ...calm, at: 2_000, workers: 0, lag: 0 }).action).toBe("hold");
  });

  it("takes triggers of its own", () => {
    const advisor = new ScalingAdvisor({ lagHigh: 100, upCooldownMs: 0 });
    expect(advisor.observe({ ...calm, at: 0, lag: 101 }).action).toBe("scale up");
  });
});
