/**
 * Where partitions start, end and were committed to, as a task needs to know when it opens.
 * A narrow interface, so that the task opener is tested without a broker.
 */
import { FetchIsolationLevels, ListOffsetTimestamps, type Consumer } from "@platformatic/kafka";
import type { GroupCoordinator } from "./group-coordinator.js";

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface PartitionOffsets {
  /** The group's committed offsets by `topic/partition`, once no transaction can change them. */
  committed(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>>;
  /** The first offset still in each partition, by `topic/partition`. */
  earliest(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>>;
  /** The read_committed end (last stable offset) of each partition, by `topic/partition`. */
  end(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>>;
  /**
   * The end of each partition with what open transactions wrote (the high watermark), by
   * `topic/partition`.
   */
  latest(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>>;
}

export class KafkaPartitionOffsets implements PartitionOffsets {
  constructor(
    private readonly consumer: Consumer,
    private readonly coordinator: GroupCoordinator,
    private readonly groupId: string,
  ) {}

  committed(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    return this.coordinator.committedOffsets(this.groupId, partitions);
  }

  earliest(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    return this.list(partitions, ListOffsetTimestamps.EARLIEST);
  }

  end(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    return this.list(partitions, ListOffsetTimestamps.LATEST);
  }

  latest(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    return this.list(
      partitions,
      ListOffsetTimestamps.LATEST,
      FetchIsolationLevels.READ_UNCOMMITTED,
    );
  }

  private async list(
    partitions: readonly TopicPartition[],
    timestamp: bigint,
    isolationLevel: number = FetchIsolationLevels.READ_COMMITTED,
  ): Promise<Map<string, bigint>> {
    if (partitions.length === 0) return new Map();
    const byTopic: Record<string, number[]> = {};
    for (const { topic, partition } of partitions) (byTopic[topic] ??= []).push(partition);
    const offsets = await this.consumer.listOffsets({
      topics: Object.keys(byTopic),
      partitions: byTopic,
      timestamp,
      isolationLevel,
    });
    const result = new Map<string, bigint>();
    for (const { topic, partition } of partitions) {
      const offset = offsets.get(topic)?.[partition];
      if (offset === undefined) throw new Error(`no offset for ${topic}/${partition}`);
      result.set(`${topic}/${partition}`, offset);
    }
    return result;
  }
}
