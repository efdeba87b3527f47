/**
 * A task as the runtime runs it (Kafka Streams' StreamTask): the processing Task with its
 * stores and directory, its lifecycle, where it stands in each source partition, what its open
 * interval will commit, and how far each changelogged store's local copy reaches.
 */
import type { KeyValueStore, TaskDirectory } from "../state/index.js";
import { changelogTopic } from "./builder.js";
import type { CommittableTask, SealedInterval } from "./commit-pipeline.js";
import type { CommittedRecord } from "./committed-records.js";
import type { Task } from "./task.js";
import { TaskLifecycle, TaskState } from "./task-lifecycle.js";

export interface ActiveTaskParts {
  applicationId: string;
  task: Task;
  stores: ReadonlyMap<string, KeyValueStore<unknown, unknown>>;
  /** The stores its processors read by the key of the record in hand (see StoreSpec). */
  readByRecordKey: readonly KeyValueStore<unknown, unknown>[];
  directory: TaskDirectory;
  /** Per changelogged store: the changelog offset its local copy is complete up to. */
  changelogPositions: Map<string, bigint>;
  /** Per source topic: the next offset to read (the committed one when the task opened). */
  positions: Map<string, bigint>;
  /** Per source topic: its end when the task opened, where the task had not read that far. */
  unread: Map<string, bigint>;
  /**
   * A checkpoint is written after a commit at most this often (ms), when the stores' engines
   * hold everything committed: a restart after a crash restores only the tail.
   */
  checkpointEveryMs: number;
  now: () => number;
}

export class ActiveTask implements CommittableTask {
  readonly id: string;
  readonly partition: number;
  readonly lifecycle: TaskLifecycle;
  private readonly task: Task;
  /** Whether its inputs moved since the last seal. */
  private moved = false;
  private checkpointedAt: number;

  constructor(private readonly parts: ActiveTaskParts) {
    this.task = parts.task;
    this.id = parts.task.id;
    this.partition = parts.task.partition;
    this.lifecycle = new TaskLifecycle(this.id);
    this.checkpointedAt = parts.now();
  }

  get stores(): ReadonlyMap<string, KeyValueStore<unknown, unknown>> {
    return this.parts.stores;
  }

  /** How far its changelogged stores reach: the sum of their changelog offsets. */
  get changelogReach(): bigint {
    let sum = 0n;
    for (const position of this.parts.changelogPositions.values()) sum += position;
    return sum;
  }

  /** Records processed in the open interval. */
  get uncommitted(): number {
    return this.task.uncommitted;
  }

  /** The next offset to read from `topic`. */
  position(topic: string): bigint {
    return this.parts.positions.get(topic) ?? 0n;
  }

  /** Source topics and where to read each from next. */
  positions(): ReadonlyMap<string, bigint> {
    return this.parts.positions;
  }

  /**
   * Whether wall-clock punctuation may run: only once the task has read what its inputs held
   * when it opened, so that a step's timeout does not fire while the reply that came during a
   * rebalance or a restore is still unread.
   */
  get caughtUp(): boolean {
    return this.parts.unread.size === 0;
  }

  /** Reads the keys of records about to be processed into the stores read by them, at once. */
  async warm(records: readonly CommittedRecord[]): Promise<void> {
    if (this.parts.readByRecordKey.length === 0) return;
    const keys: Buffer[] = [];
    for (const record of records) if (record.key !== null) keys.push(record.key);
    await Promise.all(this.parts.readByRecordKey.map((store) => store.warm(keys)));
  }

  async process(topic: string, record: CommittedRecord): Promise<void> {
    await this.task.process({
      topic,
      partition: this.partition,
      offset: record.offset.toString(),
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      headers: record.headers,
    });
    this.moveTo(topic, record.offset + 1n);
  }

  /** The task has read `topic` up to `next` (past transaction markers and aborted records too). */
  moveTo(topic: string, next: bigint): void {
    if (next <= this.position(topic)) return;
    this.parts.positions.set(topic, next);
    this.moved = true;
    const end = this.parts.unread.get(topic);
    if (end !== undefined && next >= end) this.parts.unread.delete(topic);
  }

  async punctuate(): Promise<void> {
    if (this.caughtUp) await this.task.punctuateWallClock();
  }

  seal(): SealedInterval | undefined {
    if (!this.lifecycle.is(TaskState.Running)) return undefined;
    // Sealed, an interval must be committed or aborted: an empty one is not sealed at all.
    if (!this.moved && this.task.idle) return undefined;
    const { outputs, records } = this.task.seal();
    // Every input's position, moved in the interval or not: a transaction's offsets are checked
    // against the group's generation, so one from a member the group has replaced is refused
    // even when it holds only what punctuators wrote (with no offsets, it would commit).
    const offsets = [...this.parts.positions].map(([topic, offset]) => ({
      topic,
      partition: this.partition,
      offset,
    }));
    this.moved = false;
    return { outputs, offsets, records };
  }

  async committed(changelogEnds: ReadonlyMap<string, bigint>): Promise<void> {
    for (const store of this.parts.changelogPositions.keys()) {
      const end = changelogEnds.get(
        `${changelogTopic(this.parts.applicationId, store)}/${this.partition}`,
      );
      if (end !== undefined) this.parts.changelogPositions.set(store, end);
    }
    await this.task.committed();
    await this.checkpointIfDue();
  }

  /**
   * Writes a checkpoint once it is due and every store's engine holds all that was committed
   * (written behind, it does right after each batch): the engines then reach the changelog
   * positions. An engine ahead of its checkpoint holds only committed writes, which a restore
   * from the checkpoint writes again, alike.
   */
  private async checkpointIfDue(): Promise<void> {
    const now = this.parts.now();
    if (now - this.checkpointedAt < this.parts.checkpointEveryMs) return;
    for (const store of this.parts.stores.values()) if (store.hasUnwritten) return;
    this.checkpointedAt = now;
    await this.parts.directory.writeCheckpoint(this.parts.changelogPositions);
  }

  aborted(): void {
    this.task.aborted();
  }

  /**
   * Closes the task's processors and stores. Clean (its last commit succeeded and nothing is
   * left uncommitted): a checkpoint lets this worker reopen it without a restore. Dirty: no
   * checkpoint, so the next instance wipes the stores and restores them from the changelogs.
   */
  async close(clean: boolean): Promise<void> {
    if (this.lifecycle.is(TaskState.Closed)) return;
    this.lifecycle.transition(TaskState.Closed);
    await this.task.close();
    for (const store of this.parts.stores.values()) {
      if (clean) await store.writeCommitted();
      await store.engine.close();
    }
    if (clean) await this.parts.directory.writeCheckpoint(this.parts.changelogPositions);
  }
}
