/**
 * A read cache over a BytesStore engine, like Kafka Streams' record cache: the values of
 * recently read or written keys (a missing key too) stay in memory, least recently used first
 * out, within a byte budget. Reads of a hot key (a saga answering its replies) skip the
 * engine: a RocksDB get costs far more on the JS thread than a map lookup; `warm` reads the
 * keys of a batch of records it does not hold in one request. Writes go through
 * to the engine and then update the cache; ranges always read the engine. Values are kept as
 * latin1 strings (one char per byte), copies in the JS heap: a small Buffer is a slice of an
 * 8 KB pool slab, and caching slices kept whole slabs of garbage alive.
 */
import type { BytesStore, Write } from "./bytes-store.js";

const ENTRY_OVERHEAD = 64; // map entry, key string, buffer header: rough, but it bounds memory

export class CachedBytesStore implements BytesStore {
  /** By key, values as latin1 (one char per byte, cheap to build); null: known to be missing. */
  private readonly entries = new Map<string, string | null>();
  private bytes = 0;
  /**
   * Writes begun, and writes in flight: a read that overlapped a write may hold a value older
   * than the write's, so it is not remembered (the next get reads the engine again).
   */
  private writes = 0;
  private writing = 0;

  constructor(
    readonly engine: BytesStore,
    private readonly maxBytes: number,
  ) {
    if (!(maxBytes > 0)) throw new Error(`a cache needs a positive byte budget (got ${maxBytes})`);
  }

  /** Bytes held now (keys and values, with a rough per-entry overhead). */
  get size(): number {
    return this.bytes;
  }

  /** Not async: a hit, the common case, costs no suspended frame. */
  get(key: Buffer): Promise<Buffer | undefined> {
    const id = key.toString("latin1");
    const cached = this.entries.get(id);
    if (cached !== undefined) {
      this.entries.delete(id); // to the most recent end
      this.entries.set(id, cached);
      return Promise.resolve(cached === null ? undefined : Buffer.from(cached, "latin1"));
    }
    return this.read(id, key);
  }

  private async read(id: string, key: Buffer): Promise<Buffer | undefined> {
    const since = this.quietSince();
    const value = await this.engine.get(key);
    if (this.quietSince() === since) this.remember(id, value?.toString("latin1") ?? null);
    return value;
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    await this.warm(keys);
    return Promise.all(keys.map((key) => this.get(key)));
  }

  /** Reads the keys it does not hold from the engine, in one request. */
  async warm(keys: readonly Buffer[]): Promise<void> {
    const missing = new Map<string, Buffer>();
    for (const key of keys) {
      const id = key.toString("latin1");
      if (!this.entries.has(id)) missing.set(id, key);
    }
    if (missing.size === 0) return;
    const since = this.quietSince();
    const values = await this.engine.getMany([...missing.values()]);
    if (this.quietSince() !== since) return;
    let i = 0;
    for (const id of missing.keys()) this.remember(id, values[i++]?.toString("latin1") ?? null);
  }

  async write(batch: readonly Write[]): Promise<void> {
    this.writes++;
    this.writing++;
    try {
      await this.engine.write(batch);
    } finally {
      this.writing--;
    }
    for (const [key, value] of batch) {
      this.remember(key.toString("latin1"), value?.toString("latin1") ?? null);
    }
  }

  /** Writes begun so far, while none is in flight; NaN while one is (never equal to itself). */
  private quietSince(): number {
    return this.writing === 0 ? this.writes : Number.NaN;
  }

  range(from?: Buffer, to?: Buffer): AsyncIterable<[Buffer, Buffer]> {
    return this.engine.range(from, to);
  }

  async clear(): Promise<void> {
    this.forgetAll();
    await this.engine.clear();
  }

  async close(): Promise<void> {
    this.forgetAll();
    await this.engine.close();
  }

  private remember(id: string, value: string | null): void {
    const old = this.entries.get(id);
    if (old !== undefined) {
      this.bytes -= cost(id, old);
      this.entries.delete(id);
    }
    this.entries.set(id, value);
    this.bytes += cost(id, value);
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= cost(oldest, evicted);
    }
  }

  private forgetAll(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

function cost(id: string, value: string | null): number {
  return id.length + (value?.length ?? 0) + ENTRY_OVERHEAD;
}
