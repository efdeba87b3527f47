/**
 * A saga instance's state: the fold of its events. `evolve` is pure and needs no definition, so
 * any reader of the saga-events log (the engine, a replay, an analyst) rebuilds the same state.
 */
import { SagaStatus, StepAction, type SagaEvent, type StepResult } from "./events.js";

export const StepPhase = {
  Doing: "doing",
  Done: "done",
  Failed: "failed",
  Undoing: "undoing",
  Undone: "undone",
} as const;
export type StepPhase = (typeof StepPhase)[keyof typeof StepPhase];

export interface StepState {
  phase: StepPhase;
  /** The last attempt issued of the current action (numbered from 1 per action). */
  attempt: number;
  /** Attempts before this one do not count against the retry budget (an operator's retry). */
  budgetFrom: number;
  /** How many times an operator has retried the current action (absent: none). */
  round?: number | undefined;
  /** A command is out and neither its reply nor its timeout has come. */
  inFlight: boolean;
  /** When the last attempt issued times out (its timer's due time). */
  timeoutAt?: number | undefined;
  /** When a retry of the current action is due, if one is scheduled. */
  retryAt: number | undefined;
  /** When the current action's first attempt was issued (for step latency). */
  issuedAt: number;
  /** An attempt timed out: the participant may have applied it, so it may need undoing. */
  maybeDone: boolean;
  result: StepResult | undefined;
}

export interface SagaState {
  sagaType: string;
  version: number;
  /** The fingerprint of the definition it started on (absent when recorded before them). */
  fingerprint?: string | undefined;
  status: SagaStatus;
  data: unknown;
  steps: Readonly<Record<string, StepState>>;
  /** Why it is compensating, failed or cancelled. */
  reason: string | undefined;
  /** Compensation was asked for by an operator (ends CANCELLED, not ABORTED). */
  cancelled: boolean;
  /** The step and action that need an operator, when FAILED. */
  failed: { step: string; action: StepAction } | undefined;
  startedAt: number;
  updatedAt: number;
}

export function isActive(status: SagaStatus): boolean {
  return status === SagaStatus.Running || status === SagaStatus.Compensating;
}

function withStep(
  state: SagaState,
  name: string,
  change: (step: StepState | undefined) => StepState,
): SagaState {
  return { ...state, steps: { ...state.steps, [name]: change(state.steps[name]) } };
}

function started(step: StepState | undefined, name: string): StepState {
  if (step === undefined) throw new Error(`saga event for step "${name}" before it was issued`);
  return step;
}

/** Applies one event. `state` is undefined before SagaStarted. */
export function evolve(state: SagaState | undefined, event: SagaEvent): SagaState {
  if (event.type === "SagaStarted") {
    return {
      sagaType: event.sagaType,
      version: event.version,
      ...(event.fingerprint ? { fingerprint: event.fingerprint } : {}),
      status: SagaStatus.Running,
      data: event.data,
      steps: {},
      reason: undefined,
      cancelled: false,
      failed: undefined,
      startedAt: event.at,
      updatedAt: event.at,
    };
  }
  if (state === undefined) throw new Error(`saga event ${event.type} before SagaStarted`);
  const s = { ...state, updatedAt: event.at };
  switch (event.type) {
    case "CommandIssued":
      return withStep(s, event.step, (step) => {
        const phase = event.action === StepAction.Do ? StepPhase.Doing : StepPhase.Undoing;
        const sameAction = step?.phase === phase;
        return {
          phase,
          attempt: event.attempt,
          budgetFrom: sameAction ? step.budgetFrom : 0,
          ...(sameAction && step.round !== undefined ? { round: step.round } : {}),
          issuedAt: sameAction ? step.issuedAt : event.at,
          inFlight: true,
          timeoutAt: event.timeoutAt,
          retryAt: undefined,
          maybeDone: step?.maybeDone ?? false,
          result: step?.result,
        };
      });
    case "StepSucceeded":
      return withStep({ ...s, data: event.data }, event.step, (step) => ({
        ...started(step, event.step),
        phase: StepPhase.Done,
        inFlight: false,
        retryAt: undefined,
        result: event.result,
      }));
    case "StepFailed":
      return withStep(s, event.step, (step) => ({
        ...started(step, event.step),
        phase: StepPhase.Failed,
        inFlight: false,
        retryAt: undefined,
      }));
    case "StepTimedOut":
      return withStep(s, event.step, (step) => ({
        ...started(step, event.step),
        inFlight: false,
        maybeDone: event.action === StepAction.Do || started(step, event.step).maybeDone,
      }));
    case "RetryScheduled":
      return withStep(s, event.step, (step) => ({
        ...started(step, event.step),
        inFlight: false,
        retryAt: event.retryAt,
      }));
    case "CompensationStarted":
      return {
        ...s,
        status: SagaStatus.Compensating,
        reason: event.reason,
        cancelled: event.cancelled,
        failed: undefined,
      };
    case "StepCompensated":
      return withStep(s, event.step, (step) => ({
        ...started(step, event.step),
        phase: StepPhase.Undone,
        inFlight: false,
        retryAt: undefined,
      }));
    case "SagaCompleted":
      return { ...s, status: SagaStatus.Completed };
    case "SagaAborted":
      return { ...s, status: SagaStatus.Aborted };
    case "SagaCancelled":
      return { ...s, status: SagaStatus.Cancelled };
    case "SagaFailed":
      return withStep(
        {
          ...s,
          status: SagaStatus.Failed,
          reason: event.reason,
          failed: { step: event.step, action: event.action },
        },
        event.step,
        (step) => ({ ...started(step, event.step), inFlight: false, retryAt: undefined }),
      );
    case "RetryRequested": {
      const failed = s.failed;
      if (failed === undefined) return s;
      // A fresh retry budget, and a new round, for the failed step and for each sibling still
      // unfinished in the same direction (the operator's retry re-issues them all).
      const phase = s.steps[failed.step]?.phase;
      const steps = Object.fromEntries(
        Object.entries(s.steps).map(([name, step]) => [
          name,
          step.phase === phase
            ? { ...step, budgetFrom: step.attempt, round: (step.round ?? 0) + 1 }
            : step,
        ]),
      );
      return {
        ...s,
        steps,
        status: failed.action === StepAction.Do ? SagaStatus.Running : SagaStatus.Compensating,
        failed: undefined,
      };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown saga event ${JSON.stringify(unknown)}`);
    }
  }
}

export function fold(events: readonly SagaEvent[], from?: SagaState): SagaState | undefined {
  return events.reduce<SagaState | undefined>(evolve, from);
}
