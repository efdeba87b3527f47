/**
 * The consumer side of the outbox, for plain services: decodes each event (Avro payload and
 * the id headers) and runs the handler inside a PostgreSQL transaction that also records the
 * message id in an inbox table. A redelivered event (Kafka delivers at least once; Debezium
 * may publish twice after a crash) finds its id there and is skipped: its effect happens once.
 * An event that cannot be decoded, or whose handler keeps failing, goes to `<groupId>.dlq`
 * with the reason, and consumption goes on.
 */
import type { Consumer, IHeaders, Kafka, KafkaMessage, Producer } from "kafkajs";
import type pg from "pg";
import {
  DeserializationError,
  ProcessingError,
  SagastreamError,
  toError,
  type RecordOrigin,
} from "../errors/index.js";
import {
  deadLetterTopic,
  ensureDeadLetterTopic,
  PRODUCER_RETRY,
  sendDeadLetter,
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
  kafka: Kafka;
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
  logger?: Logger;
}

export interface EventConsumerStats {
  handled: number;
  duplicates: number;
  deadLettered: number;
}

export const DEFAULT_INBOX = "public.sagastream_inbox";

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value[0] : value)?.toString();
}

export async function migrateInbox(pool: pg.Pool, inbox = DEFAULT_INBOX): Promise<void> {
  const table = outboxTable(inbox);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${table.schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table.qualified} (
    message_id text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
  )`);
}

async function decodeEvent<T>(
  message: KafkaMessage,
  origin: RecordOrigin,
  decode: EventConsumerOptions<T>["decode"],
): Promise<DomainEvent<T>> {
  const messageId = header(message.headers, "id");
  if (messageId === undefined) {
    throw new DeserializationError(origin, new Error("the event has no `id` header"));
  }
  if (message.value === null) {
    throw new DeserializationError(origin, new Error("the event has no payload"));
  }
  return {
    messageId,
    aggregateId: message.key?.toString() ?? "",
    type: header(message.headers, "eventType") ?? "",
    correlationId: header(message.headers, "correlationId"),
    causationId: header(message.headers, "causationId"),
    traceparent: header(message.headers, "traceparent"),
    payload: await decode(message.value, origin),
    ...origin,
  };
}

/** Starts consuming; `stop()` disconnects. `stats` counts what happened to each event. */
export async function startEventConsumer<T>(options: EventConsumerOptions<T>) {
  const inbox = outboxTable(options.inbox ?? DEFAULT_INBOX).qualified;
  const maxAttempts = options.maxAttempts ?? 3;
  const dlq = deadLetterTopic(options.groupId);
  await migrateInbox(options.pool, inbox);
  await ensureDeadLetterTopic(options.kafka, dlq);
  const stats: EventConsumerStats = { handled: 0, duplicates: 0, deadLettered: 0 };
  const producer: Producer = options.kafka.producer({ idempotent: true, retry: PRODUCER_RETRY });
  const consumer: Consumer = options.kafka.consumer({ groupId: options.groupId });

  /**
   * Applies the event unless its id is in the inbox; both commit together. Returns the
   * handler's own error, if it threw; database errors outside it are thrown (kafkajs retries).
   */
  async function applyOnce(event: DomainEvent<T>): Promise<"handled" | "duplicate" | Error> {
    const client = await options.pool.connect();
    try {
      await client.query("BEGIN");
      const inserted = await client.query(
        `INSERT INTO ${inbox} (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING`,
        [event.messageId],
      );
      if (inserted.rowCount === 0) {
        await client.query("COMMIT");
        return "duplicate";
      }
      try {
        await options.handle(event, client);
      } catch (thrown) {
        await client.query("ROLLBACK");
        return toError(thrown);
      }
      await client.query("COMMIT");
      return "handled";
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async function deadLetter(message: KafkaMessage, error: SagastreamError, origin: RecordOrigin) {
    options.logger?.warn({ ...origin, code: error.code }, error.message);
    await sendDeadLetter(producer, dlq, message, error, origin);
    stats.deadLettered += 1;
  }

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: options.topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const origin = { topic, partition, offset: message.offset };
      let event: DomainEvent<T>;
      try {
        event = await decodeEvent(message, origin, options.decode);
      } catch (thrown) {
        // A registry that is not reachable is worth retrying; bytes that are wrong are not.
        if (!(thrown instanceof SagastreamError) || thrown.retriable) throw thrown;
        await deadLetter(message, thrown, origin);
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
          await deadLetter(message, new ProcessingError(origin, "handler", outcome), origin);
        }
        return;
      }
    },
  });
  return {
    stats,
    async stop(): Promise<void> {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

export type EventConsumer = Awaited<ReturnType<typeof startEventConsumer>>;
