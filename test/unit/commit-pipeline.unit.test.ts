import { describe, expect, it } from "vitest";
import {
  CommitPipeline,
  type CommitSink,
  type CommittableTask,
  type SealedInterval,
  type TopicPartitionOffset,
} from "../../src/topology/commit-pipeline.js";
import type { OutputRecord } from "../../src/topology/task.js";

/** A task whose interval holds `records` inputs, each with one output. */
class FakeTask implements CommittableTask {
  pending = 0;
  next = 0n;
  readonly log: string[] = [];
  constructor(readonly id: string) {}

  process(count: number): void {
    this.pending += count;
    this.next += BigInt(count);
  }

  seal(): SealedInterval | undefined {
    if (this.pending === 0) return undefined;
    const records = this.pending;
    this.pending = 0;
    this.log.push(`seal ${records}`);
    const output: OutputRecord = {
      topic: "out",
      key: null,
      value: Buffer.from(this.id),
      timestamp: 0,
      headers: {},
    };
    return {
      outputs: Array.from({ length: records }, () => output),
      offsets: [{ topic: "in", partition: Number(this.id), offset: this.next }],
      records,
    };
  }

  committed(): Promise<void> {
    this.log.push("committed");
    return Promise.resolve();
  }

  aborted(): void {
    this.log.push("aborted");
  }
}

/** A sink whose commits end when the test says. */
class ManualSink implements CommitSink {
  readonly calls: { outputs: number; offsets: TopicPartitionOffset[] }[] = [];
  private settle: ((error?: Error) => void)[] = [];

  commit(outputs: readonly OutputRecord[], offsets: readonly TopicPartitionOffset[]) {
    this.calls.push({ outputs: outputs.length, offsets: [...offsets] });
    return new Promise<Map<string, bigint>>((resolve, reject) => {
      this.settle.push((error) => {
        if (error) reject(error);
        else resolve(new Map());
      });
    });
  }

  end(error?: Error): void {
    const next = this.settle.shift();
    if (next === undefined) throw new Error("no commit in flight");
    next(error);
  }
}

function pipeline(sink: CommitSink, clock: { now: number }, failed: string[][] = []) {
  return new CommitPipeline({
    sink,
    intervalMs: 20,
    now: () => clock.now,
    onFailed: (tasks) => failed.push(tasks.map((t) => t.id)),
  });
}

describe("CommitPipeline", () => {
  it("commits every task's interval in one commit, with each task's offsets", async () => {
    const sink = new ManualSink();
    const clock = { now: 1000 };
    const commits = pipeline(sink, clock);
    const [a, b, idle] = [new FakeTask("0"), new FakeTask("1"), new FakeTask("2")];
    a.process(3);
    b.process(2);
    commits.maybeCommit([a, b, idle]);
    expect(sink.calls).toEqual([
      {
        outputs: 5,
        offsets: [
          { topic: "in", partition: 0, offset: 3n },
          { topic: "in", partition: 1, offset: 2n },
        ],
      },
    ]);
    sink.end();
    expect(await commits.settled()).toBe(true);
    expect(a.log).toEqual(["seal 3", "committed"]);
    expect(idle.log).toEqual([]);
  });

  it("has the tasks take their committed writes side by side, not one after another", async () => {
    const sink = new ManualSink();
    const commits = pipeline(sink, { now: 1000 });
    const started: string[] = [];
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = (id: string) =>
      Object.assign(new FakeTask(id), {
        committed: async () => {
          started.push(id);
          await gate; // each store write ends only once every one has started
        },
      });
    const [a, b] = [slow("0"), slow("1")];
    a.process(1);
    b.process(1);
    commits.maybeCommit([a, b]);
    sink.end();
    await Promise.resolve(); // the sink's commit settles
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(["0", "1"]);
    release();
    expect(await commits.settled()).toBe(true);
  });

  it("keeps one commit in flight while the tasks process into their next interval", async () => {
    const sink = new ManualSink();
    const clock = { now: 1000 };
    const commits = pipeline(sink, clock);
    const task = new FakeTask("0");
    task.process(1);
    commits.maybeCommit([task]);
    task.process(4);
    clock.now += 100;
    commits.maybeCommit([task]);
    expect(sink.calls).toHaveLength(1);
    expect(commits.dueIn()).toBe(Number.POSITIVE_INFINITY);
    sink.end();
    await commits.settled();
    commits.maybeCommit([task]);
    expect(sink.calls.map((c) => c.offsets[0]?.offset)).toEqual([1n, 5n]);
  });

  it("waits for the interval between the starts of two commits", async () => {
    const sink = new ManualSink();
    const clock = { now: 1000 };
    const commits = pipeline(sink, clock);
    const task = new FakeTask("0");
    task.process(1);
    commits.maybeCommit([task]);
    sink.end();
    await commits.settled();
    task.process(1);
    clock.now += 5;
    expect(commits.dueIn()).toBe(15);
    commits.maybeCommit([task]);
    expect(sink.calls).toHaveLength(1);
    clock.now += 15;
    commits.maybeCommit([task]);
    expect(sink.calls).toHaveLength(2);
  });

  it("hands the tasks of a failed commit over, and only those", async () => {
    const sink = new ManualSink();
    const clock = { now: 1000 };
    const failed: string[][] = [];
    const commits = pipeline(sink, clock, failed);
    const [a, b] = [new FakeTask("0"), new FakeTask("1")];
    a.process(1);
    commits.maybeCommit([a, b]);
    sink.end(new Error("ILLEGAL_GENERATION"));
    expect(await commits.settled()).toBe(false);
    expect(failed).toEqual([["0"]]);
    expect(a.log).toEqual(["seal 1", "aborted"]);
    expect(b.log).toEqual([]);
  });

  it("flush waits for the commit in flight and commits the rest at once", async () => {
    const sink = new ManualSink();
    const clock = { now: 1000 };
    const commits = pipeline(sink, clock);
    const task = new FakeTask("0");
    task.process(1);
    commits.maybeCommit([task]);
    task.process(1);
    const flushed = commits.flush([task]);
    sink.end();
    await new Promise((r) => setImmediate(r));
    expect(sink.calls).toHaveLength(2); // at once, not after the interval
    sink.end();
    expect(await flushed).toBe(true);
  });

  it("a task whose store cannot take a committed interval is handed over", async () => {
    const sink = new ManualSink();
    const failed: string[][] = [];
    const commits = pipeline(sink, { now: 0 }, failed);
    const task = new FakeTask("0");
    task.committed = () => Promise.reject(new Error("disk full"));
    task.process(1);
    commits.maybeCommit([task]);
    sink.end();
    expect(await commits.settled()).toBe(false);
    expect(failed).toEqual([["0"]]);
  });
});
