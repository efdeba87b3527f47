/** Serdes turn keys and values into bytes and back (value ↔ bytes; Avro arrives with src/schema). */
export interface Serde<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
  /** Loads what `deserialize` needs for these bytes (a writer schema by id), before it runs. */
  prepare?(bytes: Buffer): Promise<void>;
}

export const Serdes = {
  string: {
    serialize: (value: string) => Buffer.from(value, "utf8"),
    deserialize: (bytes: Buffer) => bytes.toString("utf8"),
  } satisfies Serde<string>,

  bytes: {
    serialize: (value: Buffer) => value,
    deserialize: (bytes: Buffer) => bytes,
  } satisfies Serde<Buffer>,

  /** A signed 64-bit integer, big-endian (the Java LongSerde layout; sorts by byte order when ≥ 0). */
  bigint: {
    serialize: (value: bigint) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigInt64BE(value);
      return bytes;
    },
    deserialize: (bytes: Buffer) => {
      if (bytes.length !== 8)
        throw new Error(`a 64-bit integer needs 8 bytes, got ${bytes.length}`);
      return bytes.readBigInt64BE();
    },
  } satisfies Serde<bigint>,

  json<T>(): Serde<T> {
    return {
      serialize: (value) => Buffer.from(JSON.stringify(value), "utf8"),
      deserialize: (bytes) => JSON.parse(bytes.toString("utf8")) as T,
    };
  },
} as const;
