/**
 * Turns the group's assignment into running tasks (Kafka Streams' TaskManager): opens the
 * assigned ones that have no instance, closes those no longer assigned, and revives a task
 * whose instance cannot go on (a failed commit, a failed record): closed dirty, then opened
 * anew from its committed offsets and changelogs while it is still assigned here.
 */
import type { Logger } from "../log/index.js";
import type { ActiveTask } from "./active-task.js";
import { toError } from "../errors/index.js";
import type { Topology } from "./builder.js";
import type { StuckPartitions } from "./metrics.js";

export interface TaskManagerOptions {
  topology: Topology;
  /** Opens a task; `signal` abandons its restoration (the worker stops, or it moved away). */
  open: (subtopologyId: number, partition: number, signal: AbortSignal) => Promise<ActiveTask>;
  /** Resolves when no commit is in flight (a closing task's stores must outlive its commit). */
  commitsSettled: () => Promise<unknown>;
  logger: Logger;
  now: () => number;
  /** An assigned task whose opening failed is tried again after this long (ms). */
  reopenAfterMs: number;
  /**
   * Tasks opened (restored) at once, at most: each reads its changelogs a fetch of up to
   * 16 MB at a time, and the others wait their turn in the processing loop's next pass.
   */
  maxOpening?: number;
  /** Told of a task that cannot open, and of when it does. */
  stuck: StuckPartitions;
}

const DEFAULT_MAX_OPENING = 4;

interface Assigned {
  subtopologyId: number;
  partition: number;
}

export class TaskManager {
  private assigned = new Map<string, Assigned>();
  private readonly running = new Map<string, ActiveTask>();
  private readonly opening = new Map<string, Promise<void>>();
  private readonly closing = new Map<string, Promise<void>>();
  private readonly openFailedAt = new Map<string, number>();
  /**
   * Aborted when the worker stops: a task still restoring then stops restoring, and no
   * assignment that arrives while the member is still in its group (leaving) opens anything.
   */
  private readonly stopping = new AbortController();
  /**
   * The tasks (id → partition) it ran or was opening when the group put it out, until its next
   * assignment: still claimed when it rejoins (their stores are here, up to its last commit),
   * so that the group gives them back to it rather than to a member that would restore them.
   */
  private readonly suspended = new Map<string, number>();
  /** Per task opening: aborted when it is no longer assigned here (it stops restoring). */
  private readonly abandonOpening = new Map<string, AbortController>();

  constructor(private readonly options: TaskManagerOptions) {}

  private get log(): Logger {
    return this.options.logger;
  }

  /** The member's new assignment: source topic → partitions. */
  assign(assignment: ReadonlyMap<string, readonly number[]>): void {
    if (this.stopping.signal.aborted) return;
    const assigned = new Map<string, Assigned>();
    for (const [topic, partitions] of assignment) {
      const subtopologyId = this.options.topology.subtopologyOf(topic).id;
      for (const partition of partitions) {
        assigned.set(`${subtopologyId}_${partition}`, { subtopologyId, partition });
      }
    }
    this.assigned = assigned;
    this.suspended.clear();
    this.openFailedAt.clear();
    this.log.info({ tasks: [...assigned.keys()].sort() }, "assignment received");
    // What they processed since their last commit is redone by their next owner: committing
    // it now, under the new generation, could race that owner's first read of the offsets.
    for (const task of [...this.running.values()]) {
      if (!assigned.has(task.id)) this.close(task, false);
    }
    this.abandonUnassignedOpenings();
    this.openMissing();
  }

  /** Openings of tasks no longer assigned stop (keeping what they restored). */
  private abandonUnassignedOpenings(): void {
    for (const [id, controller] of this.abandonOpening) {
      if (!this.assigned.has(id)) controller.abort();
    }
  }

  /** Opens the assigned tasks that have no instance and do not wait to be tried again. */
  openMissing(): void {
    if (this.stopping.signal.aborted) return;
    const now = this.options.now();
    const limit = this.options.maxOpening ?? DEFAULT_MAX_OPENING;
    for (const [id, { subtopologyId, partition }] of this.assigned) {
      if (this.opening.size >= limit) return;
      if (this.running.has(id) || this.opening.has(id)) continue;
      if (
        now - (this.openFailedAt.get(id) ?? Number.NEGATIVE_INFINITY) <
        this.options.reopenAfterMs
      )
        continue;
      const abandon = new AbortController();
      this.abandonOpening.set(id, abandon);
      const signal = AbortSignal.any([this.stopping.signal, abandon.signal]);
      const opening = this.openTask(id, subtopologyId, partition, signal).finally(() => {
        this.opening.delete(id);
        this.abandonOpening.delete(id);
        this.openMissing(); // the next one waiting its turn
      });
      this.opening.set(id, opening);
    }
  }

