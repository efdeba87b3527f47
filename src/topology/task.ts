/**
 * A task runs one sub-topology for one partition. It turns input records into outputs (sink
 * records, changelog records, dead letters) and store writes, and hands them to its owner
 * (the runtime or the test driver) to commit atomically. A record that fails to decode or
 * throws in a processor is rolled back whole and goes to the dead-letter topic, unless the
 * error handling says fail.
 */
import {
  DeserializationError,
  ProcessingError,
  SagastreamError,
  toError,
  type RecordOrigin,
} from "../errors/index.js";
import { deadLetterHeaders, deadLetterTopic } from "../kafka/index.js";
import type { KeyValueStore } from "../state/index.js";
import {
  changelogTopic,
  type SinkNode,
  type SourceNode,
  type Subtopology,
  type Topology,
} from "./builder.js";
import { checkPlacement, checkSize, MAX_RECORD_BYTES, recordBytes } from "./record-checks.js";
import {
  PunctuationType,
  type Cancellable,
  type Headers,
  type Processor,
  type ProcessorContext,
  type Punctuator,
  type RecordMetadata,
  type StreamRecord,
} from "./processor.js";

export interface InputRecord extends RecordOrigin {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
}

export interface OutputRecord {
  topic: string;
  /** Set for changelog records (the task's partition); otherwise the producer partitions by key. */
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
}

export const ErrorHandling = { DeadLetter: "dead-letter", Fail: "fail" } as const;
export type ErrorHandling = (typeof ErrorHandling)[keyof typeof ErrorHandling];

export interface TaskOptions {
  applicationId: string;
  topology: Topology;
  subtopology: Subtopology;
  partition: number;
  stores: ReadonlyMap<string, KeyValueStore<unknown, unknown>>;
  onError: ErrorHandling;
  /** The wall clock, in ms (injected so the test driver controls it). */
  now: () => number;
  /** Called for errors that are routed to the dead-letter topic (for logs and metrics). */
  onDeadLetter?: (error: SagastreamError) => void;
  /** Partitions of its source topics (co-partitioned): checks keyPartitioned sources. */
  partitionCount?: number | undefined;
  /** The largest record an input may make, key, value and headers (default MAX_RECORD_BYTES). */
  maxRecordBytes?: number | undefined;
}

/** What a forward that reached sinks only returns: there is nothing to wait for. */
const FORWARDED = Promise.resolve();

interface Schedule {
  intervalMs: number;
  type: PunctuationType;
  punctuator: Punctuator;
  nextAt: number;
  cancelled: boolean;
}

export class Task {
  readonly id: string;
  private readonly processors = new Map<string, Processor<unknown, unknown, unknown, unknown>>();
  private readonly schedules: Schedule[] = [];
  /** Stream-time schedules ever made: without any, a record needs no punctuation call. */
  private streamTimeSchedules = 0;
  private outputs: OutputRecord[] = [];
  private recordOutputs: OutputRecord[] = [];
  private metadata: RecordMetadata | undefined;
  private streamTime = -1;
  private processedSinceCommit = 0;

  constructor(private readonly options: TaskOptions) {
    this.id = `${options.subtopology.id}_${options.partition}`;
  }

  get partition(): number {
    return this.options.partition;
  }

  /** Records processed (or dead-lettered) in the open commit interval. */
  get uncommitted(): number {
    return this.processedSinceCommit;
  }

  async init(): Promise<void> {
    const { topology, subtopology } = this.options;
    for (const name of subtopology.nodes) {
      const node = topology.node(name);
      if (node.kind === "processor") this.processors.set(name, node.create());
    }
    for (const [name, processor] of this.processors) await processor.init?.(this.contextFor(name));
  }

  private readonly contexts = new Map<string, ProcessorContext<unknown, unknown>>();

  private contextFor(name: string): ProcessorContext<unknown, unknown> {
    let context = this.contexts.get(name);
    if (context === undefined) {
      context = this.createContext(name);
      this.contexts.set(name, context);
    }
    return context;
  }

  private createContext(name: string): ProcessorContext<unknown, unknown> {
    const { topology, partition, stores } = this.options;
    const node = topology.node(name);
    const allowed = node.kind === "processor" ? node.stores : [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below reads the live record
    const task = this;
    return {
      taskId: this.id,
      currentSystemTimeMs: () => this.options.now(),
      partition,
      get metadata() {
        return task.metadata;
      },
      forward: (record, child) => this.forward(name, record, child) ?? FORWARDED,
      store: <K, V>(store: string) => {
        const found = stores.get(store);
        if (found === undefined || !allowed.includes(store)) {
          throw new Error(`processor "${name}" has no store "${store}": attach it in the topology`);
        }
        return found as unknown as KeyValueStore<K, V>;
      },
      schedule: (intervalMs, type, punctuator) => this.schedule(intervalMs, type, punctuator),
    };
  }

  private schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    if (!(intervalMs > 0))
      throw new Error(`a punctuation interval must be positive (got ${intervalMs})`);
    const base =
      type === PunctuationType.WallClock ? this.options.now() : Math.max(this.streamTime, 0);
    const schedule: Schedule = {
      intervalMs,
      type,
      punctuator,
      nextAt: base + intervalMs,
      cancelled: false,
    };
    this.schedules.push(schedule);
    if (type === PunctuationType.StreamTime) this.streamTimeSchedules += 1;
    return {
      cancel: () => {
        schedule.cancelled = true;
      },
    };
  }

