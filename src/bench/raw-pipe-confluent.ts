/**
 * The raw pipe on @confluentinc/kafka-javascript (librdkafka bindings), through its
 * kafkajs-compatible API. It is not a dependency: `npm install` fetches its prebuilt binary
 * from GitHub, which not every machine reaches, and building it needs a C toolchain and the
 * OpenSSL, zlib and curl headers. It is loaded from the folder `confluentModule` names (e.g.
 * a scratch install built with `CKJS_LINKING=dynamic`); the few types used are declared here.
 */
import { createRequire } from "node:module";
import { PipeMode, type PipeOptions, type PipeSink, type RawPipe } from "./raw-pipe.js";

interface Output {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

interface TopicOffsets {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

interface Transaction {
  send(record: { topic: string; messages: Output[] }): Promise<unknown>;
  sendOffsets(offsets: { consumer: Consumer; topics: TopicOffsets[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

interface Producer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: { topic: string; messages: Output[] }): Promise<unknown>;
  transaction(): Promise<Transaction>;
}

interface Batch {
  partition: number;
  messages: (Output & { offset: string })[];
}

interface Consumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[] }): Promise<void>;
  run(config: {
    partitionsConsumedConcurrently: number;
    eachBatch: (payload: { batch: Batch }) => Promise<void>;
  }): Promise<void>;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

interface ConfluentKafka {
  KafkaJS: {
    Kafka: new (config: object) => {
      producer(config: object): Producer;
      consumer(config: object): Consumer;
    };
    logLevel: { ERROR: number };
  };
}

export function confluentPipe(options: PipeOptions): RawPipe<Output, string> {
  if (options.confluentModule === undefined)
    throw new Error(
      "the confluent pipe needs --confluent-module <dir>: where @confluentinc/kafka-javascript is installed",
    );
  const { KafkaJS } = createRequire(import.meta.url)(options.confluentModule) as ConfluentKafka;
  const eos = options.mode === PipeMode.ExactlyOnce;
  const kafka = new KafkaJS.Kafka({
    kafkaJS: {
      brokers: options.brokers,
      clientId: options.groupId,
      logLevel: KafkaJS.logLevel.ERROR,
    },
  });
  const producer = kafka.producer({
    kafkaJS: {
      idempotent: true,
      acks: -1,
      ...(eos ? { transactionalId: options.groupId, transactionTimeout: 10_000 } : {}),
    },
  });
  const consumer = kafka.consumer({
    kafkaJS: {
      groupId: options.groupId,
      fromBeginning: true,
      autoCommit: false,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
    },
    // It hands records to eachBatch 32 at a time by default; the other clients hand over
    // what a fetch returned.
    "js.consumer.max.batch.size": -1,
  });
  const offsetsOf = (positions: ReadonlyMap<number, string>) =>
    [...positions].map(([partition, offset]) => ({
      partition,
      offset: String(BigInt(offset) + 1n),
    }));

  return {
    async start(sink: PipeSink<Output, string>) {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [options.input] });
      await consumer.run({
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
      await producer.send({ topic: options.output, messages: outputs });
    },
    async commit(positions) {
      await consumer.commitOffsets(
        offsetsOf(positions).map((o) => ({ topic: options.input, ...o })),
      );
    },
    async transact(outputs, positions) {
      const tx = await producer.transaction();
      try {
        await tx.send({ topic: options.output, messages: outputs });
        await tx.sendOffsets({
          consumer,
          topics: [{ topic: options.input, partitions: offsetsOf(positions) }],
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
