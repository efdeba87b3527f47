/** RocksDbBytesStore and MemoryBytesStore behave alike; RocksDB also keeps its data across reopen. */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  MemoryBytesStore,
  RocksDbBytesStore,
  prefixEnd,
  type BytesStore,
} from "../../src/state/index.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "sagastream-rocks-"));
  dirs.push(dir);
  return dir;
}
const opened: BytesStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const b = (...bytes: number[]) => Buffer.from(bytes);
async function all(iterable: AsyncIterable<[Buffer, Buffer]>): Promise<[number[], string][]> {
  const out: [number[], string][] = [];
  for await (const [key, value] of iterable) out.push([[...key], value.toString()]);
  return out;
}

describe.each([
  ["MemoryBytesStore", () => Promise.resolve<BytesStore>(new MemoryBytesStore())],
  ["RocksDbBytesStore", async () => RocksDbBytesStore.open(path.join(await tempDir(), "db"))],
])("%s", (_, open) => {
  async function fresh(): Promise<BytesStore> {
    const store = await open();
    opened.push(store);
    return store;
  }

  it("puts, overwrites and deletes", async () => {
    const store = await fresh();
    await store.write([[b(1), Buffer.from("a")]]);
    await store.write([
      [b(1), Buffer.from("b")],
      [b(2), Buffer.from("c")],
    ]);
    expect((await store.get(b(1)))?.toString()).toBe("b");
    await store.write([[b(1), null]]);
    expect(await store.get(b(1))).toBeUndefined();
    expect((await store.get(b(2)))?.toString()).toBe("c");
  });

  it("reads several keys in one request, in order, missing ones as undefined", async () => {
    const store = await fresh();
    await store.write([
      [b(1), Buffer.from("a")],
      [b(3), Buffer.from("c")],
    ]);
    const values = await store.getMany([b(3), b(2), b(1), b(3)]);
    expect(values.map((v) => v?.toString())).toEqual(["c", undefined, "a", "c"]);
    expect(await store.getMany([])).toEqual([]);
  });

  it("applies a batch in order: the later write of a key wins", async () => {
    const store = await fresh();
    await store.write([
      [b(1), Buffer.from("x")],
      [b(1), null],
      [b(2), null],
      [b(2), Buffer.from("y")],
    ]);
    expect(await store.get(b(1))).toBeUndefined();
    expect((await store.get(b(2)))?.toString()).toBe("y");
  });

  it("iterates in unsigned byte order within [from, to), with open bounds and prefixes", async () => {
    const store = await fresh();
    const keys = [
      b(0xff),
      b(0x80),
      b(0x00),
      b(0x7f),
      b(0x7f, 0xff),
      b(0x7f, 0xff, 0x01),
      b(0x80, 0x00),
    ];
    await store.write(keys.map((k) => [k, Buffer.from(k.toString("hex"))]));
    expect((await all(store.range())).map(([k]) => k)).toEqual([
      [0x00],
      [0x7f],
      [0x7f, 0xff],
      [0x7f, 0xff, 0x01],
      [0x80],
      [0x80, 0x00],
      [0xff],
    ]);
    expect((await all(store.range(b(0x7f, 0xff), b(0x80, 0x00)))).map(([k]) => k)).toEqual([
      [0x7f, 0xff],
      [0x7f, 0xff, 0x01],
      [0x80],
    ]);
    expect((await all(store.range(undefined, b(0x7f)))).map(([k]) => k)).toEqual([[0x00]]);
    const prefix = b(0x7f, 0xff);
    expect((await all(store.range(prefix, prefixEnd(prefix)))).map(([k]) => k)).toEqual([
      [0x7f, 0xff],
      [0x7f, 0xff, 0x01],
    ]);
  });

  it("is empty and usable after clear", async () => {
    const store = await fresh();
    await store.write([[b(1), Buffer.from("a")]]);
    await store.clear();
    expect(await all(store.range())).toEqual([]);
    await store.write([[b(2), Buffer.from("b")]]);
    expect((await store.get(b(2)))?.toString()).toBe("b");
  });
});

describe("RocksDbBytesStore on disk", () => {
  it("keeps its data across close and reopen", async () => {
    const dir = path.join(await tempDir(), "db");
    const first = await RocksDbBytesStore.open(dir);
    await first.write([[b(1), Buffer.from("kept")]]);
    await first.close();
    const second = await RocksDbBytesStore.open(dir);
    opened.push(second);
    expect((await second.get(b(1)))?.toString()).toBe("kept");
  });

  it("writes 20,000 keys in one batch and reads them back in order", async () => {
    const store = await RocksDbBytesStore.open(path.join(await tempDir(), "db"));
    opened.push(store);
    const key = (i: number) => Buffer.from(`k${String(i).padStart(6, "0")}`);
    await store.write(
      Array.from({ length: 20_000 }, (_, i) => [key(i), Buffer.from(String(i))] as const),
    );
    let expected = 0;
    for await (const [k, v] of store.range()) {
      expect(k).toEqual(key(expected));
      expect(v.toString()).toBe(String(expected));
      expected += 1;
    }
    expect(expected).toBe(20_000);
  });
});
