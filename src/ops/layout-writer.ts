/**
 * Writing an application's layout record (saga/generations.ts), which its workers and
 * participants follow: the repartition's freeze and switch, a failover's fence and activation.
 */
import { createProducer, ensureTopics, withAdmin, type KafkaSettings } from "../kafka/index.js";
import { encodeLayout, LAYOUT_KEY, layoutTopic, type AppLayout } from "../saga/index.js";
import type { ProducedRecord } from "../kafka/index.js";

/** The layout record, to send in a transaction of one's own (with a job's journal). */
export function layoutRecord(app: string, layout: AppLayout): ProducedRecord {
  return { topic: layoutTopic(app), partition: 0, key: LAYOUT_KEY, value: encodeLayout(layout) };
}

/** The compacted topic of one partition that holds it. */
export async function ensureLayoutTopic(kafka: KafkaSettings, app: string): Promise<void> {
  await withAdmin(kafka, (admin) =>
    ensureTopics(admin, [
      { topic: layoutTopic(app), partitions: 1, configs: { "cleanup.policy": "compact" } },
    ]),
  );
}

/**
 * Writes the layout in `kafka`'s cluster, in a transaction of `writer`'s id (an earlier writer
 * of that id still running is fenced).
 */
export async function writeLayout(
  kafka: KafkaSettings,
  app: string,
  layout: AppLayout,
  writer: string,
): Promise<void> {
  await ensureLayoutTopic(kafka, app);
  const producer = createProducer(kafka, { transactionalId: writer });
  try {
    const transaction = await producer.beginTransaction();
    try {
      await transaction.send({ messages: [layoutRecord(app, layout)] });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  } finally {
    await producer.close();
  }
}
