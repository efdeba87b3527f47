/**
 * The in-memory engine keeps keys in byte order at any size: 100,000 writes in random order
 * (a sorted array's splice made this quadratic), deletes, ranges, and a range that goes on
 * reading its snapshot while the store changes.
 */
import { describe, expect, it } from "vitest";
import { MemoryBytesStore } from "../../src/state/index.js";

const key = (n: number) => Buffer.from(`k${String(n).padStart(6, "0")}`);

async function keys(iterable: AsyncIterable<[Buffer, Buffer]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of iterable) out.push(k.toString());
  return out;
}

describe("MemoryBytesStore", () => {
  it("keeps 100,000 keys written in random order sorted, and deletes", async () => {
    const store = new MemoryBytesStore();
    const order = Array.from({ length: 100_000 }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 7_919) % (i + 1); // a fixed shuffle
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const started = performance.now();
    for (const n of order) await store.write([[key(n), Buffer.from(String(n))]]);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(store.size).toBe(100_000);
    await store.write([
      [key(5), null],
      [key(7), Buffer.from("seven")],
    ]);
    expect(await keys(store.range(key(3), key(9)))).toEqual([
      "k000003",
      "k000004",
      "k000006",
      "k000007",
      "k000008",
    ]);
    expect((await store.get(key(7)))?.toString()).toBe("seven");
    expect(await store.get(key(5))).toBeUndefined();
    expect((await keys(store.range(key(99_998)))).length).toBe(2);
  });

  it("iterates a snapshot: writes during a range do not change what it visits", async () => {
    const store = new MemoryBytesStore();
    await store.write([1, 2, 3].map((n) => [key(n), Buffer.from("v")]));
    const seen: string[] = [];
    for await (const [k] of store.range()) {
      seen.push(k.toString());
      await store.write([
        [key(2), null],
        [key(4), Buffer.from("v")],
      ]);
    }
    expect(seen).toEqual(["k000001", "k000002", "k000003"]);
    expect(await keys(store.range())).toEqual(["k000001", "k000003", "k000004"]);
  });
});
