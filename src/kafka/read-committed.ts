/**
 * read_committed as the Java consumer does it, for every consumer the engine creates: a
 * transactional batch is left out while its producer is inside an aborted transaction (from
 * the transaction's first offset, which the broker lists, to its abort marker). One response
 * is enough: the broker lists every aborted transaction that reaches into the fetched range,
 * also one that began before the fetch offset or whose marker lies past the records returned.
 *
 * @platformatic/kafka 2.12 filters a read_committed response itself, wrongly: it keeps one
 * aborted range per producer, ends it at that producer's *last* abort marker in the response,
 * and lets a range whose marker is not in the response through. An abort the broker does not
 * list (one that wrote nothing to the partition: a worker's successor aborting the transaction
 * it left open) thus dropped every committed record of that producer before it, and a
 * producer's earlier aborted transactions leaked. So the Fetch responses are filtered here, as
 * they arrive, and reach the client's filter with no aborted transaction left to act on.
 * Aborted batches keep their place with no records, so that a reader's position moves past them.
 */
import { FetchIsolationLevels, type API, type fetchV17 } from "@platformatic/kafka";

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** A control record's key: version (int16), then type (int16): 0 abort, 1 commit. */
const ABORT_MARKER = 0;

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** What of a record batch the filter reads (a fetched batch has more). */
export interface TransactionalBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  producerId: bigint;
  attributes: number;
  records: { key: Buffer | null }[];
}

function isAbortMarker(batch: TransactionalBatch): boolean {
  const key = batch.records[0]?.key;
  return (
    key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER
  );
}

/**
 * The data batches of aborted transactions among `batches` (one partition's, in offset
 * order), given the aborted transactions the broker listed with them.
 */
export function abortedBatches<B extends TransactionalBatch>(
  batches: readonly B[],
  abortedTransactions: readonly AbortedTransaction[] | null,
): Set<B> {
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  const skipped = new Set<B>();
  let nextAborted = 0;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    for (; nextAborted < aborted.length; nextAborted++) {
      const txn = aborted[nextAborted] as AbortedTransaction;
      if (txn.firstOffset > lastOffset) break;
      abortedProducers.add(txn.producerId);
    }
    if ((batch.attributes & CONTROL) !== 0) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
    } else if ((batch.attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) {
      skipped.add(batch);
    }
  }
  return skipped;
}

/** Whether a batch is a control batch (a transaction marker), never records to deliver. */
export function isControlBatch(batch: { attributes: number }): boolean {
  return (batch.attributes & CONTROL) !== 0;
}

/** Empties the aborted batches of a fetched partition in place, and clears its aborted list. */
export function leaveOutAborted(partition: fetchV17.FetchResponsePartition): void {
  // Most responses list no aborted transaction: then nothing is left out.
  if (partition.abortedTransactions === null || partition.abortedTransactions.length === 0) return;
  const batches = partition.records ?? [];
  for (const batch of abortedBatches(batches, partition.abortedTransactions)) batch.records = [];
  partition.abortedTransactions = [];
}

type Callback<T> = (error: Error | null, payload?: T) => void;

/**
 * The Fetch API with its read_committed responses filtered as they arrive (see above). Fetch
 * takes the isolation level as its fourth argument after the connection, in every version.
 */
export function readCommittedFetch<A extends unknown[]>(
  api: API<A, fetchV17.FetchResponse>,
): API<A, fetchV17.FetchResponse> {
  const filter = (args: readonly unknown[], response: fetchV17.FetchResponse | undefined) => {
    if (response === undefined || args[3] !== FetchIsolationLevels.READ_COMMITTED) return;
    for (const topic of response.responses) for (const p of topic.partitions) leaveOutAborted(p);
  };
  const withCallback = (connection: Parameters<typeof api.async>[0], ...rest: unknown[]) => {
    const callback = rest.pop() as Callback<fetchV17.FetchResponse>;
    (api as unknown as (...all: unknown[]) => void)(
      connection,
      ...rest,
      (error: Error | null, response?: fetchV17.FetchResponse) => {
        filter(rest, response);
        callback(error, response);
      },
    );
  };
  const async = async (connection: Parameters<typeof api.async>[0], ...args: A) => {
    const response = await api.async(connection, ...args);
    filter(args, response);
    return response;
  };
  return Object.assign(withCallback, { async, key: api.key, version: api.version });
}
