/**
 * A typed key-value state store over a BytesStore engine. Writes are buffered (visible to
 * reads at once) and reach the engine only after the commit that carries them, together with
 * the changelog records the task sends in the same Kafka transaction. The generations of
 * writes are kept apart: the open commit interval; the sealed interval whose transaction is in
 * flight (processing goes on meanwhile); and the committed writes not yet in the engine,
 * written to it in one batch at most every `writeBehindMs` (a key a saga rewrites at each of
 * its steps is written once; a batch costs the worker's thread some 100 µs, and there was one
 * per task per commit).
 * The engine is a cache of the changelog: a task that stops uncleanly wipes it and restores,
 * so what was not yet written is not lost. The record being processed writes into the open
 * interval, with an undo log, so that a record that fails is rolled back whole (a generation
 * of its own cost a map per record, merged into the interval's).
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

export interface KeyValueStoreOptions {
  /**
   * The least time between two writes of committed data to the engine (ms); 0, the default,
   * writes each committed interval as it comes.
   */
  writeBehindMs?: number;
  /** Committed writes held back at most (keys): more are written at once. */
  maxUnwritten?: number;
  now?: () => number;
}

/** Writes by key, the key bytes read as latin1 (one char per byte: cheap, and distinct). */
type Pending = Map<string, Write>;

export class KeyValueStore<K, V> implements WritableStore<K, V> {
  /** Committed writes being written to the engine now. */
  private writing: Pending = new Map();
  /** Committed writes not yet in the engine, nor being written. */
  private unwritten: Pending = new Map();
  /** Writes of the sealed interval, whose commit is in flight. */
  private sealed: Pending = new Map();
  /** Writes of the open commit interval, the record being processed's included. */
  private interval: Pending = new Map();
  /** What the record being processed replaced in `interval`, in order: key id, then write. */
  private undo: (string | Write | undefined)[] = [];
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private readonly writeBehindMs: number;
  private readonly maxUnwritten: number;
  private readonly now: () => number;

