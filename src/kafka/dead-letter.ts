/**
 * Dead-letter conventions shared by the topology runtime and the outbox consumer: a record
 * that cannot be processed is copied, untouched, to `<application>.dlq` with headers that say
 * why and where it came from, so nothing is lost and it can be replayed after a fix.
 */
import type { RecordOrigin, SagastreamError } from "../errors/index.js";
import { ensureTopics, withAdmin } from "./admin.js";
import type { KafkaProducer } from "./producer.js";
import type { KafkaSettings } from "./settings.js";

export const DLQ_HEADERS = {
  code: "sagastream.dlq.code",
  error: "sagastream.dlq.error",
  topic: "sagastream.dlq.topic",
  partition: "sagastream.dlq.partition",
  offset: "sagastream.dlq.offset",
} as const;

export function deadLetterTopic(applicationId: string): string {
  return `${applicationId}.dlq`;
}

type HeaderValue = Buffer | string | undefined;

/** A record's headers as either client hands them out. */
export type SourceHeaders =
  | ReadonlyMap<string, HeaderValue>
  | Readonly<Record<string, HeaderValue | readonly (Buffer | string)[]>>;

/** The record's own headers plus the reason and its origin. */
export function deadLetterHeaders(
  headers: SourceHeaders | undefined,
  error: SagastreamError,
  origin: RecordOrigin,
): Record<string, Buffer> {
  const copied: Record<string, Buffer> = {};
  const entries = headers instanceof Map ? headers.entries() : Object.entries(headers ?? {});
  for (const [name, value] of entries as Iterable<[string, HeaderValue | readonly HeaderValue[]]>) {
    const first = Array.isArray(value) ? (value as readonly HeaderValue[])[0] : value;
    if (first !== undefined) copied[name] = Buffer.from(first as Buffer | string);
  }
  return {
    ...copied,
    [DLQ_HEADERS.code]: Buffer.from(error.code),
    [DLQ_HEADERS.error]: Buffer.from(error.message),
    [DLQ_HEADERS.topic]: Buffer.from(origin.topic),
    [DLQ_HEADERS.partition]: Buffer.from(String(origin.partition)),
    [DLQ_HEADERS.offset]: Buffer.from(origin.offset),
  };
}

/** Creates the dead-letter topic if it is missing (one partition: it is read rarely, in order). */
export async function ensureDeadLetterTopic(settings: KafkaSettings, topic: string): Promise<void> {
  await withAdmin(settings, (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
}

/** The parts of a record a dead letter copies. */
export interface DeadRecord {
  key?: Buffer | null | undefined;
  value?: Buffer | null | undefined;
  headers?: SourceHeaders | undefined;
}

/** Copies `record` to the dead-letter topic with the reason and its origin. */
export async function sendDeadLetter(
  producer: KafkaProducer,
  topic: string,
  record: DeadRecord,
  error: SagastreamError,
  origin: RecordOrigin,
): Promise<void> {
  await producer.send({
    messages: [
      {
        topic,
        ...(record.key === undefined || record.key === null ? {} : { key: record.key }),
        value: record.value ?? null,
        headers: deadLetterHeaders(record.headers, error, origin),
      },
    ],
  });
}
