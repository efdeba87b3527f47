/**
 * Reads a topic's records over a range, read committed, without a consumer group: each
 * partition is fetched from its leader from the range's first offset to its last, one
 * partition after another, so that what is held at once is one fetch, whatever the range. The
 * range's end is fixed when the read starts (at most the last stable offset then): records
 * produced meanwhile are not read, and the read ends.
 *
 * A time bound is turned into an offset by the log's time index (ListOffsets: the first record
 * stamped at or after it). Records are not quite in time order: the engine stamps a decision
 * with its input's time and writes it at its commit, up to seconds later, after records stamped
 * later. So the end is read LATE_WRITE_MS past the bound, and a record stamped outside the times
 * is skipped, and counted.
 */
import { ListOffsetTimestamps, type Consumer } from "@platformatic/kafka";
import { UsageError } from "../errors/index.js";
import { createReader, type KafkaSettings } from "../kafka/index.js";
import { KafkaPartitionFetcher, type PartitionFetcher } from "../topology/index.js";
import type { CommittedRecord } from "../topology/index.js";
import type { Position } from "./positions.js";

export interface ReadRange {
  topic: string;
  from: Position;
  to: Position;
  /** Only these partitions (default all), or a choice made knowing the topic's count. */
  partitions?: readonly number[] | ((count: number) => readonly number[]) | undefined;
}

export interface PartitionSpan {
  partition: number;
  from: bigint;
  /** Exclusive. */
  to: bigint;
}

export interface RangeRecord {
  partition: number;
  record: CommittedRecord;
}

/** How much later than its stamp a record may be written (a decision waits for its commit). */
const LATE_WRITE_MS = 60_000;

/** How long one fetch waits when the broker has nothing yet. */
const FETCH_WAIT_MS = 200;
/** Fetches in a row that move nothing before a partition's span counts as read. */
const MAX_IDLE_FETCHES = 5;

export class RangeReader {
  private readonly consumer: Consumer;
  private readonly fetcher: KafkaPartitionFetcher;
  /** Records left out because their time is outside the range. */
  outsideTimes = 0;

  constructor(
    settings: KafkaSettings,
    private readonly range: ReadRange,
  ) {
    this.consumer = createReader(settings, `${settings.clientId}-replay`);
    this.fetcher = new KafkaPartitionFetcher(this.consumer);
  }

  private async offsets(partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> {
    return offsetsAt(this.consumer, this.range.topic, partitions, timestamp);
  }

  /** The offsets to read per partition: fixed now, before any record is read. */
  async spans(): Promise<PartitionSpan[]> {
    const { topic } = this.range;
    const metadata = await this.consumer.metadata({ topics: [topic] });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (count === 0) throw new UsageError(`no topic ${topic} on the cluster`);
    const chosen = this.range.partitions;
    const partitions = [
      ...(typeof chosen === "function" ? chosen(count) : (chosen ?? Array(count).keys())),
    ];
    const missing = partitions.filter((p) => p < 0 || p >= count);
    if (missing.length > 0) {
      throw new UsageError(`${topic} has partitions 0 to ${count - 1}, not ${missing.join(", ")}`);
    }
    // read committed: LATEST is the last stable offset
    const [earliest, latest] = await Promise.all([
      this.offsets(partitions, ListOffsetTimestamps.EARLIEST),
      this.offsets(partitions, ListOffsetTimestamps.LATEST),
    ]);
    const at = async (position: Position, slackMs: number) => {
      if (position.kind === "earliest") return earliest;
      if (position.kind === "latest") return latest;
      if (position.kind === "offset") {
        return new Map(partitions.map((p) => [p, position.offset]));
      }
      const found = await this.offsets(partitions, BigInt(position.at + slackMs));
      // -1: no record stamped at or after the time, so the range reaches the end
      return new Map([...found].map(([p, o]) => [p, o < 0n ? (latest.get(p) ?? 0n) : o]));
    };
    const [from, to] = await Promise.all([
      at(this.range.from, 0),
      at(this.range.to, LATE_WRITE_MS),
    ]);
    return partitions.map((partition) => {
      const lowest = earliest.get(partition) ?? 0n;
      const highest = latest.get(partition) ?? 0n;
      const start = max(from.get(partition) ?? lowest, lowest);
      const end = min(to.get(partition) ?? highest, highest);
      return { partition, from: min(start, end), to: end };
    });
  }

  /** The records of `spans`, partition by partition, in offset order within each. */
  async *read(spans: readonly PartitionSpan[]): AsyncGenerator<RangeRecord> {
    const { topic, from, to } = this.range;
    const after = from.kind === "time" ? from.at : -Infinity;
    const before = to.kind === "time" ? to.at : Infinity;
    for (const span of spans) {
      for await (const record of readSpan(this.fetcher, topic, span)) {
        if (record.timestamp < after || record.timestamp >= before) {
          this.outsideTimes += 1;
          continue;
        }
        yield { partition: span.partition, record };
      }
    }
  }

  async close(): Promise<void> {
    await this.consumer.close(true).catch(() => undefined);
  }
}

/** Each partition's offset at `timestamp` (ListOffsets; -1: no record stamped at or after it). */
export async function offsetsAt(
  consumer: Pick<Consumer, "listOffsets">,
  topic: string,
  partitions: readonly number[],
  timestamp: bigint,
): Promise<Map<number, bigint>> {
  const listed = await consumer.listOffsets({
    topics: [topic],
    partitions: { [topic]: [...partitions] },
    timestamp,
  });
  const offsets = listed.get(topic) ?? [];
  return new Map(partitions.map((p) => [p, offsets[p] ?? -1n]));
}

/**
 * A partition's committed records from `span.from` up to `span.to` (exclusive), in offset
 * order, fetched one response at a time.
 */
export async function* readSpan(
  fetcher: PartitionFetcher,
  topic: string,
  span: PartitionSpan,
): AsyncGenerator<CommittedRecord> {
  let position = span.from;
  let idle = 0;
  while (position < span.to) {
    const [fetched] = await fetcher.fetch(
      [{ topic, partition: span.partition, offset: position }],
      FETCH_WAIT_MS,
    );
    if (fetched?.errorCode !== undefined && fetched.errorCode !== 0) {
      throw new Error(
        `fetching ${topic}/${span.partition} at offset ${position}: the broker answered error ${fetched.errorCode}`,
      );
    }
    if (fetched === undefined || fetched.next <= position) {
      // Nothing moved: the span ends in markers or aborted batches that no fetch returns.
      if (++idle >= MAX_IDLE_FETCHES) return;
      continue;
    }
    idle = 0;
    for (const record of fetched.records) {
      if (record.offset >= position && record.offset < span.to) yield record;
    }
    position = fetched.next;
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
