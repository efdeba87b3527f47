/**
 * Opens a task instance (Kafka Streams' ProcessorStateManager and StoreChangelogReader in one):
 * its stores opened in its directory and brought up to date from their changelogs (from the
 * checkpoint a clean close left, else from the start after wiping them), its input positions
 * read from the group's committed offsets, and its processors initialised.
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/index.js";
import {
  CachedBytesStore,
  KeyValueStore,
  MemoryBytesStore,
  RocksDbBytesStore,
  TaskDirectory,
  type BytesStore,
  type Write,
} from "../state/index.js";
import type { SagastreamError } from "../errors/index.js";
import { ActiveTask } from "./active-task.js";
import { changelogTopic, StoreKind, type Topology } from "./builder.js";
import type { PartitionFetcher } from "./partition-fetcher.js";
import type { TaskOpening } from "./metrics.js";
import type { OpenTransactions } from "./open-transactions.js";
import type { PartitionOffsets, TopicPartition } from "./partition-offsets.js";
import { Task, type ErrorHandling } from "./task.js";
import { TaskState } from "./task-lifecycle.js";

export interface TaskOpenerOptions {
  applicationId: string;
  topology: Topology;
  stateDir: string;
  onError: ErrorHandling;
  offsets: PartitionOffsets;
  /** Reads changelogs (a fetcher of its own, apart from the one that reads the inputs). */
  restoreFetcher: PartitionFetcher;
  logger: Logger;
  now: () => number;
  onDeadLetter: (error: SagastreamError) => void;
  /** Partitions of a topic, as the topics were prepared. */
  partitionCount: (topic: string) => number;
  onRestored: (opening: TaskOpening) => void;
  /** Aborts what a previous owner left open on the changelogs (exactly-once only). */
  openTransactions?: Pick<OpenTransactions, "abortOngoing"> | undefined;
  /** Told, while a task restores, how many changelog records it has left to read. */
  onRestoreProgress: (task: string, remaining: number) => void;
}

/** How long a changelog's open transactions may take to end before the opening fails (ms). */
const SETTLE_TIMEOUT_MS = 30_000;
const SETTLE_POLL_MS = 50;
/** While a changelog's transactions end, those left open are looked for again this often. */
const ABORT_AGAIN_MS = 2_000;
/** A restore's progress is logged every so many records. */
const PROGRESS_EVERY = 10_000;

/**
 * How often a store writes its committed data to RocksDB (see KeyValueStore): as often as
 * Kafka Streams flushes its stores under exactly-once (commit.interval.ms). At 1,000 sagas/s
 * the worker's thread spent 4% of its time in RocksDB write batches at every commit, 1% so.
 */
const WRITE_BEHIND_MS = 100;
/**
 * A running task's checkpoint is written after a commit at most this often: a worker killed
 * restores no more than the changelog written since (as Kafka Streams under at-least-once).
 */
const CHECKPOINT_EVERY_MS = 10_000;

export class TaskOpener {
  constructor(private readonly options: TaskOpenerOptions) {}

