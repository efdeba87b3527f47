/**
 * The saga's logic, pure: given its definition, its state and an input, which events happen.
 * `decide` answers the input itself (a reply, a timer, an operator's request), then keeps
 * advancing (issue the next stage's commands, the next compensations, or end the saga) until
 * nothing more follows. No I/O, no clock, no randomness: the processor does the rest.
 */
import { toError } from "../errors/index.js";
import { retryDelayMs } from "./backoff.js";
import type { CommandSpec, SagaDefinition, Step } from "./definition.js";
import { SagaStatus, StepAction, type SagaEvent, type SagaInput } from "./events.js";
import { evolve, fold, isActive, StepPhase, type SagaState, type StepState } from "./state.js";

export type Decision = { events: SagaEvent[] } | { events: []; rejected: string };

function reject(reason: string): Decision {
  return { events: [], rejected: reason };
}

function commandFor<D>(step: Step<D>, action: StepAction, data: D): CommandSpec {
  if (action === StepAction.Do) return step.command(data);
  if (step.compensation === undefined) throw new Error(`step "${step.name}" has no compensation`);
  return step.compensation(data);
}

function issue<D>(
  step: Step<D>,
  action: StepAction,
  attempt: number,
  state: SagaState,
  at: number,
): SagaEvent {
  return {
    type: "CommandIssued",
    at,
    step: step.name,
    action,
    attempt,
    participant: step.participant,
    command: commandFor(step, action, state.data as D),
    timeoutAt: at + step.timeoutMs,
  };
}

function findStep<D>(definition: SagaDefinition<D>, name: string): Step<D> | undefined {
  return definition.stages.flat().find((s) => s.name === name);
}

/** Whether a step's effect may exist and must be undone by compensation. */
function needsUndo<D>(step: Step<D>, state: StepState | undefined): boolean {
  if (!step.compensatable || state === undefined) return false;
  if (state.phase === StepPhase.Done) return true;
  if (state.phase === StepPhase.Doing) return state.inFlight || state.maybeDone;
  return state.phase === StepPhase.Failed && state.maybeDone;
}

/** The events that follow from `state` by themselves, until it waits for an input. */
function advance<D>(definition: SagaDefinition<D>, state: SagaState, at: number): SagaEvent[] {
  if (state.status === SagaStatus.Running) {
    for (const stage of definition.stages) {
      if (stage.every((s) => state.steps[s.name]?.phase === StepPhase.Done)) continue;
      return stage
        .filter((s) => state.steps[s.name] === undefined)
        .map((s) => issue(s, StepAction.Do, 1, state, at));
    }
    return [{ type: "SagaCompleted", at }];
  }
  if (state.status === SagaStatus.Compensating) {
    for (const stage of [...definition.stages].reverse()) {
      const undoing = stage.some((s) => state.steps[s.name]?.phase === StepPhase.Undoing);
      const toUndo = stage.filter((s) => needsUndo(s, state.steps[s.name]));
      if (!undoing && toUndo.length === 0) continue;
      return toUndo.map((s) => issue(s, StepAction.Undo, 1, state, at));
    }
    return [{ type: state.cancelled ? "SagaCancelled" : "SagaAborted", at }];
  }
  return [];
}

/** A failed attempt (a failure reply, or a timeout): retry, compensate, or call an operator. */
function afterFailure<D>(
  sagaId: string,
  step: Step<D>,
  action: StepAction,
  state: SagaState,
  failure: { reason: string; retriable: boolean; at: number; retryAfterMs?: number },
): SagaEvent[] {
  const { reason, at } = failure;
  const current = state.steps[step.name];
  if (current === undefined) return [];
  const used = current.attempt - current.budgetFrom;
  const mayRetry = state.status === SagaStatus.Running || action === StepAction.Undo;
  if (failure.retriable && mayRetry && used < step.retry.maxAttempts) {
    const delay = Math.max(
      retryDelayMs(step.retry, used, `${sagaId}/${step.name}/${action}`),
      failure.retryAfterMs ?? 0,
    );
    return [
      {
        type: "RetryScheduled",
        at,
        step: step.name,
        action,
        attempt: current.attempt + 1,
        retryAt: at + delay,
        reason,
      },
    ];
  }
  if (action === StepAction.Undo) {
    return [
      { type: "SagaFailed", at, step: step.name, action, reason: `compensation failed: ${reason}` },
    ];
  }
  if (state.status === SagaStatus.Compensating)
    return [{ type: "StepFailed", at, step: step.name, reason }];
  // A pivot that may have happened cannot be undone, nor can the saga go on without knowing.
  const canTurnBack = step.compensatable || (step.pivot === true && !current.maybeDone);
  if (canTurnBack) {
    return [
      { type: "StepFailed", at, step: step.name, reason },
      {
        type: "CompensationStarted",
        at,
        reason: `step "${step.name}" failed: ${reason}`,
        cancelled: false,
      },
    ];
  }
  return [{ type: "SagaFailed", at, step: step.name, action, reason }];
}

