/**
 * A read cache over a BytesStore engine, like Kafka Streams' record cache: the values of
 * recently read or written keys (a missing key too) stay in memory, least recently used first
 * out, within a byte budget. Reads of a hot key (a saga answering its replies) skip the
 * engine: a RocksDB get costs far more on the JS thread than a map lookup. Writes go through
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

  async get(key: Buffer): Promise<Buffer | undefined> {
    const id = key.toString("latin1");
    const cached = this.entries.get(id);
    if (cached !== undefined) {
      this.entries.delete(id); // to the most recent end
      this.entries.set(id, cached);
      return cached === null ? undefined : Buffer.from(cached, "latin1");
    }
    const value = await this.engine.get(key);
    this.remember(id, value?.toString("latin1") ?? null);
    return value;
  }

  async write(batch: readonly Write[]): Promise<void> {
    await this.engine.write(batch);
    for (const [key, value] of batch) {
      this.remember(key.toString("latin1"), value?.toString("latin1") ?? null);
    }
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
