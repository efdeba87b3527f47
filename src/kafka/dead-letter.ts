/**
 * Dead-letter conventions shared by the topology runtime and the outbox consumer: a record
 * that cannot be processed is copied, untouched, to `<application>.dlq` with headers that say
 * why and where it came from, so nothing is lost and it can be replayed after a fix.
 */
import type { IHeaders, Kafka, KafkaMessage, Producer } from "kafkajs";
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

/** Creates the dead-letter topic if it is missing (one partition: it is read rarely, in order). */
export async function ensureDeadLetterTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    }
  } finally {
    await admin.disconnect();
  }
}

/** Copies `message` to the dead-letter topic with the reason and its origin. */
export async function sendDeadLetter(
  producer: Producer,
  topic: string,
  message: Pick<KafkaMessage, "key" | "value" | "headers">,
  error: SagastreamError,
  origin: RecordOrigin,
): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: [
      {
        key: message.key,
        value: message.value,
        headers: deadLetterHeaders(message.headers, error, origin),
      },
    ],
  });
}
