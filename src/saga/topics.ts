/**
 * The engine's topics: created when missing, all with the same partition count, so that a
 * saga's messages share one partition everywhere; a worker refuses topics that are not.
 */
import type { Kafka } from "kafkajs";
import { TopologyError } from "../errors/index.js";
import { withAdmin } from "../kafka/kafkajs-legacy.js";
import { sagaTopics } from "./messages.js";

/**
 * Creates the engine's topics, and the topics whose events start sagas, when missing; all get
 * `partitions` partitions. (Debezium would create an outbox topic with the broker's default
 * count, which is rarely the engine's.)
 */
export async function ensureSagaTopics(
  kafka: Kafka,
  applicationId: string,
  participants: readonly string[],
  partitions: number,
  startTopics: readonly string[] = [],
): Promise<void> {
  const topics = sagaTopics(applicationId);
  const wanted = [
    topics.events,
    topics.replies,
    topics.control,
    ...participants.map((p) => topics.commands(p)),
    ...startTopics,
  ];
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          // the saga-events log is the source of truth: keep it
          configEntries: topic === topics.events ? [{ name: "retention.ms", value: "-1" }] : [],
        })),
        waitForLeaders: true,
      });
    }
    const present = wanted.filter((t) => existing.has(t));
    if (present.length === 0) return;
    const metadata = await admin.fetchTopicMetadata({ topics: present });
    const wrong = metadata.topics.filter((t) => t.partitions.length !== partitions);
    if (wrong.length > 0) {
      throw new TopologyError(
        `saga topics must all have ${partitions} partitions (co-partitioned by saga id); ` +
          wrong.map((t) => `${t.name} has ${t.partitions.length}`).join(", ") +
          ": repartition them (sagastream ops) or set the worker's partitions to match",
      );
    }
  });
}
