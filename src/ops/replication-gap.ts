/**
 * How much of a primary partition's committed data is not on DR yet. Offsets cannot be
 * compared: the primary's include transaction markers and MirrorMaker writes DR densely. So
 * DR's last record (key, timestamp, value, headers: MirrorMaker keeps them) is found on the
 * primary: ListOffsets by its timestamp gives the first record stamped at or after it, and a
 * read forward compares; what the primary holds after it, up to its last stable offset, is not
 * on DR. The records are counted (up to a cap) and the oldest one's time is the lag.
 *
 * The logic reads through a narrow interface (PartitionLog), so that it is tested without Kafka.
 */
import type { CommittedRecord } from "../topology/index.js";

/** One partition of one cluster, read committed. */
export interface PartitionLog {
  /** The first offset in the log. */
  readonly start: bigint;
  /** The last stable offset (what a read_committed reader reads up to). */
  readonly end: bigint;
  /** The first offset stamped at or after `timestamp` (undefined: none is). */
  offsetAtTime(timestamp: number): Promise<bigint | undefined>;
  /** The data records from `from` up to `to` (exclusive), in offset order. */
  records(from: bigint, to: bigint): AsyncIterable<CommittedRecord>;
}

export const GapBasis = {
  /** DR's last record was found on the primary: the count is exact (up to the cap). */
  Matched: "matched",
  /** DR has no record of the partition: everything on the primary is unmirrored. */
  DrEmpty: "dr empty",
  /**
   * DR's last record is no longer on the primary (compacted or deleted): what the primary
   * holds stamped at or after its time is counted, an estimate.
   */
  NotOnPrimary: "not on primary",
} as const;
export type GapBasis = (typeof GapBasis)[keyof typeof GapBasis];

export interface ReplicationGap {
  /** Committed data records on the primary not on DR. */
  unmirrored: number;
  /** The count stopped at the cap: there are at least `unmirrored`. */
  atLeast: boolean;
  /** When the oldest unmirrored record was stamped (undefined: none). */
  oldestUnmirroredAt: number | undefined;
  /** now − oldestUnmirroredAt in seconds; 0 when nothing is unmirrored. */
  lagSeconds: number;
  basis: GapBasis;
}

export interface GapOptions {
  now: number;
  /** Stop counting here (default DEFAULT_MAX_COUNT). */
  maxCount?: number | undefined;
}

export const DEFAULT_MAX_COUNT = 100_000;

/** Records read back from a log's end, widening, to find its last data record. */
const LAST_RECORD_WINDOWS = [1n, 16n, 256n, 4096n];

/** The last data record of a log (undefined: none, or none in its last 4096 offsets). */
export async function lastRecord(log: PartitionLog): Promise<CommittedRecord | undefined> {
  for (const window of LAST_RECORD_WINDOWS) {
    const from = log.end - window > log.start ? log.end - window : log.start;
    let last: CommittedRecord | undefined;
    for await (const record of log.records(from, log.end)) last = record;
    if (last !== undefined || from === log.start) return last;
  }
  return undefined;
}

function sameRecord(a: CommittedRecord, b: CommittedRecord): boolean {
  return (
    a.timestamp === b.timestamp &&
    sameBytes(a.key, b.key) &&
    sameBytes(a.value, b.value) &&
    sameHeaders(a.headers, b.headers)
  );
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

function sameHeaders(a: Record<string, Buffer>, b: Record<string, Buffer>): boolean {
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((name) => sameBytes(a[name] ?? null, b[name] ?? null))
  );
}

/** Counts the records of `log` from `from` to its end, and the oldest one's time. */
async function countFrom(
  log: PartitionLog,
  from: bigint,
  basis: GapBasis,
  options: GapOptions,
): Promise<ReplicationGap> {
  const cap = options.maxCount ?? DEFAULT_MAX_COUNT;
  let unmirrored = 0;
  let oldest = Infinity;
  let atLeast = false;
  for await (const record of log.records(from, log.end)) {
    if (unmirrored >= cap) {
      atLeast = true;
      break;
    }
    unmirrored += 1;
    oldest = Math.min(oldest, record.timestamp);
  }
  const oldestUnmirroredAt = Number.isFinite(oldest) ? oldest : undefined;
  const lagMs = oldestUnmirroredAt === undefined ? 0 : Math.max(0, options.now - oldest);
  return { unmirrored, atLeast, oldestUnmirroredAt, lagSeconds: lagMs / 1000, basis };
}

/**
 * The part of `primary` not on DR, given DR's last record of the same partition (undefined:
 * DR has none).
 */
export async function replicationGap(
  primary: PartitionLog,
  drLast: CommittedRecord | undefined,
  options: GapOptions,
): Promise<ReplicationGap> {
  if (drLast === undefined) return countFrom(primary, primary.start, GapBasis.DrEmpty, options);
  const from = await primary.offsetAtTime(drLast.timestamp);
  if (from === undefined) {
    // nothing on the primary is stamped as late: DR's last record is gone from the primary
    return countFrom(primary, primary.end, GapBasis.NotOnPrimary, options);
  }
  // Records are not quite in time order (the engine stamps a decision with its input's time):
  // the one sought is at or after `from`, not necessarily first. The scan is capped too.
  const cap = BigInt(options.maxCount ?? DEFAULT_MAX_COUNT);
  let scanned = 0n;
  for await (const record of primary.records(from, primary.end)) {
    if (sameRecord(record, drLast)) {
      return countFrom(primary, record.offset + 1n, GapBasis.Matched, options);
    }
    if (++scanned >= cap) break;
  }
  return countFrom(primary, from, GapBasis.NotOnPrimary, options);
}
