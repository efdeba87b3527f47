/**
 * What a task checks of an input before it keeps what the input made: that it arrived on the
 * partition its key hashes to (for sources whose key owns state), and that every record it
 * made fits in a broker's record. Either failing, the input goes to the dead-letter topic.
 */
import { RecordMisplacedError, RecordTooLargeError, type RecordOrigin } from "../errors/index.js";
import { partitionForKey } from "../kafka/index.js";
import type { Headers } from "./processor.js";

/**
 * Under the broker's default message.max.bytes (1,048,588 for a batch: 61 bytes of batch
 * header and some 20 of record framing around one record), with room for a dead letter's
 * headers. A larger record fails its commit at the broker, every time the input is redone.
 */
export const MAX_RECORD_BYTES = 1_000_000;

/** A record's size as the broker counts it, near enough: key, value, header names and values. */
export function recordBytes(record: {
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const name in record.headers) bytes += name.length + (record.headers[name]?.length ?? 0);
  return bytes;
}

/** Throws RecordMisplacedError when `key` hashes to another of `partitions` than `partition`. */
export function checkPlacement(
  input: RecordOrigin,
  key: Buffer,
  partition: number,
  partitions: number,
): void {
  const expected = partitionForKey(key, partitions);
  if (expected !== partition) throw new RecordMisplacedError(input, expected, partitions);
}

/** Throws RecordTooLargeError when a record of `bytes` for `topic` is over `limit`. */
export function checkSize(input: RecordOrigin, topic: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new RecordTooLargeError(input, topic, bytes, limit);
}
