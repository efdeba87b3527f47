/**
 * Property tests of the saga logic (fast-check): random definitions (sequential stages,
 * parallel groups, a pivot, steps after it) driven by random interleavings of what the world
 * does (success, refusal and transient replies, for the current attempt or a stale one,
 * duplicates, timeouts, retry timers, cancels, operators' retries), then answered until the
 * saga rests. The invariants are those the README states:
 *
 * 1. deciding the same input on the same state gives the same events (replays agree);
 * 2. nothing happens after a saga has ended;
 * 3. the pivot and the steps after it are never compensated, and once the pivot's command has
 *    left, only the pivot's own failure turns the saga back (a cancel does not);
 * 4. when a saga aborts or is cancelled, every step that may have happened (it succeeded, it
 *    timed out, or its command was out when compensation began) is compensated exactly once,
 *    and no other step is;
 * 5. a saga that gets every reply it waits for ends (an operator retrying a FAILED one).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decide,
  defineSaga,
  evolve,
  parallel,
  SagaStatus,
  step,
  StepAction,
  type SagaDefinition,
  type SagaEvent,
  type SagaInput,
  type SagaState,
} from "../../src/saga/index.js";

const RUNS = 2_500; // per property: 10,000 cases in all
const TERMINAL = new Set<string>([SagaStatus.Completed, SagaStatus.Aborted, SagaStatus.Cancelled]);

interface Shape {
  /** Steps per stage (1: sequential, more: a parallel group). */
  stages: number[];
  /** The stage holding the pivot (alone in it), or none. */
  pivotStage: number | undefined;
  maxAttempts: number;
}

const shapes: fc.Arbitrary<Shape> = fc
  .record({
    stages: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
    pivot: fc.option(fc.nat(3), { nil: undefined }),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ stages, pivot, maxAttempts }) => {
    const pivotStage = pivot === undefined ? undefined : pivot % stages.length;
    return {
      stages: stages.map((n, i) => (i === pivotStage ? 1 : n)),
      pivotStage,
      maxAttempts,
    };
  });

const cmd = (type: string) => () => ({ type, payload: {} });

function definitionOf(shape: Shape): SagaDefinition<unknown> {
  const stages = shape.stages.map((count, s) => {
    const steps = Array.from({ length: count }, (_, i) => {
      const name = `s${s}-${i}`;
      const beforePivot = shape.pivotStage === undefined || s < shape.pivotStage;
      return step<unknown>({
        name,
        participant: "p",
        command: cmd(`Do-${name}`),
        ...(beforePivot ? { compensation: cmd(`Undo-${name}`) } : {}),
        ...(s === shape.pivotStage ? { pivot: true } : {}),
        timeoutMs: 1_000,
        retry: { maxAttempts: shape.maxAttempts, initialDelayMs: 10, jitter: 0 },
      });
    });
    return steps.length === 1 ? steps[0] : parallel(`g${s}`, steps);
  });
  return defineSaga({
    name: "prop",
    version: 1,
    participants: ["p"],
    stages: stages as Parameters<typeof defineSaga>[0]["stages"],
  });
}

/** What the world may do next, given the saga's state: every candidate input. */
function candidates(state: SagaState, sent: SagaInput[], now: number): SagaInput[] {
  const out: SagaInput[] = [];
  for (const [name, s] of Object.entries(state.steps)) {
    const action = s.phase === "undoing" ? StepAction.Undo : StepAction.Do;
    if (s.inFlight) {
      const reply = { type: "Reply" as const, at: now, step: name, action, attempt: s.attempt };
      out.push(
        { ...reply, outcome: "success", retriable: false, reason: "", result: {} },
        { ...reply, outcome: "failure", retriable: false, reason: "refused", result: {} },
        { ...reply, outcome: "failure", retriable: true, reason: "flaky", result: {} },
        {
          type: "Timeout",
          at: Math.max(now, s.timeoutAt ?? now),
          step: name,
          action,
          attempt: s.attempt,
        },
      );
      if (s.attempt > 1) {
        out.push({
          ...reply,
          attempt: s.attempt - 1,
          outcome: "success",
          retriable: false,
          reason: "",
          result: {},
        });
      }
    }
    if (s.retryAt !== undefined) {
      out.push({
        type: "RetryDue",
        at: Math.max(now, s.retryAt),
        step: name,
        action,
        attempt: s.attempt + 1,
      });
    }
  }
  const previous = sent.filter((i) => i.type === "Reply");
  if (previous.length > 0) out.push({ ...previous[previous.length - 1], at: now } as SagaInput);
  out.push({ type: "Cancel", at: now, reason: "operator" });
  if (state.status === SagaStatus.Failed) out.push({ type: "Retry", at: now });
  return out;
}

/** What has been delivered once: a participant's answer, or a timer, per attempt. */
function deliveryOf(input: SagaInput): string | undefined {
  if (input.type === "Reply" || input.type === "Timeout" || input.type === "RetryDue") {
    return `${input.type}/${input.step}/${input.action}/${input.attempt}`;
  }
  return undefined;
}

/**
 * What the world still owes the saga, delivered once each (at least once is all Kafka
 * promises): a success for an attempt never answered, else the timer of an attempt whose
 * answer was delivered and set aside, else a due retry timer; and an operator's retry of a
 * FAILED saga. Undefined when nothing is owed.
 */
