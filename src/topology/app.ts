/**
 * StreamsApp runs a topology on a kafkajs consumer group: one task per input partition of
 * each sub-topology, its stores restored from their changelogs before it processes anything.
 *
 * Commits are pipelined: a task processes its batches into an open interval; when no commit
 * of its own is in flight and `commitIntervalMs` has passed since the last, the interval is
 * sealed and committed while processing goes on into the next one. exactly_once (default):
 * each task has its own transactional producer (`<app>-<task>`), so the task's next owner
 * fences a zombie; a commit sends the interval's sink records, dead letters and changelog
 * records and its input offsets in one transaction, and only then are its writes applied to
 * the local stores. at_least_once: the same outputs through one idempotent producer, then
 * the store writes, then the offsets. A failed commit discards the task instance: the next
 * one seeks the consumer back to the committed offsets and restores from the changelog. */
import path from "node:path";
import {
  AssignerProtocol,
  type Admin,
  type Consumer,
  type Kafka,
  type Message,
  type Producer,
} from "kafkajs";
import { deadLetterTopic } from "../kafka/index.js";
import { createKafka, PRODUCER_RETRY, sendOffsetsInTransaction } from "../kafka/kafkajs-legacy.js";
import { copartitionedAssigner } from "./assigner.js";
import type { Logger } from "../log/index.js";
import {
  CachedBytesStore,
  KeyValueStore,
  MemoryBytesStore,
  RocksDbBytesStore,
  TaskDirectory,
  type BytesStore,
  type ReadableStore,
} from "../state/index.js";
import { changelogTopic, StoreKind, type Topology } from "./builder.js";
import { AppMetrics } from "./metrics.js";
import { endOffset, restoreFromChangelog } from "./restore.js";
import { sendOutputs } from "./output-sender.js";
import { ErrorHandling, Task } from "./task.js";
import { TopologyError } from "../errors/index.js";

export const ProcessingGuarantee = {
  ExactlyOnce: "exactly_once",
  AtLeastOnce: "at_least_once",
} as const;
export type ProcessingGuarantee = (typeof ProcessingGuarantee)[keyof typeof ProcessingGuarantee];

export interface StreamsAppOptions {
  applicationId: string;
  brokers: string[];
  topology: Topology;
  /** Where the tasks' RocksDB stores and checkpoints live. */
  stateDir: string;
  guarantee?: ProcessingGuarantee;
  onError?: ErrorHandling;
  logger: Logger;
  /** How often wall-clock punctuators are checked (ms, default 100). */
  punctuateIntervalMs?: number | undefined;
  /**
   * The least time between two commits of a task (ms): the records processed meanwhile share
   * one transaction. A commit waits for the previous one anyway; this also keeps a task under
   * moderate load from spending itself on tiny transactions (default 20; 0: as soon as the
   * previous commit ends). At 250 sagas/s, exactly-once, the saga bench's p50 was 1.7 s with
   * 0, 0.54 s with 20, 0.59 s with 50 and 0.68 s with 100.
   */
  commitIntervalMs?: number | undefined;
  /** Partitions processed at once (default 4). */
  concurrency?: number | undefined;
  /** A member silent this long is dropped from the group and its tasks move (default 10 s). */
  sessionTimeoutMs?: number | undefined;
  /** A string this member advertises to its group (a worker's query address). */
  advertisedAddress?: string | undefined;
}

const DEFAULT_COMMIT_INTERVAL_MS = 20;
/** An interval grows to at most this many records while the previous commit is in flight. */
const MAX_INTERVAL_RECORDS = 5_000;
/** A long batch heartbeats every so many records, to keep its member in the group. */
const HEARTBEAT_EVERY = 500;
/**
 * A transaction left open (its owner died or lost its abort) holds back every read-committed
 * consumer of its partitions, such as the participants, until the broker aborts it. Kafka
 * Streams bounds that to 10 s under exactly-once; kafkajs's default is 60 s.
 */
const TRANSACTION_TIMEOUT_MS = 10_000;
/** An assigned task whose opening failed is tried again after this long. */
const REOPEN_AFTER_MS = 1_000;

/** Task id → one of the task's source partitions (enough to open it). */
type Assignment = Map<string, { topic: string; partition: number }>;

