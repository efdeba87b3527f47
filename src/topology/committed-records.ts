/**
 * The records of a fetched partition that a read_committed reader may see, the way the Java
 * consumer picks them: a transactional batch is skipped while its producer is inside an
 * aborted transaction (from the transaction's first offset, which the broker lists, to its
 * abort marker), and control batches are never records. One response is enough: the broker
 * lists every aborted transaction that reaches into the fetched range, also one that began
 * before the fetch offset or whose marker lies beyond the records returned, so nothing is
 * carried from one fetch to the next (nothing to go stale when a reader moves back).
 */
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

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface CommittedRecord {
  offset: bigint;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** A control record's key: version (int16), then type (int16): 0 abort, 1 commit. */
const ABORT_MARKER = 0;

function isAbortMarker(batch: FetchedBatch): boolean {
  const key = batch.records[0]?.key;
  return (
    key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER
  );
}

function headersOf(record: FetchedRecord): Record<string, Buffer> {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of record.headers) {
    if (name !== null && value !== null) headers[name.toString()] = value;
  }
  return headers;
}

/**
 * The committed records at or after `from` in `batches` (one partition's, in offset order),
 * and the offset after the last batch: the position to fetch from next, past markers and
 * aborted records.
 */
export function committedRecords(
  batches: readonly FetchedBatch[],
  abortedTransactions: readonly AbortedTransaction[] | null,
  from: bigint,
): { records: CommittedRecord[]; next: bigint } {
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  let nextAborted = 0;
  const records: CommittedRecord[] = [];
  let next = from;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if (lastOffset < from) continue;
    next = lastOffset + 1n;
    for (; nextAborted < aborted.length; nextAborted++) {
      const txn = aborted[nextAborted] as AbortedTransaction;
      if (txn.firstOffset > lastOffset) break;
      abortedProducers.add(txn.producerId);
    }
    if ((batch.attributes & CONTROL) !== 0) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
      continue;
    }
    if ((batch.attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId))
      continue;
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