function drainInput(state: SagaState, now: number, delivered: Set<string>): SagaInput | undefined {
  if (state.status === SagaStatus.Failed) return { type: "Retry", at: now };
  const owed: SagaInput[] = [];
  for (const [name, s] of Object.entries(state.steps)) {
    const action = s.phase === "undoing" ? StepAction.Undo : StepAction.Do;
    const attempt = { step: name, action, attempt: s.attempt };
    if (s.inFlight) {
      owed.push(
        {
          type: "Reply",
          at: now,
          ...attempt,
          outcome: "success",
          retriable: false,
          reason: "",
          result: {},
        },
        { type: "Timeout", at: Math.max(now, s.timeoutAt ?? now), ...attempt },
      );
    }
    if (s.retryAt !== undefined) {
      owed.push({
        type: "RetryDue",
        at: Math.max(now, s.retryAt),
        ...attempt,
        attempt: s.attempt + 1,
      });
    }
  }
  return owed.find((input) => !delivered.has(deliveryOf(input) ?? ""));
}

interface Run {
  definition: SagaDefinition<unknown>;
  events: SagaEvent[];
  state: SagaState;
  /** Events produced after the saga had ended (must be none). */
  afterEnd: number;
  /** Inputs whose two decisions differed (must be none). */
  nondeterministic: number;
}

function runSaga(shape: Shape, choices: number[]): Run {
  const definition = definitionOf(shape);
  const events: SagaEvent[] = [];
  const sent: SagaInput[] = [];
  let state: SagaState | undefined;
  let now = 0;
  let afterEnd = 0;
  let nondeterministic = 0;
  const delivered = new Set<string>();
  const apply = (input: SagaInput) => {
    const delivery = deliveryOf(input);
    if (delivery !== undefined) delivered.add(delivery);
    now = Math.max(now, input.at) + 1;
    const first = decide(definition, "saga", state, input);
    const again = decide(definition, "saga", state, input);
    if (JSON.stringify(first) !== JSON.stringify(again)) nondeterministic += 1;
    if (state !== undefined && TERMINAL.has(state.status)) afterEnd += first.events.length;
    events.push(...first.events);
    state = first.events.reduce<SagaState | undefined>(evolve, state);
    sent.push(input);
  };
  apply({ type: "Start", at: 0, data: {} });
  for (const choice of choices) {
    if (state === undefined) break;
    const options = candidates(state, sent, now);
    apply(options[choice % options.length] as SagaInput);
  }
  for (let i = 0; i < 500 && state !== undefined; i += 1) {
    const input = drainInput(state, now, delivered);
    if (input === undefined) break;
    apply(input);
  }
  if (state === undefined) throw new Error("the saga never started");
  return { definition, events, state, afterEnd, nondeterministic };
}

const runs = fc
  .tuple(shapes, fc.array(fc.nat(50), { maxLength: 40 }))
  .map(([shape, choices]) => ({ shape, run: runSaga(shape, choices) }));

function stepIndex(definition: SagaDefinition<unknown>): Map<string, number> {
  const index = new Map<string, number>();
  definition.stages.forEach((stage, i) => {
    for (const s of stage) index.set(s.name, i);
  });
  return index;
}

describe("saga logic under random interleavings (fast-check)", () => {
  it("decides alike on the same input and state, and does nothing once ended", () => {
    fc.assert(
      fc.property(runs, ({ run }) => {
        expect(run.nondeterministic).toBe(0);
        expect(run.afterEnd).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it("never compensates the pivot or a step after it", () => {
    fc.assert(
      fc.property(runs, ({ shape, run }) => {
        const stageOf = stepIndex(run.definition);
        const undone = run.events.flatMap((e) =>
          e.type === "CommandIssued" && e.action === StepAction.Undo ? [e.step] : [],
        );
        for (const name of undone) {
          if (shape.pivotStage !== undefined) {
            expect(stageOf.get(name)).toBeLessThan(shape.pivotStage);
          }
        }
        // Nor does it turn back once the pivot's command has left, unless the pivot itself
        // failed without having happened.
        const pivotSent = run.events.findIndex(
          (e) => e.type === "CommandIssued" && stageOf.get(e.step) === shape.pivotStage,
        );
        if (pivotSent >= 0) {
          const turnedBack = run.events
            .slice(pivotSent)
            .find((e) => e.type === "CompensationStarted");
          if (turnedBack !== undefined) expect(turnedBack).toMatchObject({ cancelled: false });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("compensates exactly once every step that may have happened when it aborts, and no other", () => {
    fc.assert(
      fc.property(runs, ({ run }) => {
        const { events, state } = run;
        if (state.status !== SagaStatus.Aborted && state.status !== SagaStatus.Cancelled) return;
        const started = events.findIndex((e) => e.type === "CompensationStarted");
        const before = events.slice(0, started);
        const maybe = new Set<string>();
        const inFlight = new Set<string>();
        for (const e of before) {
          if (e.type === "CommandIssued" && e.action === StepAction.Do) inFlight.add(e.step);
          if (e.type === "StepSucceeded") maybe.add(e.step);
          if (e.type === "StepTimedOut" && e.action === StepAction.Do) maybe.add(e.step);
          if (
            e.type === "StepSucceeded" ||
            e.type === "StepFailed" ||
            e.type === "StepTimedOut" ||
            e.type === "RetryScheduled"
          ) {
            inFlight.delete(e.step);
          }
        }
        const compensatable = new Set(
          run.definition.stages
            .flat()
            .filter((s) => s.compensatable)
            .map((s) => s.name),
        );
        const expected = [...new Set([...maybe, ...inFlight])]
          .filter((name) => compensatable.has(name))
          .sort();
        const compensated = events.flatMap((e) => (e.type === "StepCompensated" ? [e.step] : []));
        expect(compensated.sort()).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it("ends once every reply it waits for arrives", () => {
    fc.assert(
      fc.property(runs, ({ run }) => {
        expect(TERMINAL.has(run.state.status), run.events.map((e) => e.type).join(" ")).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
