import { describe, expect, it } from "vitest";
import { SagaDefinitionError } from "../../src/errors/index.js";
import {
  DEFAULT_RETRY,
  defineSaga,
  parallel,
  retryDelayMs,
  step,
  type StepInput,
} from "../../src/saga/index.js";

type Data = { id: string };
const command = () => ({ type: "Do", payload: {} });
const undo = () => ({ type: "Undo", payload: {} });
const ok = (name: string, extra: Partial<StepInput<Data>> = {}): StepInput<Data> =>
  step({ name, participant: "p", command, compensation: undo, ...extra });
/** A step without a compensation. */
const bare = (name: string, extra: Partial<StepInput<Data>> = {}): StepInput<Data> =>
  step({ name, participant: "p", command, ...extra });

function refusal(stages: Parameters<typeof defineSaga<Data>>[0]["stages"], participants = ["p"]) {
  try {
    defineSaga<Data>({ name: "s", version: 1, participants, stages });
  } catch (error) {
    expect(error).toBeInstanceOf(SagaDefinitionError);
    return (error as Error).message;
  }
  throw new Error("the definition was accepted");
}

describe("defineSaga", () => {
  it("completes a valid definition with defaults", () => {
    const saga = defineSaga<Data>({
      name: "s",
      version: 2,
      participants: ["p"],
      stages: [ok("a"), parallel("g", [ok("b"), ok("c")]), bare("d", { pivot: true })],
    });
    expect(saga.stages.map((stage) => stage.map((s) => s.name))).toEqual([
      ["a"],
      ["b", "c"],
      ["d"],
    ]);
    expect(saga.step("a")).toMatchObject({
      timeoutMs: 30_000,
      retry: DEFAULT_RETRY,
      compensatable: true,
    });
    expect(saga.step("d")).toMatchObject({ compensatable: false, stage: 2 });
  });

  it("refuses what cannot run, saying what to do", () => {
    expect(refusal([step({ name: "a", participant: "p", command })])).toBe(
      'saga "s": step "a" can be compensated (it comes before the pivot) but has no compensation: add one, or mark it retriableOnly if its effect never needs undoing',
    );
    expect(refusal([ok("a"), ok("a")])).toBe('saga "s": the name "a" is used twice');
    expect(refusal([ok("a"), parallel("a", [ok("b")])])).toBe(
      'saga "s": the name "a" is used twice',
    );
    expect(refusal([ok("a", { participant: "ghost" })])).toMatch(
      /step "a" sends to "ghost", which is not one of its participants \(p\)/,
    );
    expect(refusal([])).toBe('saga "s": it has no steps');
    expect(refusal([parallel("g", [])])).toBe('saga "s": parallel group "g" has no steps');
    expect(refusal([bare("a", { pivot: true }), ok("b", { pivot: true })])).toMatch(
      /"a" and "b" are both marked pivot/,
    );
    expect(refusal([bare("a", { pivot: true }), ok("b")])).toMatch(
      /step "b" has a compensation that would never run \(it comes after the pivot\)/,
    );
    expect(refusal([parallel("g", [bare("a", { pivot: true })])])).toMatch(
      /the pivot "a" cannot be in a parallel group/,
    );
    expect(refusal([ok("a", { retry: { maxAttempts: 0 } })])).toMatch(
      /step "a": retry.maxAttempts must be a whole number ≥ 1/,
    );
    expect(refusal([ok("a", { timeoutMs: 0 })])).toMatch(/timeoutMs must be > 0/);
    expect(refusal([ok("Bad Name")])).toMatch(/step "Bad Name": names are lower-case/);
  });

  it("accepts retriableOnly steps without a compensation", () => {
    const saga = defineSaga<Data>({
      name: "s",
      version: 1,
      participants: ["p"],
      stages: [bare("a", { retriableOnly: true }), ok("b")],
    });
    expect(saga.step("a").compensatable).toBe(false);
  });
});

describe("retryDelayMs", () => {
  const policy = { ...DEFAULT_RETRY }; // 100 ms doubling, cap 32 s, jitter 0.5

  it("doubles from 100 ms up to the 32 s cap, each delay jittered down by at most half", () => {
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      const full = Math.min(32_000, 100 * 2 ** (attempt - 1));
      const delay = retryDelayMs(policy, attempt, "saga-1/charge/do");
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  it("is the same for the same saga and attempt (replays decide alike) and spreads across sagas", () => {
    expect(retryDelayMs(policy, 3, "a/x/do")).toBe(retryDelayMs(policy, 3, "a/x/do"));
    const spread = new Set(
      Array.from({ length: 50 }, (_, i) => retryDelayMs(policy, 3, `saga-${i}/x/do`)),
    );
    expect(spread.size).toBeGreaterThan(25);
  });
});
