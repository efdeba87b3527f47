/**
 * Commits the open intervals of all of a worker's tasks together, as Kafka Streams' EOS v2
 * does: one transaction for every task's outputs (sink records, dead letters, changelog
 * records) and input offsets, through one producer per worker. Commits are pipelined: the
 * tasks seal their intervals, the commit goes on in the background while they process into
 * the next ones, and at most one commit is in flight. `intervalMs` sets the least time between
 * two, so that a worker under moderate load does not spend itself on tiny transactions.
 *
 * A commit that fails leaves every task in it unusable (its stores lag what it processed, its
 * positions are past what was committed): they are handed to `onFailed`, which closes them
 * dirty and opens them anew from the committed offsets and their changelogs.
 */
import type { OutputRecord } from "./task.js";

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read: what a commit records as consumed. */
  offset: bigint;
}

/** A task's interval, sealed for a commit. */
export interface SealedInterval {
  outputs: OutputRecord[];
  offsets: TopicPartitionOffset[];
  /** Input records the interval processed (for metrics). */
  records: number;
}

/** A task as the pipeline sees it. */
export interface CommittableTask {
  readonly id: string;
  /** Seals the open interval; undefined when it holds nothing to commit. */
  seal(): SealedInterval | undefined;
  /** The interval's commit succeeded: apply its store writes; `ends` by `topic/partition`. */
  committed(changelogEnds: ReadonlyMap<string, bigint>): Promise<void>;
  /** The interval's commit failed: drop its store writes. */
  aborted(): void;
}

/** Where commits go: a transaction (exactly-once) or a send followed by an offset commit. */
export interface CommitSink {
  /**
   * Makes `outputs` and `offsets` durable together; resolves to the end offset after the last
   * record sent to each explicitly partitioned topic-partition (changelogs), by `topic/partition`.
   */
  commit(
    outputs: readonly OutputRecord[],
    offsets: readonly TopicPartitionOffset[],
  ): Promise<Map<string, bigint>>;
}

export interface CommitPipelineOptions {
  sink: CommitSink;
  /** The least time between the starts of two commits (ms). */
  intervalMs: number;
  now: () => number;
  onCommitted?: (latencyMs: number, records: number) => void;
  /** The tasks of a failed commit; they must not be committed again. */
  onFailed: (tasks: readonly CommittableTask[], error: unknown) => void;
}

export class CommitPipeline {
  private inFlight: Promise<boolean> | undefined;
  private lastStartedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: CommitPipelineOptions) {}

  /** Whether a commit is in flight. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Milliseconds until a new commit may start (0: now); Infinity while one is in flight. */
  dueIn(): number {
    if (this.inFlight !== undefined) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.lastStartedAt + this.options.intervalMs - this.options.now());
  }

  /**
   * Seals the tasks' intervals and starts committing them, if no commit is in flight and the
   * interval has passed. Call it between two records, never while one is being processed.
   */
  maybeCommit(tasks: Iterable<CommittableTask>): void {
    if (this.dueIn() > 0) return;
    void this.start(tasks); // settles to false on failure, never rejects
  }

  /** Resolves when no commit is in flight; false if the last one failed. */
  async settled(): Promise<boolean> {
    return this.inFlight === undefined ? true : await this.inFlight;
  }

  /** Waits for the commit in flight, then commits the rest at once; false if either failed. */
  async flush(tasks: Iterable<CommittableTask>): Promise<boolean> {
    if (!(await this.settled())) return false;
    return (await this.start(tasks)) ?? true;
  }

  private start(tasks: Iterable<CommittableTask>): Promise<boolean> | undefined {
    const sealed: { task: CommittableTask; interval: SealedInterval }[] = [];
    for (const task of tasks) {
      const interval = task.seal();
      if (interval !== undefined) sealed.push({ task, interval });
    }
    if (sealed.length === 0) return undefined;
    const started = this.options.now();
    this.lastStartedAt = started;
    const outputs = sealed.flatMap((s) => s.interval.outputs);
    const offsets = sealed.flatMap((s) => s.interval.offsets);
    const records = sealed.reduce((sum, s) => sum + s.interval.records, 0);
    const commit = this.options.sink.commit(outputs, offsets).then(
      async (ends) => {
        // The transaction is durable; a store that fails to take its writes now lags its
        // changelog, and its task must be restored from it. Each task has its own stores, so
        // they take their writes side by side (one after another, they added a write's
        // latency per task to every commit).
        const lagging: CommittableTask[] = [];
        let failure: unknown;
        await Promise.all(
          sealed.map(({ task }) =>
            task.committed(ends).catch((error: unknown) => {
              lagging.push(task);
              failure = error;
            }),
          ),
        );
        this.options.onCommitted?.(this.options.now() - started, records);
        if (lagging.length > 0) this.options.onFailed(lagging, failure);
        return lagging.length === 0;
      },
      (error: unknown) => {
        for (const { task } of sealed) task.aborted();
        this.options.onFailed(
          sealed.map((s) => s.task),
          error,
        );
        return false;
      },
    );
    const inFlight = commit.finally(() => {
      if (this.inFlight === inFlight) this.inFlight = undefined;
    });
    this.inFlight = inFlight;
    return inFlight;
  }
}