  private async openTask(
    id: string,
    subtopologyId: number,
    partition: number,
    signal: AbortSignal,
  ): Promise<void> {
    await this.closing.get(id); // the previous instance must let go of its files first
    try {
      const task = await this.options.open(subtopologyId, partition, signal);
      this.options.stuck.clear(`task ${id}`);
      if (this.assigned.has(id)) {
        this.running.set(id, task);
        this.openFailedAt.delete(id);
      } else {
        await task.close(true); // moved away while it opened
      }
    } catch (error) {
      if (signal.aborted) return; // abandoned: the worker stops, or the task moved away
      this.openFailedAt.set(id, this.options.now());
      this.options.stuck.mark(`task ${id}`, toError(error).message, this.options.now());
      this.log.error({ task: id, err: error }, "task could not be opened; trying again shortly");
    }
  }

  /** The running tasks, in a stable order. */
  runningTasks(): ActiveTask[] {
    return [...this.running.values()];
  }

  /** Records processed since the last commit began, over the running tasks (per record: no copy). */
  uncommittedRecords(): number {
    let sum = 0;
    for (const task of this.running.values()) sum += task.uncommitted;
    return sum;
  }

  taskFor(subtopologyId: number, partition: number): ActiveTask | undefined {
    return this.running.get(`${subtopologyId}_${partition}`);
  }

  /** Tasks assigned here now, running or not yet. */
  assignedTasks(): { id: string; partition: number }[] {
    return [...this.assigned].map(([id, { partition }]) => ({ id, partition }));
  }

  /**
   * Resolves once no instance of a task of `partition` holds its files here: those closing
   * have closed, and one that was opening has opened and closed again (no longer assigned).
   */
  async released(partition: number): Promise<void> {
    const suffix = `_${partition}`;
    const pending = [...this.closing, ...this.opening]
      .filter(([id]) => id.endsWith(suffix))
      .map(([, promise]) => promise);
    await Promise.all(pending);
  }

  /**
   * The partitions it claims when it (re)joins: those assigned to it, and those it ran when
   * the group put it out (see `suspend`).
   */
  claimedPartitions(): number[] {
    const partitions = new Set([...this.assigned.values()].map((a) => a.partition));
    for (const partition of this.suspended.values()) partitions.add(partition);
    return [...partitions].sort((a, b) => a - b);
  }

  /** Whether an assigned task is still opening (restoring). */
  isOpening(id: string): boolean {
    return this.opening.has(id) || (this.assigned.has(id) && !this.running.has(id));
  }

  /**
   * The member is out of its group (evicted, or its generation passed): every task closes
   * dirty at once, and none opens until the next assignment.
   */
  suspend(): void {
    for (const [id, { partition }] of this.assigned) this.suspended.set(id, partition);
    this.assigned = new Map();
    this.abandonUnassignedOpenings();
    for (const task of [...this.running.values()]) this.close(task, false);
  }

  /** Closes these instances dirty and opens them anew where they are still assigned. */
  revive(tasks: readonly ActiveTask[]): void {
    for (const task of tasks) {
      if (this.running.get(task.id) === task) this.close(task, false);
    }
    this.openMissing();
  }

  private close(task: ActiveTask, clean: boolean): void {
    this.running.delete(task.id);
    const closing = (async () => {
      await this.options.commitsSettled();
      await task.close(clean);
      this.log.info({ task: task.id, clean }, "task closed");
    })().catch((error: unknown) => {
      this.log.error({ task: task.id, err: error }, "task close failed");
    });
    this.closing.set(task.id, closing);
    void closing.then(() => {
      if (this.closing.get(task.id) === closing) this.closing.delete(task.id);
    });
  }

  /**
   * Closes every task; clean ones write a checkpoint (call after their last commit). Tasks
   * still restoring stop where they are and keep what they restored.
   */
  async closeAll(clean: boolean): Promise<void> {
    this.assigned = new Map(); // nothing reopens from here on
    this.stopping.abort();
    await Promise.all(this.opening.values());
    for (const task of [...this.running.values()]) this.close(task, clean);
    await Promise.all(this.closing.values());
  }

  /**
   * A shutdown past its time: every task is closed dirty at once, without waiting for a commit
   * in flight (its transaction is aborted by the broker, and the next owner restores).
   */
  async abandon(): Promise<void> {
    this.assigned = new Map();
    this.stopping.abort();
    const tasks = [...this.running.values()];
    this.running.clear();
    await Promise.all(tasks.map((task) => task.close(false).catch(() => undefined)));
  }
}
