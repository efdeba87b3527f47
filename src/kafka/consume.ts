/**
 * A consumer group member that hands each record to `handle` and commits its offset only after
 * `handle` resolved: at least once, in order per partition, up to `concurrency` partitions at
 * once. What kafkajs's `consumer.run({ eachMessage })` did, on @platformatic/kafka:
 *
 * - A `handle` that throws is retried with backoff (the partition waits: its order is kept)
 *   until it succeeds or the partition is taken away; nothing is skipped.
 * - Offsets of handled records are committed every `commitIntervalMs`, and before the member
 *   lets a partition go (rebalance, stop).
 * - @platformatic/kafka rejoins a rebalancing group from its heartbeat timer, without waiting
 *   for records being handled, and keeps delivering records it fetched before the rebalance,
 *   including of partitions it no longer owns. So on each new generation this member drops
 *   what it fetched and has not started, lets what runs finish and commits it, and reads again
 *   from the group's committed offsets. Another member may meanwhile handle a record this one
 *   is finishing: handlers must be idempotent (the engine's are, through PostgreSQL).
 * - A member whose stream or group membership fails for good is closed and started again.
 */
import {
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  type MessagesStream,
} from "@platformatic/kafka";
import { setTimeout as sleep } from "node:timers/promises";
import pRetry, { AbortError } from "p-retry";
import { toError, type RecordOrigin } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import {
  createConsumer,
  type ConsumerOptions,
  type KafkaConsumer,
  type KafkaMessage,
} from "./consumer.js";
import { OffsetCommits } from "./offset-commits.js";
import { PartitionQueues } from "./partition-queues.js";
import { BACKOFF, backoffMs, isRetriable } from "./retry.js";
import type { KafkaSettings } from "./settings.js";

/** A record as handlers see it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | undefined;
  /** Undefined for a tombstone. */
  value: Buffer | undefined;
  /** Header names to values (the last one, if a name repeats). */
  headers: ReadonlyMap<string, Buffer | undefined>;
  /** Milliseconds since the epoch (the producer's or the broker's clock). */
  timestamp: number;
}

export function recordOrigin(record: ConsumedRecord): RecordOrigin {
  return { topic: record.topic, partition: record.partition, offset: String(record.offset) };
}

/** A header's value as text, if the record has it. */
export function headerText(record: ConsumedRecord, name: string): string | undefined {
  return record.headers.get(name)?.toString();
}

export interface ConsumingOptions extends ConsumerOptions {
  topics: readonly string[];
  handle: (record: ConsumedRecord) => Promise<void>;
  /** Partitions handled at once (default 1); one partition's records always in order. */
  concurrency?: number;
  /** Where a partition without a committed offset starts (default "earliest"). */
  startFrom?: "earliest" | "latest";
  /** The most time between handling a record and committing its offset (default 100 ms). */
  commitIntervalMs?: number;
}

export interface Consuming {
  /** Lets running handlers finish, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Records fetched and not handled yet above which fetching pauses. */
const MAX_QUEUED = 512;

interface Work {
  session: number;
  message: KafkaMessage;
}

type Wake = { kind: "rebalanced" } | { kind: "failed"; error: Error } | { kind: "stopping" };

/** Joins the group and starts consuming; resolves once the member has its first assignment. */
export async function startConsuming(
  settings: KafkaSettings,
  options: ConsumingOptions,
): Promise<Consuming> {
  const member = new GroupMember(settings, options);
  await member.start();
  return { stop: () => member.stop() };
}

class GroupMember {
  private readonly logger: Logger | undefined;
  private readonly queues: PartitionQueues<Work>;
  private readonly commits = new OffsetCommits();
  private consumer: KafkaConsumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, string, Buffer> | undefined;
  /** Bumped whenever a stream is let go: work of an older session is dropped. */
  private session = 0;
  private sessionAbort = new AbortController();
  private generation = -1;
  private wake: ((reason: Wake) => void) | undefined;
  private pendingWake: Wake | undefined;
  private supervisor: Promise<void> | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly options: ConsumingOptions,
  ) {
    if (options.topics.length === 0) throw new Error("startConsuming needs at least one topic");
    if (options.commitIntervalMs !== undefined && !(options.commitIntervalMs >= 0)) {
      throw new Error(`commitIntervalMs must be ≥ 0, not ${options.commitIntervalMs}`);
    }
    this.logger = settings.logger?.child({ component: "kafka-consumer", groupId: options.groupId });
    this.queues = new PartitionQueues(options.concurrency ?? 1, (work) => this.handle(work));
  }

