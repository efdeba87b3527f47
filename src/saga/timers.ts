/**
 * A saga's durable timers are a function of its state: a step whose command is out times out
 * at its deadline, a step with a retry scheduled is retried at its time. Nothing stores them:
 * the processor keeps a queue of each saga's next due time in memory and rebuilds it from the
 * saga state store when its task opens. Only timers `decide` would act on are derived (an
 * ended or FAILED saga has none; a forward step's retry is abandoned once compensation
 * began), so a fired timer always changes the state and is gone after it.
 */
import { StepAction, type SagaInput } from "./events.js";
import { isActive, StepPhase, type SagaState } from "./state.js";
import { SagaStatus } from "./events.js";

export type TimerInput = Extract<SagaInput, { type: "Timeout" | "RetryDue" }>;

/** The saga's timers, earliest first. */
export function timersOf(state: SagaState): TimerInput[] {
  if (!isActive(state.status)) return [];
  const timers: TimerInput[] = [];
  for (const [step, s] of Object.entries(state.steps)) {
    const action =
      s.phase === StepPhase.Doing
        ? StepAction.Do
        : s.phase === StepPhase.Undoing
          ? StepAction.Undo
          : undefined;
    if (action === undefined) continue;
    if (s.inFlight && s.timeoutAt !== undefined) {
      timers.push({ type: "Timeout", at: s.timeoutAt, step, action, attempt: s.attempt });
    } else if (
      s.retryAt !== undefined &&
      !(state.status === SagaStatus.Compensating && action === StepAction.Do)
    ) {
      timers.push({ type: "RetryDue", at: s.retryAt, step, action, attempt: s.attempt + 1 });
    }
  }
  return timers.sort((a, b) => a.at - b.at || a.step.localeCompare(b.step));
}

/** When the saga's first timer is due (undefined: it has none). */
export function nextDueAt(state: SagaState | undefined): number | undefined {
  if (state === undefined || !isActive(state.status)) return undefined;
  let first: number | undefined;
  for (const timer of timersOf(state)) first = Math.min(first ?? timer.at, timer.at);
  return first;
}
