/**
 * A raw consume→produce pipe: a consumer group reads the input topic and each record goes out
 * once to the output topic, through one Kafka client, with nothing else in the way. It is the
 * ceiling the topology runtime is measured against, one per candidate client.
 *
 * A client module (`raw-pipe-<client>.ts`) only consumes, sends and commits; the driver here
 * decides when, the same way for every client and as the runtime does: outputs gather into an
 * interval; exactly_once seals it when no transaction is in flight and `commitIntervalMs` has
 * passed since the last began, and sends it with its offsets in one transaction;
 * at_least_once sends it through an idempotent producer as soon as the previous send is
 * acknowledged, and commits the acknowledged offsets at most every `commitIntervalMs`.
 */
import type { DrainMeter } from "./worker-process.js";

export const PipeMode = {
  ExactlyOnce: "exactly_once",
  AtLeastOnce: "at_least_once",
} as const;
export type PipeMode = (typeof PipeMode)[keyof typeof PipeMode];

export const PipeClient = {
  KafkaJs: "kafkajs",
  Platformatic: "platformatic",
  /** @platformatic/kafka as the engine uses it: its producer and consumer classes (src/kafka). */
  Engine: "engine",
  Confluent: "confluent",
} as const;
export type PipeClient = (typeof PipeClient)[keyof typeof PipeClient];

export interface PipeOptions {
  client: PipeClient;
  mode: PipeMode;
  brokers: string[];
  input: string;
  output: string;
  groupId: string;
  commitIntervalMs: number;
  /** The worker reports when it has written this many outputs (DrainStats). */
  expect: number;
  /** Where the Confluent client is installed (it is not a dependency; see raw-pipe-confluent). */
  confluentModule?: string | undefined;
}

/** Where a client hands over what it consumed. */
export interface PipeSink<O, P> {
  /**
   * Takes one consumed record's output and the position to commit for its partition once the
   * output is written. False when the interval is full: the client should wait for `room()`.
   */
  push(partition: number, output: O, position: P): boolean;
  room(): Promise<void>;
}

/** One client as a pipe: O is its output message type, P its position of a consumed record. */
export interface RawPipe<O, P> {
  /** Joins the group and starts handing records to `sink`. */
  start(sink: PipeSink<O, P>): Promise<void>;
  /** at_least_once: sends through the idempotent producer. */
  send(outputs: O[]): Promise<void>;
  /** at_least_once: commits, per partition, the offset after `positions`' record. */
  commit(positions: ReadonlyMap<number, P>): Promise<void>;
  /** exactly_once: one transaction holding the outputs and the offsets after `positions`. */
  transact(outputs: O[], positions: ReadonlyMap<number, P>): Promise<void>;
  close(): Promise<void>;
}

/** An interval holds at most this many records while a send is in flight (as the runtime's). */
export const MAX_PENDING = 5_000;

export class PipeDriver<O, P> implements PipeSink<O, P> {
  private written = 0;
  private outputs: O[] = [];
  private positions = new Map<number, P>();
  private readonly waiters: (() => void)[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private lastFlushAt = 0;
  /** at_least_once: positions whose outputs are acknowledged, not yet committed. */
  private acked = new Map<number, P>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing = false;
  private lastCommitAt = 0;
  private rejectFailed: ((error: unknown) => void) | undefined;
  /** Rejects when a send, transaction or commit fails: the pipe then has no way on. */
  readonly failed: Promise<never>;

  constructor(
    private readonly pipe: RawPipe<O, P>,
    private readonly mode: PipeMode,
    private readonly commitIntervalMs: number,
    private readonly meter: DrainMeter,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
  }

  push(partition: number, output: O, position: P): boolean {
    this.meter.consumed();
    this.outputs.push(output);
    this.positions.set(partition, position);
    this.scheduleFlush();
    return this.outputs.length < MAX_PENDING;
  }

  room(): Promise<void> {
    if (this.outputs.length < MAX_PENDING) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.commitTimer);
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushTimer !== undefined || this.outputs.length === 0) return;
    // A timer even at no wait: a client hands over a whole fetch in one go, and it should
    // make one send, not one per record.
    const wait =
      this.mode === PipeMode.ExactlyOnce
        ? this.lastFlushAt + this.commitIntervalMs - Date.now()
        : 0;
    this.flushTimer = setTimeout(
      () => {
        this.flush();
      },
      Math.max(0, wait),
    );
  }

  private flush(): void {
    this.flushTimer = undefined;
    const { outputs, positions } = this;
    this.outputs = [];
    this.positions = new Map();
    this.lastFlushAt = Date.now();
    this.flushing = true;
    for (const wake of this.waiters.splice(0)) wake();
    const written =
      this.mode === PipeMode.ExactlyOnce
        ? this.pipe.transact(outputs, positions)
        : this.pipe.send(outputs).then(() => {
            for (const [partition, position] of positions) this.acked.set(partition, position);
            this.scheduleCommit();
          });
    written.then(
      () => {
        this.written += outputs.length;
        this.meter.written(this.written);
        this.flushing = false;
        this.scheduleFlush();
      },
      (error: unknown) => {
        this.rejectFailed?.(error);
      },
    );
  }

  private scheduleCommit(): void {
    if (this.committing || this.commitTimer !== undefined || this.acked.size === 0) return;
    const wait = this.lastCommitAt + this.commitIntervalMs - Date.now();
    this.commitTimer = setTimeout(
      () => {
        this.commit();
      },
      Math.max(0, wait),
    );
  }

  private commit(): void {
    this.commitTimer = undefined;
    const positions = this.acked;
    this.acked = new Map();
    this.lastCommitAt = Date.now();
    this.committing = true;
    this.pipe.commit(positions).then(
      () => {
        this.committing = false;
        this.scheduleCommit();
      },
      (error: unknown) => {
        this.rejectFailed?.(error);
      },
    );
  }
}
