import { describe, expect, it } from "vitest";
import { CachedBytesStore, MemoryBytesStore } from "../../src/state/index.js";

/** A memory engine that counts the reads reaching it. */
class CountingEngine extends MemoryBytesStore {
  gets = 0;
  requests = 0;
  override get(key: Buffer): Promise<Buffer | undefined> {
    this.gets += 1;
    this.requests += 1;
    return super.get(key);
  }
  override getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.gets += keys.length;
    this.requests += 1;
    return super.getMany(keys);
  }
}

/** An engine whose reads (taken at once) and writes (applied later) end when released. */
class GatedEngine extends MemoryBytesStore {
  private readonly reads: (() => void)[] = [];
  private readonly writes: (() => void)[] = [];
  seed(key: Buffer, value: Buffer): Promise<void> {
    return super.write([[key, value]]);
  }
  endReads(): void {
    for (const end of this.reads.splice(0)) end();
  }
  endWrites(): void {
    for (const end of this.writes.splice(0)) end();
  }
  override async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const values = await super.getMany(keys);
    await new Promise<void>((resolve) => this.reads.push(resolve));
    return values;
  }
  override async get(key: Buffer): Promise<Buffer | undefined> {
    const [value] = await this.getMany([key]);
    return value;
  }
  override async write(batch: Parameters<MemoryBytesStore["write"]>[0]): Promise<void> {
    await new Promise<void>((resolve) => this.writes.push(resolve));
    await super.write(batch);
  }
}

const b = (s: string) => Buffer.from(s);

describe("CachedBytesStore", () => {
  it("serves repeated reads, misses included, from memory", async () => {
    const engine = new CountingEngine();
    await engine.write([[b("a"), b("1")]]);
    const cache = new CachedBytesStore(engine, 1 << 20);
    expect((await cache.get(b("a")))?.toString()).toBe("1");
    expect((await cache.get(b("a")))?.toString()).toBe("1");
    expect(await cache.get(b("nope"))).toBeUndefined();
    expect(await cache.get(b("nope"))).toBeUndefined();
    expect(engine.gets).toBe(2);
  });

  it("writes through and keeps what it wrote, deletes as known misses", async () => {
    const engine = new CountingEngine();
    const cache = new CachedBytesStore(engine, 1 << 20);
    await cache.write([
      [b("a"), b("1")],
      [b("b"), b("2")],
    ]);
    await cache.write([[b("a"), null]]);
    expect(await cache.get(b("a"))).toBeUndefined();
    expect((await cache.get(b("b")))?.toString()).toBe("2");
    expect(engine.gets).toBe(0);
    expect(await engine.get(b("a"))).toBeUndefined(); // the engine has the delete too
  });

  it("evicts the least recently used entries beyond its budget", async () => {
    const engine = new CountingEngine();
    const value = Buffer.alloc(100);
    const cache = new CachedBytesStore(engine, 3 * (1 + 100 + 64)); // three entries
    await cache.write(["a", "b", "c"].map((k) => [b(k), value] as const));
    await cache.get(b("a")); // a is now the most recent; b the oldest
    await cache.write([[b("d"), value]]);
    expect(cache.size).toBeLessThanOrEqual(3 * 165);
    engine.gets = 0;
    await cache.get(b("a"));
    await cache.get(b("c"));
    await cache.get(b("d"));
    expect(engine.gets).toBe(0);
    await cache.get(b("b"));
    expect(engine.gets).toBe(1);
  });

  it("warms the keys it lacks with one engine request, then serves them from memory", async () => {
    const engine = new CountingEngine();
    await engine.write([
      [b("a"), b("1")],
      [b("b"), b("2")],
    ]);
    const cache = new CachedBytesStore(engine, 1 << 20);
    await cache.get(b("a"));
    engine.requests = 0;
    engine.gets = 0;
    await cache.warm([b("a"), b("b"), b("nope"), b("b")]);
    expect(engine.requests).toBe(1);
    expect(engine.gets).toBe(2); // b and nope: a was held, b asked once
    expect((await cache.get(b("b")))?.toString()).toBe("2");
    expect(await cache.get(b("nope"))).toBeUndefined();
    expect(engine.requests).toBe(1);
  });

  it.each([
    ["began while a write was in flight", true],
    ["began before a write and ended after it", false],
  ])("does not remember a warm read that %s (its value may be older)", async (_, writeFirst) => {
    const engine = new GatedEngine();
    await engine.seed(b("k"), b("old"));
    const cache = new CachedBytesStore(engine, 1 << 20);
    let rewrite: Promise<void> | undefined;
    if (writeFirst) rewrite = cache.write([[b("k"), b("new")]]);
    const warmed = cache.warm([b("k")]); // reads "old" now
    rewrite ??= cache.write([[b("k"), b("new")]]);
    engine.endWrites();
    await rewrite; // the cache now holds "new"
    engine.endReads();
    await warmed;
    expect((await cache.get(b("k")))?.toString()).toBe("new");
  });

  it("does not remember a single read (an HTTP query's) that a commit's write overtook", async () => {
    // Review (issue 13): such a read cached the older value, and the processor then decided
    // on stale state.
    const engine = new GatedEngine();
    await engine.seed(b("k"), b("old"));
    const cache = new CachedBytesStore(engine, 1 << 20);
    const query = cache.get(b("k")); // reads "old" now, answers later
    const commit = cache.write([[b("k"), b("new")]]);
    engine.endWrites();
    await commit;
    engine.endReads();
    expect((await query)?.toString()).toBe("old"); // the query saw the state before the commit
    expect((await cache.get(b("k")))?.toString()).toBe("new");
  });

  it("forgets everything when cleared", async () => {
    const engine = new CountingEngine();
    const cache = new CachedBytesStore(engine, 1 << 20);
    await cache.write([[b("a"), b("1")]]);
    await cache.clear();
    expect(await cache.get(b("a"))).toBeUndefined();
    expect(cache.size).toBeGreaterThan(0); // the miss is now cached
    expect(engine.gets).toBe(1);
  });
});
