/**
 * A saga's timeline from its events (issue 14): times since the start, the command and outcome
 * of each event, each step action's attempts and duration, and the saga's.
 */
import { describe, expect, it } from "vitest";
import { sagaTimeline } from "../../src/ops/index.js";
import { defineSaga, SagaScenario, step } from "../../src/saga/index.js";

const saga = defineSaga<{ id: string }>({
  name: "order",
  version: 1,
  participants: ["inventory", "payment"],
  stages: [
    step({
      name: "reserve",
      participant: "inventory",
      command: () => ({ type: "Reserve", payload: {} }),
      compensation: () => ({ type: "Release", payload: {} }),
      timeoutMs: 1_000,
      retry: { maxAttempts: 3, initialDelayMs: 100, jitter: 0 },
    }),
    step({
      name: "charge",
      participant: "payment",
      command: () => ({ type: "Charge", payload: {} }),
      pivot: true,
    }),
  ],
});

function history(scenario: SagaScenario<{ id: string }>) {
  return scenario.events.map((event, i) => ({ seq: i + 1, event }));
}

describe("a saga's timeline", () => {
  it("times each step from its first command to its outcome, attempts included, and the saga", () => {
    const s = new SagaScenario(saga).at(10_000).start({ id: "o-1" });
    s.timeout("reserve"); // at 11,000
    s.retryDue("reserve"); // at 11,100
    s.at(11_400).succeed("reserve", { reservation: "r-9" });
    s.at(12_000).succeed("charge");
    const timeline = sagaTimeline(history(s).reverse()); // any order: by seq
    expect(timeline.end).toBe("SagaCompleted");
    expect(timeline.durationMs).toBe(2_000);
    expect(timeline.steps).toEqual([
      expect.objectContaining({
        step: "reserve",
        action: "do",
        attempts: 2,
        durationMs: 1_400,
        outcome: "succeeded",
      }),
      expect.objectContaining({
        step: "charge",
        action: "do",
        attempts: 1,
        durationMs: 600,
        outcome: "succeeded",
      }),
    ]);
    const issued = timeline.rows.filter((r) => r.type === "CommandIssued");
    expect(issued.map((r) => [r.sinceStartMs, r.attempt, r.detail])).toEqual([
      [0, 1, "Reserve → inventory"],
      [1_100, 2, "Reserve → inventory"],
      [1_400, 1, "Charge → payment"],
    ]);
    expect(timeline.rows.find((r) => r.type === "StepSucceeded")?.detail).toBe(
      '{"reservation":"r-9"}',
    );
    expect(timeline.rows.find((r) => r.type === "RetryScheduled")?.detail).toMatch(
      /^retry at \+100 ms/,
    );
  });

  it("shows a compensation as the undo of its step, and an open step while the saga runs", () => {
    const aborted = new SagaScenario(saga).at(0).start({ id: "o-2" }).succeed("reserve");
    aborted.at(500).fail("charge", "card declined");
    aborted.at(900).succeed("reserve");
    const timeline = sagaTimeline(history(aborted));
    expect(timeline.end).toBe("SagaAborted");
    expect(timeline.steps.map((st) => [st.step, st.action, st.outcome, st.durationMs])).toEqual([
      ["reserve", "do", "succeeded", 0],
      ["charge", "do", "failed", 500],
      ["reserve", "undo", "compensated", 400],
    ]);
    expect(timeline.rows.find((r) => r.type === "CompensationStarted")?.detail).toMatch(
      /card declined/,
    );

    const running = sagaTimeline(history(new SagaScenario(saga).at(0).start({ id: "o-3" })));
    expect(running.end).toBeUndefined();
    expect(running.durationMs).toBeUndefined();
    expect(running.steps).toEqual([expect.objectContaining({ step: "reserve", outcome: "open" })]);
  });
});