interface OpenTask {
  task: Task;
  stores: Map<string, KeyValueStore<unknown, unknown>>;
  directory: TaskDirectory;
  /** exactly_once only: the task's own transactional producer. */
  producer: Producer | undefined;
  /** Per changelogged store: the offset its local copy is complete up to. */
  positions: Map<string, bigint>;
  /**
   * Per source topic not yet read to the end offset it had when the task opened: that end.
   * Till the map is empty the task's wall-clock punctuation waits, so that a step's timeout
   * does not fire while the reply that came during a rebalance or a restore is still unread.
   */
  unread: Map<string, bigint>;
  /**
   * Per source topic: the next input offset to process. Records below it were processed
   * already (committed, or in a commit to come); kafkajs may deliver them again (after a
   * rebalance it resumes from the committed offsets), and they are skipped.
   */
  inputPositions: Map<string, bigint>;
  /** Per source topic: the offset to commit with the open interval, if it read any. */
  intervalOffsets: Map<string, bigint>;
  /** The commit in flight (at most one per task). */
  inFlight: Promise<boolean> | undefined;
  lastCommitAt: number;
  /** Set while a commit waits for the interval to pass. */
  commitTimer: NodeJS.Timeout | undefined;
  /** A commit failed: nothing of this instance may be committed or checkpointed any more. */
  failed: boolean;
  /** Set once closing starts (closing twice would close its stores twice). */
  closing: Promise<void> | undefined;
  /** Serializes batches, punctuation and closing of one task. */
  queue: Promise<unknown>;
  /** Set when closing starts: later batches must go to the task's next instance. */
  closed: boolean;
}

export class StreamsApp {
  readonly metrics = new AppMetrics();
  private readonly kafka: Kafka;
  private readonly guarantee: ProcessingGuarantee;
  private readonly tasks = new Map<string, Promise<OpenTask>>();
  /** The tasks of this member's current assignment: task id → one of its source partitions. */
  private assigned: Assignment = new Map();
  /** When an assigned task last failed to open (it is tried again REOPEN_AFTER_MS later). */
  private readonly openFailedAt = new Map<string, number>();
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private sharedProducer: Producer | undefined;
  private partitionCounts = new Map<number, number>();
  private punctuateTimer: NodeJS.Timeout | undefined;
  private readonly closing = new Map<string, Promise<void>>();
  private readonly commitIntervalMs: number;

  constructor(private readonly options: StreamsAppOptions) {
    if (!/^[A-Za-z0-9._-]+$/.test(options.applicationId)) {
      throw new TopologyError(
        `applicationId "${options.applicationId}" may hold only letters, digits, ".", "_" and "-"`,
      );
    }
    this.guarantee = options.guarantee ?? ProcessingGuarantee.ExactlyOnce;
    this.commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    if (!(this.commitIntervalMs >= 0)) {
      throw new TopologyError(
        `commitIntervalMs must be 0 or more (got ${options.commitIntervalMs}): 0 commits after every batch`,
      );
    }
    this.kafka = createKafka({
      brokers: options.brokers,
      clientId: options.applicationId,
      logger: options.logger,
    });
  }

  private get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    const { topology, applicationId } = this.options;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.prepareTopics();

