/**
 * Standby replicas (Kafka Streams' StandbyTask): warm copies of the stores of tasks that other
 * members run, kept in this member's state directory by following their changelogs. When the
 * member running a task dies, the assigner gives the task to the member whose copy reaches
 * furthest, and its opening restores only the tail: a copy is closed with a checkpoint (also
 * written every few seconds), which the TaskOpener starts from.
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/index.js";
import { RocksDbBytesStore, TaskDirectory, type BytesStore, type Write } from "../state/index.js";
import { changelogTopic, StoreKind, type Topology } from "./builder.js";
import type { PartitionFetcher } from "./partition-fetcher.js";

export interface StandbyTasksOptions {
  applicationId: string;
  topology: Topology;
  stateDir: string;
  /** Reads changelogs (a fetcher apart from the one that reads the inputs). */
  fetcher: PartitionFetcher;
  logger: Logger;
  now: () => number;
  /** Resolves once no active instance of a task of `partition` holds its files here. */
  activeReleased: (partition: number) => Promise<void>;
}

interface StandbyStore {
  name: string;
  topic: string;
  engine: BytesStore;
  /** The changelog offset the copy is complete up to. */
  position: bigint;
}

interface StandbyTask {
  id: string;
  partition: number;
  directory: TaskDirectory;
  stores: StandbyStore[];
}

/** A fetch waits at most this long for new changelog records (the loop also reconciles). */
const FETCH_WAIT_MS = 200;
const IDLE_MS = 200;
/** A copy's checkpoint is written this often, so that a member killed keeps most of it. */
const CHECKPOINT_EVERY_MS = 5_000;

export class StandbyTasks {
  private readonly tasks = new Map<string, StandbyTask>();
  private wanted = new Set<number>();
  /** Partitions whose copies are open, or opening, here. */
  private readonly holds = new Set<number>();
  /** Opening, closing and applying run one at a time, in this chain. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private stopped = false;
  private checkpointedAt = 0;
  /** The last reconciliation failed: the follow loop tries again. */
  private unreconciled = false;

  constructor(private readonly options: StandbyTasksOptions) {}

  private get log(): Logger {
    return this.options.logger;
  }

  /** Runs `step` once the chain is free, keeping the chain going whatever it throws. */
  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(step);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  /** The partitions to keep copies of, from this assignment on. */
  assign(partitions: readonly number[]): void {
    this.wanted = new Set(partitions);
    this.reconcileLater();
    this.loop ??= this.follow();
  }

  /** Brings the copies in line with the assignment; one that fails is tried again shortly. */
  private reconcileLater(): void {
    this.unreconciled = false;
    void this.serially(() => this.reconcile()).catch((error: unknown) => {
      this.unreconciled = true;
      this.log.error({ err: error }, "standby copies could not be opened; trying again");
    });
  }

  /**
   * Resolves once no copy of `partition` holds its files here (it is to run here now): at once
   * when there is none; else once the copies were brought in line with the latest assignment,
   * which does not keep a copy of a partition it runs here.
   */
  async release(partition: number): Promise<void> {
    if (!this.holds.has(partition)) return;
    await this.serially(() => this.reconcile());
  }

  /** Partitions kept here as copies. */
  partitions(): number[] {
    return [...new Set([...this.tasks.values()].map((t) => t.partition))].sort((a, b) => a - b);
  }

  /** Per task copied here: how far its copy reaches (the sum of its changelog offsets). */
  reach(): Map<string, bigint> {
    const reach = new Map<string, bigint>();
    for (const task of this.tasks.values()) {
      reach.set(
        task.id,
        task.stores.reduce((total, store) => total + store.position, 0n),
      );
    }
    return reach;
  }

  /** Stops following and closes every copy with its checkpoint. */
  async close(): Promise<void> {
    this.stopped = true;
    this.wanted = new Set();
    await this.loop;
    await this.serially(() => this.reconcile());
  }

