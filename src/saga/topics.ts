/**
 * The engine's topics: created when missing, all with the same partition count, so that a
 * saga's messages share one partition everywhere; a worker refuses topics that are not.
 */
import { TopologyError } from "../errors/index.js";
import { ensureTopics, withAdmin, type KafkaSettings } from "../kafka/index.js";
import { generationTopic } from "./generations.js";
import { sagaTopics } from "./messages.js";

/**
 * Creates the engine's topics, and the topics whose events start sagas, when missing; all get
 * `partitions` partitions. (Debezium would create an outbox topic with the broker's default
 * count, which is rarely the engine's.)
 */
export async function ensureSagaTopics(
  kafka: KafkaSettings,
  applicationId: string,
  participants: readonly string[],
  partitions: number,
  startTopics: readonly string[] = [],
  generation = 0,
): Promise<void> {
  const topics = sagaTopics(applicationId, generation);
  const wanted = [
    ...new Set([
      topics.events,
      topics.replies,
      topics.control,
      ...participants.map((p) => topics.commands(p)),
      ...startTopics.map((topic) => generationTopic(topic, generation)),
    ]),
  ];
  await withAdmin(kafka, async (admin) => {
    await ensureTopics(
      admin,
      wanted.map((topic) => ({
        topic,
        partitions,
        // the saga-events log is the source of truth: keep it
        ...(topic === topics.events ? { configs: { "retention.ms": "-1" } } : {}),
      })),
    );
    // Topics that existed, or that another process created meanwhile, may have another count.
    const metadata = await admin.metadata({ topics: wanted, forceUpdate: true });
    const wrong = wanted
      .map((name) => ({ name, count: metadata.topics.get(name)?.partitionsCount }))
      .filter(({ count }) => count !== partitions);
    if (wrong.length > 0) {
      throw new TopologyError(
        `saga topics must all have ${partitions} partitions (co-partitioned by saga id); ` +
          wrong.map((t) => `${t.name} has ${String(t.count)}`).join(", ") +
          ": repartition them (sagastream ops) or set the worker's partitions to match",
      );
    }
  });
}
