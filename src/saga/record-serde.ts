/**
 * The saga state store's values (and its changelog's): a SagaRecord as JSON, without the
 * fields that hold their usual value (a step's `budgetFrom` 0, `inFlight` and `maybeDone`
 * false; `cancelled` false; the correlation id when it is the saga id). A running 3-step saga's
 * record is a fifth smaller, in the store, its read cache and every changelog record. Reads
 * either form.
 */
import type { Serde } from "../state/index.js";
import type { SagaRecord } from "./processor.js";
import type { SagaState, StepState } from "./state.js";

type CompactStep = Omit<StepState, "budgetFrom" | "inFlight" | "maybeDone"> &
  Partial<Pick<StepState, "budgetFrom" | "inFlight" | "maybeDone">>;
type CompactState = Omit<SagaState, "steps" | "cancelled"> & {
  steps: Record<string, CompactStep>;
  cancelled?: boolean;
};
type CompactRecord = Omit<SagaRecord, "state" | "correlationId"> & {
  state: CompactState;
  correlationId?: string;
};

function compactStep(step: StepState): CompactStep {
  const { budgetFrom, inFlight, maybeDone, ...rest } = step;
  const compact: CompactStep = rest;
  if (budgetFrom !== 0) compact.budgetFrom = budgetFrom;
  if (inFlight) compact.inFlight = true;
  if (maybeDone) compact.maybeDone = true;
  return compact;
}

function fullStep(step: CompactStep): StepState {
  return {
    ...step,
    budgetFrom: step.budgetFrom ?? 0,
    inFlight: step.inFlight ?? false,
    maybeDone: step.maybeDone ?? false,
  };
}

function compact(record: SagaRecord): CompactRecord {
  const { steps, cancelled, ...state } = record.state;
  const compactState: CompactState = {
    ...state,
    steps: Object.fromEntries(Object.entries(steps).map(([n, s]) => [n, compactStep(s)])),
  };
  if (cancelled) compactState.cancelled = true;
  const { correlationId, ...rest } = record;
  const result: CompactRecord = { ...rest, state: compactState };
  if (correlationId !== record.sagaId) result.correlationId = correlationId;
  return result;
}

function full(record: CompactRecord): SagaRecord {
  const { steps, cancelled, ...state } = record.state;
  return {
    ...record,
    correlationId: record.correlationId ?? record.sagaId,
    traceparent: record.traceparent,
    state: {
      ...state,
      cancelled: cancelled ?? false,
      steps: Object.fromEntries(Object.entries(steps).map(([n, s]) => [n, fullStep(s)])),
    },
  };
}

export const sagaRecordSerde: Serde<SagaRecord> = {
  serialize: (record) => Buffer.from(JSON.stringify(compact(record)), "utf8"),
  deserialize: (bytes) => full(JSON.parse(bytes.toString("utf8")) as CompactRecord),
};
