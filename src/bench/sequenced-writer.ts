/**
 * Writes numbered events through the outbox, as services would: one PostgreSQL transaction per
 * event, several writers at once, each owning its own aggregates so that every aggregate's
 * commit order is its sequence order. The outbox benchmark and the delivery tests use it to
 * check order per aggregate and to time commit → arrival.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type avro from "avsc";
import type pg from "pg";
import type { Outbox } from "../outbox/index.js";

export const SEQUENCED_EVENT_SCHEMA: avro.schema.RecordType = {
  type: "record",
  name: "Sequenced",
  namespace: "dev.sagastream.bench",
  fields: [
    { name: "aggregateId", type: "string" },
    { name: "seq", type: "long" },
  ],
};

export interface SequencedEvent {
  aggregateId: string;
  seq: number;
}

export interface CommittedEvent extends SequencedEvent {
  messageId: string;
  /** Date.now() right after COMMIT returned. */
  committedAt: number;
}

export interface SequencedWriterOptions {
  pool: pg.Pool;
  outbox: Outbox;
  schemaId: number;
  aggregateType: string;
  aggregates: number;
  /** Concurrent writers (each its own connection); aggregates are split between them. */
  writers: number;
  /** Stop after this many events (default: until stop()). */
  limit?: number;
  /** Pace all writers together to this many events/s (default: as fast as they go). */
  ratePerSecond?: number;
}

export function aggregateName(index: number): string {
  return `agg-${String(index).padStart(4, "0")}`;
}

/** Starts writing; `committed` grows as transactions commit; `done` settles when all stop. */
export function startSequencedWriter(options: SequencedWriterOptions) {
  const committed: CommittedEvent[] = [];
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  let claimed = 0;
  let stopping = false;
  const started = Date.now();

  async function writer(index: number): Promise<void> {
    const own = Array.from({ length: options.aggregates }, (_, i) => i).filter(
      (i) => i % options.writers === index,
    );
    const seqs = new Map<number, number>();
    const client = await options.pool.connect();
    try {
      for (let turn = 0; !stopping && claimed < limit; turn += 1) {
        const slot = claimed++;
        if (options.ratePerSecond !== undefined) {
          const due = started + (slot / options.ratePerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        const aggregate = own[turn % own.length] ?? 0;
        const seq = (seqs.get(aggregate) ?? 0) + 1;
        seqs.set(aggregate, seq);
        const aggregateId = aggregateName(aggregate);
        await client.query("BEGIN");
        const messageId = await options.outbox.publish(client, {
          aggregateType: options.aggregateType,
          aggregateId,
          type: "Sequenced",
          schemaId: options.schemaId,
          payload: { aggregateId, seq },
        });
        await client.query("COMMIT");
        committed.push({ aggregateId, seq, messageId, committedAt: Date.now() });
      }
    } finally {
      client.release();
    }
  }

  const done = Promise.all(
    Array.from({ length: Math.min(options.writers, options.aggregates) }, (_, i) => writer(i)),
  ).then(() => undefined);
  return {
    committed,
    done,
    async stop(): Promise<void> {
      stopping = true;
      await done;
    },
  };
}

/**
 * Checks events as read from Kafka (in offset order per partition) against per-aggregate order:
 * after dropping repeats of an id already seen (at-least-once replays), each aggregate's
 * sequence must run 1, 2, 3, … Returns the problems found (none when in order).
 */
export function orderViolations(
  events: readonly (SequencedEvent & { messageId: string })[],
): string[] {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const event of events) {
    if (seen.has(event.messageId)) continue;
    seen.add(event.messageId);
    const expected = (last.get(event.aggregateId) ?? 0) + 1;
    if (event.seq !== expected) {
      problems.push(`${event.aggregateId}: seq ${event.seq} where ${expected} was due`);
    }
    last.set(event.aggregateId, event.seq);
  }
  return problems;
}
