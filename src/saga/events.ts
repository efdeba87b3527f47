/**
 * The saga's vocabulary. Inputs are what happens to an instance (a start, a participant's
 * reply, a fired timer, an operator's request); events are what the instance records in the
 * saga-events log, the source of truth its state is folded from. Every event carries `at`, the
 * time of the input that caused it (never the wall clock at processing), so a replay of the
 * same inputs gives the same events.
 */
import type { CommandSpec } from "./definition.js";

export const SagaStatus = {
  Running: "RUNNING",
  Compensating: "COMPENSATING",
  Completed: "COMPLETED",
  Aborted: "ABORTED",
  Failed: "FAILED",
  Cancelled: "CANCELLED",
} as const;
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

export const TERMINAL_STATUSES: readonly SagaStatus[] = [
  SagaStatus.Completed,
  SagaStatus.Aborted,
  SagaStatus.Cancelled,
];

/** A step's command (`do`) or its compensation (`undo`). */
export const StepAction = { Do: "do", Undo: "undo" } as const;
export type StepAction = (typeof StepAction)[keyof typeof StepAction];

export type StepResult = Readonly<Record<string, string>>;

/** A participant's answer to one attempt of a step's action. */
export interface StepReply {
  step: string;
  action: StepAction;
  attempt: number;
  outcome: "success" | "failure";
  /** A failure that another attempt may cure (the participant gave up on a transient error). */
  retriable: boolean;
  reason: string;
  result: StepResult;
  /**
   * The earliest the participant can take another attempt (an open circuit breaker says when
   * it lets a trial through); the retry waits at least this long. 0: no wish.
   */
  retryAfterMs?: number;
}

export type SagaInput =
  | { type: "Start"; at: number; data: unknown }
  | ({ type: "Reply"; at: number } & StepReply)
  | { type: "Timeout"; at: number; step: string; action: StepAction; attempt: number }
  | { type: "RetryDue"; at: number; step: string; action: StepAction; attempt: number }
  | { type: "Cancel"; at: number; reason: string }
  | { type: "Retry"; at: number };

export type SagaEvent =
  | {
      type: "SagaStarted";
      at: number;
      sagaType: string;
      version: number;
      data: unknown;
      /** The definition's fingerprint ("" or absent when recorded before fingerprints). */
      fingerprint?: string;
    }
  | {
      type: "CommandIssued";
      at: number;
      step: string;
      action: StepAction;
      attempt: number;
      participant: string;
      command: CommandSpec;
      timeoutAt: number;
    }
  | { type: "StepSucceeded"; at: number; step: string; result: StepResult; data: unknown }
  | { type: "StepFailed"; at: number; step: string; reason: string }
  | { type: "StepTimedOut"; at: number; step: string; action: StepAction; attempt: number }
  | {
      type: "RetryScheduled";
      at: number;
      step: string;
      action: StepAction;
      attempt: number;
      retryAt: number;
      reason: string;
    }
  | { type: "CompensationStarted"; at: number; reason: string; cancelled: boolean }
  | { type: "StepCompensated"; at: number; step: string }
  | { type: "SagaCompleted"; at: number }
  | { type: "SagaAborted"; at: number }
  | { type: "SagaCancelled"; at: number }
  | { type: "SagaFailed"; at: number; step: string; action: StepAction; reason: string }
  | { type: "RetryRequested"; at: number };

export type SagaEventType = SagaEvent["type"];
