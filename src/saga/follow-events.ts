/**
 * Reads the saga-events log from the start (read committed), decoding each entry: what the
 * demo, the benchmarks, the tests and analysts' tools follow sagas by.
 */
import type { Kafka } from "kafkajs";
import { sagaTopics, type SagaEventRecord } from "./messages.js";
import type { AvroCodec } from "../schema/index.js";
import { sagaEventReader } from "./serdes.js";

export interface FollowedEvent {
  record: SagaEventRecord;
  /** The log record's timestamp (when the worker committed it). */
  timestamp: number;
  /** When this reader received it. */
  receivedAt: number;
}

export async function followSagaEvents(
  kafka: Kafka,
  options: { applicationId: string; groupId: string; codec: AvroCodec },
  onEvent: (event: FollowedEvent) => void,
): Promise<{ stop(): Promise<void> }> {
  const read = sagaEventReader(options.codec);
  const consumer = kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({
    topic: sagaTopics(options.applicationId).events,
    fromBeginning: true,
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const receivedAt = Date.now();
      for (const message of batch.messages) {
        if (message.value === null) continue;
        const record = await read(message.value);
        onEvent({ record, timestamp: Number(message.timestamp), receivedAt });
      }
    },
  });
  return { stop: () => consumer.disconnect() };
}
