/**
 * The Avro schemas of the engine's own messages: the saga-events log (one record per
 * decision, its events a union of one record per event type), commands, replies and
 * operators' requests. A saga's data and a command's payload are the application's own
 * shapes, unknown to the engine, so they travel as JSON text inside the Avro record (`data`,
 * `payload`); everything the engine itself means is typed.
 */
import type avro from "avsc";

export const SAGA_NAMESPACE = "io.sagastream.saga";

const timestamp = { type: "long", logicalType: "timestamp-millis" } as const;
const stepAction = {
  type: "enum",
  name: "StepAction",
  symbols: ["do", "undo"],
  doc: "do: the step's command; undo: its compensation",
} as const;
const json = (doc: string) => ({ type: "string", doc: `JSON: ${doc}` }) as const;
const result = { type: "map", values: "string" } as const;

const field = (name: string, type: unknown, doc?: string) =>
  doc === undefined ? { name, type } : { name, type, doc };
const at = field("at", timestamp, "when the input that caused it happened");
/** After its first use a named type is referred to by name. */
const action = (first: boolean) => field("action", first ? stepAction : "StepAction");

const event = (name: string, fields: unknown[], doc: string) => ({
  type: "record",
  name,
  doc,
  fields: [at, ...fields],
});

/** One branch per SagaEvent type, named after it. */
export const SAGA_EVENT_BRANCHES = [
  event(
    "SagaStarted",
    [
      field("sagaType", "string"),
      field("version", "int"),
      field("data", json("the saga's data")),
      {
        name: "fingerprint",
        type: "string",
        default: "",
        doc: "the definition's shape, hashed: tells an edited definition from the one started on",
      },
    ],
    "a new instance, on this definition version",
  ),
  event(
    "CommandIssued",
    [
      field("step", "string"),
      action(true),
      field("attempt", "int"),
      field("participant", "string"),
      field("command", {
        type: "record",
        name: "CommandSpec",
        fields: [field("type", "string"), field("payload", json("the command's payload"))],
      }),
      field("timeoutAt", timestamp),
    ],
    "a command (or compensation) sent to a participant",
  ),
  event(
    "StepSucceeded",
    [field("step", "string"), field("result", result), field("data", json("the saga's new data"))],
    "a step's command succeeded",
  ),
  event(
    "StepFailed",
    [field("step", "string"), field("reason", "string")],
    "a step failed for good",
  ),
  event(
    "StepTimedOut",
    [field("step", "string"), action(false), field("attempt", "int")],
    "no reply within the step's timeout",
  ),
  event(
    "RetryScheduled",
    [
      field("step", "string"),
      action(false),
      field("attempt", "int"),
      field("retryAt", timestamp),
      field("reason", "string"),
    ],
    "another attempt is due at retryAt",
  ),
  event(
    "CompensationStarted",
    [field("reason", "string"), field("cancelled", "boolean")],
    "undoing the completed steps, in reverse order",
  ),
  event("StepCompensated", [field("step", "string")], "a step's compensation succeeded"),
  event("SagaCompleted", [], "every step succeeded"),
  event("SagaAborted", [], "every completed step was compensated"),
  event("SagaCancelled", [], "cancelled by an operator and compensated"),
  event(
    "SagaFailed",
    [field("step", "string"), action(false), field("reason", "string")],
    "stuck: an operator must look (retry or cancel)",
  ),
  event("RetryRequested", [], "an operator asked to retry a failed saga"),
];

/**
 * The saga-events log's record: one per decision, with the events that one input caused (a
 * reply's StepSucceeded, the next CommandIssued, …). The log stays the source of truth, each
 * event typed; one record per decision instead of one per event halves what a saga writes.
 */
export const sagaDecisionSchema = {
  type: "record",
  name: "SagaDecision",
  namespace: SAGA_NAMESPACE,
  doc: "The events one input caused in one saga, in order: its log, the source of truth its state is folded from",
  fields: [
    field("sagaId", "string"),
    field("firstSeq", "int", "the first event's position in its saga's history, from 1"),
    field("events", { type: "array", items: SAGA_EVENT_BRANCHES }),
  ],
} as unknown as avro.Schema;

/** Read only: the record of saga-events logs written before decisions (one per event). */
export const legacySagaEventSchema = {
  type: "record",
  name: "SagaEventRecord",
  namespace: SAGA_NAMESPACE,
  doc: "One entry of a saga's event log, the source of truth its state is folded from",
  fields: [
    field("sagaId", "string"),
    field("seq", "int", "the event's position in its saga's history, from 1"),
    field("event", SAGA_EVENT_BRANCHES),
  ],
} as unknown as avro.Schema;

export const sagaCommandSchema = {
  type: "record",
  name: "SagaCommand",
  namespace: SAGA_NAMESPACE,
  doc: "A step's command or compensation, to one participant",
  fields: [
    field("sagaId", "string"),
    field("sagaType", "string"),
    field("version", "int"),
    field("step", "string"),
    action(true),
    field("attempt", "int"),
    field("type", "string"),
    field("payload", json("the command's payload")),
    {
      name: "round",
      type: "int",
      default: 0,
      doc: "how many times an operator has retried this step's action (0 before)",
    },
  ],
} as unknown as avro.Schema;

export const sagaReplySchema = {
  type: "record",
  name: "SagaReply",
  namespace: SAGA_NAMESPACE,
  doc: "A participant's answer to one attempt of a step's action",
  fields: [
    field("sagaId", "string"),
    field("step", "string"),
    action(true),
    field("attempt", "int"),
    field("outcome", { type: "enum", name: "Outcome", symbols: ["success", "failure"] }),
    field("retriable", "boolean", "a transient failure: another attempt may cure it"),
    field("reason", "string"),
    field("result", result),
    {
      name: "retryAfterMs",
      type: "int",
      default: 0,
      doc: "a transient failure: retry no sooner than this (an open circuit breaker); 0: any time",
    },
  ],
} as unknown as avro.Schema;

export const sagaControlSchema = {
  type: "record",
  name: "SagaControl",
  namespace: SAGA_NAMESPACE,
  doc: "An operator's request about one saga",
  fields: [
    field("type", { type: "enum", name: "ControlType", symbols: ["Cancel", "Retry"] }),
    field("reason", "string", "why (Cancel only)"),
  ],
} as unknown as avro.Schema;
