/**
 * Folds saga-events records into each saga's stored record (what the worker's store holds), with
 * the engine's own `fold`: rebuild folds a log as of a time, a failover checks the mirrored
 * changelog against the mirrored log.
 */
import { eventsOf, fold, SAGA_HEADERS, type SagaDecision, type SagaRecord } from "../saga/index.js";
import type { CommittedRecord } from "../topology/index.js";

export class SagaFolder {
  readonly sagas = new Map<string, SagaRecord>();
  /** Events folded in. */
  events = 0;

  constructor(private readonly decode: (bytes: Buffer) => Promise<SagaDecision>) {}

  /** Folds one saga-events record in; throws what decoding it threw. */
  async add(record: CommittedRecord): Promise<void> {
    const sagaId = record.key?.toString("utf8");
    if (sagaId === undefined || record.value === null) return;
    const decision = await this.decode(record.value);
    const current = this.sagas.get(sagaId);
    // A decision written twice (a worker's retried transaction seen by a restore) counts once.
    const fresh = eventsOf(decision).filter((e) => e.seq > (current?.seq ?? 0));
    if (fresh.length === 0) return;
    const state = fold(
      fresh.map((e) => e.event),
      current?.state,
    );
    if (state === undefined) return;
    this.events += fresh.length;
    this.sagas.set(sagaId, {
      sagaId,
      state,
      seq: fresh.at(-1)?.seq ?? 0,
      correlationId:
        current?.correlationId ?? record.headers[SAGA_HEADERS.correlationId]?.toString() ?? sagaId,
      traceparent: current?.traceparent ?? record.headers[SAGA_HEADERS.traceparent]?.toString(),
    });
  }
}
