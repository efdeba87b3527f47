/** Admin clients, and the topic chores the engine and its tools share. */
import { Admin, ListOffsetTimestamps } from "@platformatic/kafka";
import { waitUntil } from "../util/index.js";
import { kafkaErrorId } from "./retry.js";
import { logClientEvents } from "./logging.js";
import { explainSecurityFailure } from "./security-errors.js";
import { baseOptions, type ClientOptions, type KafkaSettings } from "./settings.js";

export type KafkaAdmin = Admin;

export function createAdmin(settings: KafkaSettings, options: ClientOptions = {}): KafkaAdmin {
  const admin = new Admin(baseOptions(settings, options));
  if (settings.logger !== undefined) {
    logClientEvents(admin, settings.logger.child({ component: "kafka-admin" }));
  }
  return admin;
}

/**
 * Runs `fn` with an admin client and always closes it. A refusal of the client's security
 * (credentials, TLS) becomes a KafkaSecurityError that names the setting to change.
 */
export async function withAdmin<T>(
  settings: KafkaSettings,
  fn: (admin: KafkaAdmin) => Promise<T>,
  options: ClientOptions = {},
): Promise<T> {
  const admin = createAdmin(settings, options);
  try {
    return await fn(admin);
  } catch (error) {
    throw explainSecurityFailure(error, settings);
  } finally {
    await admin.close();
  }
}

export interface TopicSpec {
  topic: string;
  /** Default: the broker's num.partitions. */
  partitions?: number;
  /** Default: `durableReplication`'s (3, or every broker of a smaller cluster). */
  replicas?: number;
  /** Topic configs, e.g. { "retention.ms": "-1" }. */
  configs?: Record<string, string>;
}

/**
 * The seed's durability where the cluster allows: 3 replicas (every broker of a smaller
 * cluster) and `min.insync.replicas` 2 once there are 3, so that acks=all survives a broker
 * loss without losing an acknowledged record. Counts the brokers alive now: a topic created
 * with one of three down gets 2 replicas rather than failing.
 */
export async function durableReplication(
  admin: KafkaAdmin,
): Promise<{ replicas: number; configs: Record<string, string> }> {
  const brokers = (await admin.metadata({ topics: [] })).brokers.size;
  const replicas = Math.max(1, Math.min(3, brokers));
  return { replicas, configs: { "min.insync.replicas": replicas >= 3 ? "2" : "1" } };
}

/**
 * Creates the topics that do not exist yet (another process creating one at the same time is
 * fine), then waits until every partition of each has a leader: a topic is usable only then.
 * Returns the topics it created.
 */
export async function ensureTopics(
  admin: KafkaAdmin,
  specs: readonly TopicSpec[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.topic));
  const durable = missing.length > 0 ? await durableReplication(admin) : undefined;
  for (const spec of missing) {
    const configs = { ...(spec.replicas === undefined ? durable?.configs : {}), ...spec.configs };
    try {
      await admin.createTopics({
        topics: [
          {
            topic: spec.topic,
            partitions: spec.partitions ?? -1,
            replicas: spec.replicas ?? durable?.replicas ?? -1,
          },
        ],
        configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
      });
    } catch (error) {
      if (kafkaErrorId(error) !== "TOPIC_ALREADY_EXISTS") throw error;
    }
  }
  await waitForLeaders(
    admin,
    specs.map((s) => s.topic),
    timeoutMs,
  );
  return missing.map((s) => s.topic);
}

/** Waits until every partition of `topics` has a leader (kafkajs's `waitForLeaders`). */
export async function waitForLeaders(
  admin: KafkaAdmin,
  topics: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  if (topics.length === 0) return;
  await waitUntil(
    async () => {
      const metadata = await admin.metadata({ topics: [...topics], forceUpdate: true });
      const led = topics.every((name) => {
        const topic = metadata.topics.get(name);
        return (
          topic !== undefined &&
          topic.partitions.length === topic.partitionsCount &&
          topic.partitions.every((p) => p.leader >= 0)
        );
      });
      return led ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, description: `leaders for ${topics.join(", ")}` },
  );
}

export interface PartitionOffsets {
  partition: number;
  /** The first offset still in the log. */
  low: bigint;
  /** The offset the next record will get (the high watermark). */
  high: bigint;
}

/** Each partition's first and next offset. */
export async function topicOffsets(admin: KafkaAdmin, topic: string): Promise<PartitionOffsets[]> {
  const metadata = await admin.metadata({ topics: [topic] });
  const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
  const at = async (timestamp: bigint) => {
    const [listed] = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: count }, (_, partitionIndex) => ({
            partitionIndex,
            timestamp,
          })),
        },
      ],
    });
    return new Map(listed?.partitions.map((p) => [p.partitionIndex, p.offset]));
  };
  const [low, high] = await Promise.all([
    at(ListOffsetTimestamps.EARLIEST),
    at(ListOffsetTimestamps.LATEST),
  ]);
  return Array.from({ length: count }, (_, partition) => ({
    partition,
    low: low.get(partition) ?? 0n,
    high: high.get(partition) ?? 0n,
  }));
}