    if (this.guarantee === ProcessingGuarantee.AtLeastOnce) {
      this.sharedProducer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: PRODUCER_RETRY,
      });
      await this.sharedProducer.connect();
    }
    const consumer = this.kafka.consumer({
      groupId: applicationId,
      readUncommitted: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      partitionAssigners: [copartitionedAssigner(this.options.advertisedAddress)],
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned: Assignment = new Map();
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions)
          assigned.set(`${topology.subtopologyOf(topic).id}_${partition}`, { topic, partition });
      }
      this.assigned = assigned;
      this.openFailedAt.clear();
      this.log.info({ tasks: [...assigned.keys()].sort() }, "assignment received");
      for (const id of [...this.tasks.keys()].filter((t) => !assigned.has(t))) {
        void this.closeTask(id, true);
      }
      this.openAssigned();
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.metrics.lag.set(`${payload.topic}/${payload.partition}`, Number(payload.offsetLag));
      // kafkajs passes over a batch of only transaction markers and aborted records itself.
      // (kafkajs's types miss that firstOffset is null when nothing was in range.)
      const firstOffset = payload.firstOffset as string | null;
      if (payload.batchSize === 0 && firstOffset !== null) {
        const next = BigInt(payload.lastOffset) + 1n;
        this.passedOver(payload.topic, payload.partition, BigInt(firstOffset), next);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: topology.sourceTopics(), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrency ?? 4,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const isRunning = () => payload.isRunning();
        const isStale = () => payload.isStale();
        if (batch.messages.length === 0) return;
        const open = await this.openTask(batch.topic, batch.partition);
        // A closed or failed instance leaves the batch unresolved: it goes to the next one.
        const usable = () => !open.closed && !open.failed && !isStale();
        await this.serially(open, async () => {
          if (!usable()) return;
          if (open.inFlight !== undefined && open.task.uncommitted >= MAX_INTERVAL_RECORDS) {
            await open.inFlight; // back-pressure: the broker sets the pace
            if (!usable()) return;
          }
          let processed = 0;
          let whole = true;
          const from = open.inputPositions.get(batch.topic) ?? 0n;
          try {
            for (const message of batch.messages) {
              if (!isRunning() || isStale()) {
                whole = false;
                break;
              }
              const offset = BigInt(message.offset);
              if (offset < from) continue; // processed already (see inputPositions)
              await open.task.process(toInput(batch.topic, batch.partition, message));
              // Each record's position moves with its effects: whatever throws next (a
              // heartbeat meeting a rebalance, a retriable error), kafkajs redelivers from the
              // committed offset and what the interval holds already is skipped, not redone.
              open.inputPositions.set(batch.topic, offset + 1n);
              open.intervalOffsets.set(batch.topic, offset + 1n);
              if (++processed % HEARTBEAT_EVERY === 0) await payload.heartbeat();
            }
            if (whole && !isStale())
              this.readTo(open, batch.topic, BigInt(batch.lastOffset()) + 1n);
          } finally {
            if (processed > 0 && !isStale()) this.requestCommit(open);
          }
          if (isStale()) {
            // The consumer was sought back. Before anything was processed, by this instance's
            // own opening (the batch was fetched before it): the batch comes again. After,
            // only by a newer instance: this one is superseded.
            if (processed > 0) this.discardInstance(open);
            return;
          }
          if (!isRunning()) return;
          // Past the batch, or past what was processed of it.
          const next = processed > 0 ? open.inputPositions.get(batch.topic) : undefined;
          payload.resolveOffset(next === undefined ? batch.lastOffset() : (next - 1n).toString());
        });
        await payload.heartbeat();
      },
    });
    this.punctuateTimer = setInterval(() => {
      void this.punctuateAll();
    }, this.options.punctuateIntervalMs ?? 100);
  }

  /** Creates the changelog and dead-letter topics; checks sources and sinks exist. */
  private async prepareTopics(): Promise<void> {
    const admin = this.admin as Admin;
    const { topology, applicationId } = this.options;
    const existing = new Set(await admin.listTopics());
    const missing = [...topology.sourceTopics(), ...topology.sinkTopics()].filter(
      (t) => !existing.has(t),
    );
    if (missing.length > 0) {
      throw new TopologyError(
        `topic(s) ${missing.join(", ")} do not exist: create them (with the partition counts you need) first`,
      );
    }
    const metadata = await admin.fetchTopicMetadata({ topics: topology.sourceTopics() });
    this.partitionCounts = topology.partitionsBySubtopology(
      new Map(metadata.topics.map((t) => [t.name, t.partitions.length])),
    );
    const toCreate: {
      topic: string;
      numPartitions: number;
      configEntries?: { name: string; value: string }[];
    }[] = [];
    for (const sub of topology.subtopologies) {
      for (const store of sub.stores) {
        if (topology.stores.get(store)?.changelog !== true) continue;
        const topic = changelogTopic(applicationId, store);
        if (existing.has(topic)) continue;
        toCreate.push({
          topic,
          numPartitions: this.partitionCounts.get(sub.id) ?? 1,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        });
      }
    }
    const dlq = deadLetterTopic(applicationId);
    if (!existing.has(dlq)) toCreate.push({ topic: dlq, numPartitions: 1 });
    if (toCreate.length > 0) {
      await admin.createTopics({ topics: toCreate, waitForLeaders: true });
      this.log.info({ topics: toCreate.map((t) => t.topic) }, "created internal topics");
    }
  }

  /**
   * Opens (and restores) every assigned task that has no instance: at a join, not at the
   * task's first record, so that a caught-up task's stores are served too; and again whenever
   * an instance was discarded or failed to open, so that without new input the task is still
   * served and punctuated (its timeouts fire).
   */
  private openAssigned(): void {
    const now = Date.now();
    for (const [id, { topic, partition }] of this.assigned) {
      if (this.tasks.has(id) || now - (this.openFailedAt.get(id) ?? -Infinity) < REOPEN_AFTER_MS)
        continue;
      this.openTask(topic, partition).catch((error: unknown) => {
        this.log.error({ task: id, err: error }, "task could not be opened; trying again shortly");
      });
    }
  }

  private openTask(topic: string, partition: number): Promise<OpenTask> {
    const sub = this.options.topology.subtopologyOf(topic);
    const id = `${sub.id}_${partition}`;
    const existing = this.tasks.get(id);
    if (existing !== undefined) return existing;
    const opening = this.createTask(sub.id, partition, id);
    this.tasks.set(id, opening);
    opening.then(
      () => this.openFailedAt.delete(id),
      () => {
        if (this.tasks.get(id) === opening) this.tasks.delete(id);
        this.openFailedAt.set(id, Date.now());
      },
    );
    return opening;
  }

  private async createTask(
    subtopologyId: number,
    partition: number,
    id: string,
  ): Promise<OpenTask> {
    await this.closing.get(id); // the same task's previous instance must let go of its files
    const { topology, applicationId, stateDir } = this.options;
    const log = this.log.child({ task: id });
    const started = Date.now();
    let producer: Producer | undefined;
    if (this.guarantee === ProcessingGuarantee.ExactlyOnce) {
      producer = this.kafka.producer({
        transactionalId: `${applicationId}-${id}`,
        idempotent: true,
        maxInFlightRequests: 1,
        retry: PRODUCER_RETRY,
        transactionTimeout: TRANSACTION_TIMEOUT_MS,
      });
      await producer.connect();
      // kafkajs's connect() does not register the transactional id; its first transaction()
      // does (InitProducerId). Begin and abort an empty one now, so that the previous owner
      // is fenced and its open transaction settled before offsets and changelog are read.
      const fence = await producer.transaction();
      await fence.abort();
    }
    const directory = new TaskDirectory(path.join(stateDir, applicationId, id));
    const checkpoint = await directory.takeCheckpoint();
    // kafkajs fetches committed offsets without KIP-447's requireStable, so its position may
    // predate the previous owner's last transaction; and after this member's own failed
    // commit it is past what was committed. Fencing above has settled every transaction, so
    // the offsets read now are final: the consumer is sought to them.
    const inputPositions = await this.startingOffsets(subtopologyId, partition);
    for (const [topic, offset] of inputPositions) {
      this.consumer?.seek({ topic, partition, offset: offset.toString() });
    }
    const unread = new Map<string, bigint>();
    for (const [topic, offset] of inputPositions) {
      const end = await endOffset(this.admin as Admin, topic, partition);
      if (end > offset) unread.set(topic, end);
    }
    const sub = topology.subtopologies[subtopologyId];
    if (sub === undefined) throw new Error(`no sub-topology ${subtopologyId}`);
    const stores = new Map<string, KeyValueStore<unknown, unknown>>();
    const positions = new Map<string, bigint>();
    let restored = 0;
    for (const name of sub.stores) {
      const spec = topology.stores.get(name);
      if (spec === undefined) continue;
      let engine: BytesStore =
        spec.kind === StoreKind.Persistent
          ? await RocksDbBytesStore.open(directory.storeDir(name))
          : new MemoryBytesStore();
      if (spec.kind === StoreKind.Persistent && spec.cacheBytes > 0) {
        engine = new CachedBytesStore(engine, spec.cacheBytes);
      }
      let from = spec.kind === StoreKind.Persistent ? checkpoint?.get(name) : undefined;
      if (from === undefined) {
        await engine.clear(); // no clean checkpoint covers it: the local copy cannot be trusted
        from = 0n;
      }
      if (spec.changelog) {
        const topic = changelogTopic(applicationId, name);
        const before = restored;
        const position = await restoreFromChangelog({
          kafka: this.kafka,
          admin: this.admin as Admin,
          topic,
          partition,
          from,
          engine,
          onProgress: (count, total) => {
            restored = before + count;
            if (count % 10_000 < 500)
              log.info({ store: name, restored: count, of: total }, "restoring");
          },
        });
        positions.set(name, position);
      }
      stores.set(name, new KeyValueStore(name, engine, spec.keySerde, spec.valueSerde));
    }
    this.metrics.restoredRecords += restored;
    const task = new Task({
      applicationId,
      topology,
      subtopology: sub,
      partition,
      stores,
      onError: this.options.onError ?? ErrorHandling.DeadLetter,
      now: () => Date.now(),
      onDeadLetter: (error) => {
        this.metrics.deadLetters += 1;
        log.warn({ code: error.code }, error.message);
      },
    });
    await task.init();
    const seconds = (Date.now() - started) / 1000;
    log.info(
      { restored, seconds, from: checkpoint === undefined ? "changelog start" : "checkpoint" },
      "task ready",
    );
    this.metrics.restorations.push({ task: id, records: restored, seconds });
    return {
      task,
      stores,
      directory,
      producer,
      positions,
      unread,
      inputPositions,
      intervalOffsets: new Map(),
      inFlight: undefined,
      lastCommitAt: 0,
      commitTimer: undefined,
      failed: false,
      closing: undefined,
      queue: Promise.resolve(),
      closed: false,
    };
  }

  /** Per source topic of the task: its committed offset, or the earliest one when none is. */
  private async startingOffsets(
    subtopologyId: number,
    partition: number,
  ): Promise<Map<string, bigint>> {
    const sub = this.options.topology.subtopologies[subtopologyId];
    const result = new Map<string, bigint>();
    if (sub === undefined) return result;
    const admin = this.admin as Admin;
    const offsets = await admin.fetchOffsets({
      groupId: this.options.applicationId,
      topics: sub.sourceTopics,
    });
    for (const { topic, partitions } of offsets) {
      const committed = partitions.find((p) => p.partition === partition)?.offset;
      if (committed !== undefined && BigInt(committed) >= 0n) {
        result.set(topic, BigInt(committed));
        continue;
      }
      const earliest = (await admin.fetchTopicOffsets(topic)).find(
        (p) => p.partition === partition,
      );
      result.set(topic, BigInt(earliest?.low ?? "0"));
    }
    return result;
  }

  private serially<T>(open: OpenTask, fn: () => Promise<T>): Promise<T> {
    const run = open.queue.then(fn, fn);
    open.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Asks for the open interval to be committed: now if the interval has passed and no commit
   * is in flight, otherwise once they allow. Runs on the task's queue.
   */
  private requestCommit(open: OpenTask): void {
    if (open.closed || open.inFlight !== undefined || open.commitTimer !== undefined) return;
    const wait = open.lastCommitAt + this.commitIntervalMs - Date.now();
    if (wait > 0) {
      open.commitTimer = setTimeout(() => {
        open.commitTimer = undefined;
        void this.serially(open, () => {
          this.requestCommit(open);
          return Promise.resolve();
        });
      }, wait);
      return;
    }
    const inFlight = this.commitInterval(open);
    if (inFlight === undefined) return;
    open.inFlight = inFlight;
    void inFlight.then((ok) => {
      open.inFlight = undefined;
      if (!ok) {
        this.discardInstance(open);
        return;
      }
      if (open.intervalOffsets.size > 0 || open.task.uncommitted > 0) {
        void this.serially(open, () => {
          this.requestCommit(open);
          return Promise.resolve();
        });
      }
    });
  }

  /**
   * Seals the open interval and commits it: its outputs, store writes and input offsets,
   * atomically under exactly_once. Runs on the task's queue (sealing must fall between two
   * records); the commit itself goes on while the task processes the next interval. Resolves
   * to false when the commit failed (the instance must then be discarded).
   */
  private commitInterval(open: OpenTask): Promise<boolean> | undefined {
    if (open.failed) return Promise.resolve(false);
    const { outputs, records } = open.task.seal();
    const offsets = open.intervalOffsets;
    open.intervalOffsets = new Map();
    if (outputs.length === 0 && offsets.size === 0) return undefined;
    const started = Date.now();
    open.lastCommitAt = started;
    const inputs = [...offsets].map(([topic, offset]) => ({
      topic,
      partitions: [{ partition: open.task.partition, offset: offset.toString() }],
    }));
    const commit = async (): Promise<void> => {
      if (open.producer !== undefined) {
        const tx = await open.producer.transaction();
        try {
          const ends = await sendOutputs(outputs, (topicMessages) =>
            tx.sendBatch({ topicMessages, acks: -1 }),
          );
          if (inputs.length > 0) {
            await sendOffsetsInTransaction(tx, {
              consumerGroupId: this.options.applicationId,
              topics: inputs,
            });
          }
          await tx.commit();
          this.trackChangelogPositions(open, ends);
        } catch (error) {
          await tx.abort().catch(() => undefined);
          throw error;
        }
        await open.task.committed();
      } else {
        const producer = this.sharedProducer as Producer;
        const ends = await sendOutputs(outputs, (topicMessages) =>
          producer.sendBatch({ topicMessages, acks: -1 }),
        );
        this.trackChangelogPositions(open, ends);
        await open.task.committed();
        const flat = inputs.flatMap(({ topic, partitions }) =>
          partitions.map((p) => ({ topic, ...p })),
        );
        if (flat.length > 0) await (this.consumer as Consumer).commitOffsets(flat);
      }
    };
    return commit().then(
      () => {
        this.metrics.recordCommit(Date.now() - started, records);
        return true;
      },
      (error: unknown) => {
        this.log.warn(
          { task: open.task.id, err: error },
          "commit failed: the task reopens from its committed offsets and changelog",
        );
        open.failed = true;
        open.task.aborted();
        return false;
      },
    );
  }

  /** The task has read `topic` up to `next` (exclusive). */
  private readTo(open: OpenTask, topic: string, next: bigint): void {
    const end = open.unread.get(topic);
    if (end === undefined || next < end) return;
    open.unread.delete(topic);
    if (open.unread.size === 0) {
      this.log.info(
        { task: open.task.id },
        "read what its input held at opening: punctuation starts",
      );
    }
  }

  /** kafkajs skipped `first`..`next` of a partition; it counts as read if it follows on. */
  private passedOver(topic: string, partition: number, first: bigint, next: bigint): void {
    const id = `${this.options.topology.subtopologyOf(topic).id}_${partition}`;
    void this.tasks.get(id)?.then(
      (open) => {
        if (first <= (open.inputPositions.get(topic) ?? 0n)) this.readTo(open, topic, next);
      },
      () => undefined,
    );
  }

  /** Waits for the commit in flight, then commits the rest; false if either failed. */
  private async commitAll(open: OpenTask): Promise<boolean> {
    clearTimeout(open.commitTimer);
    open.commitTimer = undefined;
    if (open.inFlight !== undefined && !(await open.inFlight)) return false;
    return (await this.commitInterval(open)) ?? true;
  }

  /** Moves each changelogged store's position to the end of what this commit wrote. */
  private trackChangelogPositions(open: OpenTask, ends: ReadonlyMap<string, bigint>): void {
    const { applicationId } = this.options;
    for (const [store] of open.positions) {
      const end = ends.get(`${changelogTopic(applicationId, store)}/${open.task.partition}`);
      if (end !== undefined) open.positions.set(store, end);
    }
  }

  private async punctuateAll(): Promise<void> {
    this.openAssigned();
    for (const [id, opening] of this.tasks) {
      try {
        const open = await opening;
        await this.serially(open, async () => {
          if (open.closed || open.unread.size > 0) return;
          await open.task.punctuateWallClock();
          this.requestCommit(open);
        });
      } catch (error) {
        this.log.error({ task: id, err: error }, "punctuation failed");
      }
    }
  }

  /** Closes a task; a clean close writes its checkpoint so that reopening it here is fast. */
  private async closeTask(id: string, clean: boolean): Promise<void> {
    const opening = this.tasks.get(id);
    if (opening === undefined) return;
    this.tasks.delete(id);
    const open = await opening.catch(() => undefined);
    if (open !== undefined) await this.closeInstance(open, clean);
  }

  /**
   * Closes a task instance after whatever it is doing. Only a clean close, whose last commit
   * succeeded, writes a checkpoint; without one, the next open wipes the stores and restores
   * them from the changelog.
   */
  private closeInstance(open: OpenTask, clean: boolean): Promise<void> {
    if (open.closing !== undefined) return open.closing;
    const id = open.task.id;
    open.closed = true;
    const closing = this.serially(open, async () => {
      // A clean close commits what was processed; otherwise the next owner redoes it.
      let committed = false;
      if (clean) committed = await this.commitAll(open);
      else await open.inFlight;
      clearTimeout(open.commitTimer);
      await open.task.close();
      for (const store of open.stores.values()) await store.engine.close();
      if (committed) await open.directory.writeCheckpoint(open.positions);
      await open.producer?.disconnect();
    }).then(
      () => {
        this.log.info({ task: id, clean }, "task closed");
      },
      (error: unknown) => {
        this.log.error({ task: id, err: error }, "task close failed");
      },
    );
    open.closing = closing;
    this.closing.set(id, closing);
    void closing.then(() => {
      if (this.closing.get(id) === closing) this.closing.delete(id);
    });
    return closing;
  }

  /**
   * A failed commit leaves the instance unusable: its producer may be fenced (the task moved
   * while this worker was out of the group), its stores may lag the changelog, and the
   * consumer has read past what was committed. Drop it and, while the task is still assigned
   * here, open its next instance at once: from the changelog, sought back to the committed
   * offsets. (If the task has moved, the next join closes that instance.)
   */
  private discardInstance(open: OpenTask): void {
    const id = open.task.id;
    const current = this.tasks.get(id);
    void this.closeInstance(open, false);
    void current?.then((instance) => {
      if (instance !== open || this.tasks.get(id) !== current) return;
      this.tasks.delete(id);
      this.openAssigned();
    });
  }

  /**
   * A store of a task open (and restored) on this instance, for queries; undefined when the
   * task is not open here (another member owns it, or it is opening: see ownedPartitions).
   * Reads see the task's writes since its last commit.
   */
  async localStore<K, V>(
    store: string,
    partition: number,
  ): Promise<ReadableStore<K, V> | undefined> {
    const sub = this.options.topology.subtopologies.find((s) => s.stores.includes(store));
    if (sub === undefined) throw new TopologyError(`the topology has no store "${store}"`);
    const opening = this.tasks.get(`${sub.id}_${partition}`);
    const open = await opening?.catch(() => undefined);
    if (open === undefined || open.closed) return undefined;
    return open.stores.get(store) as ReadableStore<K, V> | undefined;
  }

  /** The partitions (task numbers) assigned to this instance now, open or still opening. */
  ownedPartitions(): number[] {
    const partitions = new Set([...this.assigned.values()].map((a) => a.partition));
    return [...partitions].sort((a, b) => a - b);
  }

  /** The group's members as the coordinator knows them: advertised address and partitions. */
  async members(): Promise<{ memberId: string; address: string; partitions: number[] }[]> {
    const admin = this.admin;
    if (admin === undefined) return [];
    const { groups } = await admin.describeGroups([this.options.applicationId]);
    return (groups[0]?.members ?? []).map((member) => {
      const metadata = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
      const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      const partitions = new Set(Object.values(assignment?.assignment ?? {}).flat());
      return {
        memberId: member.memberId,
        address: metadata?.userData.toString() ?? "",
        partitions: [...partitions].sort((a, b) => a - b),
      };
    });
  }

  /** Stops consuming, commits what was processed, closes every task cleanly. */
  async stop(): Promise<void> {
    if (this.punctuateTimer !== undefined) clearInterval(this.punctuateTimer);
    this.assigned = new Map(); // nothing reopens from here on
    // Commit while still in the group (at_least_once commits offsets through the consumer).
    this.consumer?.pause(this.options.topology.sourceTopics().map((topic) => ({ topic })));
    for (const opening of this.tasks.values()) {
      const open = await opening.catch(() => undefined);
      if (open !== undefined) await this.serially(open, () => this.commitAll(open));
    }
    await this.consumer?.disconnect();
    for (const id of [...this.tasks.keys()]) await this.closeTask(id, true);
    await this.sharedProducer?.disconnect();
    await this.admin?.disconnect();
  }

  /** Task ids this worker runs now. */
  ownedTasks(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** The changelog end offsets, for tests and tools. */
  async changelogEnd(store: string, partition: number): Promise<bigint> {
    return endOffset(
      this.admin as Admin,
      changelogTopic(this.options.applicationId, store),
      partition,
    );
  }
}

function toInput(
  topic: string,
  partition: number,
  message: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    headers?: Message["headers"];
  },
) {
  const headers: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    if (Buffer.isBuffer(value)) headers[key] = value;
    else if (typeof value === "string") headers[key] = Buffer.from(value);
  }
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    timestamp: Number(message.timestamp),
    headers,
  };
}
