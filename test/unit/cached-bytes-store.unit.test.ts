import { describe, expect, it } from "vitest";
import { CachedBytesStore, MemoryBytesStore } from "../../src/state/index.js";

/** A memory engine that counts the gets reaching it. */
class CountingEngine extends MemoryBytesStore {
  gets = 0;
  override get(key: Buffer): Promise<Buffer | undefined> {
    this.gets += 1;
    return super.get(key);
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
