/**
 * Reads the saga-events log from the start (read committed), decoding each record (one per
 * decision) into its events: what the demo, the benchmarks, the tests and analysts' tools
 * follow sagas by.
 */
import type { Kafka } from "kafkajs";
import { eventsOf, sagaTopics, type SagaEventRecord } from "./messages.js";
import type { AvroCodec } from "../schema/index.js";
import { sagaDecisionReader } from "./serdes.js";

export interface FollowedEvent {
  record: SagaEventRecord;
  /** The log record's timestamp (when the worker committed it). */
  timestamp: number;
  /** When this reader received it. */
  receivedAt: number;
}

/** Calls `onEvent` for each event of the log, in order per saga. */
export async function followSagaEvents(
  kafka: Kafka,
  options: { applicationId: string; groupId: string; codec: AvroCodec },
  onEvent: (event: FollowedEvent) => void,
): Promise<{ stop(): Promise<void> }> {
  const read = sagaDecisionReader(options.codec);
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
        const timestamp = Number(message.timestamp);
        for (const record of eventsOf(await read(message.value))) {
          onEvent({ record, timestamp, receivedAt });
        }
      }
    },
  });
  return { stop: () => consumer.disconnect() };
}
