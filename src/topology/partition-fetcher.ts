/**
 * Fetches topic-partitions from given offsets, read_committed, with @platformatic/kafka's
 * low-level fetch: the runtime keeps each task's position itself (as Kafka Streams' tasks do),
 * so that a task that reopens simply reads from its committed offsets again, with no seek to
 * race a fetch in flight. One request per partition leader, all at once. The consumer must be
 * one of createConsumer's: it leaves aborted transactions out of what it fetches
 * (kafka/read-committed.ts).
 */
import { FetchIsolationLevels, type Consumer, type fetchV17 } from "@platformatic/kafka";
import { committedRecords, type CommittedRecord } from "./committed-records.js";

export interface FetchPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  /** The offset the fetch started at (the records are at or after it). */
  from: bigint;
  records: CommittedRecord[];
  /** Where to fetch from next: past every batch returned, markers and aborted ones included. */
  next: bigint;
  /** The last stable offset: what a read_committed reader can read up to, for lag. */
  lastStable: bigint;
  /** The broker's error code for this partition (0 or absent: none; else no records came). */
  errorCode?: number;
}

export interface PartitionFetcher {
  fetch(positions: readonly FetchPosition[], maxWaitMs: number): Promise<FetchedPartition[]>;
}

const PARTITION_MAX_BYTES = 1024 * 1024;
const MAX_BYTES = 16 * 1024 * 1024;

export class KafkaPartitionFetcher implements PartitionFetcher {
  /** `partitionMaxBytes`: a small one still returns a partition's first batch (KIP-74). */
  constructor(
    private readonly consumer: Pick<Consumer, "fetch" | "metadata">,
    private readonly partitionMaxBytes = PARTITION_MAX_BYTES,
  ) {}

  async fetch(positions: readonly FetchPosition[], maxWaitMs: number): Promise<FetchedPartition[]> {
    if (positions.length === 0) return [];
    const topics = [...new Set(positions.map((p) => p.topic))];
    const metadata = await this.consumer.metadata({ topics });
    const byNode = new Map<number, FetchPosition[]>();
    for (const position of positions) {
      const leader = metadata.topics.get(position.topic)?.partitions[position.partition]?.leader;
      if (leader === undefined) {
        throw new Error(`no leader known for ${position.topic}/${position.partition}`);
      }
      byNode.set(leader, [...(byNode.get(leader) ?? []), position]);
    }
    const names = new Map([...metadata.topics].map(([name, topic]) => [topic.id, name]));
    const results = await Promise.all(
      [...byNode].map(async ([node, nodePositions]) => {
        const requested = new Map(nodePositions.map((p) => [`${p.topic}/${p.partition}`, p]));
        const request = new Map<string, fetchV17.FetchRequestTopic>();
        for (const p of nodePositions) {
          const topicId = metadata.topics.get(p.topic)?.id as string;
          const entry = request.get(topicId) ?? { topicId, partitions: [] };
          entry.partitions.push({
            partition: p.partition,
            fetchOffset: p.offset,
            partitionMaxBytes: this.partitionMaxBytes,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
          });
          request.set(topicId, entry);
        }
        const response = await this.consumer.fetch({
          node,
          topics: [...request.values()],
          maxWaitTime: maxWaitMs,
          minBytes: 1,
          maxBytes: MAX_BYTES,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        const fetched: FetchedPartition[] = [];
        for (const topicResponse of response.responses) {
          const topic = names.get(topicResponse.topicId) ?? topicResponse.topicId;
          for (const partitionResponse of topicResponse.partitions) {
            const position = requested.get(`${topic}/${partitionResponse.partitionIndex}`);
            if (position === undefined) continue; // a partition lingering in the fetch session
            fetched.push(committedPartition(position, partitionResponse));
          }
        }
        return fetched;
      }),
    );
    return results.flat();
  }
}

function committedPartition(
  position: FetchPosition,
  response: fetchV17.FetchResponsePartition,
): FetchedPartition {
  const { records, next } = committedRecords(response.records ?? [], position.offset);
  return {
    topic: position.topic,
    partition: position.partition,
    from: position.offset,
    records,
    next,
    lastStable: response.lastStableOffset,
    errorCode: response.errorCode,
  };
}
