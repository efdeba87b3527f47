/**
 * Reads a topic read_committed and keeps, per key, the value at the highest offset, and the
 * number of distinct records. A plain consumer may deliver a record twice (its group can
 * rebalance and go back to its last commit); counting offsets, not deliveries, keeps the
 * test's own reader from looking like a duplicate in the topic.
 */
import { startConsuming, type KafkaSettings } from "../../src/kafka/index.js";
import { uniqueName } from "./names.js";

export interface LatestValues {
  /** Per key: the value of its record with the highest offset. */
  values: Map<string, string>;
  /** Distinct records read (partition and offset). */
  records(): number;
  stop(): Promise<void>;
}

export async function readLatestValues(kafka: KafkaSettings, topic: string): Promise<LatestValues> {
  const latest = new Map<string, { offset: bigint }>();
  const values = new Map<string, string>();
  const seen = new Set<string>();
  const consuming = await startConsuming(kafka, {
    groupId: uniqueName("reader"),
    topics: [topic],
    readCommitted: true,
    concurrency: 16,
    handle: async ({ partition, offset, key, value }) => {
      seen.add(`${partition}:${offset}`);
      const name = String(key);
      const current = latest.get(name);
      // A key lives in one partition, so its offsets are comparable.
      if (current === undefined || offset > current.offset) {
        latest.set(name, { offset });
        values.set(name, String(value));
      }
    },
  });
  return { values, records: () => seen.size, stop: () => consuming.stop() };
}
