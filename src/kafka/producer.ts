/**
 * The engine's producers: always idempotent (so acks=all, one request in flight per broker),
 * optionally transactional, keyed records partitioned as the Java client does (see
 * partitioner.ts), keys and header values given as strings or bytes.
 *
 * Two @platformatic/kafka defaults are wrong for this and are overridden here:
 * - InitProducerId is sent with producer id 0 and epoch 0 instead of -1/-1 (the Java client's
 *   "no producer yet"). For a transactional id that a previous producer used, the broker then
 *   answers PRODUCER_FENCED to the *new* producer, which therefore can never take over (fence)
 *   the old one. -1/-1 makes the broker abort the old one's open transaction and bump the epoch.
 * - A producer that is not idempotent sends with acks=1 unless each send says otherwise (the
 *   constructor's `acks` is not used by `send`): so there is no such producer here.
 */
import {
  kGetApi,
  ProduceAcks,
  Producer,
  type API,
  type Callback,
  type MessageToProduce,
} from "@platformatic/kafka";
import { logClientEvents, routeClientDebugOutput } from "./logging.js";
import { javaCompatiblePartitioner } from "./partitioner.js";
import { flatProduceV11 } from "./record-batch.js";
import { baseOptions, type ClientOptions, type KafkaSettings } from "./settings.js";

export type Bytes = string | Buffer;

/** A producer of byte values (null: a tombstone), keys and header values as strings or bytes. */
export type KafkaProducer = Producer<Bytes, Buffer | null, string, Bytes>;

export type ProducedRecord = MessageToProduce<Bytes, Buffer | null, string, Bytes>;

export interface ProducerOptions extends ClientOptions {
  /** Makes the producer transactional; fences an earlier producer with the same id. */
  transactionalId?: string;
}

/**
 * A produce request's retries: about two minutes of backoff, like the Java client's
 * delivery.timeout.ms. (An idempotent producer without a count would retry forever.)
 */
export const PRODUCER_RETRIES = 45;

function toBytes(data?: Bytes): Buffer | undefined {
  return typeof data === "string" ? Buffer.from(data) : data;
}

function valueBytes(data?: Buffer | null): Buffer | undefined {
  return data ?? undefined;
}

/**
 * A producer whose requests carry each record batch in one buffer (see record-batch.ts):
 * every producer of the engine is one, the runtime's included.
 */
export class FlatBatchProducer<
  Key = Buffer,
  Value = Buffer,
  HeaderKey = Buffer,
  HeaderValue = Buffer,
> extends Producer<Key, Value, HeaderKey, HeaderValue> {
  override [kGetApi]<A extends unknown[], R>(name: string, callback: Callback<API<A, R>>): void {
    super[kGetApi]<A, R>(name, (error, api) => {
      const flat = name === "Produce" && api?.version === flatProduceV11.version;
      callback(error, flat ? (flatProduceV11 as unknown as API<A, R>) : api);
    });
  }
}

export function createProducer(
  settings: KafkaSettings,
  options: ProducerOptions = {},
): KafkaProducer {
  const producer = new FlatBatchProducer<Bytes, Buffer | null, string, Bytes>({
    ...baseOptions(settings, { retries: PRODUCER_RETRIES, ...options }),
    idempotent: true,
    acks: ProduceAcks.ALL,
    producerId: -1n,
    producerEpoch: -1,
    partitioner: javaCompatiblePartitioner(),
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    serializers: {
      key: toBytes,
      value: valueBytes,
      headerKey: toBytes,
      headerValue: toBytes,
    },
  });
  if (settings.logger !== undefined) {
    const logger = settings.logger.child({ component: "kafka-producer" });
    logClientEvents(producer, logger);
    routeClientDebugOutput(settings.logger);
  }
  return producer;
}