  /**
   * Hands `record` to the children of `from` in order. Sinks take it at once: a record that
   * reaches sinks alone costs no promise; the first processor hands the rest to `forwardFrom`.
   */
  private forward(
    from: string,
    record: StreamRecord<unknown, unknown>,
    only?: string,
  ): Promise<void> | undefined {
    let children = this.options.topology.childrenOf(from);
    if (only !== undefined) {
      children = children.filter((c) => c === only);
      if (children.length === 0) throw new Error(`"${from}" has no child "${only}"`);
    }
    for (let i = 0; i < children.length; i++) {
      const node = this.options.topology.node(children[i] as string);
      if (node.kind === "sink") this.emit(node, record);
      else if (node.kind === "processor") return this.forwardFrom(children, i, record);
    }
    return undefined;
  }

  private emit(sink: SinkNode, record: StreamRecord<unknown, unknown>): void {
    const { key, value } = record;
    this.recordOutputs.push({
      topic: sink.topic,
      key: key === null || key === undefined ? null : sink.keySerde.serialize(key),
      value: value === null || value === undefined ? null : sink.valueSerde.serialize(value),
      timestamp: record.timestamp,
      headers: record.headers,
    });
  }

  private async forwardFrom(
    children: readonly string[],
    first: number,
    record: StreamRecord<unknown, unknown>,
  ): Promise<void> {
    for (let i = first; i < children.length; i++) {
      const child = children[i] as string;
      const node = this.options.topology.node(child);
      if (node.kind === "sink") {
        this.emit(node, record);
      } else if (node.kind === "processor") {
        const processor = this.processors.get(child);
        try {
          await processor?.process(record, this.contextFor(child));
        } catch (thrown) {
          // The engine's own errors say what happened, and whether it may be retried.
          if (thrown instanceof SagastreamError || this.metadata === undefined) throw thrown;
          throw new ProcessingError(this.metadata, child, toError(thrown));
        }
      }
    }
  }

  /** Processes one input record; its effects become part of the next commit. */
  async process(input: InputRecord): Promise<void> {
    const source = this.sourceFor(input.topic);
    this.metadata = { topic: input.topic, partition: input.partition, offset: input.offset };
    this.processedSinceCommit += 1;
    try {
      this.checkPlacement(source, input);
      let record: StreamRecord<unknown, unknown>;
      // Only serdes that read a registry prepare (an await costs a turn of the microtask queue).
      const { keySerde, valueSerde } = source;
      if (input.key !== null && keySerde.prepare !== undefined) await keySerde.prepare(input.key);
      if (input.value !== null && valueSerde.prepare !== undefined)
        await valueSerde.prepare(input.value);
      try {
        record = {
          key: input.key === null ? null : source.keySerde.deserialize(input.key),
          value: input.value === null ? null : source.valueSerde.deserialize(input.value),
          timestamp: input.timestamp,
          headers: input.headers,
        };
      } catch (thrown) {
        throw new DeserializationError(input, toError(thrown));
      }
      this.streamTime = Math.max(this.streamTime, input.timestamp);
      const forwarding = this.forward(source.name, record);
      if (forwarding !== undefined) await forwarding;
      this.checkSizes(input);
      this.acceptUnit();
    } catch (thrown) {
      this.rejectUnit();
      // A retriable error (a registry out of reach) is the owner's to retry: the record was
      // rolled back whole and is processed again; only records that can never succeed go to
      // the dead-letter topic.
      const fatal = !(thrown instanceof SagastreamError) || thrown.retriable;
      if (fatal || this.options.onError === ErrorHandling.Fail) {
        this.processedSinceCommit -= 1;
        throw thrown;
      }
      this.deadLetter(input, thrown);
    } finally {
      this.metadata = undefined;
    }
    if (this.streamTimeSchedules > 0) {
      await this.punctuate(PunctuationType.StreamTime, this.streamTime);
    }
  }

  /** Fires the wall-clock punctuators that are due. */
  async punctuateWallClock(): Promise<void> {
    await this.punctuate(PunctuationType.WallClock, this.options.now());
  }

