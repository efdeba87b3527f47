/**
 * One cluster's partitions as PartitionLogs (replication-gap.ts): a read_committed reader in
 * no consumer group, its offsets listed (ListOffsets) and its records fetched from the leaders.
 */
import { ListOffsetTimestamps } from "@platformatic/kafka";
import {
  createAdmin,
  createReader,
  type ClientOptions,
  type KafkaAdmin,
  type KafkaSettings,
} from "../kafka/index.js";
import { KafkaPartitionFetcher } from "../topology/index.js";
import { offsetsAt, readSpan } from "./range-reader.js";
import type { PartitionLog } from "./replication-gap.js";

export class ClusterLogs {
  readonly admin: KafkaAdmin;
  private readonly consumer: ReturnType<typeof createReader>;
  private readonly fetcher: KafkaPartitionFetcher;

  constructor(settings: KafkaSettings, groupId: string, options: ClientOptions = {}) {
    this.admin = createAdmin(settings, options);
    this.consumer = createReader(settings, groupId, options);
    this.fetcher = new KafkaPartitionFetcher(this.consumer);
  }

  /** Whether the cluster answers a metadata request (no retry: a lost cluster fails fast). */
  async reachable(): Promise<string | undefined> {
    try {
      await this.consumer.metadata({ topics: [], forceUpdate: true, retries: 0 });
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** Each topic's partition count (0: not on the cluster). */
  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const existing = new Set(await this.admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    const metadata =
      present.length === 0 ? undefined : await this.consumer.metadata({ topics: present });
    return new Map(topics.map((t) => [t, metadata?.topics.get(t)?.partitionsCount ?? 0] as const));
  }

  /** The logs of a topic's first `count` partitions, with their offsets as of now. */
  async logs(topic: string, count: number): Promise<PartitionLog[]> {
    if (count === 0) return [];
    const partitions = [...Array(count).keys()];
    // read committed: LATEST is the last stable offset
    const [starts, ends] = await Promise.all([
      offsetsAt(this.consumer, topic, partitions, ListOffsetTimestamps.EARLIEST),
      offsetsAt(this.consumer, topic, partitions, ListOffsetTimestamps.LATEST),
    ]);
    return partitions.map((partition) => {
      const start = starts.get(partition) ?? 0n;
      return {
        start,
        end: ends.get(partition) ?? start,
        offsetAtTime: async (timestamp) => {
          const found = await offsetsAt(this.consumer, topic, [partition], BigInt(timestamp));
          const offset = found.get(partition) ?? -1n;
          return offset < 0n ? undefined : offset;
        },
        records: (from, to) => readSpan(this.fetcher, topic, { partition, from, to }),
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([
      this.consumer.close(true).catch(() => undefined),
      this.admin.close().catch(() => undefined),
    ]);
  }
}
