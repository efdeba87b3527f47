/**
 * A fetched partition's records as the runtime reads them: control batches (transaction
 * markers) are never records, and records before the fetch offset are left out. Aborted
 * transactions were left out as they were fetched (kafka/read-committed.ts).
 */
import { isControlBatch } from "../kafka/index.js";

export interface FetchedRecord {
  offsetDelta: number;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
}

export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  producerId: bigint;
  attributes: number;
  records: FetchedRecord[];
}

export interface CommittedRecord {
  offset: bigint;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

/** Shared by every record without headers (most): nothing writes to a record's headers. */
const NO_HEADERS: Record<string, Buffer> = Object.freeze({});

function headersOf(record: FetchedRecord): Record<string, Buffer> {
  if (record.headers.length === 0) return NO_HEADERS;
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of record.headers) {
    if (name !== null && value !== null) headers[name.toString()] = value;
  }
  return headers;
}

/**
 * The records at or after `from` in `batches` (one partition's, in offset order), and the
 * offset after the last batch: the position to fetch from next, past markers and aborted
 * batches (which come with no records).
 */
export function committedRecords(
  batches: readonly FetchedBatch[],
  from: bigint,
): { records: CommittedRecord[]; next: bigint } {
  const records: CommittedRecord[] = [];
  let next = from;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if (lastOffset < from) continue;
    next = lastOffset + 1n;
    if (isControlBatch(batch)) continue;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < from) continue;
      records.push({
        offset,
        timestamp: Number(batch.firstTimestamp + record.timestampDelta),
        key: record.key,
        value: record.value,
        headers: headersOf(record),
      });
    }
  }
  return { records, next };
}
