/**
 * Where a worker's commits go. Exactly-once: one transaction per commit through the worker's
 * one transactional producer, carrying every task's outputs and input offsets, the offsets
 * sent with the group generation the tasks ran under (KIP-447), so that the coordinator
 * refuses a member that has been replaced. At-least-once: the outputs through an idempotent
 * producer, then the offsets through the consumer.
 */
import type { Consumer, Producer, ProducerOptions } from "@platformatic/kafka";
import { FlatBatchProducer } from "../kafka/index.js";
import type { CommitSink, TopicPartitionOffset } from "./commit-pipeline.js";
import type { Logger } from "../log/index.js";
import type { GroupCoordinator, GroupGeneration } from "./group-coordinator.js";
import { fenceTransactionalId, OpenTransactions } from "./open-transactions.js";
import { sendOutputs } from "./output-sender.js";
import type { OutputRecord } from "./task.js";

export interface SinkClients {
  producer: Producer;
  consumer: Consumer;
  partitionCount: (topic: string) => number;
}

export interface TransactionalSinkOptions extends Omit<SinkClients, "producer"> {
  transactionalId: string;
  /** A new transactional producer: the first, and one after each that cannot go on. */
  createProducer: () => Producer;
  coordinator: GroupCoordinator;
  /** The generation of the assignment the tasks are processed under. */
  generation: () => GroupGeneration;
}

export class TransactionalCommitSink implements CommitSink {
  private producer: Producer;

  constructor(private readonly clients: TransactionalSinkOptions) {
    this.producer = clients.createProducer();
  }

  async commit(
    outputs: readonly OutputRecord[],
    offsets: readonly TopicPartitionOffset[],
  ): Promise<Map<string, bigint>> {
    const { consumer, coordinator, partitionCount, transactionalId } = this.clients;
    const producer = this.producer;
    // Taken now: should the group move on while this commit is under way, the coordinator
    // refuses its offsets and the transaction aborts.
    const generation = this.clients.generation();
    let transaction: Awaited<ReturnType<Producer["beginTransaction"]>> | undefined;
    try {
      const open = await producer.beginTransaction();
      transaction = open;
      const ends = await sendOutputs(outputs, partitionCount, (messages) =>
        open.send({ messages }),
      );
      if (offsets.length > 0) {
        await open.addConsumer(consumer);
        await coordinator.commitInTransaction(
          {
            transactionalId,
            producerId: producer.producerId as bigint,
            producerEpoch: producer.producerEpoch as number,
          },
          generation,
          offsets,
        );
      }
      await open.commit();
      return ends;
    } catch (error) {
      const aborted = await transaction?.abort().then(
        () => true,
        () => false,
      );
      // A producer that could not begin or abort (fenced by a newer one with its id, or left
      // with a transaction it cannot end) is replaced: the next one's InitProducerId settles
      // whatever its predecessor left open.
      if (aborted !== true) await this.replaceProducer();
      throw error;
    }
  }

  private async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.clients.createProducer();
    await old.close(true).catch(() => undefined);
  }

  async close(force = false): Promise<void> {
    await this.producer.close(force);
  }
}

export class AtLeastOnceCommitSink implements CommitSink {
  constructor(private readonly clients: SinkClients) {}

  async commit(
    outputs: readonly OutputRecord[],
    offsets: readonly TopicPartitionOffset[],
  ): Promise<Map<string, bigint>> {
    const { producer, consumer, partitionCount } = this.clients;
    const ends = await sendOutputs(outputs, partitionCount, (messages) =>
      producer.send({ messages }),
    );
    if (offsets.length > 0) {
      await consumer.commit({ offsets: offsets.map((o) => ({ ...o, leaderEpoch: -1 })) });
    }
    return ends;
  }
}

/**
 * A transaction left open (its owner died) holds back every read-committed consumer of its
 * partitions, such as the participants, until the broker aborts it. Kafka Streams bounds that
 * to 10 s under exactly-once. (@platformatic/kafka sends its request timeout as the
 * transaction timeout.)
 */
const TRANSACTION_TIMEOUT_MS = 10_000;

type ClientOptions = Pick<
  ProducerOptions<Buffer, Buffer, Buffer, Buffer>,
  "clientId" | "bootstrapBrokers" | "retries" | "retryDelay" | "sasl" | "tls"
>;

/**
 * The sink of a worker's commits and its producer: transactional when given a transactional
 * id (exactly-once), else idempotent (at-least-once); `close` closes the producer in use.
 */
export function createCommitSink(
  options: Omit<TransactionalSinkOptions, "createProducer" | "transactionalId"> & {
    producer: ClientOptions;
    /** Clients that fence a previous task owner's transaction (exactly-once). */
    fencer: ClientOptions;
    transactionalId: string | undefined;
    logger: Logger;
  },
): {
  sink: CommitSink;
  close: (force?: boolean) => Promise<void>;
  /** Exactly-once: what ends the transactions a task's previous owner left open. */
  openTransactions?: OpenTransactions;
} {
  const { producer: client, fencer, transactionalId, logger, ...clients } = options;
  const { consumer, partitionCount } = clients;
  if (transactionalId === undefined) {
    const producer = new FlatBatchProducer({ ...client, idempotent: true, acks: -1 });
    return {
      sink: new AtLeastOnceCommitSink({ producer, consumer, partitionCount }),
      close: (force) => producer.close(force),
    };
  }
  const sink = new TransactionalCommitSink({
    ...clients,
    transactionalId,
    createProducer: () =>
      new FlatBatchProducer({
        ...client,
        transactionalId,
        idempotent: true,
        acks: -1,
        timeout: TRANSACTION_TIMEOUT_MS,
        // No producer id yet (-1): with @platformatic/kafka's default (0) the broker takes
        // InitProducerId for a bump of producer 0 and answers PRODUCER_FENCED.
        producerId: -1n,
        producerEpoch: -1,
      }),
  });
  const openTransactions = new OpenTransactions({
    consumer,
    clientId: fencer.clientId,
    connection: {
      ...(fencer.sasl === undefined ? {} : { sasl: fencer.sasl }),
      ...(fencer.tls === undefined ? {} : { tls: fencer.tls }),
    },
    ownTransactionalId: transactionalId,
    fence: (id) => fenceTransactionalId(fencer, id, TRANSACTION_TIMEOUT_MS),
    logger,
  });
  return {
    sink,
    close: async (force) => {
      await sink.close(force);
      await openTransactions.close();
    },
    openTransactions,
  };
}
