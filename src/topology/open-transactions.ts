/**
 * Transactions left open on a task's changelogs by the worker that ran it before (it died, or
 * the group replaced it), ended at once when the task opens elsewhere. A task restores up to
 * where its changelogs end once every transaction that wrote to them has ended (task-opener.ts),
 * and the broker aborts a dead producer's transaction only once it times out (10 s) and its
 * periodic check comes round (10 s more): the task would wait that long. Such a transaction can
 * no longer commit anything of the task's (its offsets go with the group generation it ran
 * under, which the coordinator now refuses), so it is aborted the way a successor does it:
 * InitProducerId with its transactional id fences the old producer and aborts what it left
 * open. The open transactions are found with DescribeProducers (KIP-664) on the changelog
 * partitions, their transactional ids and states with ListTransactions; only "Ongoing" ones are
 * fenced: one preparing its commit or abort is ending on its own.
 */
import {
  ConnectionPool,
  type ConnectionOptions,
  describeProducersV0,
  listTransactionsV0,
  Producer,
  type Consumer,
  type ProducerOptions,
} from "@platformatic/kafka";
import type { Logger } from "../log/index.js";
import type { TopicPartition } from "./partition-offsets.js";

/**
 * A transaction whose producer wrote to the partition this recently is taken for a live
 * worker's commit under way (the task's previous owner finishing its last one as it hands the
 * task over): fencing it would abort that worker's commit for all its other tasks too. A dead
 * worker's transaction is older: the group notices a death after a session timeout (6 s least).
 */
export const LIVE_WRITE_MS = 2_000;

export interface OpenTransactionsOptions {
  /** For cluster metadata (partition leaders, brokers). */
  consumer: Pick<Consumer, "metadata">;
  clientId: string;
  /** The SASL and TLS of the worker's clients (see `securityOptions`). */
  connection?: ConnectionOptions;
  /** This worker's own transactional id: never fenced. */
  ownTransactionalId: string | undefined;
  /** Fences `transactionalId`: InitProducerId with it, aborting its open transaction. */
  fence: (transactionalId: string) => Promise<void>;
  logger: Logger;
}

export class OpenTransactions {
  private readonly pool: ConnectionPool;

  constructor(private readonly options: OpenTransactionsOptions) {
    this.pool = new ConnectionPool(options.clientId, options.connection ?? {});
  }

  /** Aborts the ongoing transactions of other producers on `partitions`; their ids. */
  async abortOngoing(partitions: readonly TopicPartition[]): Promise<string[]> {
    const producerIds = await this.openProducers(partitions);
    if (producerIds.length === 0) return [];
    const ongoing = (await this.transactionsOf(producerIds)).filter(
      (t) =>
        t.transactionState === "Ongoing" && t.transactionalId !== this.options.ownTransactionalId,
    );
    for (const { transactionalId } of ongoing) {
      await this.options.fence(transactionalId);
      this.options.logger.info(
        { transactionalId, partitions: partitions.map((p) => `${p.topic}/${p.partition}`) },
        "aborted a transaction left open on a task's changelog by the worker that ran it before",
      );
    }
    return ongoing.map((t) => t.transactionalId);
  }

  /**
   * Producers with a transaction open on any of `partitions` (asked of their leaders), that
   * have written nothing to it for LIVE_WRITE_MS.
   */
  private async openProducers(partitions: readonly TopicPartition[]): Promise<bigint[]> {
    const topics = [...new Set(partitions.map((p) => p.topic))];
    const metadata = await this.options.consumer.metadata({ topics });
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const { topic, partition } of partitions) {
      const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
      if (leader === undefined) throw new Error(`no leader known for ${topic}/${partition}`);
      const led = byLeader.get(leader) ?? new Map<string, number[]>();
      led.set(topic, [...(led.get(topic) ?? []), partition]);
      byLeader.set(leader, led);
    }
    const open = new Set<bigint>();
    for (const [leader, led] of byLeader) {
      const broker = metadata.brokers.get(leader);
      if (broker === undefined) throw new Error(`broker ${leader} is not known`);
      const response = await describeProducersV0.api.async(
        await this.pool.get(broker),
        [...led].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      );
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          for (const producer of partition.activeProducers) {
            const idle = Date.now() - Number(producer.lastTimestamp) >= LIVE_WRITE_MS;
            if (producer.currentTxnStartOffset >= 0n && idle) open.add(producer.producerId);
          }
        }
      }
    }
    return [...open];
  }

  /** The transactions of `producerIds`, from every broker (each coordinates some). */
  private async transactionsOf(producerIds: bigint[]) {
    const metadata = await this.options.consumer.metadata({ topics: [] });
    const answers = await Promise.all(
      [...metadata.brokers.values()].map(async (broker) =>
        listTransactionsV0.api.async(await this.pool.get(broker), [], producerIds, -1n, null),
      ),
    );
    return answers.flatMap((a) => a.transactionStates);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * Fences `transactionalId`'s producer: InitProducerId with it bumps its epoch, and the
 * coordinator aborts the transaction it left open before it answers.
 */
export async function fenceTransactionalId(
  client: Pick<
    ProducerOptions<Buffer, Buffer, Buffer, Buffer>,
    "clientId" | "bootstrapBrokers" | "retries" | "retryDelay" | "sasl" | "tls"
  >,
  transactionalId: string,
  transactionTimeoutMs: number,
): Promise<void> {
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    ...client,
    transactionalId,
    idempotent: true,
    acks: -1,
    timeout: transactionTimeoutMs,
    // As the commit sink's: no producer id yet, or the broker takes it for a bump of producer 0.
    producerId: -1n,
    producerEpoch: -1,
  });
  try {
    await producer.beginTransaction(); // its InitProducerId; nothing is added to it
  } finally {
    await producer.close(true);
  }
}
