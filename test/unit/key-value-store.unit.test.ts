import { describe, expect, it, vi } from "vitest";
import {
  CachedBytesStore,
  KeyValueStore,
  MemoryBytesStore,
  Serdes,
  prefixEnd,
} from "../../src/state/index.js";

function store() {
  const engine = new MemoryBytesStore();
  return { engine, kv: new KeyValueStore("s", engine, Serdes.string, Serdes.json<number>()) };
}

async function entries<K, V>(iterable: AsyncIterable<[K, V]>): Promise<[K, V][]> {
  const out: [K, V][] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

describe("KeyValueStore", () => {
  it("warms only the keys without a pending write, and reads them from the cache after", async () => {
    const engine = new MemoryBytesStore();
    await engine.write([[Buffer.from("b"), Buffer.from("2")]]);
    const warmed: string[][] = [];
    const cache = new CachedBytesStore(engine, 1 << 20);
    const warm = cache.warm.bind(cache);
    cache.warm = (keys) => {
      warmed.push(keys.map((k) => k.toString()));
      return warm(keys);
    };
    const kv = new KeyValueStore("s", cache, Serdes.string, Serdes.json<number>());
    kv.put("a", 1);
    kv.acceptRecord();
    await kv.warm(["a", "b", "c"].map((k) => Buffer.from(k)));
    expect(warmed).toEqual([["b", "c"]]);
    const reads = vi.spyOn(engine, "get");
    expect(await kv.get("b")).toBe(2);
    expect(await kv.get("c")).toBeUndefined();
    expect(reads).not.toHaveBeenCalled();
  });

  it("reads its own writes before they reach the engine, and writes them at flush", async () => {
    const { engine, kv } = store();
    kv.put("a", 1);
    expect(await kv.get("a")).toBe(1);
    kv.acceptRecord();
    expect(engine.size).toBe(0);
    kv.seal();
    await kv.flush();
    expect(engine.size).toBe(1);
    expect(await kv.get("a")).toBe(1);
  });

  it("rolls back only the failed record's writes", async () => {
    const { kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    kv.put("a", 2);
    kv.put("b", 3);
    kv.rejectRecord();
    expect(await kv.get("a")).toBe(1);
    expect(await kv.get("b")).toBeUndefined();
    expect(kv.changes().map(([k, v]) => [k.toString(), v?.toString()])).toEqual([["a", "1"]]);
  });

  it("rolls back a failed record that wrote one key twice, over a sealed write", async () => {
    const { kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    kv.seal();
    kv.put("a", 2);
    kv.acceptRecord();
    kv.put("a", 3);
    kv.delete("a");
    kv.put("b", 4);
    kv.rejectRecord();
    expect(await kv.get("a")).toBe(2);
    expect(await kv.get("b")).toBeUndefined();
    expect(kv.changes().map(([k, v]) => [k.toString(), v?.toString()])).toEqual([["a", "2"]]);
    kv.put("c", 5);
    kv.rejectRecord();
    kv.acceptRecord();
    expect(kv.changes().map(([k]) => k.toString())).toEqual(["a"]);
  });

  it("refuses to seal while a record is being processed", () => {
    const { kv } = store();
    kv.put("a", 1);
    expect(() => kv.seal()).toThrow(/a record is being processed/);
    kv.acceptRecord();
    expect(kv.seal().map(([k]) => k.toString())).toEqual(["a"]);
  });

  it("reports a delete as a tombstone change and hides the key", async () => {
    const { kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    kv.seal();
    await kv.flush();
    kv.delete("a");
    kv.acceptRecord();
    expect(await kv.get("a")).toBeUndefined();
    expect(kv.changes()).toEqual([[Buffer.from("a"), null]]);
  });

  it("forgets an aborted interval", async () => {
    const { kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    kv.discard();
    expect(await kv.get("a")).toBeUndefined();
    expect(kv.changes()).toEqual([]);
  });

  it("iterates ranges and prefixes over engine and pending writes, in byte order", async () => {
    const { kv } = store();
    for (const [k, v] of [
      ["order:2", 2],
      ["order:1", 1],
      ["payment:1", 9],
      ["order:3", 3],
    ] as const)
      kv.put(k, v);
    kv.acceptRecord();
    kv.seal();
    await kv.flush();
    kv.put("order:0", 0);
    kv.delete("order:2");
    kv.acceptRecord();
    expect(await entries(kv.prefix("order:"))).toEqual([
      ["order:0", 0],
      ["order:1", 1],
      ["order:3", 3],
    ]);
    expect(await entries(kv.range("order:1", "payment:1"))).toEqual([
      ["order:1", 1],
      ["order:3", 3],
    ]);
    expect((await entries(kv.range())).map(([k]) => k)).toEqual([
      "order:0",
      "order:1",
      "order:3",
      "payment:1",
    ]);
  });

  it("merges engine entries and every generation of pending writes, the newest winning", async () => {
    const { kv } = store();
    for (const k of ["a", "c", "e", "g"]) kv.put(k, 1);
    kv.acceptRecord();
    kv.seal();
    await kv.flush();
    kv.put("b", 2); // sealed generation
    kv.put("c", 2);
    kv.acceptRecord();
    kv.seal();
    kv.put("c", 3); // open interval
    kv.delete("e");
    kv.acceptRecord();
    kv.put("h", 4); // current record
    kv.delete("a");
    expect(await entries(kv.range())).toEqual([
      ["b", 2],
      ["c", 3],
      ["g", 1],
      ["h", 4],
    ]);
    const first: [string, number][] = [];
    for await (const entry of kv.range("c")) {
      first.push(entry);
      break; // a scan may stop early
    }
    expect(first).toEqual([["c", 3]]);
  });

  it("goes on with a new interval while the sealed one commits", async () => {
    const { engine, kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    expect(kv.seal().map(([k, v]) => [k.toString(), v?.toString()])).toEqual([["a", "1"]]);
    kv.put("a", 2);
    kv.put("b", 3);
    kv.acceptRecord();
    expect(await kv.get("a")).toBe(2);
    expect(() => kv.seal()).toThrow(/still in flight/);
    await kv.flush(); // only the sealed interval reaches the engine
    expect(engine.size).toBe(1);
    expect(await kv.get("a")).toBe(2);
    expect(kv.seal().length).toBe(2);
    await kv.flush();
    expect(await entries(kv.range())).toEqual([
      ["a", 2],
      ["b", 3],
    ]);
  });

  it("writes committed intervals behind, one batch at most every writeBehindMs, a rewritten key once", async () => {
    const engine = new MemoryBytesStore();
    const batches: string[][] = [];
    const write = engine.write.bind(engine);
    engine.write = (batch) => {
      batches.push(batch.map(([k, v]) => `${k.toString()}=${v?.toString() ?? "-"}`));
      return write(batch);
    };
    const clock = { now: 1000 };
    const kv = new KeyValueStore("s", engine, Serdes.string, Serdes.json<number>(), {
      writeBehindMs: 100,
      now: () => clock.now,
    });
    const commit = async (writes: [string, number | null][]) => {
      for (const [k, v] of writes) {
        if (v === null) kv.delete(k);
        else kv.put(k, v);
      }
      kv.acceptRecord();
      kv.seal();
      await kv.flush();
    };
    await commit([["a", 1]]); // the first is written at once
    clock.now += 10;
    await commit([
      ["a", 2],
      ["b", 1],
    ]);
    clock.now += 10;
    await commit([
      ["a", 3],
      ["b", null],
    ]);
    expect(batches).toEqual([["a=1"]]);
    expect(await kv.get("a")).toBe(3); // read from the writes held back
    expect(await kv.get("b")).toBeUndefined();
    expect(await entries(kv.range())).toEqual([["a", 3]]);
    clock.now += 100;
    await commit([["c", 1]]);
    expect(batches).toEqual([["a=1"], ["a=3", "b=-", "c=1"]]);
    clock.now += 10;
    await commit([["d", 1]]);
    await kv.writeCommitted(); // a clean close writes the rest
    expect(batches).toEqual([["a=1"], ["a=3", "b=-", "c=1"], ["d=1"]]);
    expect(engine.size).toBe(3);
  });

  it("writes at once when the held-back writes reach maxUnwritten, and reads them while they are written", async () => {
    const engine = new MemoryBytesStore();
    let release = (): void => undefined;
    const write = engine.write.bind(engine);
    engine.write = async (batch) => {
      await new Promise<void>((resolve) => (release = resolve));
      await write(batch);
    };
    const kv = new KeyValueStore("s", engine, Serdes.string, Serdes.json<number>(), {
      writeBehindMs: 60_000,
      maxUnwritten: 2,
      now: () => 0,
    });
    kv.put("a", 1);
    kv.acceptRecord();
    kv.seal();
    const first = kv.flush(); // the first write is due at once; it hangs
    await new Promise((r) => setImmediate(r));
    expect(await kv.get("a")).toBe(1);
    expect(await entries(kv.range())).toEqual([["a", 1]]);
    release();
    await first;
    kv.put("b", 1);
    kv.acceptRecord();
    kv.seal();
    await kv.flush();
    expect(engine.size).toBe(1); // held back
    kv.put("c", 1);
    kv.acceptRecord();
    kv.seal();
    const second = kv.flush(); // two held back: written
    await new Promise((r) => setImmediate(r));
    release();
    await second;
    expect(engine.size).toBe(3);
  });

  it("forgets the writes held back when a commit fails", async () => {
    const { kv } = store();
    const held = new KeyValueStore("s", kv.engine, Serdes.string, Serdes.json<number>(), {
      writeBehindMs: 100,
      now: () => 0,
    });
    for (const v of [1, 2]) {
      held.put("a", v);
      held.acceptRecord();
      held.seal();
      await held.flush();
    }
    expect(await held.get("a")).toBe(2);
    held.discard();
    expect(await held.get("a")).toBe(1); // what the engine holds
  });

  it("forgets the sealed and the open interval when a commit fails", async () => {
    const { kv } = store();
    kv.put("a", 1);
    kv.acceptRecord();
    kv.seal();
    kv.put("b", 2);
    kv.acceptRecord();
    kv.discard();
    expect(await kv.get("a")).toBeUndefined();
    expect(await kv.get("b")).toBeUndefined();
    expect(kv.seal()).toEqual([]);
  });
});

describe("prefixEnd", () => {
  it("is the least key after every key with the prefix", () => {
    expect(prefixEnd(Buffer.from([1, 2]))).toEqual(Buffer.from([1, 3]));
    expect(prefixEnd(Buffer.from([1, 0xff]))).toEqual(Buffer.from([2]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toBeUndefined();
  });
});
