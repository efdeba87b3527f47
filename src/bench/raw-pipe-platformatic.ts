/**
 * The raw pipe on @platformatic/kafka 2.x: a consumer stream (read_committed, offsets from the
 * group, no autocommit), an idempotent producer, and for exactly_once a transactional one
 * whose transactions carry the offsets with the consumer's group generation and member id
 * (TxnOffsetCommit through `transaction.addConsumer` + `addOffset`). As the engine uses the
 * client (`engine`), its producer writes each record batch in one buffer (record-batch.ts) and
 * its consumer filters read_committed responses itself (read-committed.ts).
 */
import {
  Consumer,
  FetchIsolationLevels,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  type Message,
  type MessagesStream,
  type MessageToProduce,
} from "@platformatic/kafka";
import { FlatBatchProducer, ReadCommittedConsumer, securityOptions } from "../kafka/index.js";
import { PipeMode, type PipeOptions, type PipeSink, type RawPipe } from "./raw-pipe.js";

/**
 * The client retries a failed request after `retryDelay`, 1 s by default. A transaction begun
 * while the broker still writes the previous one's markers meets CONCURRENT_TRANSACTIONS,
 * gone within milliseconds: retried after 20 ms, doubling, as the Java client does.
 */
const retryDelay = (_client: unknown, _operation: string, attempt: number) =>
  Math.min(1000, 20 * 2 ** (attempt - 1));

export function platformaticPipe(
  options: PipeOptions,
  asTheEngine = false,
): RawPipe<MessageToProduce, Message> {
  const eos = options.mode === PipeMode.ExactlyOnce;
  const base = {
    clientId: options.groupId,
    bootstrapBrokers: options.brokers,
    retryDelay,
    ...securityOptions(undefined), // the process's (the CLI's configuration)
  };
  const producer = new (asTheEngine ? FlatBatchProducer : Producer)({
    ...base,
    idempotent: true,
    // The transaction timeout is the client's request `timeout`: 10 s, as the runtime's.
    timeout: 10_000,
    ...(eos ? { transactionalId: options.groupId } : {}),
  });
  const consumer = new (asTheEngine ? ReadCommittedConsumer : Consumer)({
    ...base,
    groupId: options.groupId,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    autocommit: false,
    maxWaitTime: 100,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;

  return {
    async start(sink: PipeSink<MessageToProduce, Message>) {
      const consumed = await consumer.consume({
        topics: [options.input],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      });
      stream = consumed;
      consumed.on("data", (m: Message) => {
        const output = {
          topic: options.output,
          key: m.key,
          value: m.value,
          timestamp: m.timestamp,
        };
        if (!sink.push(m.partition, output, m)) {
          consumed.pause();
          void sink.room().then(() => consumed.resume());
        }
      });
    },
    async send(outputs) {
      await producer.send({ messages: outputs });
    },
    async commit(positions) {
      await consumer.commit({
        offsets: [...positions.values()].map((m) => ({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset + 1n,
          leaderEpoch: m.leaderEpoch,
        })),
      });
    },
    async transact(outputs, positions) {
      const tx = await producer.beginTransaction();
      try {
        await tx.send({ messages: outputs });
        await tx.addConsumer(consumer);
        // One TxnOffsetCommit per call, and calls in flight at once are merged into the first
        // (the client deduplicates the operation by name): one at a time, or offsets are lost.
        for (const message of positions.values()) await tx.addOffset(message);
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      await stream?.close();
      await consumer.close();
      await producer.close();
    },
  };
}
