/**
 * What one saga may carry. Its state (data and step results) is rewritten at every step and
 * its events and commands copy from it, all as Kafka records under the broker's limit (1 MB by
 * default): an input that would go past these is refused where it enters, with the reason, so
 * that it never makes a record the broker refuses at every retry.
 */
import { SagaLimitError } from "../errors/index.js";
import type { SagaMessage } from "./processor.js";

export interface SagaLimits {
  /** The data a saga starts with, as JSON (bytes). */
  maxDataBytes: number;
  /** One step's result, as JSON (bytes). */
  maxResultBytes: number;
  /** A failure's or a cancel's reason (characters): longer ones are cut, with a mark. */
  maxReasonLength: number;
}

export const DEFAULT_SAGA_LIMITS: Readonly<SagaLimits> = {
  maxDataBytes: 256 * 1024,
  maxResultBytes: 64 * 1024,
  maxReasonLength: 1_000,
};

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null));
}

/** Cuts `reason` to `max` characters, saying how much was left out. */
export function cutReason(reason: string, max: number): string {
  if (reason.length <= max) return reason;
  const mark = ` … (${reason.length - max} more characters)`;
  return reason.slice(0, Math.max(0, max - mark.length)).trimEnd() + mark;
}

/**
 * The message as the saga may take it: reasons cut to length; throws SagaLimitError for data
 * or a result larger than allowed (the input goes to the dead-letter topic, with the reason).
 */
export function withinLimits(
  sagaId: string,
  message: SagaMessage,
  limits: SagaLimits,
): SagaMessage {
  switch (message.kind) {
    case "start": {
      const bytes = jsonBytes(message.data);
      if (bytes > limits.maxDataBytes) {
        throw new SagaLimitError(sagaId, "its data", bytes, limits.maxDataBytes, "maxDataBytes");
      }
      return message;
    }
    case "reply": {
      const { reply } = message;
      const bytes = jsonBytes(reply.result);
      if (bytes > limits.maxResultBytes) {
        const what = `the result of step "${reply.step}" (attempt ${reply.attempt})`;
        throw new SagaLimitError(sagaId, what, bytes, limits.maxResultBytes, "maxResultBytes");
      }
      if (reply.reason.length <= limits.maxReasonLength) return message;
      return {
        kind: "reply",
        reply: { ...reply, reason: cutReason(reply.reason, limits.maxReasonLength) },
      };
    }
    case "control": {
      const { control } = message;
      if (control.type !== "Cancel" || control.reason.length <= limits.maxReasonLength)
        return message;
      const reason = cutReason(control.reason, limits.maxReasonLength);
      return { kind: "control", control: { type: "Cancel", reason } };
    }
  }
}
