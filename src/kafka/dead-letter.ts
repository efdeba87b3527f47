/**
 * Dead-letter conventions shared by the topology runtime and the outbox consumer: a record
 * that cannot be processed is copied, untouched, to `<application>.dlq` with headers that say
 * why and where it came from, so nothing is lost and it can be replayed after a fix.
 */
import type { IHeaders } from "kafkajs";
import type { RecordOrigin, SagastreamError } from "../errors/index.js";

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

/** The record's own headers plus the reason and its origin. */
export function deadLetterHeaders(
  headers: IHeaders | undefined,
  error: SagastreamError,
  origin: RecordOrigin,
): Record<string, Buffer> {
  const copied: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) copied[name] = Buffer.from(first);
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