  private async punctuate(type: PunctuationType, time: number): Promise<void> {
    for (const schedule of this.schedules) {
      if (schedule.cancelled || schedule.type !== type || time < schedule.nextAt) continue;
      // Fire once for the time reached, then skip to the next interval after it.
      schedule.nextAt +=
        Math.ceil((time - schedule.nextAt + 1) / schedule.intervalMs) * schedule.intervalMs;
      try {
        await schedule.punctuator(time);
        this.acceptUnit();
      } catch (thrown) {
        this.rejectUnit();
        throw thrown; // no input record to dead-letter: the owner decides (log, or fail the task)
      }
    }
  }

  private readonly sources = new Map<string, SourceNode>();

  /** The source node reading `topic` (looked up once per topic: it is asked per record). */
  private sourceFor(topic: string): SourceNode {
    let source = this.sources.get(topic);
    if (source !== undefined) return source;
    for (const name of this.options.subtopology.nodes) {
      const node = this.options.topology.node(name);
      if (node.kind === "source" && node.topics.includes(topic)) {
        source = node;
        break;
      }
    }
    if (source === undefined) throw new Error(`task ${this.id} has no source for topic "${topic}"`);
    this.sources.set(topic, source);
    return source;
  }

  private checkPlacement(source: SourceNode, input: InputRecord): void {
    const count = this.options.partitionCount;
    if (source.keyPartitioned !== true || count === undefined || input.key === null) return;
    checkPlacement(input, input.key, this.options.partition, count);
  }

  /** Every record the input made fits in a broker's record (outputs and changelog writes). */
  private checkSizes(input: InputRecord): void {
    const limit = this.options.maxRecordBytes ?? MAX_RECORD_BYTES;
    for (const output of this.recordOutputs) {
      checkSize(input, output.topic, recordBytes(output), limit);
    }
    for (const [name, store] of this.options.stores) {
      if (this.options.topology.stores.get(name)?.changelog !== true) continue;
      const topic = changelogTopic(this.options.applicationId, name);
      checkSize(input, topic, store.largestRecordWrite(), limit);
    }
  }

  private acceptUnit(): void {
    for (const store of this.options.stores.values()) store.acceptRecord();
    for (const output of this.recordOutputs) this.outputs.push(output);
    this.recordOutputs.length = 0;
  }

  private rejectUnit(): void {
    for (const store of this.options.stores.values()) store.rejectRecord();
    this.recordOutputs.length = 0;
  }

  private deadLetter(input: InputRecord, error: SagastreamError): void {
    this.options.onDeadLetter?.(error);
    this.outputs.push({
      topic: deadLetterTopic(this.options.applicationId),
      key: input.key,
      value: input.value,
      timestamp: input.timestamp,
      headers: deadLetterHeaders(input.headers, error, input),
    });
  }

  /** Whether the open interval holds nothing to commit: no record, output or store write. */
  get idle(): boolean {
    if (this.processedSinceCommit > 0 || this.outputs.length > 0) return false;
    for (const store of this.options.stores.values()) if (store.hasChanges) return false;
    return true;
  }

  /**
   * Ends the commit interval and returns everything its commit must write: sink records,
   * dead letters, changelog records, and how many records it covers. Processing may go on
   * into the next interval while that commit is in flight; only one may be in flight. Each
   * seal must be followed by `committed` or `aborted`: the stores keep the interval until then.
   */
  seal(): { outputs: OutputRecord[]; records: number } {
    const changelog: OutputRecord[] = [];
    const timestamp = this.options.now();
    for (const [name, store] of this.options.stores) {
      const writes = store.seal();
      if (this.options.topology.stores.get(name)?.changelog !== true) continue;
      const topic = changelogTopic(this.options.applicationId, name);
      for (const [key, value] of writes) {
        changelog.push({
          topic,
          partition: this.options.partition,
          key,
          value,
          timestamp,
          headers: {},
        });
      }
    }
    const sealed = { outputs: [...this.outputs, ...changelog], records: this.processedSinceCommit };
    this.outputs = [];
    this.processedSinceCommit = 0;
    for (const processor of this.processors.values()) processor.sealed?.();
    return sealed;
  }

  /** The sealed interval's transaction committed: write its changes to the stores. */
  async committed(): Promise<void> {
    for (const processor of this.processors.values()) processor.committed?.();
    for (const store of this.options.stores.values()) await store.flush();
  }

  /** A commit failed: every write and output not in the stores' engines is gone. */
  aborted(): void {
    for (const processor of this.processors.values()) processor.aborted?.();
    for (const store of this.options.stores.values()) store.discard();
    this.outputs = [];
    this.recordOutputs.length = 0;
    this.processedSinceCommit = 0;
  }

  async close(): Promise<void> {
    for (const processor of this.processors.values()) await processor.close?.();
  }
}