  constructor(
    readonly name: string,
    readonly engine: BytesStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    options: KeyValueStoreOptions = {},
  ) {
    this.writeBehindMs = options.writeBehindMs ?? 0;
    this.maxUnwritten = options.maxUnwritten ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private pendingWrite(keyBytes: Buffer): Write | undefined {
    const id = keyBytes.toString("latin1");
    return (
      this.interval.get(id) ?? this.sealed.get(id) ?? this.unwritten.get(id) ?? this.writing.get(id)
    );
  }

  /** Not async: a pending write is read without a suspended frame. */
  get(key: K): Promise<V | undefined> {
    const keyBytes = this.keySerde.serialize(key);
    const pending = this.pendingWrite(keyBytes);
    if (pending !== undefined) return Promise.resolve(this.decode(pending[1]));
    return this.engine.get(keyBytes).then((bytes) => this.decode(bytes));
  }

  private decode(bytes: Buffer | null | undefined): V | undefined {
    return bytes === null || bytes === undefined ? undefined : this.valueSerde.deserialize(bytes);
  }

  /**
   * Has the engine bring these keys' values into memory, where it caches, in one read: for a
   * batch of records about to be processed. Keys with a pending write need no read.
   */
  async warm(keys: readonly Buffer[]): Promise<void> {
    if (this.engine.warm === undefined) return;
    const unwritten = keys.filter((key) => this.pendingWrite(key) === undefined);
    if (unwritten.length > 0) await this.engine.warm(unwritten);
  }

  put(key: K, value: V): void {
    const keyBytes = this.keySerde.serialize(key);
    this.write(keyBytes, this.valueSerde.serialize(value));
  }

  delete(key: K): void {
    this.write(this.keySerde.serialize(key), null);
  }

  private write(keyBytes: Buffer, value: Buffer | null): void {
    const id = keyBytes.toString("latin1");
    this.undo.push(id, this.interval.get(id));
    this.interval.set(id, [keyBytes, value]);
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

  /**
   * The engine's entries overlaid with the pending writes, in byte order: a streaming merge,
   * so that a scan stopped early reads no further than it needs.
   */
  private async *rangeBytes(from?: Buffer, to?: Buffer): AsyncIterable<[K, V]> {
    const inRange = (key: Buffer) =>
      (from === undefined || Buffer.compare(key, from) >= 0) &&
      (to === undefined || Buffer.compare(key, to) < 0);
    // The pending writes in range, taken before the engine is read: a sealed interval may be
    // flushed to the engine (and dropped here) meanwhile. Later generations win.
    const pending = new Map<string, Write>();
    for (const generation of [this.writing, this.unwritten, this.sealed, this.interval]) {
      for (const [id, write] of generation) if (inRange(write[0])) pending.set(id, write);
    }
    const overlay = [...pending.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
    let next = 0;
    const emit = ([key, value]: Write): [K, V] | undefined =>
      value === null
        ? undefined
        : [this.keySerde.deserialize(key), this.valueSerde.deserialize(value)];
    for await (const [key, value] of this.engine.range(from, to)) {
      let order = -1;
      for (; next < overlay.length; next++) {
        const write = overlay[next] as Write;
        order = Buffer.compare(write[0], key);
        if (order > 0) break;
        const entry = emit(write); // before the engine's key, or the same key (the pending wins)
        if (entry !== undefined) yield entry;
        if (order === 0) {
          next++;
          break;
        }
      }
      if (order !== 0) yield [this.keySerde.deserialize(key), this.valueSerde.deserialize(value)];
    }
    for (; next < overlay.length; next++) {
      const entry = emit(overlay[next] as Write);
      if (entry !== undefined) yield entry;
    }
  }

  /** The size of the largest write (key and value bytes) of the record being processed. */
  largestRecordWrite(): number {
    let largest = 0;
    for (let i = 0; i < this.undo.length; i += 2) {
      const write = this.interval.get(this.undo[i] as string);
      if (write !== undefined)
        largest = Math.max(largest, write[0].length + (write[1]?.length ?? 0));
    }
    return largest;
  }

  /** The current record succeeded: keep its writes for this commit interval. */
  acceptRecord(): void {
    this.undo.length = 0;
  }

  /** The current record failed: forget its writes, latest first. */
  rejectRecord(): void {
    for (let i = this.undo.length - 2; i >= 0; i -= 2) {
      const id = this.undo[i] as string;
      const previous = this.undo[i + 1] as Write | undefined;
      if (previous === undefined) this.interval.delete(id);
      else this.interval.set(id, previous);
    }
    this.undo.length = 0;
  }

  /** Whether committed writes wait to reach the engine (or are being written). */
  get hasUnwritten(): boolean {
    return this.unwritten.size > 0 || this.writing.size > 0;
  }

  /** Whether the open commit interval holds writes. */
  get hasChanges(): boolean {
    return this.interval.size > 0;
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
    // The record in hand writes into the open interval: sealed now, its writes would be
    // committed without it, and could no longer be undone.
    if (this.undo.length > 0) {
      throw new Error(`store "${this.name}": a record is being processed; seal between records`);
    }
    this.sealed = this.interval;
    this.interval = new Map();
    return [...this.sealed.values()];
  }

  /**
   * The sealed interval's transaction committed: its writes join those to be written, and
   * they go to the engine in one batch if `writeBehindMs` has passed since the last.
   */
  async flush(): Promise<void> {
    const sealed = this.sealed;
    this.sealed = new Map();
    if (this.unwritten.size === 0) this.unwritten = sealed;
    else for (const [id, write] of sealed) this.unwritten.set(id, write);
    if (
      this.now() - this.lastWriteAt >= this.writeBehindMs ||
      this.unwritten.size >= this.maxUnwritten
    ) {
      await this.writeCommitted();
    }
  }

  /** Writes every committed write to the engine (before a clean close). */
  async writeCommitted(): Promise<void> {
    if (this.unwritten.size === 0) return;
    this.writing = this.unwritten;
    this.unwritten = new Map();
    this.lastWriteAt = this.now();
    try {
      await this.engine.write([...this.writing.values()]);
    } finally {
      this.writing = new Map(); // only now: reads meanwhile must still see them
    }
  }

  /** A transaction failed: forget every write not in the engine. */
  discard(): void {
    this.unwritten = new Map();
    this.sealed = new Map();
    this.interval = new Map();
    this.undo.length = 0;
  }
}
