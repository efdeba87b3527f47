/**
 * Key counting for `sagastream repartition --plan` (issue 15): a topic read to the end with the
 * no-group RangeReader, its distinct keys counted (of a changelog, those whose latest value is
 * not a tombstone) and placed over the new partition count under the Java client's partitioner,
 * with how evenly they spread.
 */
import { partitionForKey, type KafkaSettings } from "../kafka/index.js";
import { RangeReader } from "./range-reader.js";

/** How evenly keys spread over the new partitions. */
export interface KeySkew {
  /** Keys per new partition, by partition. */
  perPartition: number[];
  min: number;
  max: number;
  mean: number;
  /** max / mean: 1 is perfectly even (0 without keys). */
  maxOverMean: number;
}

export interface KeyCount {
  /** Records read (committed, up to the ends when the count began). */
  recordsRead: number;
  /** Distinct keys; of a changelog, those whose latest value is not a tombstone. */
  keys: number;
  /** Of a changelog: keys whose latest value is a tombstone (deleted: not copied). */
  deletedKeys: number;
  /** Records without a key: no partition to place them by. */
  unkeyed: number;
  /** The keys per new partition (a changelog's placed by their saga id). */
  skew: KeySkew;
}

export interface KeyCountProgress {
  topic: string;
  read: number;
  /** Σ (high − low): about the records to read. */
  total: number;
  done: boolean;
}

const PROGRESS_EVERY = 25_000;

/** Min, max, mean and max/mean of the keys per partition. */
export function keySkew(perPartition: readonly number[]): KeySkew {
  const total = perPartition.reduce((sum, n) => sum + n, 0);
  const mean = perPartition.length === 0 ? 0 : total / perPartition.length;
  const min = perPartition.length === 0 ? 0 : Math.min(...perPartition);
  const max = perPartition.length === 0 ? 0 : Math.max(...perPartition);
  return {
    perPartition: [...perPartition],
    min,
    max,
    mean,
    maxOverMean: mean > 0 ? max / mean : 0,
  };
}

/**
 * Counts a topic's distinct keys and places each among `partitions` by `placeBy` (the key
 * itself, or a changelog key's saga id). `latestOnly`: a key counts only while its latest value
 * is not a tombstone (a changelog's copy takes the latest value per key). Every key is held in
 * memory once, as a string of its bytes.
 */
export class KeyCounter {
  /** Key (its bytes as latin1) → whether its latest value is not a tombstone. */
  private readonly seen = new Map<string, boolean>();
  private records = 0;
  private unkeyed = 0;

  constructor(
    private readonly partitions: number,
    private readonly options: { latestOnly: boolean; placeBy: (key: Buffer) => Buffer },
  ) {}

  add(key: Buffer | null, value: Buffer | null): void {
    this.records += 1;
    if (key === null) {
      this.unkeyed += 1;
      return;
    }
    this.seen.set(key.toString("latin1"), !this.options.latestOnly || value !== null);
  }

  get read(): number {
    return this.records;
  }

  result(): KeyCount {
    const perPartition = Array.from({ length: this.partitions }, () => 0);
    let keys = 0;
    for (const [key, live] of this.seen) {
      if (!live) continue;
      keys += 1;
      const placed = this.options.placeBy(Buffer.from(key, "latin1"));
      const partition = partitionForKey(placed, this.partitions);
      perPartition[partition] = (perPartition[partition] ?? 0) + 1;
    }
    return {
      recordsRead: this.records,
      keys,
      deletedKeys: this.seen.size - keys,
      unkeyed: this.unkeyed,
      skew: keySkew(perPartition),
    };
  }
}

/** Reads `topic` to its end into `counter`, with progress every PROGRESS_EVERY records. */
export async function countKeys(
  kafka: KafkaSettings,
  topic: string,
  total: number,
  counter: KeyCounter,
  onProgress: ((progress: KeyCountProgress) => void) | undefined,
): Promise<KeyCount> {
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      counter.add(record.key, record.value);
      if (counter.read % PROGRESS_EVERY === 0) {
        onProgress?.({ topic, read: counter.read, total, done: false });
      }
    }
  } finally {
    await reader.close();
  }
  onProgress?.({ topic, read: counter.read, total, done: true });
  return counter.result();
}
