/**
 * The engine's consumers: group members that read committed records only (by default), never
 * commit by themselves, and hand out keys, values and header values as bytes, header names as
 * strings.
 *
 * @platformatic/kafka's own defaults differ on the points that matter: `autocommit: true`
 * commits each fetched batch as soon as it is fetched, before anything has handled it (a crash
 * then loses those records), and a 5 s fetch wait. Records are handled, and their offsets
 * committed, by `startConsuming` (consume.ts).
 */
import {
  Consumer,
  FetchIsolationLevels,
  kGetApi,
  type API,
  type Callback,
  type fetchV17,
  type Message,
} from "@platformatic/kafka";
import { logClientEvents, logConsumerEvents, routeClientDebugOutput } from "./logging.js";
import { readCommittedFetch } from "./read-committed.js";
import { baseOptions, type ClientOptions, type KafkaSettings } from "./settings.js";

/**
 * Keys, values and header values are typed Buffer, as the library types them, but a null key,
 * a tombstone's value or a null header value come as undefined (see ConsumedRecord).
 */
export type KafkaConsumer = Consumer<Buffer, Buffer, string>;

export type KafkaMessage = Message<Buffer, Buffer, string>;

export interface ConsumerOptions extends ClientOptions {
  groupId: string;
  /** Skip records of aborted and still open transactions (default true). */
  readCommitted?: boolean;
  /** The group drops a member it has not heard from for this long (default 30 s). */
  sessionTimeoutMs?: number;
  /** Default 3 s. */
  heartbeatIntervalMs?: number;
  /** How long the group waits for its members to rejoin in a rebalance (default 60 s). */
  rebalanceTimeoutMs?: number;
  /** How long a fetch waits for records when there are none (default 500 ms, the Java default). */
  maxWaitTimeMs?: number;
  /** Records a stream buffers ahead of its reader (default 256). */
  highWaterMark?: number;
}

function bytes(data?: Buffer): Buffer | undefined {
  return data;
}

function text(data?: Buffer): string | undefined {
  return data?.toString();
}

/**
 * A consumer whose read_committed fetches leave aborted transactions out correctly (see
 * read-committed.ts): every consumer of the engine is one, the runtime's included.
 */
export class ReadCommittedConsumer<
  Key = Buffer,
  Value = Buffer,
  HeaderKey = Buffer,
  HeaderValue = Buffer,
> extends Consumer<Key, Value, HeaderKey, HeaderValue> {
  /** The filtering Fetch API per version the client hands out (it asks before each fetch). */
  private readonly fetchApis = new WeakMap<object, object>();

  override [kGetApi]<A extends unknown[], R>(name: string, callback: Callback<API<A, R>>): void {
    super[kGetApi]<A, R>(name, (error, api) => {
      if (error !== null || api === undefined || name !== "Fetch") {
        callback(error, api);
        return;
      }
      let filtering = this.fetchApis.get(api);
      if (filtering === undefined) {
        filtering = readCommittedFetch(api as API<A, fetchV17.FetchResponse>);
        this.fetchApis.set(api, filtering);
      }
      callback(null, filtering as API<A, R>);
    });
  }
}

/**
 * A read_committed consumer that never joins its group: it lists offsets and fetches
 * partitions from their leaders (KafkaPartitionFetcher), for readers that keep their own
 * positions (the library wants a group named all the same).
 */
export function createReader(
  settings: KafkaSettings,
  groupId: string,
  options: ClientOptions = {},
): ReadCommittedConsumer {
  return new ReadCommittedConsumer({
    ...baseOptions(settings, options),
    groupId,
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
}

export function createConsumer(settings: KafkaSettings, options: ConsumerOptions): KafkaConsumer {
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const consumer = new ReadCommittedConsumer<Buffer, Buffer, string>({
    ...baseOptions(settings, options),
    groupId: options.groupId,
    autocommit: false,
    isolationLevel:
      options.readCommitted === false
        ? FetchIsolationLevels.READ_UNCOMMITTED
        : FetchIsolationLevels.READ_COMMITTED,
    sessionTimeout,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
    rebalanceTimeout: Math.max(sessionTimeout, options.rebalanceTimeoutMs ?? 60_000),
    maxWaitTime: options.maxWaitTimeMs ?? 500,
    highWaterMark: options.highWaterMark ?? 256,
    deserializers: { key: bytes, value: bytes, headerKey: text, headerValue: bytes },
  });
  const logger = settings.logger?.child({ component: "kafka-consumer", groupId: options.groupId });
  // A rejoin that fails for good is emitted as 'error'; without a listener it would crash the
  // process. startConsuming listens too, and starts the member again.
  consumer.on("error", (error: Error) => {
    logger?.error({ err: error }, "the consumer lost its group membership");
  });
  if (logger !== undefined && settings.logger !== undefined) {
    logClientEvents(consumer, logger);
    logConsumerEvents(consumer, logger);
    routeClientDebugOutput(settings.logger);
  }
  return consumer;
}
