/**
 * What-if runs (issue 14): recorded order sagas run again on a reordered version and on one
 * with a new fraud-check step, answered only with what the participants answered then.
 */
import { describe, expect, it } from "vitest";
import { diffRuns, recordedOutcomes, simulate } from "../../src/ops/index.js";
import { defineSaga, SagaScenario, step, type StepInput } from "../../src/saga/index.js";

type Order = { id: string };
const reserve: StepInput<Order> = {
  name: "reserve",
  participant: "inventory",
  command: () => ({ type: "Reserve", payload: {} }),
  compensation: () => ({ type: "Release", payload: {} }),
  timeoutMs: 1_000,
  retry: { maxAttempts: 3, initialDelayMs: 100, jitter: 0 },
};
const charge: StepInput<Order> = {
  name: "charge",
  participant: "payment",
  command: () => ({ type: "Charge", payload: {} }),
  pivot: true,
};
/** The reservation as a step that is only ever retried, never compensated. */
function onlyRetried(input: StepInput<Order>): StepInput<Order> {
  const { name, participant, command } = input;
  return {
    name,
    participant,
    command,
    timeoutMs: 1_000,
    retry: input.retry ?? {},
    retriableOnly: true,
  };
}
const v1 = defineSaga<Order>({
  name: "order",
  version: 1,
  participants: ["inventory", "payment"],
  stages: [step(reserve), step(charge)],
});
/** The charge first: reserving comes after the point of no return, and is only retried. */
const reordered = defineSaga<Order>({
  name: "order",
  version: 2,
  participants: ["inventory", "payment"],
  stages: [step(charge), step(onlyRetried(reserve))],
});
const fraudChecked = defineSaga<Order>({
  name: "order",
  version: 2,
  participants: ["inventory", "payment", "fraud"],
  stages: [
    step(reserve),
    step({
      name: "fraud-check",
      participant: "fraud",
      command: () => ({ type: "Check", payload: {} }),
      retriableOnly: true,
    }),
    step(charge),
  ],
});

/** Recorded v1 runs: completed (after a timeout), refused by payment, out of stock, cancelled. */
function recordings() {
  const completed = new SagaScenario(v1, "o-1").at(0).start({ id: "o-1" });
  completed.timeout("reserve").retryDue("reserve").succeed("reserve", { r: "9" }).succeed("charge");
  const declined = new SagaScenario(v1, "o-2").at(0).start({ id: "o-2" }).succeed("reserve");
  declined.fail("charge", "card declined").succeed("reserve");
  const outOfStock = new SagaScenario(v1, "o-3")
    .at(0)
    .start({ id: "o-3" })
    .fail("reserve", "none left");
  const cancelled = new SagaScenario(v1, "o-4")
    .at(0)
    .start({ id: "o-4" })
    .cancel()
    .succeed("reserve");
  return [completed, declined, outOfStock, cancelled].map((s) => ({
    sagaId: s.sagaId,
    history: s.events.map((event, i) => ({ seq: i + 1, event })),
    status: s.state?.status,
  }));
}

describe("what-if runs", () => {
  it("reads each attempt's answer from the recording: success, refusal, transient failure, timeout", () => {
    const [completed, declined] = recordings();
    const outcomes = recordedOutcomes(completed?.history ?? []);
    expect(outcomes.get("reserve/do/1")).toEqual({ kind: "timeout" });
    expect(outcomes.get("reserve/do/2")).toEqual({ kind: "success", result: { r: "9" } });
    expect(outcomes.get("charge/do/1")).toEqual({ kind: "success", result: {} });
    const refused = recordedOutcomes(declined?.history ?? []);
    expect(refused.get("charge/do/1")).toMatchObject({
      kind: "failure",
      retriable: false,
      reason: "card declined",
    });
    expect(refused.get("reserve/undo/1")).toEqual({ kind: "success", result: {} });
  });

  it("replays the same definition to the same ends, commands and all", () => {
    const runs = recordings().map((r) => simulate(v1, r.sagaId, r.history));
    expect(runs.map((r) => r.simulated?.status)).toEqual([
      "COMPLETED",
      "ABORTED",
      "ABORTED",
      undefined,
    ]);
    const diff = diffRuns(runs);
    expect(diff).toMatchObject({ sagas: 4, same: 3, steered: ["o-4"] });
    expect(
      diff.endsDifferently.size + diff.onlyNew.size + diff.onlyRecorded.size + diff.unknown.size,
    ).toBe(0);
  });

  it("diffs a reordered version: what it would not have sent, and what the recording cannot answer", () => {
    const diff = diffRuns(recordings().map((r) => simulate(reordered, r.sagaId, r.history)));
    // o-1 ends the same; o-2's refused charge now ends it before any reservation; o-3 was
    // never charged, so the new first step has no recorded answer.
    expect(diff.same).toBe(1);
    expect(Object.fromEntries(diff.onlyRecorded)).toEqual({
      "inventory:reserve:do": ["o-2"],
      "inventory:reserve:undo": ["o-2"],
    });
    expect(Object.fromEntries(diff.unknown)).toEqual({ "payment:charge:do#1": ["o-3"] });
    expect(diff.endsDifferently.size).toBe(0);
  });

  it("gives a late answer after its attempt's timeout, as the engine took it", () => {
    const late = new SagaScenario(v1, "o-5").at(0).start({ id: "o-5" }).timeout("reserve");
    late.succeed("reserve", { r: "late" }).succeed("charge"); // before the retry was due
    const history = late.events.map((event, i) => ({ seq: i + 1, event }));
    expect(recordedOutcomes(history).get("reserve/do/1")).toEqual({
      kind: "timeout",
      late: { kind: "success", result: { r: "late" } },
    });
    const run = simulate(v1, "o-5", history);
    expect(run.unknown).toBeUndefined();
    expect(run.simulated?.status).toBe("COMPLETED");
    expect(diffRuns([run]).same).toBe(1);
  });

  it("counts the sagas that would end differently, by their two ends", () => {
    const neverUndone = defineSaga<Order>({
      name: "order",
      version: 2,
      participants: ["inventory", "payment"],
      stages: [step(onlyRetried(reserve)), step(charge)],
    });
    const diff = diffRuns(recordings().map((r) => simulate(neverUndone, r.sagaId, r.history)));
    // Out of stock: a step that is only ever retried and is refused needs an operator.
    expect(Object.fromEntries(diff.endsDifferently)).toEqual({ "ABORTED → FAILED": ["o-3"] });
    expect(Object.fromEntries(diff.onlyRecorded)).toEqual({ "inventory:reserve:undo": ["o-2"] });
    expect(diff.same).toBe(1);
  });

  it("reports a new step's answers as unknown, never invented", () => {
    const diff = diffRuns(recordings().map((r) => simulate(fraudChecked, r.sagaId, r.history)));
    expect(Object.fromEntries(diff.unknown)).toEqual({ "fraud:fraud-check:do#1": ["o-1", "o-2"] });
    expect(Object.fromEntries(diff.onlyNew)).toEqual({ "fraud:fraud-check:do": ["o-1", "o-2"] });
    expect(diff.same).toBe(1); // o-3: out of stock before the new step
  });
});