  /**
   * Joins the group. A topic that does not exist fails here: the client creates none (kafkajs
   * did, with the broker's default partition count, which is rarely the engine's).
   */
  async start(): Promise<void> {
    try {
      await this.openSession();
    } catch (error) {
      await this.closeConsumer(true);
      const message = toError(error).message;
      if (!/^Unknown topic/.test(message)) throw error;
      throw new Error(
        `group ${this.options.groupId} cannot consume ${this.options.topics.join(", ")}: ${message} ` +
          "Create it first (ensureTopics; a saga worker creates its topics when it starts).",
        { cause: error },
      );
    }
    this.supervisor = this.supervise();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.notify({ kind: "stopping" });
    await this.supervisor;
  }

  // --- the session loop ------------------------------------------------------------------

  private async supervise(): Promise<void> {
    for (;;) {
      const reason = await this.nextWake();
      const previous = this.stream;
      await this.letGo();
      if (reason.kind === "stopping") {
        await previous?.close().catch(() => undefined);
        await this.closeConsumer(false);
        return;
      }
      if (reason.kind === "failed") {
        this.logger?.warn({ err: reason.error }, "the consumer failed; starting it again");
        await previous?.close().catch(() => undefined);
        await this.closeConsumer(true);
      }
      // A rebalance keeps the consumer: its next stream opens before the previous one closes
      // (closing the last stream of a topic would make the member leave and rejoin the group).
      const opened = await this.reopen();
      if (reason.kind === "rebalanced") await previous?.close().catch(() => undefined);
      if (!opened) {
        await this.closeConsumer(false);
        return;
      }
    }
  }

  /** Opens the next session, retrying until it opens or the member stops. */
  private async reopen(): Promise<boolean> {
    try {
      await pRetry(
        async () => {
          if (this.stopping) throw new AbortError("stopping");
          await this.openSession();
        },
        {
          retries: Number.POSITIVE_INFINITY,
          minTimeout: BACKOFF.minMs,
          maxTimeout: BACKOFF.maxMs,
          onFailedAttempt: async ({ error }) => {
            this.logger?.warn({ err: error }, "cannot consume; retrying");
            await this.closeConsumer(true);
          },
        },
      );
      return true;
    } catch {
      return false;
    }
  }

  private async openSession(): Promise<void> {
    const consumer = (this.consumer ??= this.createMember());
    const stream = await consumer.consume({
      topics: [...this.options.topics],
      autocommit: false,
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode:
        this.options.startFrom === "latest"
          ? MessagesStreamFallbackModes.LATEST
          : MessagesStreamFallbackModes.EARLIEST,
    });
    this.session += 1;
    this.sessionAbort = new AbortController();
    this.generation = consumer.generationId;
    this.stream = stream;
    const session = this.session;
    stream.on("data", (message) => {
      if (session !== this.session) return;
      this.queues.push(`${message.topic}:${message.partition}`, { session, message });
      if (this.queues.size >= MAX_QUEUED) stream.pause();
    });
    stream.on("error", (error) => {
      if (session === this.session) this.notify({ kind: "failed", error });
    });
    this.logger?.debug({ generation: this.generation, topics: this.options.topics }, "consuming");
  }

