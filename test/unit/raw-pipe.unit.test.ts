import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { spread } from "../../src/bench/drain.js";
import { MAX_PENDING, PipeDriver, PipeMode, type RawPipe } from "../../src/bench/raw-pipe.js";
import { DrainMeter } from "../../src/bench/worker-process.js";

/** A pipe whose sends, commits and transactions complete when the test says so. */
function fakePipe() {
  const calls: { kind: string; outputs: string[]; positions: [number, number][] }[] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const call = (kind: string, outputs: string[], positions?: ReadonlyMap<number, number>) => {
    calls.push({ kind, outputs, positions: [...(positions ?? [])] });
    return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  };
  const pipe: RawPipe<string, number> = {
    start: () => Promise.resolve(),
    send: (outputs) => call("send", outputs),
    commit: (positions) => call("commit", [], positions),
    transact: (outputs, positions) => call("transact", outputs, positions),
    close: () => Promise.resolve(),
  };
  /** Completes the oldest call still open, then lets the driver's reactions run. */
  const complete = async (error?: Error) => {
    const next = pending.shift();
    if (error === undefined) next?.resolve();
    else next?.reject(error);
    await vi.advanceTimersByTimeAsync(0);
  };
  return { pipe, calls, complete };
}

const quietMeter = () => new DrainMeter(undefined, () => undefined);

describe("PipeDriver", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("exactly_once: one transaction per interval with the last position of each partition", async () => {
    const { pipe, calls, complete } = fakePipe();
    const driver = new PipeDriver(pipe, PipeMode.ExactlyOnce, 20, quietMeter());
    driver.push(0, "a", 10);
    driver.push(1, "b", 20);
    driver.push(0, "c", 11);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([
      {
        kind: "transact",
        outputs: ["a", "b", "c"],
        positions: [
          [0, 11],
          [1, 20],
        ],
      },
    ]);

    // While it is in flight, the next interval fills; it goes once the first has committed
    // and the commit interval has passed since that one began.
    driver.push(1, "d", 21);
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toHaveLength(1);
    await complete();
    expect(calls[1]).toEqual({ kind: "transact", outputs: ["d"], positions: [[1, 21]] });
  });

  it("exactly_once: waits out the commit interval after a quick transaction", async () => {
    const { pipe, calls, complete } = fakePipe();
    const driver = new PipeDriver(pipe, PipeMode.ExactlyOnce, 20, quietMeter());
    driver.push(0, "a", 1);
    await vi.advanceTimersByTimeAsync(0);
    await complete();
    driver.push(0, "b", 2);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(2);
  });

  it("at_least_once: sends at once, commits acknowledged positions at most every interval", async () => {
    const { pipe, calls, complete } = fakePipe();
    const driver = new PipeDriver(pipe, PipeMode.AtLeastOnce, 20, quietMeter());
    driver.push(0, "a", 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([{ kind: "send", outputs: ["a"], positions: [] }]);
    await complete(); // the send: its position may now be committed
    expect(calls[1]).toEqual({ kind: "commit", outputs: [], positions: [[0, 5]] });

    driver.push(0, "b", 6);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls[2]).toEqual({ kind: "send", outputs: ["b"], positions: [] });
    await complete(); // the commit
    await complete(); // the second send
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[3]).toEqual({ kind: "commit", outputs: [], positions: [[0, 6]] });
  });

  it("asks the client to wait when an interval is full, until it is sealed", async () => {
    const { pipe } = fakePipe();
    const driver = new PipeDriver(pipe, PipeMode.ExactlyOnce, 20, quietMeter());
    let room = true;
    for (let i = 0; i < MAX_PENDING; i += 1) room = driver.push(0, `r${i}`, i);
    expect(room).toBe(false);
    let woken = false;
    void driver.room().then(() => (woken = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(woken).toBe(true);
  });

  it("rejects `failed` when a transaction fails", async () => {
    const { pipe, complete } = fakePipe();
    const driver = new PipeDriver(pipe, PipeMode.ExactlyOnce, 20, quietMeter());
    const failed = driver.failed.catch((error: unknown) => error);
    driver.push(0, "a", 1);
    await vi.advanceTimersByTimeAsync(0);
    await complete(new Error("fenced"));
    expect(await failed).toEqual(new Error("fenced"));
  });

  it("reports the drain once every expected output is written", async () => {
    const { pipe, complete } = fakePipe();
    const lines: string[] = [];
    const driver = new PipeDriver(
      pipe,
      PipeMode.ExactlyOnce,
      20,
      new DrainMeter(2, (line) => lines.push(line)),
    );
    driver.push(0, "a", 1);
    await vi.advanceTimersByTimeAsync(0);
    await complete();
    expect(lines).toEqual([]);
    driver.push(0, "b", 2);
    await vi.advanceTimersByTimeAsync(20);
    await complete();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ event: "drained" });
  });
});

describe("spread", () => {
  it("gives the median and range", () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
  });
});
