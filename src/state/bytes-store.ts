/**
 * The storage engine under every state store: sorted byte keys to byte values. RocksDB
 * provides it for persistent stores, a sorted in-memory array for in-memory stores and the
 * test driver. Typed access, write buffering and changelogging live above it.
 */
export type Write = readonly [key: Buffer, value: Buffer | null];

export interface BytesStore {
  get(key: Buffer): Promise<Buffer | undefined>;
  /**
   * Reads several keys in one request, in order. RocksDB has a fixed cost per request (about
   * 60 µs of CPU, a quarter of it on the JS thread) that dwarfs a lookup's: reading a batch's
   * keys together costs a fraction of reading them one by one.
   */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Brings these keys' values into memory ahead of their gets, where the engine caches. */
  warm?(keys: readonly Buffer[]): Promise<void>;
  /** Applies the writes atomically and in order; a null value deletes the key. */
  write(batch: readonly Write[]): Promise<void>;
  /** Entries with from <= key < to (a missing bound is open), ascending by byte order. */
  range(from?: Buffer, to?: Buffer): AsyncIterable<[Buffer, Buffer]>;
  /** Deletes every entry: for a local copy that cannot be trusted after an unclean stop. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** The smallest key greater than every key that starts with `prefix` (undefined: none). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}