  private createMember(): KafkaConsumer {
    const consumer = createConsumer(this.settings, this.options);
    consumer.on("consumer:group:join", ({ generationId }) => {
      if (this.stream !== undefined && generationId !== this.generation) {
        this.notify({ kind: "rebalanced" });
      }
    });
    consumer.on("error", (error: Error) => {
      if (this.consumer === consumer) this.notify({ kind: "failed", error });
    });
    return consumer;
  }

  /**
   * Ends the current session: drops what was fetched and not started, waits for running
   * handlers, commits what they handled.
   */
  private async letGo(): Promise<void> {
    this.session += 1;
    this.sessionAbort.abort();
    this.stream?.pause();
    this.stream = undefined;
    this.queues.clear();
    await this.queues.idle();
    await this.flushCommits();
  }

  private async closeConsumer(force: boolean): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer === undefined) return;
    try {
      await consumer.close(force);
    } catch (error) {
      this.logger?.debug({ err: error }, "closing the consumer failed");
      await consumer.close(true).catch(() => undefined);
    }
  }

  private notify(reason: Wake): void {
    const waiting = this.wake;
    if (waiting !== undefined) {
      this.wake = undefined;
      waiting(reason);
      return;
    }
    // Stopping and failures outrank a rebalance that has not been acted on yet.
    if (this.pendingWake === undefined || reason.kind !== "rebalanced") this.pendingWake = reason;
  }

  private nextWake(): Promise<Wake> {
    const pending = this.pendingWake;
    if (pending !== undefined) {
      this.pendingWake = undefined;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => (this.wake = resolve));
  }

  // --- handling and committing -----------------------------------------------------------

  private async handle({ session, message }: Work): Promise<void> {
    const record = toConsumedRecord(message);
    const signal = this.sessionAbort.signal;
    for (let attempt = 1; ; attempt += 1) {
      // A partition let go meanwhile: not committed, so it is read again from the commit.
      if (session !== this.session) return;
      try {
        await this.options.handle(record);
        break;
      } catch (error) {
        const level = isRetriable(error) && attempt < 3 ? "debug" : "warn";
        this.logger?.[level](
          { ...recordOrigin(record), attempt, err: toError(error) },
          "handling a record failed; retrying it",
        );
      }
      // An attempt that runs is never cut short; the wait before the next one is.
      await sleep(backoffMs(attempt), undefined, { signal }).catch(() => undefined);
    }
    this.commits.mark(message.topic, message.partition, message.offset + 1n, message.leaderEpoch);
    this.scheduleCommit();
    if (session === this.session && this.queues.size < MAX_QUEUED / 4 && this.stream?.isPaused()) {
      this.stream.resume();
    }
  }

  private scheduleCommit(): void {
    if (this.commitTimer !== undefined) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.flushCommits();
    }, this.options.commitIntervalMs ?? 100);
  }

  /** Commits what was handled; a failure is logged, and retried with the next commit. */
  private async flushCommits(): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const consumer = this.consumer;
    if (consumer === undefined || this.commits.pending === 0) return;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.commits.flush(consumer);
        return;
      } catch (error) {
        // Letting partitions go (a rebalance, a stop): try a few times, as the next owner
        // starts from this commit; otherwise the next scheduled commit takes them.
        const letGo = this.stream === undefined;
        const level = isRetriable(error) && (!letGo || attempt < 3) ? "debug" : "warn";
        this.logger?.[level]({ err: error, attempt }, "committing offsets failed");
        if (!letGo) {
          this.scheduleCommit();
          return;
        }
        if (attempt >= 3) return;
        await sleep(backoffMs(attempt));
      }
    }
  }
}

function toConsumedRecord(message: KafkaMessage): ConsumedRecord {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    // The library types these Buffer; null ones come as undefined.
    key: message.key,
    value: message.value,
    headers: message.headers,
    timestamp: Number(message.timestamp),
  };
}
