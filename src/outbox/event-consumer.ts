/**
 * The consumer side of the outbox, for plain services: decodes each event (Avro payload and
 * the id headers) and runs the handler inside a PostgreSQL transaction that also records the
 * message id in an inbox table. A redelivered event (Kafka delivers at least once; Debezium
 * may publish twice after a crash) finds its id there and is skipped: its effect happens once.
 * An event that cannot be decoded, or whose handler keeps failing, goes to `<groupId>.dlq`
 * with the reason, and consumption goes on.
 */
import type pg from "pg";
import { withTransaction } from "../db/index.js";
import {
  DeserializationError,
  ProcessingError,
  SagastreamError,
  toError,
  type RecordOrigin,
} from "../errors/index.js";
import {
  createProducer,
  deadLetterTopic,
  ensureDeadLetterTopic,
  headerText,
  recordOrigin,
  sendDeadLetter,
  startConsuming,
  type ConsumedRecord,
  type KafkaSettings,
} from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { outboxTable } from "./outbox.js";

export interface DomainEvent<T> extends RecordOrigin {
  messageId: string;
  aggregateId: string;
  type: string;
  correlationId: string | undefined;
  causationId: string | undefined;
  traceparent: string | undefined;
  payload: T;
}

export interface EventConsumerOptions<T> {
  kafka: KafkaSettings;
  pool: pg.Pool;
  groupId: string;
  topics: string[];
  decode: (bytes: Buffer, origin: RecordOrigin) => Promise<T>;
  /** Runs in the same transaction as the inbox insert; `client` is inside BEGIN. */
  handle: (event: DomainEvent<T>, client: pg.PoolClient) => Promise<void>;
  /** Schema-qualified inbox table (default `public.sagastream_inbox`). */
  inbox?: string;
  /** Attempts of a failing handler before its event is dead-lettered (default 3). */
  maxAttempts?: number;
  /** Partitions handled at once (default 1); each partition's events in order. */
  concurrency?: number;
  logger?: Logger;
}

export interface EventConsumerStats {
  handled: number;
  duplicates: number;
  deadLettered: number;
}

export const DEFAULT_INBOX = "public.sagastream_inbox";

export async function migrateInbox(pool: pg.Pool, inbox = DEFAULT_INBOX): Promise<void> {
  const table = outboxTable(inbox);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${table.schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table.qualified} (
    message_id text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
  )`);
}

async function decodeEvent<T>(
  record: ConsumedRecord,
  origin: RecordOrigin,
  decode: EventConsumerOptions<T>["decode"],
): Promise<DomainEvent<T>> {
  const messageId = headerText(record, "id");
  if (messageId === undefined) {
    throw new DeserializationError(origin, new Error("the event has no `id` header"));
  }
  if (record.value === undefined) {
    throw new DeserializationError(origin, new Error("the event has no payload"));
  }
  return {
    messageId,
    aggregateId: record.key?.toString() ?? "",
    type: headerText(record, "eventType") ?? "",
    correlationId: headerText(record, "correlationId"),
    causationId: headerText(record, "causationId"),
    traceparent: headerText(record, "traceparent"),
    payload: await decode(record.value, origin),
    ...origin,
  };
}

/** The handler's own failure, told apart from the database's inside one transaction. */
class HandlerFailed extends Error {
  constructor(readonly failure: Error) {
    super(failure.message, { cause: failure });
  }
}

/** Starts consuming; `stop()` disconnects. `stats` counts what happened to each event. */
export async function startEventConsumer<T>(options: EventConsumerOptions<T>) {
  const inbox = outboxTable(options.inbox ?? DEFAULT_INBOX).qualified;
  const maxAttempts = options.maxAttempts ?? 3;
  const dlq = deadLetterTopic(options.groupId);
  const settings: KafkaSettings = {
    ...options.kafka,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  await migrateInbox(options.pool, inbox);
  await ensureDeadLetterTopic(settings, dlq);
  const stats: EventConsumerStats = { handled: 0, duplicates: 0, deadLettered: 0 };
  const producer = createProducer(settings);

  /**
   * Applies the event unless its id is in the inbox; both commit together. Returns the
   * handler's own error, if it threw; database errors outside it are thrown (the consumer
   * retries the event).
   */
  async function applyOnce(event: DomainEvent<T>): Promise<"handled" | "duplicate" | Error> {
    try {
      return await withTransaction(options.pool, async (client) => {
        const inserted = await client.query(
          `INSERT INTO ${inbox} (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING`,
          [event.messageId],
        );
        if (inserted.rowCount === 0) return "duplicate";
        try {
          await options.handle(event, client);
        } catch (thrown) {
          throw new HandlerFailed(toError(thrown));
        }
        return "handled";
      });
    } catch (error) {
      if (error instanceof HandlerFailed) return error.failure;
      throw error;
    }
  }

  async function deadLetter(record: ConsumedRecord, error: SagastreamError, origin: RecordOrigin) {
    options.logger?.warn({ ...origin, code: error.code }, error.message);
    await sendDeadLetter(producer, dlq, record, error, origin);
    stats.deadLettered += 1;
  }

  async function handle(record: ConsumedRecord): Promise<void> {
    const origin = recordOrigin(record);
    let event: DomainEvent<T>;
    try {
      event = await decodeEvent(record, origin, options.decode);
    } catch (thrown) {
      // A registry that is not reachable is worth retrying; bytes that are wrong are not.
      if (!(thrown instanceof SagastreamError) || thrown.retriable) throw thrown;
      await deadLetter(record, thrown, origin);
      return;
    }
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await applyOnce(event);
      if (outcome === "handled") stats.handled += 1;
      else if (outcome === "duplicate") stats.duplicates += 1;
      else if (attempt < maxAttempts) {
        options.logger?.warn({ ...origin, attempt, err: outcome }, "handler failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
        continue;
      } else {
        await deadLetter(record, new ProcessingError(origin, "handler", outcome), origin);
      }
      return;
    }
  }

  let consuming;
  try {
    consuming = await startConsuming(settings, {
      groupId: options.groupId,
      topics: options.topics,
      concurrency: options.concurrency ?? 1,
      handle,
    });
  } catch (error) {
    await producer.close();
    throw error;
  }
  return {
    stats,
    async stop(): Promise<void> {
      await consuming.stop();
      await producer.close();
    },
  };
}

export type EventConsumer = Awaited<ReturnType<typeof startEventConsumer>>;