function react<D>(
  definition: SagaDefinition<D>,
  sagaId: string,
  state: SagaState | undefined,
  input: SagaInput,
): Decision {
  if (input.type === "Start") {
    if (state !== undefined) return reject(`already started (${state.status})`);
    return {
      events: [
        {
          type: "SagaStarted",
          at: input.at,
          sagaType: definition.name,
          version: definition.version,
          data: input.data,
          fingerprint: definition.fingerprint,
        },
      ],
    };
  }
  if (state === undefined) return reject("no such saga");
  switch (input.type) {
    case "Reply":
    case "Timeout":
    case "RetryDue": {
      const step = findStep(definition, input.step);
      const current = state.steps[input.step];
      if (step === undefined || current === undefined) {
        return reject(`no command was issued for step "${input.step}"`);
      }
      const phase = input.action === StepAction.Do ? StepPhase.Doing : StepPhase.Undoing;
      // While FAILED the saga waits for an operator, but a sibling's success still counts: the
      // operator's retry then re-issues only what is left (siblings' failures and timeouts
      // are not acted on now; the retry re-issues those steps).
      const siblingSucceeded =
        state.status === SagaStatus.Failed &&
        input.type === "Reply" &&
        input.outcome === "success" &&
        state.failed?.step !== input.step;
      if ((!isActive(state.status) && !siblingSucceeded) || current.phase !== phase) {
        return reject(`step "${input.step}" is ${current.phase} in a ${state.status} saga`);
      }
      if (input.type === "Reply") return replied(sagaId, step, state, current, input);
      if (input.type === "Timeout") {
        if (!current.inFlight || input.attempt !== current.attempt) return reject("stale timeout");
        const timedOut: SagaEvent = {
          type: "StepTimedOut",
          at: input.at,
          step: step.name,
          action: input.action,
          attempt: input.attempt,
        };
        if (state.status === SagaStatus.Compensating && input.action === StepAction.Do) {
          return { events: [timedOut] };
        }
        const failure = {
          reason: `no reply within ${step.timeoutMs} ms (attempt ${input.attempt})`,
          retriable: true,
          at: input.at,
        };
        return {
          events: [
            timedOut,
            ...afterFailure(sagaId, step, input.action, evolve(state, timedOut), failure),
          ],
        };
      }
      if (current.retryAt === undefined || input.attempt !== current.attempt + 1) {
        return reject("stale retry timer");
      }
      if (state.status === SagaStatus.Compensating && input.action === StepAction.Do) {
        return reject("abandoned: the saga is compensating");
      }
      return { events: [issue(step, input.action, input.attempt, state, input.at)] };
    }
    case "Cancel": {
      const forward =
        state.status === SagaStatus.Running ||
        (state.status === SagaStatus.Failed && state.failed?.action === StepAction.Do);
      if (!forward)
        return reject(`it is ${state.status}: only a RUNNING (or FAILED) saga can be cancelled`);
      const pivot = definition.stages.flat().find((s) => s.pivot === true);
      const pivotState = pivot === undefined ? undefined : state.steps[pivot.name];
      if (pivot !== undefined && (pivotState?.phase === StepPhase.Done || pivotState?.maybeDone)) {
        return reject(`it is past its pivot "${pivot.name}" and can only go forward`);
      }
      // Refused rather than deferred: compensating while the pivot's command is out would undo
      // the payment of an order that then ships. The pivot's own outcome turns the saga back
      // if it fails; if it succeeds, there is nothing left to cancel.
      if (pivot !== undefined && pivotState !== undefined) {
        return reject(
          `its pivot "${pivot.name}" has been sent and decides whether it goes forward or back`,
        );
      }
      return {
        events: [
          { type: "CompensationStarted", at: input.at, reason: input.reason, cancelled: true },
        ],
      };
    }
    case "Retry": {
      const failed = state.failed;
      const step = failed === undefined ? undefined : findStep(definition, failed.step);
      const current = failed === undefined ? undefined : state.steps[failed.step];
      if (state.status !== SagaStatus.Failed || failed === undefined || !step || !current) {
        return reject(`only a FAILED saga can be retried; this one is ${state.status}`);
      }
      const requested: SagaEvent = { type: "RetryRequested", at: input.at };
      const resumed = evolve(state, requested);
      // The failed step, and every sibling still unfinished in the same direction: their
      // replies or timers may have come while FAILED and been set aside.
      const unfinished = definition.stages
        .flat()
        .filter((s) => s.name !== step.name && resumed.steps[s.name]?.phase === current.phase);
      return {
        events: [
          requested,
          ...[step, ...unfinished].map((s) =>
            issue(s, failed.action, (resumed.steps[s.name]?.attempt ?? 0) + 1, resumed, input.at),
          ),
        ],
      };
    }
    default: {
      const unknown: never = input;
      throw new Error(`unknown saga input ${JSON.stringify(unknown)}`);
    }
  }
}

