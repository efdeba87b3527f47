/**
 * Restores a store from its changelog partition: reads read_committed from `from` to the
 * partition's end (taken before reading) and writes each batch to the engine. kafkajs has no
 * manual assignment, so a throwaway consumer group with an assigner that hands out only this
 * partition does the reading.
 */
import { randomUUID } from "node:crypto";
import { AssignerProtocol, type Admin, type Kafka, type PartitionAssigner } from "kafkajs";
import type { BytesStore, Write } from "../state/index.js";

export interface RestoreProgress {
  store: string;
  partition: number;
  restored: number;
  total: number;
}

function onlyPartition(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: "SagastreamRestore",
    version: 1,
    protocol: ({ topics }) => ({
      name: "SagastreamRestore",
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

/** The partition's read-committed end offset (the last stable offset). */
export async function endOffset(admin: Admin, topic: string, partition: number): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const found = offsets.find((o) => o.partition === partition);
  if (found === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
  return BigInt(found.high);
}

/** Returns the offset the store is now complete up to (the end it read to). */
export async function restoreFromChangelog(options: {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  partition: number;
  from: bigint;
  engine: BytesStore;
  onProgress?: (restored: number, total: number) => void;
}): Promise<bigint> {
  const { kafka, admin, topic, partition, from, engine } = options;
  const end = await endOffset(admin, topic, partition);
  if (end <= from) return end;
  const total = Number(end - from);
  let restored = 0;
  const consumer = kafka.consumer({
    groupId: `sagastream-restore-${randomUUID()}`,
    partitionAssigners: [onlyPartition(topic, partition)],
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  try {
    const done = new Promise<void>((resolve, reject) => {
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
        const writes: Write[] = [];
        for (const message of batch.messages) {
          if (BigInt(message.offset) < from || message.key === null) continue;
          writes.push([message.key, message.value]);
        }
        await engine.write(writes);
        restored += writes.length;
        options.onProgress?.(restored, total);
      },
    });
    if (from > 0n) consumer.seek({ topic, partition, offset: from.toString() });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return end;
}
