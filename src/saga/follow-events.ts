/**
 * Reads the saga-events log from the start (read committed), decoding each record (one per
 * decision) into its events: what the demo, the benchmarks, the tests and analysts' tools
 * follow sagas by.
 */
import { startConsuming, type KafkaSettings } from "../kafka/index.js";
import { eventsOf, sagaTopics, type SagaEventRecord } from "./messages.js";
import type { AvroCodec } from "../schema/index.js";
import { sagaDecisionReader } from "./serdes.js";

export interface FollowedEvent {
  record: SagaEventRecord;
  /** Where it is in the log. */
  partition: number;
  offset: bigint;
  /** The log record's timestamp (when the worker committed it). */
  timestamp: number;
  /** When this reader received it. */
  receivedAt: number;
}

interface FollowOptions {
  applicationId: string;
  /** The generation of its topics (generations.ts; default 0). */
  generation?: number | undefined;
  groupId: string;
  codec: AvroCodec;
}

interface Following {
  stop(): Promise<void>;
}

/**
 * Calls `onEvent` for each event of the log, once, in order per saga. The reader is a member
 * of `groupId` (a group with no committed offsets starts at the beginning of the log); a
 * record its group hands it again (after a rebalance) is not passed on twice.
 */
export async function followSagaEvents(
  kafka: KafkaSettings,
  options: FollowOptions,
  onEvent: (event: FollowedEvent) => void,
): Promise<Following> {
  const read = sagaDecisionReader(options.codec);
  /** Per partition, the next offset not handed out yet. */
  const next = new Map<number, bigint>();
  const consuming = await startConsuming(kafka, {
    groupId: options.groupId,
    topics: [sagaTopics(options.applicationId, options.generation).events],
    startFrom: "earliest",
    // Every partition at once: a saga's events share its partition, so stay in order.
    concurrency: 64,
    // Followers time sagas (the demo, the benchmark's latencies): don't idle on empty fetches.
    maxWaitTimeMs: 50,
    commitIntervalMs: 1_000,
    handle: async ({ partition, offset, value, timestamp }) => {
      if (offset < (next.get(partition) ?? 0n)) return;
      const receivedAt = Date.now();
      if (value !== undefined) {
        for (const record of eventsOf(await read(value))) {
          onEvent({ record, partition, offset, timestamp, receivedAt });
        }
      }
      next.set(partition, offset + 1n);
    },
  });
  return { stop: () => consuming.stop() };
}
