/**
 * The two requests to a consumer group's coordinator that @platformatic/kafka does not make
 * the way exactly-once needs them:
 * - committed offsets with KIP-447's `require_stable`: a task that opens must not read offsets
 *   while the previous owner's transaction that commits newer ones is still completing (it
 *   would redo what that transaction committed); the coordinator answers UNSTABLE_OFFSET_COMMIT
 *   until it is settled, and we ask again.
 * - one TxnOffsetCommit for all of a transaction's input partitions, with the group generation
 *   and member id of the assignment the tasks were processed under, so that the coordinator
 *   fences a member whose generation has passed (the client's own sends one request per
 *   partition, with the generation of the moment).
 */
import {
  ConnectionPool,
  type ConnectionOptions,
  findCoordinatorV6,
  findErrorBy,
  offsetFetchV8,
  txnOffsetCommitV3,
  type Connection,
  type Consumer,
} from "@platformatic/kafka";
import pRetry from "p-retry";
import type { TopicPartitionOffset } from "./commit-pipeline.js";

/** Who commits: the member and generation of the assignment its tasks run under. */
export interface GroupGeneration {
  groupId: string;
  memberId: string;
  generationId: number;
}

export interface TransactionIdentity {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
}

/** FindCoordinator's key type for a consumer group (1: a transactional id). */
const GROUP_KEY_TYPE = 0;

/** The broker keeps an offset unstable until the transaction settles (at most its timeout). */
const STABLE_RETRY = { retries: 300, minTimeout: 50, maxTimeout: 200 } as const;

export class GroupCoordinator {
  private readonly pool: ConnectionPool;

  /** `connection`: the SASL and TLS of the group's consumer (see `securityOptions`). */
  constructor(
    private readonly consumer: Consumer,
    clientId: string,
    connection: ConnectionOptions = {},
  ) {
    this.pool = new ConnectionPool(clientId, connection);
  }

  /**
   * A connection to the group's coordinator. The client keeps the coordinator it found until
   * its own group requests fail; when that broker is gone from the cluster's metadata (it died,
   * and the group's offsets partition has a new leader), a live broker is asked which it is now.
   */
  private async connection(groupId: string): Promise<Connection> {
    const cached = await this.consumer.findGroupCoordinator();
    const metadata = await this.consumer.metadata({ topics: [] });
    const known = metadata.brokers.get(cached);
    if (known !== undefined) return this.pool.get(known);
    const [anyBroker] = metadata.brokers.values();
    if (anyBroker === undefined) throw new Error("no broker is known");
    const { coordinators } = await findCoordinatorV6.api.async(
      await this.pool.get(anyBroker),
      GROUP_KEY_TYPE,
      [groupId],
    );
    const node = coordinators[0]?.nodeId ?? -1;
    const broker = metadata.brokers.get(node);
    if (broker === undefined) {
      throw new Error(`the group coordinator (node ${cached}, then ${node}) is not known`);
    }
    return this.pool.get(broker);
  }

  /** Committed offsets by `topic/partition` (absent: none committed), stable ones only. */
  async committedOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, bigint>> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    const topics = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
    const response = await pRetry(
      async () =>
        offsetFetchV8.api.async(
          await this.connection(groupId),
          [{ groupId, memberId: null, memberEpoch: -1, topics }],
          true,
        ),
      {
        ...STABLE_RETRY,
        shouldRetry: ({ error }) =>
          findErrorBy(error, "apiId", "UNSTABLE_OFFSET_COMMIT") !== null ||
          findErrorBy(error, "canRetry", true) !== null,
      },
    );
    const committed = new Map<string, bigint>();
    for (const group of response.groups) {
      for (const topic of group.topics) {
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n)
            committed.set(`${topic.name}/${p.partitionIndex}`, p.committedOffset);
        }
      }
    }
    return committed;
  }

  /** Adds `offsets` to the producer's open transaction (after its AddOffsetsToTxn). */
  async commitInTransaction(
    transaction: TransactionIdentity,
    group: GroupGeneration,
    offsets: readonly TopicPartitionOffset[],
  ): Promise<void> {
    const byTopic = new Map<string, txnOffsetCommitV3.TxnOffsetCommitRequestPartition[]>();
    for (const { topic, partition, offset } of offsets) {
      byTopic.set(topic, [
        ...(byTopic.get(topic) ?? []),
        { partitionIndex: partition, committedOffset: offset, committedLeaderEpoch: -1 },
      ]);
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    await txnOffsetCommitV3.api.async(
      await this.connection(group.groupId),
      transaction.transactionalId,
      group.groupId,
      transaction.producerId,
      transaction.producerEpoch,
      group.generationId,
      group.memberId,
      null,
      topics,
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** A group coordinator's answer that the member's generation is over: evicted, or replaced. */
export function outOfGroup(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return ["ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"].some(
    (apiId) => findErrorBy(error, "apiId", apiId) !== null,
  );
}
