/**
 * The raw pipe on kafkajs 2.2.4, set up as the runtime sets it up: producers with one request
 * in flight and PRODUCER_RETRY, offsets added to a transaction through
 * sendOffsetsInTransaction, requests of at most 400 records.
 */
import type { Message } from "kafkajs";
import { createKafka, PRODUCER_RETRY, sendOffsetsInTransaction } from "../kafka/kafkajs-legacy.js";
import { PipeMode, type PipeOptions, type PipeSink, type RawPipe } from "./raw-pipe.js";

/**
 * kafkajs groups a request's messages by partition in time quadratic in their number (as in
 * the runtime's output-sender): a few hundred per request keeps that small.
 */
const CHUNK = 400;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function kafkajsPipe(options: PipeOptions): RawPipe<Message, string> {
  const eos = options.mode === PipeMode.ExactlyOnce;
  const kafka = createKafka({ brokers: options.brokers, clientId: options.groupId });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: PRODUCER_RETRY,
    ...(eos ? { transactionalId: options.groupId, transactionTimeout: 10_000 } : {}),
  });
  const consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  const offsetsOf = (positions: ReadonlyMap<number, string>) =>
    [...positions].map(([partition, offset]) => ({
      topic: options.input,
      partition,
      offset: String(BigInt(offset) + 1n),
    }));

  return {
    async start(sink: PipeSink<Message, string>) {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: options.input, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 6, // every partition of the bench's input
        eachBatch: async ({ batch }) => {
          let room = true;
          for (const m of batch.messages) {
            room = sink.push(
              batch.partition,
              { key: m.key, value: m.value, timestamp: m.timestamp },
              m.offset,
            );
          }
          if (!room) await sink.room();
        },
      });
    },
    async send(outputs) {
      for (const messages of chunks(outputs))
        await producer.send({ topic: options.output, acks: -1, messages });
    },
    async commit(positions) {
      await consumer.commitOffsets(offsetsOf(positions));
    },
    async transact(outputs, positions) {
      const tx = await producer.transaction();
      try {
        for (const messages of chunks(outputs))
          await tx.send({ topic: options.output, acks: -1, messages });
        const partitions = offsetsOf(positions).map(({ partition, offset }) => ({
          partition,
          offset,
        }));
        await sendOffsetsInTransaction(tx, {
          consumerGroupId: options.groupId,
          topics: [{ topic: options.input, partitions }],
        });
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
