/**
 * What the engine exchanges with participants and operators over Kafka, and the topics it
 * uses. Every topic is keyed by saga id and co-partitioned, so one task owns a saga's every
 * message. Message ids are name-based UUIDs (v5 layout) of what the message is, so processing
 * the same input again after a crash produces the same ids and receivers deduplicate.
 */
import { hash } from "node:crypto";
import type { SagaEvent, StepAction, StepReply } from "./events.js";
import { generationTopic } from "./generations.js";

export interface SagaTopics {
  events: string;
  replies: string;
  control: string;
  commands(participant: string): string;
}

/** The application's topics in a generation (generations.ts; 0: the names without a suffix). */
export function sagaTopics(applicationId: string, generation = 0): SagaTopics {
  const name = (topic: string) => generationTopic(topic, generation);
  return {
    events: name(`${applicationId}.saga-events`),
    replies: name(`${applicationId}.replies`),
    control: name(`${applicationId}.control`),
    commands: (participant) => name(`${applicationId}.commands.${participant}`),
  };
}

/** A command to a participant (value of `<app>.commands.<participant>`). */
export interface SagaCommand {
  sagaId: string;
  sagaType: string;
  version: number;
  step: string;
  action: StepAction;
  attempt: number;
  /**
   * How many times an operator has retried this step's action (0 before): a participant runs
   * again a command it refused in an earlier round, rather than answering the same refusal.
   * Absent from commands written before it existed: 0.
   */
  round?: number;
  type: string;
  payload: Record<string, unknown>;
}

/** A participant's answer (value of `<app>.replies`). */
export interface SagaReply extends StepReply {
  sagaId: string;
}

/** An operator's request (value of `<app>.control`). */
export type SagaControl = { type: "Cancel"; reason: string } | { type: "Retry" };

/**
 * One record of the saga-events log: the events of one decision (what one input caused), in
 * order. Its message id is the name-based UUID of `<sagaId>#<firstSeq>`.
 */
export interface SagaDecision {
  sagaId: string;
  /** The first event's position in its saga's history, from 1. */
  firstSeq: number;
  events: SagaEvent[];
}

/** One event of a saga's history, with its position (what followers of the log see). */
export interface SagaEventRecord {
  sagaId: string;
  /** The event's position in its saga's history, from 1. */
  seq: number;
  event: SagaEvent;
}

/** A decision's events, each with its position. */
export function eventsOf(decision: SagaDecision): SagaEventRecord[] {
  return decision.events.map((event, i) => ({
    sagaId: decision.sagaId,
    seq: decision.firstSeq + i,
    event,
  }));
}

/** The message id of the saga-events record that starts at `firstSeq`. */
export function decisionId(sagaId: string, firstSeq: number): string {
  return nameUuid(`${sagaId}#${firstSeq}`);
}

/** Header names carried by every message. */
export const SAGA_HEADERS = {
  messageId: "id",
  sagaId: "sagaId",
  sagaType: "sagaType",
  sagaVersion: "sagaVersion",
  correlationId: "correlationId",
  causationId: "causationId",
  traceparent: "traceparent",
  /** On a saga-events record: the saga's status after that decision (read without decoding). */
  status: "sagaStatus",
} as const;

/** Two hex digits per byte value, for formatting ids without a hex string to slice. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * A UUID derived from `name` (SHA-1, version 5 layout): the same name, the same id. Several
 * per saga step, so one-shot `hash` (no Hash object) and a lookup table for the digits.
 */
export function nameUuid(name: string): string {
  const h = hash("sha1", name, "buffer");
  let id = "";
  for (let i = 0; i < 16; i++) {
    let byte = h[i] ?? 0;
    if (i === 6) byte = (byte & 0x0f) | 0x50;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) id += "-";
    id += HEX[byte] as string;
  }
  return id;
}

/** The key a participant deduplicates a step's action by: the same across its attempts. */
export function idempotencyKey(command: Pick<SagaCommand, "sagaId" | "step" | "action">): string {
  return `${command.sagaId}/${command.step}/${command.action}`;
}
