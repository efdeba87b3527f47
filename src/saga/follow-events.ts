/**
 * Reads the saga-events log from the start (read committed), decoding each record (one per
 * decision) into its events: what the demo, the benchmarks, the tests and analysts' tools
 * follow sagas by.
 */
import { startConsuming, type KafkaSettings } from "../kafka/index.js";
import { LayoutState } from "./generations.js";
import { LayoutLog } from "./layout-log.js";
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
  /** The generation to start with (default: the one the application's layout names live). */
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
 * record its group hands it again (after a rebalance) is not passed on twice (a record the
 * log holds twice is: the tests look for such). It follows the application's layout
 * (generations.ts): once a repartition makes the next generation live, it reads that
 * generation's log, whose copy of the old one's events it skips up to where it had got.
 */
export async function followSagaEvents(
  kafka: KafkaSettings,
  options: FollowOptions,
  onEvent: (event: FollowedEvent) => void,
): Promise<Following> {
  const read = sagaDecisionReader(options.codec);
  /** Per saga, the last event passed on. */
  const passed = new Map<string, number>();
  const follow = (generation: number) => {
    /** What was passed on from earlier generations: their events, copied, come again. */
    const before = new Map(passed);
    /** Per partition, the next offset not handed out yet (a rebalance hands some again). */
    const next = new Map<number, bigint>();
    return startConsuming(kafka, {
      groupId: generation === 0 ? options.groupId : `${options.groupId}.g${generation}`,
      topics: [sagaTopics(options.applicationId, generation).events],
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
            if (record.seq <= (before.get(record.sagaId) ?? 0)) continue;
            passed.set(record.sagaId, record.seq);
            onEvent({ record, partition, offset, timestamp, receivedAt });
          }
        }
        next.set(partition, offset + 1n);
      },
    });
  };
  const layoutLog = new LayoutLog(kafka, options.applicationId);
  let generation = options.generation ?? (await layoutLog.read())?.generation ?? 0;
  let consuming = await follow(generation);
  layoutLog.follow(async (layout) => {
    if (layout.state !== LayoutState.Active || layout.generation === generation) return;
    // The old log's reader stops first: the new log repeats its events, in order per saga.
    await consuming.stop();
    generation = layout.generation;
    consuming = await follow(generation);
  });
  return {
    stop: async () => {
      await layoutLog.close();
      await consuming.stop();
    },
  };
}