function replied<D>(
  sagaId: string,
  step: Step<D>,
  state: SagaState,
  current: StepState,
  input: Extract<SagaInput, { type: "Reply" }>,
): Decision {
  const { at } = input;
  if (input.outcome === "success") {
    if (input.action === StepAction.Undo) {
      return { events: [{ type: "StepCompensated", at, step: step.name }] };
    }
    const data = step.onSuccess?.(state.data as D, input.result) ?? state.data;
    return {
      events: [{ type: "StepSucceeded", at, step: step.name, result: input.result, data }],
    };
  }
  // A refusal is final whichever attempt it answers (the participant answers every later one
  // alike); a transient failure of an earlier attempt says nothing about the current one.
  if (input.retriable && input.attempt !== current.attempt) {
    return reject(
      `transient failure of attempt ${input.attempt}; attempt ${current.attempt} is the current one`,
    );
  }
  return {
    events: afterFailure(sagaId, step, input.action, state, {
      reason: input.reason,
      retriable: input.retriable,
      at,
      retryAfterMs: input.retryAfterMs ?? 0,
    }),
  };
}

/**
 * The events that `input` causes for the saga `sagaId`, whose state is `state` (undefined
 * before it starts). A rejected input (a late reply, a stale timer, a cancel after the pivot)
 * causes no event and says why.
 */
export function decide<D>(
  definition: SagaDefinition<D>,
  sagaId: string,
  state: SagaState | undefined,
  input: SagaInput,
): Decision {
  const decision = react(definition, sagaId, state, input);
  if ("rejected" in decision) return decision;
  const events = [...decision.events];
  let current = fold(events, state);
  while (current !== undefined) {
    const more = advance(definition, current, input.at);
    if (more.length === 0) break;
    events.push(...more);
    current = fold(more, current);
  }
  return { events };
}

/**
 * `decide`, except that a timer whose handling throws (the definition's own code, such as a
 * compensation builder reading a result the step never produced) fails its saga with the
 * reason, for an operator, who is told by `onFailure`: it would throw at every tick, and the
 * tick is rolled back whole, so no other timer of the partition would fire again. An input
 * record that throws is dead-lettered by the task instead.
 */
export function decideTimerSafely<D>(
  definition: SagaDefinition<D>,
  sagaId: string,
  state: SagaState | undefined,
  input: SagaInput,
  onFailure: (reason: string, error: unknown) => void,
): Decision {
  try {
    return decide(definition, sagaId, state, input);
  } catch (error) {
    if (state === undefined || (input.type !== "Timeout" && input.type !== "RetryDue")) {
      throw error;
    }
    const reason = `handling the ${input.type === "Timeout" ? "timeout" : "retry"} of step "${input.step}" (${input.action}) failed: ${toError(error).message}`;
    onFailure(reason, error);
    return {
      events: [
        { type: "SagaFailed", at: input.at, step: input.step, action: input.action, reason },
      ],
    };
  }
}
