/**
 * A typed key-value state store over a BytesStore engine. Writes are buffered (visible to
 * reads at once) and reach the engine only after the commit that carries them, in one batch,
 * together with the changelog records the task sends in the same Kafka transaction. Three
 * generations of writes are kept apart: the record being processed (so that a record that
 * fails is rolled back whole), the open commit interval, and the sealed interval whose
 * transaction is in flight (processing goes on meanwhile).
 */
import { prefixEnd, type BytesStore, type Write } from "./bytes-store.js";
import type { Serde } from "./serde.js";

export interface ReadableStore<K, V> {
  readonly name: string;
  get(key: K): Promise<V | undefined>;
  /** Entries with from <= key < to by serialized byte order; a missing bound is open. */
  range(from?: K, to?: K): AsyncIterable<[K, V]>;
  /** Entries whose serialized key starts with the serialized `prefix`. */
  prefix(prefix: K): AsyncIterable<[K, V]>;
}

export interface WritableStore<K, V> extends ReadableStore<K, V> {
  put(key: K, value: V): void;
  delete(key: K): void;
}

type Pending = Map<string, Write>;

export class KeyValueStore<K, V> implements WritableStore<K, V> {
  /** Writes of the sealed interval, whose commit is in flight. */
  private sealed: Pending = new Map();
  /** Writes of records already processed in the open commit interval. */
  private interval: Pending = new Map();
  /** Writes of the record being processed. */
  private current: Pending = new Map();

  constructor(
    readonly name: string,
    readonly engine: BytesStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  private pendingWrite(keyBytes: Buffer): Write | undefined {
    const hex = keyBytes.toString("hex");
    return this.current.get(hex) ?? this.interval.get(hex) ?? this.sealed.get(hex);
  }

  async get(key: K): Promise<V | undefined> {
    const keyBytes = this.keySerde.serialize(key);
    const pending = this.pendingWrite(keyBytes);
    const bytes = pending !== undefined ? pending[1] : await this.engine.get(keyBytes);
    return bytes === null || bytes === undefined ? undefined : this.valueSerde.deserialize(bytes);
  }

  put(key: K, value: V): void {
    const keyBytes = this.keySerde.serialize(key);
    this.current.set(keyBytes.toString("hex"), [keyBytes, this.valueSerde.serialize(value)]);
  }

  delete(key: K): void {
    const keyBytes = this.keySerde.serialize(key);
    this.current.set(keyBytes.toString("hex"), [keyBytes, null]);
  }

  range(from?: K, to?: K): AsyncIterable<[K, V]> {
    return this.rangeBytes(
      from === undefined ? undefined : this.keySerde.serialize(from),
      to === undefined ? undefined : this.keySerde.serialize(to),
    );
  }

  prefix(prefix: K): AsyncIterable<[K, V]> {
    const from = this.keySerde.serialize(prefix);
    return this.rangeBytes(from, prefixEnd(from));
  }

  /** The engine's entries overlaid with the pending writes, in byte order. */
  private async *rangeBytes(from?: Buffer, to?: Buffer): AsyncIterable<[K, V]> {
    const inRange = (key: Buffer) =>
      (from === undefined || Buffer.compare(key, from) >= 0) &&
      (to === undefined || Buffer.compare(key, to) < 0);
    const overlay = new Map<string, Write>([...this.sealed, ...this.interval, ...this.current]);
    const merged = new Map<string, Write>();
    for await (const [key, value] of this.engine.range(from, to))
      merged.set(key.toString("hex"), [key, value]);
    for (const [hex, write] of overlay) if (inRange(write[0])) merged.set(hex, write);
    const sorted = [...merged.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
    for (const [key, value] of sorted) {
      if (value !== null)
        yield [this.keySerde.deserialize(key), this.valueSerde.deserialize(value)];
    }
  }

  /** The current record succeeded: keep its writes for this commit interval. */
  acceptRecord(): void {
    for (const [hex, write] of this.current) this.interval.set(hex, write);
    this.current.clear();
  }

  /** The current record failed: forget its writes. */
  rejectRecord(): void {
    this.current.clear();
  }

  /** The writes of the open commit interval, without ending it. */
  changes(): Write[] {
    return [...this.interval.values()];
  }

  /**
   * Ends the open interval: its writes become the commit's (returned: the changelog records)
   * and later writes start a new interval. The previous commit must have ended.
   */
  seal(): Write[] {
    if (this.sealed.size > 0) {
      throw new Error(`store "${this.name}": a commit is still in flight; wait for it to end`);
    }
    this.sealed = this.interval;
    this.interval = new Map();
    return [...this.sealed.values()];
  }

  /** The sealed interval's transaction committed: write it to the engine in one batch. */
  async flush(): Promise<void> {
    const batch = [...this.sealed.values()];
    if (batch.length > 0) await this.engine.write(batch);
    this.sealed = new Map(); // only now: reads meanwhile must still see it
  }

  /** Forgets the writes not sealed yet (the open interval and the current record). */
  discardInterval(): void {
    this.interval = new Map();
    this.current = new Map();
  }

  /** A transaction failed: forget every write not in the engine. */
  discard(): void {
    this.sealed = new Map();
    this.discardInterval();
  }
}