  /**
   * Opens the task; `signal` abandons its restoration (a shutdown): the stores keep what they
   * restored, recorded in a checkpoint, so that the next opening goes on from there.
   */
  async open(subtopologyId: number, partition: number, signal?: AbortSignal): Promise<ActiveTask> {
    const { topology, applicationId, stateDir, offsets } = this.options;
    const sub = topology.subtopologies[subtopologyId];
    if (sub === undefined) throw new Error(`no sub-topology ${subtopologyId}`);
    const id = `${subtopologyId}_${partition}`;
    const log = this.options.logger.child({ task: id });
    const started = this.options.now();
    const directory = new TaskDirectory(path.join(stateDir, applicationId, id));
    const sources = sub.sourceTopics.map((topic) => ({ topic, partition }));
    // First, as its committed offsets may wait on the same transaction (require_stable).
    await this.abortLeftOpen(
      sub.stores
        .filter((name) => topology.stores.get(name)?.changelog === true)
        .map((name) => ({ topic: changelogTopic(applicationId, name), partition })),
    );
    const [committed, earliest, ends] = await Promise.all([
      offsets.committed(sources),
      offsets.earliest(sources),
      offsets.end(sources),
    ]);
    const positions = new Map<string, bigint>();
    const unread = new Map<string, bigint>();
    for (const { topic } of sources) {
      const key = `${topic}/${partition}`;
      const position = committed.get(key) ?? earliest.get(key) ?? 0n;
      positions.set(topic, position);
      const end = ends.get(key) ?? 0n;
      if (end > position) unread.set(topic, end);
    }

    const checkpoint = await directory.takeCheckpoint();
    const stores = new Map<string, KeyValueStore<unknown, unknown>>();
    const readByRecordKey: KeyValueStore<unknown, unknown>[] = [];
    const changelogPositions = new Map<string, bigint>();
    /** Per persistent store: the changelog offset its engine is complete up to (a checkpoint). */
    const reached = new Map(checkpoint ?? []);
    const engines: BytesStore[] = [];
    const restorations: Restoration[] = [];
    let restored = 0;
    let active: ActiveTask;
    try {
      for (const name of sub.stores) {
        const spec = topology.stores.get(name);
        if (spec === undefined) continue;
        const persistent = spec.kind === StoreKind.Persistent;
        let engine: BytesStore = persistent
          ? await RocksDbBytesStore.open(directory.storeDir(name))
          : new MemoryBytesStore();
        engines.push(engine);
        if (persistent && spec.cacheBytes > 0)
          engine = new CachedBytesStore(engine, spec.cacheBytes);
        let from = persistent ? checkpoint?.get(name) : undefined;
        if (from === undefined) {
          reached.delete(name);
          await engine.clear(); // no clean checkpoint covers it: the local copy cannot be trusted
          from = 0n;
        }
        if (spec.changelog) {
          const topic = changelogTopic(applicationId, name);
          restorations.push({ store: name, topic, engine, position: from, end: 0n, persistent });
          if (persistent) reached.set(name, from);
        }
        const store = new KeyValueStore(name, engine, spec.keySerde, spec.valueSerde, {
          writeBehindMs: WRITE_BEHIND_MS,
          now: this.options.now,
        });
        stores.set(name, store);
        if (spec.readByRecordKey) readByRecordKey.push(store);
      }
      const changelogEnds = await this.settledEnds(
        restorations.map((r) => ({ topic: r.topic, partition })),
        signal,
      );
      for (const r of restorations) {
        r.end = changelogEnds.get(`${r.topic}/${partition}`) ?? 0n;
        changelogPositions.set(r.store, r.end);
      }
      restored = await this.restore(id, partition, restorations, signal, (r) => {
        if (r.persistent) reached.set(r.store, r.position);
      });
      const task = new Task({
        applicationId,
        topology,
        subtopology: sub,
        partition,
        stores,
        onError: this.options.onError,
        now: this.options.now,
        onDeadLetter: this.options.onDeadLetter,
        partitionCount: this.options.partitionCount(sources[0]?.topic ?? ""),
      });
      active = new ActiveTask({
        applicationId,
        task,
        stores,
        readByRecordKey,
        directory,
        changelogPositions,
        positions,
        unread,
        checkpointEveryMs: CHECKPOINT_EVERY_MS,
        now: this.options.now,
      });
      active.lifecycle.transition(TaskState.Restoring);
      await task.init();
      active.lifecycle.transition(TaskState.Running);
    } catch (error) {
      this.options.onRestoreProgress(id, 0); // no longer restoring
      // What was restored stays: the next opening goes on from it, not from the start.
      await directory.writeCheckpoint(reached).catch(() => undefined);
      for (const engine of engines) await engine.close().catch(() => undefined);
      throw error;
    }
    const seconds = (this.options.now() - started) / 1000;
    const from = checkpoint === undefined ? "changelog start" : "checkpoint";
    log.info({ restored, seconds, from }, "task ready");
    this.options.onRestored({ task: id, records: restored, seconds, from });
    return active;
  }

