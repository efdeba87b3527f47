/**
 * Reads a topic read_committed and keeps, per key, the value at the highest offset, and the
 * number of distinct records. A plain consumer may deliver a record twice (its group can
 * rebalance and go back to its last commit); counting offsets, not deliveries, keeps the
 * test's own reader from looking like a duplicate in the topic.
 */
import type { Consumer, Kafka } from "kafkajs";
import { uniqueName } from "./names.js";

export interface LatestValues {
  /** Per key: the value of its record with the highest offset. */
  values: Map<string, string>;
  /** Distinct records read (partition and offset). */
  records(): number;
  stop(): Promise<void>;
}

export async function readLatestValues(kafka: Kafka, topic: string): Promise<LatestValues> {
  const latest = new Map<string, { partition: number; offset: bigint; value: string }>();
  const values = new Map<string, string>();
  const seen = new Set<string>();
  const consumer: Consumer = kafka.consumer({
    groupId: uniqueName("reader"),
    readUncommitted: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.add(`${partition}:${message.offset}`);
      const key = String(message.key);
      const offset = BigInt(message.offset);
      const current = latest.get(key);
      // A key lives in one partition, so its offsets are comparable.
      if (current === undefined || offset > current.offset) {
        latest.set(key, { partition, offset, value: String(message.value) });
        values.set(key, String(message.value));
      }
    },
  });
  return { values, records: () => seen.size, stop: () => consumer.disconnect() };
}
