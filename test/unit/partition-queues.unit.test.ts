import { describe, expect, it } from "vitest";
import { PartitionQueues } from "../../src/kafka/partition-queues.js";

/** A task that finishes when the test says so. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe("PartitionQueues", () => {
  it("runs one key's items in order, one at a time", async () => {
    const done: string[] = [];
    const running = new Set<string>();
    let overlapped = false;
    const queues = new PartitionQueues<number>(4, async (item, key) => {
      if (running.has(key)) overlapped = true;
      running.add(key);
      await new Promise((resolve) => setTimeout(resolve, 5 - (item % 5)));
      running.delete(key);
      done.push(`${key}:${item}`);
    });
    for (let i = 0; i < 20; i += 1) queues.push(`p${i % 2}`, i);
    await queues.idle();
    expect(overlapped).toBe(false);
    expect(done.filter((d) => d.startsWith("p0")).map((d) => Number(d.split(":")[1]))).toEqual([
      0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
    ]);
  });

  it("runs at most `concurrency` keys at once, and takes turns between keys", async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    const started: string[] = [];
    const queues = new PartitionQueues<string>(2, async (item) => {
      started.push(item);
      const g = gate();
      gates.set(item, g);
      await g.opened;
    });
    queues.push("a", "a1");
    queues.push("a", "a2");
    queues.push("b", "b1");
    queues.push("c", "c1");
    expect(started).toEqual(["a1", "b1"]);
    expect(queues.size).toBe(4);
    gates.get("a1")?.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(["a1", "b1", "c1"]); // c waited longer than a's next item
    gates.get("b1")?.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(["a1", "b1", "c1", "a2"]);
    gates.get("c1")?.open();
    gates.get("a2")?.open();
    await queues.idle();
    expect(queues.size).toBe(0);
  });

  it("clear() drops what has not started; idle() waits for what runs", async () => {
    const g = gate();
    const started: number[] = [];
    const queues = new PartitionQueues<number>(1, async (item) => {
      started.push(item);
      await g.opened;
    });
    queues.push("p", 1);
    queues.push("p", 2);
    queues.push("q", 3);
    queues.clear();
    expect(queues.size).toBe(1);
    let idle = false;
    const waiting = queues.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    g.open();
    await waiting;
    expect(started).toEqual([1]);
    queues.push("p", 4); // usable again afterwards
    await queues.idle();
    expect(started).toEqual([1, 4]);
  });

  it("keeps going when an item throws", async () => {
    const done: number[] = [];
    const queues = new PartitionQueues<number>(1, async (item) => {
      if (item === 1) throw new Error("boom");
      done.push(item);
    });
    queues.push("p", 1);
    queues.push("p", 2);
    await queues.idle();
    expect(done).toEqual([2]);
  });

  it("refuses a concurrency that is not a whole number ≥ 1", () => {
    expect(() => new PartitionQueues(0, () => Promise.resolve())).toThrow(/concurrency/);
  });
});
