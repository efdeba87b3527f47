/**
 * Given/when/then for saga definitions, with no Kafka and no stores: feed inputs one by one,
 * read the events, the commands and the state. Replies and timers name only the step; the
 * scenario fills in the action, attempt and time the saga is waiting for, as a participant or
 * the timer store would.
 */
import { decide, type Decision } from "./decide.js";
import type { SagaDefinition } from "./definition.js";
import { StepAction, type SagaEvent, type SagaInput, type StepResult } from "./events.js";
import { fold, StepPhase, type SagaState, type StepState } from "./state.js";

export class SagaScenario<D> {
  readonly events: SagaEvent[] = [];
  state: SagaState | undefined;
  /** The last input's decision (its events, or why it was rejected). */
  last: Decision = { events: [] };
  private clock = 0;

  constructor(
    private readonly definition: SagaDefinition<D>,
    readonly sagaId = "saga-1",
  ) {}

  /** Sets the time of the next inputs (ms). */
  at(time: number): this {
    this.clock = time;
    return this;
  }

  when(input: SagaInput): this {
    this.clock = Math.max(this.clock, input.at);
    this.last = decide(this.definition, this.sagaId, this.state, input);
    this.events.push(...this.last.events);
    this.state = fold(this.last.events, this.state);
    return this;
  }

  start(data: D): this {
    return this.when({ type: "Start", at: this.clock, data });
  }

  succeed(step: string, result: StepResult = {}): this {
    return this.reply(step, { outcome: "success", retriable: false, reason: "", result });
  }

  fail(
    step: string,
    reason = "refused",
    options: { retriable?: boolean; retryAfterMs?: number } = {},
  ): this {
    return this.reply(step, {
      outcome: "failure",
      retriable: options.retriable ?? false,
      reason,
      result: {},
      retryAfterMs: options.retryAfterMs ?? 0,
    });
  }

  /** The current attempt of `step` times out, at its deadline. */
  timeout(step: string): this {
    const { action, attempt } = this.awaiting(step);
    const issued = this.lastIssued(step);
    return this.when({ type: "Timeout", at: issued.timeoutAt, step, action, attempt });
  }

  /** The scheduled retry of `step` comes due. */
  retryDue(step: string): this {
    const current = this.stepState(step);
    if (current.retryAt === undefined) throw new Error(`no retry of "${step}" is scheduled`);
    const action = current.phase === StepPhase.Undoing ? StepAction.Undo : StepAction.Do;
    return this.when({
      type: "RetryDue",
      at: current.retryAt,
      step,
      action,
      attempt: current.attempt + 1,
    });
  }

  cancel(reason = "cancelled by an operator"): this {
    return this.when({ type: "Cancel", at: this.clock, reason });
  }

  retry(): this {
    return this.when({ type: "Retry", at: this.clock });
  }

  /** Commands issued so far, as `participant:action:type`. */
  commands(): string[] {
    return this.events.flatMap((e) =>
      e.type === "CommandIssued" ? [`${e.participant}:${e.action}:${e.command.type}`] : [],
    );
  }

  /** Event types so far (or of the last input), for compact expectations. */
  types(which: "all" | "last" = "all"): string[] {
    return (which === "all" ? this.events : this.last.events).map((e) => e.type);
  }

  private reply(
    step: string,
    outcome: Pick<
      Extract<SagaInput, { type: "Reply" }>,
      "outcome" | "retriable" | "reason" | "result" | "retryAfterMs"
    >,
  ): this {
    const { action, attempt } = this.awaiting(step);
    return this.when({ type: "Reply", at: this.clock, step, action, attempt, ...outcome });
  }

  private stepState(step: string): StepState {
    const current = this.state?.steps[step];
    if (current === undefined) throw new Error(`no command was issued for "${step}"`);
    return current;
  }

  private awaiting(step: string): { action: StepAction; attempt: number } {
    const current = this.stepState(step);
    const action = current.phase === StepPhase.Undoing ? StepAction.Undo : StepAction.Do;
    return { action, attempt: current.attempt };
  }

  private lastIssued(step: string): Extract<SagaEvent, { type: "CommandIssued" }> {
    const issued = this.events.findLast(
      (e): e is Extract<SagaEvent, { type: "CommandIssued" }> =>
        e.type === "CommandIssued" && e.step === step,
    );
    if (issued === undefined) throw new Error(`no command was issued for "${step}"`);
    return issued;
  }
}
