/**
 * Fetches topic-partitions from given offsets, read_committed, with the Kafka protocol's Fetch
 * request: the runtime keeps each task's position itself (as Kafka Streams' tasks do), so that
 * a task that reopens simply reads from its committed offsets again, with no seek to race a
 * fetch in flight. One request per partition leader, all at once, on the consumer's
 * connections and at the Fetch version it agreed with the broker.
 *
 * Not through `Consumer.fetch`: its read_committed filter (@platformatic/kafka 2.12) ends a
 * producer's aborted range at that producer's last abort marker in the response, so an abort
 * the broker does not list (one that wrote nothing to the partition: a worker's successor
 * aborting the transaction it left open) drops every committed record of that producer
 * before it. Aborted transactions are left out here, the way the Java consumer does it
 * (committed-records.ts).
 */
import {
  FetchIsolationLevels,
  kGetApi,
  type API,
  type Consumer,
  type fetchV17,
} from "@platformatic/kafka";
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
}

export interface PartitionFetcher {
  fetch(positions: readonly FetchPosition[], maxWaitMs: number): Promise<FetchedPartition[]>;
}

const PARTITION_MAX_BYTES = 1024 * 1024;
const MAX_BYTES = 16 * 1024 * 1024;

type FetchArguments = [
  maxWaitMs: number,
  minBytes: number,
  maxBytes: number,
  isolationLevel: number,
  sessionId: number,
  sessionEpoch: number,
  topics: fetchV17.FetchRequestTopic[],
  forgottenTopicsData: fetchV17.FetchRequestForgottenTopicsData[],
  rackId: string,
];
type FetchApi = API<FetchArguments, fetchV17.FetchResponse>;

/** Fetch versions up to 12 name topics; later ones identify them by id. */
const LAST_VERSION_WITH_TOPIC_NAMES = 12;
/** Session id 0 with epoch -1: a full fetch that opens no fetch session (KIP-227). */
const NO_SESSION = { id: 0, epoch: -1 };

export class KafkaPartitionFetcher implements PartitionFetcher {
  /** Set after a failed fetch: leaders may have moved, so metadata is fetched anew. */
  private staleMetadata = false;

  constructor(
    private readonly consumer: Pick<Consumer, "metadata" | "connections" | typeof kGetApi>,
  ) {}

  async fetch(positions: readonly FetchPosition[], maxWaitMs: number): Promise<FetchedPartition[]> {
    if (positions.length === 0) return [];
    try {
      return await this.fetchFromLeaders(positions, maxWaitMs);
    } catch (error) {
      this.staleMetadata = true;
      throw error;
    }
  }

  private async fetchFromLeaders(
    positions: readonly FetchPosition[],
    maxWaitMs: number,
  ): Promise<FetchedPartition[]> {
    const topics = [...new Set(positions.map((p) => p.topic))];
    const metadata = await this.consumer.metadata({ topics, forceUpdate: this.staleMetadata });
    this.staleMetadata = false;
    const api = await this.fetchApi();
    const byTopicName = api.version <= LAST_VERSION_WITH_TOPIC_NAMES;
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
        const broker = metadata.brokers.get(node);
        if (broker === undefined) throw new Error(`no address known for broker ${node}`);
        const requested = new Map(nodePositions.map((p) => [`${p.topic}/${p.partition}`, p]));
        const request = new Map<string, fetchV17.FetchRequestTopic>();
        for (const p of nodePositions) {
          const topicId = byTopicName ? p.topic : (metadata.topics.get(p.topic)?.id as string);
          const entry = request.get(topicId) ?? { topicId, partitions: [] };
          entry.partitions.push({
            partition: p.partition,
            fetchOffset: p.offset,
            partitionMaxBytes: PARTITION_MAX_BYTES,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
          });
          request.set(topicId, entry);
        }
        const connection = await this.consumer.connections.get(broker);
        const response = await api.async(
          connection,
          maxWaitMs,
          1,
          MAX_BYTES,
          FetchIsolationLevels.READ_COMMITTED,
          NO_SESSION.id,
          NO_SESSION.epoch,
          [...request.values()],
          [],
          "",
        );
        const fetched: FetchedPartition[] = [];
        for (const topicResponse of response.responses) {
          const topic = byTopicName
            ? topicResponse.topicId
            : (names.get(topicResponse.topicId) ?? topicResponse.topicId);
          for (const partitionResponse of topicResponse.partitions) {
            const position = requested.get(`${topic}/${partitionResponse.partitionIndex}`);
            if (position === undefined) continue;
            fetched.push(committedPartition(position, partitionResponse));
          }
        }
        return fetched;
      }),
    );
    return results.flat();
  }

  /** The Fetch version the consumer agreed with the brokers. */
  private fetchApi(): Promise<FetchApi> {
    return new Promise((resolve, reject) => {
      this.consumer[kGetApi]<FetchArguments, fetchV17.FetchResponse>("Fetch", (error, api) => {
        if (error !== null || api === undefined) reject(error ?? new Error("no Fetch API"));
        else resolve(api);
      });
    });
  }
}

function committedPartition(
  position: FetchPosition,
  response: fetchV17.FetchResponsePartition,
): FetchedPartition {
  const { records, next } = committedRecords(
    response.records ?? [],
    response.abortedTransactions,
    position.offset,
  );
  return {
    topic: position.topic,
    partition: position.partition,
    from: position.offset,
    records,
    next,
    lastStable: response.lastStableOffset,
  };
}
