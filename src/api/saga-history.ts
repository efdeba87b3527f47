/**
 * A saga's history, read from the saga-events log (the source of truth; no store keeps it).
 * The saga's partition is read, read committed, from the first record stamped at or after the
 * saga's start (ListOffsets by timestamp: a decision record carries its input's time, and the
 * saga's first one is stamped with its start) until the saga's events are all there or the
 * read reaches the partition's last stable offset as it was when the read began. Kept in one
 * small module, the only Kafka I/O of the API.
 *
 * The partition is fetched directly from its leader (the runtime's KafkaPartitionFetcher),
 * with no consumer group: nothing to join, so nothing waits on the broker's
 * `group.initial.rebalance.delay.ms`, and no group is left behind per read.
 */
import { FetchIsolationLevels, ListOffsetTimestamps, type Consumer } from "@platformatic/kafka";
import { baseOptions, ReadCommittedConsumer, type KafkaSettings } from "../kafka/index.js";
import { eventsOf, sagaDecisionReader, type SagaEvent } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { KafkaPartitionFetcher } from "../topology/index.js";

export interface HistoryEntry {
  seq: number;
  event: SagaEvent;
}

/** Where a saga's history starts and how long it is (from its state). */
export interface HistoryBounds {
  startedAt: number;
  /** Events the saga has (its state's seq): the read stops once it has them all. */
  events: number;
}

export interface SagaHistoryReader {
  read(sagaId: string, partition: number, bounds: HistoryBounds): Promise<HistoryEntry[]>;
  close(): Promise<void>;
}

/** How long one fetch waits for records when the broker has none yet. */
const FETCH_WAIT_MS = 100;

export function kafkaSagaHistory(options: {
  kafka: KafkaSettings;
  /** The saga-events topic. */
  topic: string;
  codec: AvroCodec;
  /** A read that takes longer fails (default 30 s). */
  timeoutMs?: number;
}): SagaHistoryReader {
  const { topic } = options;
  const decode = sagaDecisionReader(options.codec);
  // Never joins its group (the library wants one named): it lists offsets and fetches, read
  // committed, as the runtime's restore consumer does.
  let client: Consumer | undefined;
  const consumer = () =>
    (client ??= new ReadCommittedConsumer({
      ...baseOptions(options.kafka),
      groupId: `${options.kafka.clientId}-history`,
      autocommit: false,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    }));

  async function offsetOf(partition: number, timestamp: bigint): Promise<bigint> {
    const offsets = await consumer().listOffsets({
      topics: [topic],
      partitions: { [topic]: [partition] },
      timestamp,
    });
    const offset = offsets.get(topic)?.[partition];
    if (offset === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
    return offset;
  }

  /** Offsets [from, end) of the partition that can hold the saga's events. */
  async function span(partition: number, startedAt: number): Promise<[bigint, bigint]> {
    // read committed: LATEST is the last stable offset
    const [start, end] = await Promise.all([
      offsetOf(partition, BigInt(startedAt)),
      offsetOf(partition, ListOffsetTimestamps.LATEST),
    ]);
    // -1: no record stamped at or after the start (yet)
    return [start < 0n ? end : start, end];
  }

  async function read(
    sagaId: string,
    partition: number,
    bounds: HistoryBounds,
  ): Promise<HistoryEntry[]> {
    if (bounds.events <= 0) return [];
    const [from, end] = await span(partition, bounds.startedAt);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    // By seq: an event the log holds twice (a decision written again) is listed once.
    const history = new Map<number, SagaEvent>();
    // A fetcher per read: it tracks the partition's aborted transactions from `from` on.
    const fetcher = new KafkaPartitionFetcher(consumer());
    let position = from;
    while (position < end && history.size < bounds.events) {
      if (Date.now() > deadline) {
        throw new Error(
          `reading saga ${sagaId}'s history took over ${timeoutMs} ms ` +
            `(at offset ${position} of ${topic}/${partition}, reading up to ${end})`,
        );
      }
      const [fetched] = await fetcher.fetch(
        [{ topic, partition, offset: position }],
        FETCH_WAIT_MS,
      );
      if (fetched === undefined) continue;
      for (const record of fetched.records) {
        if (record.offset >= end || record.value === null) continue;
        if (record.key?.toString() !== sagaId) continue;
        for (const { seq, event } of eventsOf(await decode(record.value))) {
          history.set(seq, event);
        }
      }
      position = fetched.next;
    }
    return [...history].sort(([a], [b]) => a - b).map(([seq, event]) => ({ seq, event }));
  }

  return {
    read,
    close: async () => {
      const c = client;
      client = undefined;
      await c?.close(true).catch(() => undefined);
    },
  };
}
