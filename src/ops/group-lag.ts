/**
 * A worker group's backlog, read from Kafka as an autoscaler would (no worker needs to answer,
 * and a stuck one is seen too): per input partition, the records between the group's committed
 * offset and the last stable offset, and the time of the first of them (one small fetch per
 * partition leader); with the group's members and its partition count.
 */
import { ListOffsetTimestamps } from "@platformatic/kafka";
import {
  createAdmin,
  createReader,
  ReadCommittedConsumer,
  type KafkaAdmin,
  type KafkaSettings,
} from "../kafka/index.js";
import {
  KafkaPartitionFetcher,
  type FetchedPartition,
  type FetchPosition,
} from "../topology/index.js";

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Where the group will read next (its committed offset, else the log's start). */
  position: number;
  lag: number;
  /** When the first record not yet processed was written (undefined: none waiting). */
  oldestAt: number | undefined;
}

export interface GroupLag {
  at: number;
  partitions: PartitionLag[];
  lag: number;
  oldestAgeMs: number;
  /** Members of the group now. */
  workers: number;
  /** The input topics' partition count (the most of them). */
  partitionCount: number;
}

/** Per partition: the engine's record batches fit (a partition's first record is all we read). */
const PEEK_BYTES = 64 * 1024;

export class GroupLagProbe {
  private readonly admin: KafkaAdmin;
  private readonly consumer: ReadCommittedConsumer;
  private readonly fetcher: KafkaPartitionFetcher;

  constructor(
    settings: KafkaSettings,
    private readonly groupId: string,
    private readonly topics: readonly string[],
  ) {
    this.admin = createAdmin(settings);
    this.consumer = createReader(settings, `${groupId}-lag-probe`);
    this.fetcher = new KafkaPartitionFetcher(this.consumer, PEEK_BYTES);
  }

  async sample(): Promise<GroupLag> {
    const at = Date.now();
    const [committed, groups] = await Promise.all([
      this.admin.listConsumerGroupOffsets({ groups: [this.groupId] }),
      this.admin.describeGroups({ groups: [this.groupId] }),
    ]);
    // The topics named, and any other the group has committed offsets on.
    const groupTopics = committed[0]?.topics ?? [];
    const topics = [...new Set([...this.topics, ...groupTopics.map((t) => t.name)])];
    const metadata = await this.consumer.metadata({ topics });
    const counts = topics.map((topic) => metadata.topics.get(topic)?.partitionsCount ?? 0);
    const offsets = new Map<string, bigint>();
    for (const topic of groupTopics) {
      for (const p of topic.partitions) {
        if (p.committedOffset >= 0n) {
          offsets.set(`${topic.name}/${p.partitionIndex}`, p.committedOffset);
        }
      }
    }
    const uncommitted = topics.flatMap((topic, i) =>
      Array.from({ length: counts[i] ?? 0 }, (_, partition) => ({ topic, partition })).filter(
        ({ partition }) => !offsets.has(`${topic}/${partition}`),
      ),
    );
    // A partition the group never committed is read from its start, as the workers do.
    for (const topic of new Set(uncommitted.map((u) => u.topic))) {
      const partitions = uncommitted.filter((u) => u.topic === topic).map((u) => u.partition);
      const listed = await this.consumer.listOffsets({
        topics: [topic],
        partitions: { [topic]: partitions },
        timestamp: ListOffsetTimestamps.EARLIEST,
      });
      const earliest = listed.get(topic) ?? [];
      for (const p of partitions) offsets.set(`${topic}/${p}`, earliest[p] ?? 0n);
    }
    const positions: FetchPosition[] = topics.flatMap((topic, i) =>
      Array.from({ length: counts[i] ?? 0 }, (_, partition) => ({
        topic,
        partition,
        offset: offsets.get(`${topic}/${partition}`) ?? 0n,
      })),
    );
    // read committed: LATEST is the last stable offset
    const ends = await this.consumer.listOffsets({
      topics,
      timestamp: ListOffsetTimestamps.LATEST,
    });
    const lagOf = (p: FetchPosition) => {
      const end = ends.get(p.topic)?.[p.partition] ?? p.offset;
      return end > p.offset ? Number(end - p.offset) : 0;
    };
    const firstTimes = await this.firstRecordTimes(positions.filter((p) => lagOf(p) > 0));
    const partitions = positions.map((p): PartitionLag => ({
      topic: p.topic,
      partition: p.partition,
      position: Number(p.offset),
      lag: lagOf(p),
      oldestAt: firstTimes.get(`${p.topic}/${p.partition}`),
    }));
    const oldest = Math.min(...partitions.map((p) => p.oldestAt ?? Infinity));
    return {
      at,
      partitions,
      lag: partitions.reduce((sum, p) => sum + p.lag, 0),
      oldestAgeMs: Number.isFinite(oldest) ? Math.max(0, at - oldest) : 0,
      workers: groups.get(this.groupId)?.members.size ?? 0,
      partitionCount: Math.max(0, ...counts),
    };
  }

  /** The time of the record at each position (absent where none came: a marker first). */
  private async firstRecordTimes(positions: FetchPosition[]): Promise<Map<string, number>> {
    const times = new Map<string, number>();
    const note = (fetched: FetchedPartition[]) => {
      for (const f of fetched) {
        const first = f.records[0];
        if (first !== undefined) times.set(`${f.topic}/${f.partition}`, first.timestamp);
      }
    };
    note(await this.fetcher.fetch(positions, 0));
    // Past the first partition, a batch over PEEK_BYTES does not come (KIP-74), and a fetch
    // session may leave partitions out: ask those alone.
    const unseen = positions.filter((p) => !times.has(`${p.topic}/${p.partition}`));
    for (const p of unseen) note(await this.fetcher.fetch([p], 0));
    return times;
  }

  async close(): Promise<void> {
    await Promise.all([this.consumer.close(true), this.admin.close()]);
  }
}
