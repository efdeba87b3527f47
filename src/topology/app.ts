/**
 * StreamsApp runs a topology on a consumer group, one task per input partition of each
 * sub-topology, from its parts: the group membership and co-partitioned assignment (here), its
 * internal topics (changelogs, dead letters), the TaskManager (tasks opened, closed, revived),
 * the TaskOpener (stores restored from their changelogs), the StreamThread (fetch, process,
 * punctuate) and the CommitPipeline with its sink. exactly_once (default) is Kafka Streams'
 * EOS v2: one transactional producer per worker and one transaction per commit for all of its
 * tasks, offsets sent under the group generation so that the coordinator fences a member that
 * was replaced. at_least_once: an idempotent producer, then the offsets through the consumer.
 */
import path from "node:path";
import { Admin, type Consumer } from "@platformatic/kafka";
import type { KafkaSecurity } from "../config/index.js";
import { ReadCommittedConsumer, securityOptions, transactionalRetryDelay } from "../kafka/index.js";
import { TopologyError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import type { ReadableStore } from "../state/index.js";
import { aborted } from "../util/index.js";
import {
  ASSIGNER_VERSION,
  COPARTITIONED_ASSIGNER,
  copartitionedAssigner,
  encodeMemberState,
  splitAssignment,
  type MemberState,
} from "./assigner.js";
import { changelogTopic, type Topology } from "./builder.js";
import { CommitPipeline } from "./commit-pipeline.js";
import { createCommitSink } from "./commit-sinks.js";
import { GroupCoordinator, outOfGroup, type GroupGeneration } from "./group-coordinator.js";
import { prepareTopics } from "./internal-topics.js";
import { AppMetrics } from "./metrics.js";
import { describeMembers, type GroupMember } from "./group-members.js";
import { checkpointedReach, reachByPartition, workerId } from "./local-state.js";
import { KafkaPartitionFetcher } from "./partition-fetcher.js";
import { KafkaPartitionOffsets } from "./partition-offsets.js";
import { StandbyTasks } from "./standby-tasks.js";
import { StreamThread } from "./stream-thread.js";
import { ErrorHandling } from "./task.js";
import { TaskManager } from "./task-manager.js";
import { TaskOpener } from "./task-opener.js";

export const ProcessingGuarantee = {
  ExactlyOnce: "exactly_once",
  AtLeastOnce: "at_least_once",
} as const;
export type ProcessingGuarantee = (typeof ProcessingGuarantee)[keyof typeof ProcessingGuarantee];

export interface StreamsAppOptions {
  applicationId: string;
  brokers: string[];
  /** SASL and TLS of its clients (default: the process's, see `setDefaultKafkaSecurity`). */
  security?: KafkaSecurity | undefined;
  topology: Topology;
  /** Where the tasks' RocksDB stores and checkpoints live. */
  stateDir: string;
  guarantee?: ProcessingGuarantee;
  onError?: ErrorHandling;
  logger: Logger;
  /** How often wall-clock punctuators are checked (ms, default 100). */
  punctuateIntervalMs?: number | undefined;
  /**
   * The least time between two commits (ms): the records processed meanwhile share one
   * transaction. A commit waits for the previous one anyway; this also keeps a worker under
   * moderate load from spending itself on tiny transactions (default 20; 0: as soon as the
   * previous commit ends).
   */
  commitIntervalMs?: number | undefined;
  /**
   * While a commit is in flight, the open intervals of all tasks grow to at most this many
   * records; then processing waits for the commit (default 5,000). A closed loop (sagas: a
   * command reaches its participant only once its transaction commits, and the reply is the
   * next input) wants it smaller, so that commits stay small and quick.
   */
  maxUncommittedRecords?: number | undefined;
  /** Kept for compatibility: one loop serves every partition. */
  concurrency?: number | undefined;
  /** A member silent this long is dropped from the group and its tasks move (default 10 s). */
  sessionTimeoutMs?: number | undefined;
  /** A string this member advertises to its group (a worker's query address). */
  advertisedAddress?: string | undefined;
  /**
   * Warm copies of each task's stores that other members keep by following its changelogs
   * (Kafka Streams' num.standby.replicas, default 0): when a member dies, its tasks go to the
   * members holding their copies, which restore only the tail.
   */
  numStandbyReplicas?: number | undefined;
  /** The longest `stop` waits for a clean stop before it stops without (ms, default 20 s). */
  shutdownTimeoutMs?: number | undefined;
}

/**
 * A saga waits for four commits (its start and each reply make commands visible only when
 * their transaction commits), so it pays this interval four times: at 1,000 sagas/s,
 * exactly-once, 10 ms against 20 took p99 from 293–504 to 181–286 ms, the drain unchanged.
 */
export const DEFAULT_COMMIT_INTERVAL_MS = 10;
const DEFAULT_MAX_UNCOMMITTED_RECORDS = 5_000;
/**
 * A clean stop's last commit and leaving the group take well under a second on a healthy
 * cluster; a stop must not hang on an unhealthy one. Under Kubernetes' default grace period
 * (30 s), after which it kills.
 */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;
/** An assigned task whose opening failed is tried again after this long. */
const REOPEN_AFTER_MS = 1_000;

/** Retries of the clients' requests (delays: transactionalRetryDelay, at most 1 s each). */
const RETRIES = 60;

export class StreamsApp {
  readonly metrics = new AppMetrics();
  private readonly guarantee: ProcessingGuarantee;
  private readonly commitIntervalMs: number;
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private restoreConsumer: Consumer | undefined;
  private standbyConsumer: Consumer | undefined;
  private closeSink: ((force?: boolean) => Promise<void>) | undefined;
  private coordinator: GroupCoordinator | undefined;
  private tasks: TaskManager | undefined;
  private standbys: StandbyTasks | undefined;
  private commits: CommitPipeline | undefined;
  private thread: StreamThread | undefined;
  private generation: GroupGeneration | undefined;
  private readonly partitionCounts = new Map<string, number>();

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
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private client(suffix: string) {
    return {
      clientId: `${this.options.applicationId}-${suffix}`,
      bootstrapBrokers: this.options.brokers,
      retries: RETRIES,
      retryDelay: transactionalRetryDelay,
      ...securityOptions(this.options.security),
    };
  }

  async start(): Promise<void> {
    const { topology, applicationId } = this.options;
    this.admin = new Admin(this.client("admin"));
    for (const [topic, count] of await prepareTopics(this.admin, topology, applicationId, this.log))
      this.partitionCounts.set(topic, count);

    const sessionTimeout = this.options.sessionTimeoutMs ?? 10_000;
    const consumer = new ReadCommittedConsumer({
      ...this.client("consumer"),
      groupId: applicationId,
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 20_000),
      heartbeatInterval: 1000,
      autocommit: false,
    });
    this.consumer = consumer;
    consumer.on("error", (error: unknown) => {
      this.log.warn({ err: error }, "consumer group error");
    });
    this.restoreConsumer = new ReadCommittedConsumer({
      ...this.client("restore"),
      groupId: `${applicationId}-restore`,
    });
    // Its own connections: a broker answers a connection's requests in order, and a standby's
    // fetch waits for data.
    this.standbyConsumer = new ReadCommittedConsumer({
      ...this.client("standby"),
      groupId: `${applicationId}-standby`,
    });
    const coordinator = new GroupCoordinator(
      consumer,
      `${applicationId}-coordinator`,
      securityOptions(this.options.security),
    );
    this.coordinator = coordinator;
    const offsets = new KafkaPartitionOffsets(consumer, coordinator, applicationId);
    const partitionCount = (topic: string): number => {
      const count = this.partitionCounts.get(topic);
      if (count === undefined) throw new TopologyError(`no partition count known for ${topic}`);
      return count;
    };

    const transactionalId =
      this.guarantee === ProcessingGuarantee.ExactlyOnce
        ? `${applicationId}-${await workerId(path.join(this.options.stateDir, applicationId))}`
        : undefined;
    const { sink, close, openTransactions } = createCommitSink({
      producer: this.client("producer"),
      fencer: this.client("fencer"),
      transactionalId,
      consumer,
      coordinator,
      partitionCount,
      generation: () => {
        if (this.generation === undefined) throw new Error("no group generation yet");
        return this.generation;
      },
      logger: this.log,
    });
    this.closeSink = close;

    const opener = new TaskOpener({
      applicationId,
      topology,
      stateDir: this.options.stateDir,
      onError: this.options.onError ?? ErrorHandling.DeadLetter,
      offsets,
      restoreFetcher: new KafkaPartitionFetcher(this.restoreConsumer),
      openTransactions,
      logger: this.log,
      now: () => Date.now(),
      onDeadLetter: (error) => {
        this.metrics.deadLetters += 1;
        this.log.warn({ code: error.code }, error.message);
      },
      partitionCount,
      onRestoreProgress: (task, remaining) => {
        if (remaining > 0) this.metrics.restoring.set(task, remaining);
        else this.metrics.restoring.delete(task);
      },
      onRestored: (opening) => {
        this.metrics.restoredRecords += opening.records;
        this.metrics.restorations.push(opening);
      },
    });
    const standbys = new StandbyTasks({
      applicationId,
      topology,
      stateDir: this.options.stateDir,
      fetcher: new KafkaPartitionFetcher(this.standbyConsumer),
      logger: this.log,
      now: () => Date.now(),
      activeReleased: (partition) => tasks.released(partition),
    });
    this.standbys = standbys;
    const tasks = new TaskManager({
      topology,
      open: async (subtopologyId, partition, signal) => {
        // A copy kept here becomes the task: its files. (Abandoned meanwhile, it stops
        // waiting: the copies may be waiting for this very opening to end.)
        await Promise.race([standbys.release(partition), aborted(signal)]);
        signal.throwIfAborted();
        return opener.open(subtopologyId, partition, signal);
      },
      commitsSettled: () => commits.settled(),
      logger: this.log,
      now: () => Date.now(),
      reopenAfterMs: REOPEN_AFTER_MS,
      stuck: this.metrics.stuck,
    });
    this.tasks = tasks;
    /** The group generation the commit in flight runs under (one commit at a time). */
    let committingUnder: number | undefined;
    const commits = new CommitPipeline({
      sink: {
        commit: (outputs, offsets) => {
          committingUnder = this.generation?.generationId;
          return sink.commit(outputs, offsets);
        },
      },
      intervalMs: this.commitIntervalMs,
      now: () => Date.now(),
      onCommitted: (latencyMs, records) => {
        this.metrics.recordCommit(latencyMs, records);
      },
      onFailed: (failed, error) => {
        if (outOfGroup(error) && committingUnder === this.generation?.generationId) {
          // Evicted or replaced: the tasks are someone else's now. They stop at once, and
          // this member runs nothing until the group gives it its new assignment. (Refused
          // under a generation that has passed since, they reopen under the new one.)
          this.log.warn({ err: error }, "commit refused: this member is no longer in the group");
          tasks.suspend();
          return;
        }
        this.log.warn(
          { tasks: failed.map((t) => t.id), err: error },
          "commit failed: its tasks reopen from their committed offsets and changelogs",
        );
        tasks.revive(tasks.runningTasks().filter((t) => failed.includes(t)));
      },
    });
    this.commits = commits;

    consumer.on("consumer:group:join", (payload) => {
      this.generation = {
        groupId: applicationId,
        memberId: payload.memberId,
        generationId: payload.generationId ?? -1,
      };
      const { assignment, copies } = splitAssignment(payload.assignments ?? []);
      tasks.assign(assignment); // first: the tasks that leave let go of their files
      standbys.assign(copies);
    });
    consumer.topics.trackAll(...topology.sourceTopics());
    await consumer.joinGroup({
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 20_000),
      heartbeatInterval: 1000,
      protocols: [{ name: COPARTITIONED_ASSIGNER, version: ASSIGNER_VERSION }],
      // Asked at every join: what this member runs and keeps, for a sticky, lag-aware plan.
      protocolsMetadata: async () => encodeMemberState(await this.memberState()),
      partitionAssigner: copartitionedAssigner(this.options.numStandbyReplicas ?? 0),
    });

    this.thread = new StreamThread({
      topology,
      fetcher: new KafkaPartitionFetcher(consumer),
      tasks,
      commits,
      logger: this.log,
      now: () => Date.now(),
      punctuateIntervalMs: this.options.punctuateIntervalMs ?? 100,
      maxIntervalRecords: this.options.maxUncommittedRecords ?? DEFAULT_MAX_UNCOMMITTED_RECORDS,
      onLag: (topic, partition, lag) => this.metrics.lag.set(`${topic}/${partition}`, lag),
      loop: this.metrics.loop,
      stuck: this.metrics.stuck,
    });
    this.thread.start();
  }

  /**
   * What this member runs (or ran, when the group put it out) and keeps copies of, and how
   * far each local copy reaches, its task directories on disk included (local-state.ts).
   */
  private async memberState(): Promise<MemberState> {
    const onDisk = await checkpointedReach(
      path.join(this.options.stateDir, this.options.applicationId),
    );
    const running = (this.tasks?.runningTasks() ?? []).map(
      (t) => [t.id, t.changelogReach] as const,
    );
    return {
      address: this.options.advertisedAddress ?? "",
      active: this.tasks?.claimedPartitions() ?? [],
      standby: this.standbys?.partitions() ?? [],
      offsets: reachByPartition(onDisk, this.standbys?.reach() ?? new Map(), new Map(running)),
    };
  }

  /**
   * A store of a task running on this instance, for queries; undefined when the task is not
   * running here (another member owns it, or it is opening: see ownedPartitions). Reads see
   * the task's writes since its last commit.
   */
  localStore<K, V>(store: string, partition: number): Promise<ReadableStore<K, V> | undefined> {
    const sub = this.options.topology.subtopologies.find((s) => s.stores.includes(store));
    if (sub === undefined) throw new TopologyError(`the topology has no store "${store}"`);
    const task = this.tasks?.taskFor(sub.id, partition);
    return Promise.resolve(task?.stores.get(store) as ReadableStore<K, V> | undefined);
  }

  /** The partitions (task numbers) assigned to this instance now, running or still opening. */
  ownedPartitions(): number[] {
    const partitions = new Set((this.tasks?.assignedTasks() ?? []).map((t) => t.partition));
    return [...partitions].sort((a, b) => a - b);
  }

  /** The group's members as the coordinator knows them: advertised address and partitions. */
  async members(): Promise<GroupMember[]> {
    return this.admin === undefined ? [] : describeMembers(this.admin, this.options.applicationId);
  }

  /**
   * Stops processing, commits what was processed, closes every task cleanly, leaves the group;
   * within `shutdownTimeoutMs`. Past it (a commit retrying against a broker that is gone, a
   * member stuck leaving) the tasks are closed dirty and the clients forced shut: nothing
   * committed is lost, and the next owner of each task restores it.
   */
  async stop(): Promise<void> {
    const timeoutMs = this.options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => {
        resolve("late");
      }, timeoutMs);
    });
    const outcome = await Promise.race([this.stopGracefully(), late]);
    clearTimeout(timer);
    if (outcome !== "late") return;
    this.log.warn(
      { timeoutMs },
      "the worker did not stop cleanly in time: its tasks close without a last commit and are restored by their next owner",
    );
    await this.tasks?.abandon();
    await Promise.allSettled([
      this.standbys?.close(),
      this.consumer?.close(true),
      this.restoreConsumer?.close(true),
      this.standbyConsumer?.close(true),
      this.closeSink?.(true),
      this.coordinator?.close(),
      this.admin?.close(),
    ]);
  }

  private async stopGracefully(): Promise<"stopped"> {
    await this.thread?.stop();
    const tasks = this.tasks;
    let committed = true;
    if (tasks !== undefined && this.commits !== undefined) {
      committed = await this.commits.flush(tasks.runningTasks());
      await tasks.closeAll(committed);
    }
    await this.standbys?.close();
    await this.consumer?.close();
    await this.restoreConsumer?.close();
    await this.standbyConsumer?.close();
    await this.closeSink?.();
    await this.coordinator?.close();
    await this.admin?.close();
    return "stopped";
  }

  /** The partitions this worker keeps standby copies of now. */
  standbyPartitions(): number[] {
    return this.standbys?.partitions() ?? [];
  }

  /** Task ids this worker runs now. */
  ownedTasks(): string[] {
    return (this.tasks?.runningTasks() ?? []).map((t) => t.id).sort();
  }

  /** The changelog's end offset, for tests and tools. */
  async changelogEnd(store: string, partition: number): Promise<bigint> {
    const topic = changelogTopic(this.options.applicationId, store);
    const offsets = await (this.consumer as Consumer).listOffsets({
      topics: [topic],
      partitions: { [topic]: [partition] },
    });
    return offsets.get(topic)?.[partition] ?? 0n;
  }
}