  /**
   * Where the changelogs end once every transaction that wrote to them before now has ended:
   * their last stable offsets, once those reach the high watermarks read first. The committed
   * offsets the task resumes from were read stable, but the transaction that committed them
   * ends on each of its partitions when the coordinator's marker reaches it, the changelog's
   * possibly after the group's offsets: restored up to the last stable offset of that moment,
   * the stores would miss what that transaction wrote while its inputs are never read again.
   * A transaction the task's previous owner left open (it died mid-commit) is aborted at once
   * (open-transactions.ts); the broker would abort it only after its timeout.
   */
  private async settledEnds(
    changelogs: readonly { topic: string; partition: number }[],
    signal: AbortSignal | undefined,
  ): Promise<Map<string, bigint>> {
    const { offsets, now } = this.options;
    const written = await offsets.latest(changelogs);
    const deadline = now() + SETTLE_TIMEOUT_MS;
    let abortAt = now() + ABORT_AGAIN_MS;
    for (;;) {
      const stable = await offsets.end(changelogs);
      const open = [...written].filter(([key, end]) => (stable.get(key) ?? 0n) < end);
      if (open.length === 0) return stable;
      if (now() >= abortAt) {
        abortAt = now() + ABORT_AGAIN_MS; // one that was young may be a dead worker's after all
        await this.abortLeftOpen(
          changelogs.filter((c) => open.some(([key]) => key === `${c.topic}/${c.partition}`)),
        );
      }
      if (now() >= deadline) {
        throw new Error(
          `changelog ${open.map(([key]) => key).join(", ")} still has a transaction open after ${SETTLE_TIMEOUT_MS / 1000} s; the task opens again shortly`,
        );
      }
      signal?.throwIfAborted();
      await sleep(SETTLE_POLL_MS);
    }
  }

  /** Aborts the transactions a previous owner left open on `changelogs` (exactly-once). */
  private async abortLeftOpen(changelogs: readonly TopicPartition[]): Promise<void> {
    if (changelogs.length === 0) return;
    await this.options.openTransactions?.abortOngoing(changelogs).catch((error: unknown) => {
      this.options.logger.warn(
        { err: error },
        "cannot end the transactions left open on a task's changelogs; waiting for the broker to",
      );
    });
  }

  /**
   * Brings every store of a task up to its changelog's end, all at once: one fetch asks for
   * every changelog partition still behind. Returns the records written; `onApplied` is told
   * of each store's new position once its engine holds what came before it.
   */
  private async restore(
    task: string,
    partition: number,
    restorations: readonly Restoration[],
    signal: AbortSignal | undefined,
    onApplied: (restoration: Restoration) => void,
  ): Promise<number> {
    const remaining = () =>
      restorations.reduce(
        (sum, r) => sum + Number(r.end > r.position ? r.end - r.position : 0n),
        0,
      );
    let restored = 0;
    let logged = 0;
    for (;;) {
      const behind = restorations.filter((r) => r.position < r.end);
      this.options.onRestoreProgress(task, remaining());
      if (behind.length === 0) return restored;
      signal?.throwIfAborted();
      const fetched = await this.options.restoreFetcher.fetch(
        behind.map((r) => ({ topic: r.topic, partition, offset: r.position })),
        100,
      );
      for (const batch of fetched) {
        if (batch.errorCode) {
          throw new Error(
            `restoring ${batch.topic}/${partition}: the broker answered error code ${batch.errorCode}`,
          );
        }
        const r = behind.find((b) => b.topic === batch.topic);
        if (r === undefined || batch.next <= r.position) continue;
        const writes: Write[] = [];
        for (const record of batch.records) {
          if (record.offset < r.end && record.key !== null) writes.push([record.key, record.value]);
        }
        await r.engine.write(writes);
        restored += writes.length;
        r.position = batch.next;
        onApplied(r);
      }
      if (restored - logged >= PROGRESS_EVERY) {
        logged = restored;
        this.options.logger.info({ task, restored, remaining: remaining() }, "restoring");
      }
    }
  }
}

/** A store being brought up to its changelog's end. */
interface Restoration {
  store: string;
  topic: string;
  engine: BytesStore;
  /** The changelog offset the engine is complete up to. */
  position: bigint;
  end: bigint;
  persistent: boolean;
}
