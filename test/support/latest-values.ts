/**
 * Reads a topic read_committed and keeps, per key, the value at the highest offset, and the
 * number of records. It reads with the runtime's own fetcher and its Java-style filter of
 * aborted transactions: @platformatic/kafka's consumer can deliver records of an aborted
 * transaction (when one fetch holds two aborted transactions of one producer, or the abort
 * marker arrives in a later fetch), which counted as duplicates the topic does not hold.
 */
import {
  createConsumer,
  topicOffsets,
  withAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { KafkaPartitionFetcher } from "../../src/topology/partition-fetcher.js";
import { uniqueName } from "./names.js";

export interface LatestValues {
  /** Per key: the value of its record with the highest offset. */
  values: Map<string, string>;
  /** Committed records read. */
  records(): number;
  stop(): Promise<void>;
}

export async function readLatestValues(kafka: KafkaSettings, topic: string): Promise<LatestValues> {
  const partitions = await withAdmin(kafka, (admin) => topicOffsets(admin, topic));
  const consumer = createConsumer(kafka, { groupId: uniqueName("reader") });
  const fetcher = new KafkaPartitionFetcher(consumer);
  const positions = partitions.map((p) => ({ topic, partition: p.partition, offset: p.low }));
  const values = new Map<string, string>();
  let records = 0;
  const state = { stopping: false };
  const reading = (async () => {
    while (!state.stopping) {
      for (const fetched of await fetcher.fetch(positions, 200)) {
        const position = positions.find((p) => p.partition === fetched.partition);
        if (position === undefined || fetched.from !== position.offset) continue;
        // A key lives in one partition, read in offset order: the last one read is the latest.
        for (const record of fetched.records) values.set(String(record.key), String(record.value));
        records += fetched.records.length;
        position.offset = fetched.next;
      }
    }
  })();
  return {
    values,
    records: () => records,
    async stop() {
      state.stopping = true;
      await reading;
      await consumer.close();
    },
  };
}
