/** Reads a topic from the beginning until `count` records arrived (or a deadline passes). */
import {
  startConsuming,
  topicOffsets,
  withAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "./names.js";

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | undefined;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Each record once, by partition and offset, in partition then offset order. (A group member
 * may be handed a record again after a rebalance; that is the reader's, not the topic's.)
 */
export async function readTopic(
  kafka: KafkaSettings,
  topic: string,
  count: number,
  options: { group?: string; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const records = new Map<string, ReadRecord>();
  const consuming = await startConsuming(kafka, {
    groupId: options.group ?? uniqueName("reader"),
    topics: [topic],
    concurrency: 16,
    handle: async (record) => {
      records.set(`${record.partition}:${record.offset}`, {
        partition: record.partition,
        offset: String(record.offset),
        key: record.key?.toString(),
        value: record.value ?? null,
        headers: Object.fromEntries([...record.headers].map(([k, v]) => [k, v?.toString() ?? ""])),
      });
    },
  });
  try {
    await waitUntil(() => (records.size >= count ? true : undefined), {
      timeoutMs: options.timeoutMs ?? 60_000,
      description: `${count} records on ${topic} (${records.size} so far)`,
    });
  } finally {
    await consuming.stop(); // commits the offsets of what was consumed
  }
  return [...records.values()].sort(
    (a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset),
  );
}

/** Reads every record on `topic` up to its end now (read committed). */
export async function readAll(kafka: KafkaSettings, topic: string): Promise<ReadRecord[]> {
  const offsets = await withAdmin(kafka, (admin) => topicOffsets(admin, topic));
  const count = offsets.reduce((sum, p) => sum + Number(p.high - p.low), 0);
  return readTopic(kafka, topic, count);
}
