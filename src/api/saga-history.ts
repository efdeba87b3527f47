/**
 * A saga's history, read from the saga-events log (the source of truth; no store keeps it).
 * The saga's partition is read, read committed, from the first record stamped at or after the
 * saga's start (ListOffsets by timestamp: a decision record carries its input's time, and the
 * saga's first one is stamped with its start) until the saga's events are all there or the
 * log ends. Kept in one small module, the only Kafka I/O of the API, so that moving it to
 * another client touches nothing else.
 *
 * kafkajs cannot read a partition without a consumer group, so a throwaway group whose
 * assigner hands it just this partition does the reading (as the changelog restore does).
 * A new group's first join waits `group.initial.rebalance.delay.ms` on the broker (0 on the
 * local stack, 3 s by default): a client that fetches without a group reads at once.
 */
import { randomUUID } from "node:crypto";
import { AssignerProtocol, type Admin, type Kafka, type PartitionAssigner } from "kafkajs";
import { eventsOf, sagaDecisionReader, type SagaEvent } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";

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

function onlyPartition(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: "SagastreamHistory",
    version: 1,
    protocol: ({ topics }) => ({
      name: "SagastreamHistory",
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.alloc(0),
      }),
    }),
    assign: ({ members }) =>
      Promise.resolve(
        members.map((member, i) => ({
          memberId: member.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: i === 0 ? { [topic]: [partition] } : {},
            userData: Buffer.alloc(0),
          }),
        })),
      ),
  });
}

export function kafkaSagaHistory(options: {
  kafka: Kafka;
  /** The saga-events topic. */
  topic: string;
  codec: AvroCodec;
  /** A read that takes longer fails (default 30 s). */
  timeoutMs?: number;
}): SagaHistoryReader {
  const { kafka, topic } = options;
  const decode = sagaDecisionReader(options.codec);
  let admin: Promise<Admin> | undefined;
  const connectedAdmin = () =>
    (admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })());

  /** Offsets [from, end) of the partition that can hold the saga's events. */
  async function span(partition: number, startedAt: number): Promise<[bigint, bigint]> {
    const a = await connectedAdmin();
    const starts = await a.fetchTopicOffsetsByTimestamp(topic, startedAt);
    const ends = await a.fetchTopicOffsets(topic); // read committed: the last stable offset
    const from = starts.find((p) => p.partition === partition)?.offset;
    const end = ends.find((p) => p.partition === partition)?.high;
    if (from === undefined || end === undefined) {
      throw new Error(`topic ${topic} has no partition ${partition}`);
    }
    return [BigInt(from), BigInt(end)];
  }

  async function read(
    sagaId: string,
    partition: number,
    bounds: HistoryBounds,
  ): Promise<HistoryEntry[]> {
    const [from, end] = await span(partition, bounds.startedAt);
    // By seq: a batch kafkajs delivers again (after the seek) adds nothing twice.
    const history = new Map<number, SagaEvent>();
    if (from >= end || bounds.events <= 0) return [];
    const consumer = kafka.consumer({
      groupId: `sagastream-history-${randomUUID()}`,
      partitionAssigners: [onlyPartition(topic, partition)],
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      let finish = () => {};
      const done = new Promise<void>((resolve, reject) => {
        finish = resolve;
        timer = setTimeout(() => {
          reject(new Error(`reading saga ${sagaId}'s history took over ${timeoutMs} ms`));
        }, timeoutMs);
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          if (payload.partition === partition && BigInt(payload.lastOffset) + 1n >= end) resolve();
        });
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          reject(payload.error);
        });
      });
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            if (offset < from || offset >= end || message.value === null) continue;
            if (message.key?.toString() !== sagaId) continue;
            for (const { seq, event } of eventsOf(await decode(message.value))) {
              history.set(seq, event);
            }
            if (history.size >= bounds.events) {
              finish();
              return;
            }
          }
        },
      });
      if (from > 0n) consumer.seek({ topic, partition, offset: from.toString() });
      await done;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    return [...history].sort(([a], [b]) => a - b).map(([seq, event]) => ({ seq, event }));
  }

  return {
    read,
    close: async () => {
      const a = admin;
      admin = undefined;
      await (await a?.catch(() => undefined))?.disconnect();
    },
  };
}
