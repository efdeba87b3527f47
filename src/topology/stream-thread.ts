/**
 * The worker's processing loop (Kafka Streams' StreamThread): fetches the running tasks'
 * source partitions from where each task stands, hands each record to its task, punctuates,
 * and lets the commit pipeline commit between records. One loop, so that a commit is sealed
 * between two records and a task never processes two at once.
 */
import { setImmediate as yieldToIo } from "node:timers/promises";
import { SagastreamError, toError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import type { ActiveTask } from "./active-task.js";
import type { Topology } from "./builder.js";
import type { CommittedRecord } from "./committed-records.js";
import type { CommitPipeline } from "./commit-pipeline.js";
import type { AppMetrics, StuckPartitions } from "./metrics.js";
import type { FetchedPartition, FetchPosition, PartitionFetcher } from "./partition-fetcher.js";
import type { TaskManager } from "./task-manager.js";

export interface StreamThreadOptions {
  topology: Topology;
  fetcher: PartitionFetcher;
  tasks: TaskManager;
  commits: CommitPipeline;
  logger: Logger;
  now: () => number;
  /** How often wall-clock punctuators are checked (ms). */
  punctuateIntervalMs: number;
  /**
   * While a commit is in flight, the open intervals grow to at most this many records in all.
   * Sagas are a closed loop (a command is seen by its participant only once its transaction
   * commits, and the reply is the next input), so a worker that keeps processing while a large
   * commit is in flight only makes its next commit larger and the loop slower.
   */
  maxIntervalRecords: number;
  onLag: (topic: string, partition: number, lag: number) => void;
  /** Where the loop's time goes. */
  loop: AppMetrics["loop"];
  /** Told of inputs that cannot advance, and of when they do again. */
  stuck: StuckPartitions;
  /**
   * A record that failed with a retriable error (the registry out of reach) is retried in
   * place after this long, doubling up to `max` (ms); its partition is not fetched meanwhile.
   */
  retryBackoffMs?: { first: number; max: number };
}

const RETRY_BACKOFF_MS = { first: 500, max: 10_000 } as const;

/** The longest a fetch waits for data (ms): the loop also punctuates. */
const MAX_FETCH_WAIT_MS = 100;
const IDLE_MS = 50;
const RETRY_FETCH_MS = 200;
/** Records whose keys are read into the stores' caches together, ahead of processing them. */
const WARM_BATCH = 256;
/**
 * Once the open intervals have reached half their limit while a commit is in flight,
 * processing gives the event loop a turn this often (ms), so that the commit's responses are
 * read. Records whose state is cached are processed without any I/O: a fetch of thousands ran
 * to its end first, and while draining, commits took 185 ms on average and processing stood
 * waiting for them 23% of the time. Not sooner: a turn per few records made commits small and
 * many (9×), each costing some 3 ms of the worker's CPU.
 */
const YIELD_EVERY_MS = 2;

export class StreamThread {
  private stopRequested = false;
  private loop: Promise<void> | undefined;
  private nextPunctuationAt = 0;
  private lastYieldAt = 0;
  /** While the loop waits on a fetch it holds no record, so a commit may start from outside it. */
  private awaitingFetch = false;
  /** Source partitions retrying a record in place, by `topic/partition`: when, and the delay. */
  private readonly retrying = new Map<string, { at: number; delayMs: number }>();

  constructor(private readonly options: StreamThreadOptions) {}

  /** Read through a method: it changes while the loop awaits. */
  private stopping(): boolean {
    return this.stopRequested;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops after the record in hand; the tasks are then left to be committed and closed. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const { tasks, commits, logger, now } = this.options;
    while (!this.stopping()) {
      tasks.openMissing();
      const running = tasks.runningTasks();
      const positions = this.positionsOf(running);
      const wait = Math.max(0, Math.min(MAX_FETCH_WAIT_MS, this.nextPunctuationAt - now()));
      if (positions.length === 0) {
        await sleep(Math.min(IDLE_MS, wait));
      } else {
        let fetched: FetchedPartition[] = [];
        const { loop } = this.options;
        const fetchStarted = now();
        try {
          fetched = await this.fetchCommitting(positions, wait);
        } catch (error) {
          logger.warn({ err: error }, "fetch failed; trying again");
          await sleep(RETRY_FETCH_MS);
        }
        if (fetched.length > 0 && fetched.every((f) => f.errorCode)) await sleep(RETRY_FETCH_MS);
        const processStarted = now();
        loop.fetchWaitMs += processStarted - fetchStarted;
        loop.fetches += 1;
        for (const partition of fetched) {
          if (this.stopping()) break;
          loop.records += partition.records.length;
          await this.processPartition(partition);
        }
        loop.processMs += now() - processStarted;
      }
      if (this.stopping()) break;
      await this.punctuateIfDue();
      commits.maybeCommit(tasks.runningTasks());
    }
  }

  /**
   * Fetches; meanwhile the next commit starts as soon as it may (the one in flight settled, the
   * interval passed) rather than when the fetch returns. A fetch waits up to 100 ms for data,
   * and a saga's every decision waits for a commit before its reader sees it: a commit that
   * started only after the fetch came back added that delay to each hop.
   */
  private fetchCommitting(
    positions: readonly FetchPosition[],
    waitMs: number,
  ): Promise<FetchedPartition[]> {
    const fetch = this.options.fetcher.fetch(positions, waitMs);
    this.awaitingFetch = true;
    // Registered before the loop's own await: cleared before the loop processes what came.
    const done = (): void => {
      this.awaitingFetch = false;
    };
    fetch.then(done, done);
    this.commitWhileFetching();
    return fetch;
  }

  /** Starts the next commit once it may, if records wait for one and the fetch is pending. */
  private commitWhileFetching(): void {
    const { commits, tasks } = this.options;
    if (!this.awaitingFetch || this.stopping() || tasks.uncommittedRecords() === 0) return;
    const dueIn = commits.dueIn();
    if (dueIn === 0) {
      commits.maybeCommit(tasks.runningTasks());
      return;
    }
    const ready = commits.busy ? commits.settled() : sleep(dueIn);
    void ready.then(() => {
      this.commitWhileFetching();
    });
  }

  private positionsOf(running: readonly ActiveTask[]): FetchPosition[] {
    const positions: FetchPosition[] = [];
    const now = this.options.now();
    for (const task of running) {
      for (const [topic, offset] of task.positions()) {
        const retry = this.retrying.size > 0 && this.retrying.get(`${topic}/${task.partition}`);
        if (retry && retry.at > now) continue; // waiting to retry a record in place
        positions.push({ topic, partition: task.partition, offset });
      }
    }
    return positions;
  }

  /**
   * A record failed with an error that time may cure (the registry out of reach): it was rolled
   * back whole, its position stays on it, and its partition rests before it is read again. No
   * restore, no rebalance: the other partitions go on.
   */
  private retryInPlace(topic: string, partition: number, error: SagastreamError): void {
    const where = `${topic}/${partition}`;
    const backoff = this.options.retryBackoffMs ?? RETRY_BACKOFF_MS;
    const previous = this.retrying.get(where);
    const delayMs =
      previous === undefined ? backoff.first : Math.min(backoff.max, previous.delayMs * 2);
    this.retrying.set(where, { at: this.options.now() + delayMs, delayMs });
    this.options.stuck.mark(where, error.message, this.options.now());
    this.options.logger.warn(
      { topic, partition, retryInMs: delayMs, err: error },
      "a record cannot be processed yet: its partition retries it in place",
    );
  }

  private async processPartition(fetched: FetchedPartition): Promise<void> {
    const { topology, tasks, commits } = this.options;
    const { topic, partition } = fetched;
    const task = tasks.taskFor(topology.subtopologyOf(topic).id, partition);
    // A task that was revived or moved since the fetch went out reads for itself again.
    if (task === undefined || task.position(topic) !== fetched.from) return;
    if (fetched.errorCode) {
      // Say so: such a partition answers at once with nothing, and would seem merely idle
      // (OFFSET_OUT_OF_RANGE: its position was deleted by retention).
      const reason = `fetching at offset ${fetched.from}: the broker answered error code ${fetched.errorCode}`;
      this.options.stuck.mark(`${topic}/${partition}`, reason, this.options.now());
      return;
    }
    this.options.onLag(topic, partition, Number(fetched.lastStable - fetched.next));
    try {
      const { records } = fetched;
      for (let i = 0; i < records.length; i++) {
        if (i % WARM_BATCH === 0) await task.warm(records.slice(i, i + WARM_BATCH));
        const record = records[i] as CommittedRecord;
        if (
          commits.busy &&
          this.options.tasks.uncommittedRecords() >= this.options.maxIntervalRecords
        ) {
          const waited = this.options.now();
          await commits.settled(); // back-pressure: the broker sets the pace
          this.options.loop.backPressureMs += this.options.now() - waited;
          if (tasks.taskFor(topology.subtopologyOf(topic).id, partition) !== task) return;
        } else if (commits.busy && this.dueToYield()) {
          await yieldToIo();
          this.lastYieldAt = this.options.now();
          if (tasks.taskFor(topology.subtopologyOf(topic).id, partition) !== task) return;
        }
        // Between two records: a commit that may start, starts (a fetch can hold thousands).
        if (commits.dueIn() === 0) commits.maybeCommit(tasks.runningTasks());
        await task.process(topic, record);
        if (this.stopping()) return;
      }
      task.moveTo(topic, fetched.next);
      if (this.retrying.size > 0) this.retrying.delete(`${topic}/${partition}`);
      this.options.stuck.clear(`${topic}/${partition}`);
    } catch (error) {
      if (error instanceof SagastreamError && error.retriable) {
        this.retryInPlace(topic, partition, error);
        return;
      }
      this.options.logger.warn(
        { task: task.id, err: error },
        "processing failed: the task reopens from its committed offsets and changelog",
      );
      this.options.stuck.mark(`${topic}/${partition}`, toError(error).message, this.options.now());
      tasks.revive([task]);
    }
  }

  private dueToYield(): boolean {
    return (
      this.options.now() - this.lastYieldAt >= YIELD_EVERY_MS &&
      this.options.tasks.uncommittedRecords() >= this.options.maxIntervalRecords / 2
    );
  }

  private async punctuateIfDue(): Promise<void> {
    const { now, tasks, logger, punctuateIntervalMs } = this.options;
    if (now() < this.nextPunctuationAt) return;
    this.nextPunctuationAt = now() + punctuateIntervalMs;
    for (const task of tasks.runningTasks()) {
      try {
        await task.punctuate();
      } catch (error) {
        logger.error({ task: task.id, err: error }, "punctuation failed");
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
