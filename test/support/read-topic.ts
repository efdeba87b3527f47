/** Reads a topic from the beginning until `count` records arrived (or a deadline passes). */
import type { Kafka } from "kafkajs";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "./names.js";

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | undefined;
  value: Buffer | null;
  headers: Record<string, string>;
}

export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  options: { group?: string; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  const consumer = kafka.consumer({ groupId: options.group ?? uniqueName("reader") });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: message.value,
          headers: Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
          ),
        });
      },
    });
    await waitUntil(() => (records.length >= count ? true : undefined), {
      timeoutMs: options.timeoutMs ?? 60_000,
      description: `${count} records on ${topic}`,
    });
    await consumer.stop(); // commits the offsets of what was consumed
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

/** Reads every record on `topic` up to its end now (read committed). */
export async function readAll(kafka: Kafka, topic: string): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const count = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    return await readTopic(kafka, topic, count);
  } finally {
    await admin.disconnect();
  }
}