  private async reconcile(): Promise<void> {
    for (const task of [...this.tasks.values()]) {
      if (this.wanted.has(task.partition)) continue;
      this.tasks.delete(task.id);
      await this.closeTask(task);
    }
    for (const partition of this.holds)
      if (!this.wanted.has(partition)) this.holds.delete(partition);
    for (const partition of this.wanted) {
      for (const sub of this.options.topology.subtopologies) {
        const id = `${sub.id}_${partition}`;
        if (this.tasks.has(id) || !this.wanted.has(partition)) continue;
        this.holds.add(partition);
        const task = await this.openTask(id, partition, sub.stores);
        if (task !== undefined) this.tasks.set(id, task);
      }
    }
  }

  private async openTask(
    id: string,
    partition: number,
    storeNames: readonly string[],
  ): Promise<StandbyTask | undefined> {
    const { topology, applicationId, stateDir } = this.options;
    const names = storeNames.filter((name) => {
      const spec = topology.stores.get(name);
      return spec?.kind === StoreKind.Persistent && spec.changelog;
    });
    if (names.length === 0) return undefined; // nothing to keep warm
    await this.options.activeReleased(partition);
    const directory = new TaskDirectory(path.join(stateDir, applicationId, id));
    const checkpoint = await directory.readCheckpoint();
    const stores: StandbyStore[] = [];
    for (const name of names) {
      const engine = await RocksDbBytesStore.open(directory.storeDir(name));
      let position = checkpoint?.get(name);
      if (position === undefined) {
        await engine.clear(); // no checkpoint says how far it reaches
        position = 0n;
      }
      stores.push({ name, topic: changelogTopic(applicationId, name), engine, position });
    }
    this.log.info(
      { task: id, from: checkpoint === undefined ? "start" : "checkpoint" },
      "standby copy opened",
    );
    return { id, partition, directory, stores };
  }

  private async closeTask(task: StandbyTask): Promise<void> {
    await this.checkpoint(task);
    for (const store of task.stores) await store.engine.close();
    this.log.info({ task: task.id }, "standby copy closed");
  }

  private async checkpoint(task: StandbyTask): Promise<void> {
    await task.directory.writeCheckpoint(new Map(task.stores.map((s) => [s.name, s.position])));
  }

  /** Follows every copy's changelogs until closed. */
  private async follow(): Promise<void> {
    while (!this.stopped) {
      if (this.unreconciled) this.reconcileLater();
      try {
        const applied = await this.serially(() => this.applyOnce());
        if (!applied) await sleep(IDLE_MS);
      } catch (error) {
        this.log.warn(
          { err: error },
          "standby copies could not be brought up to date; trying again",
        );
        await sleep(IDLE_MS);
      }
    }
  }

  /** One fetch of every copy's changelogs, applied; whether any copy moved forward. */
  private async applyOnce(): Promise<boolean> {
    const byPartition = new Map<string, StandbyStore>();
    for (const task of this.tasks.values()) {
      for (const store of task.stores) byPartition.set(`${store.topic}/${task.partition}`, store);
    }
    if (byPartition.size === 0) return false;
    const positions = [...byPartition].map(([key, store]) => ({
      topic: store.topic,
      partition: Number(key.slice(key.lastIndexOf("/") + 1)),
      offset: store.position,
    }));
    let advanced = false;
    for (const fetched of await this.options.fetcher.fetch(positions, FETCH_WAIT_MS)) {
      const store = byPartition.get(`${fetched.topic}/${fetched.partition}`);
      if (store === undefined || fetched.from !== store.position || fetched.errorCode) continue;
      advanced ||= fetched.next > store.position;
      const writes: Write[] = [];
      for (const record of fetched.records) {
        if (record.key !== null) writes.push([record.key, record.value]);
      }
      if (writes.length > 0) await store.engine.write(writes);
      store.position = fetched.next;
    }
    if (this.options.now() - this.checkpointedAt >= CHECKPOINT_EVERY_MS) {
      this.checkpointedAt = this.options.now();
      for (const task of this.tasks.values()) await this.checkpoint(task);
    }
    return advanced; // else the loop rests: a partition in error answers at once
  }
}
