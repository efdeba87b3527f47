/**
 * An in-memory, deterministic driver for a topology, like Kafka Streams' TopologyTestDriver:
 * pipe records into input topics, read output topics, dead letters and changelogs, read stores,
 * advance the wall clock. The same Task, processors and store API as the runtime; every piped
 * record is committed at once.
 */
import { deadLetterTopic } from "../kafka/index.js";
import { MemoryBytesStore, KeyValueStore, type ReadableStore, type Serde } from "../state/index.js";
import type { Topology } from "./builder.js";
import { partitionForKey } from "../kafka/index.js";
import type { Headers } from "./processor.js";
import { ErrorHandling, Task, type OutputRecord } from "./task.js";

export interface TestDriverOptions {
  applicationId?: string;
  /** Partitions of every topic (default 1); records go to partitions by key like the Java client. */
  partitions?: number;
  onError?: ErrorHandling;
  /** The wall clock's start, in ms (default 0). */
  startTime?: number;
  /** The largest record an input may make (default: the runtime's). */
  maxRecordBytes?: number;
}

export interface TestRecord<K, V> {
  key: K | null;
  value: V | null;
  timestamp: number;
  headers: Headers;
  partition: number;
}

export class TopologyTestDriver {
  readonly applicationId: string;
  private readonly partitions: number;
  private wallClock: number;
  private readonly tasks = new Map<string, Task>();
  private readonly stores = new Map<string, KeyValueStore<unknown, unknown>>(); // `${store}/${partition}`
  private readonly topics = new Map<string, OutputRecord[]>();
  private readonly offsets = new Map<string, number>();
  private started = false;

  constructor(
    private readonly topology: Topology,
    options: TestDriverOptions = {},
  ) {
    this.applicationId = options.applicationId ?? "test-app";
    this.partitions = options.partitions ?? 1;
    this.wallClock = options.startTime ?? 0;
    for (const sub of topology.subtopologies) {
      for (let partition = 0; partition < this.partitions; partition++) {
        const stores = new Map<string, KeyValueStore<unknown, unknown>>();
        for (const name of sub.stores) {
          const spec = topology.stores.get(name);
          if (spec === undefined) continue;
          const store = new KeyValueStore(
            name,
            new MemoryBytesStore(),
            spec.keySerde,
            spec.valueSerde,
          );
          stores.set(name, store);
          this.stores.set(`${name}/${partition}`, store);
        }
        const task = new Task({
          applicationId: this.applicationId,
          topology,
          subtopology: sub,
          partition,
          stores,
          onError: options.onError ?? ErrorHandling.DeadLetter,
          now: () => this.wallClock,
          partitionCount: this.partitions,
          maxRecordBytes: options.maxRecordBytes,
        });
        this.tasks.set(task.id, task);
      }
    }
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const task of this.tasks.values()) await task.init();
  }

  inputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>) {
    const sub = this.topology.subtopologyOf(topic);
    return {
      pipe: async (
        key: K | null,
        value: V | null,
        /** `partition`: where a producer with another partitioner would put it. */
        options: { timestamp?: number; headers?: Headers; partition?: number } = {},
      ) => {
        await this.start();
        const keyBytes = key === null ? null : keySerde.serialize(key);
        const partition =
          options.partition ?? (keyBytes === null ? 0 : partitionForKey(keyBytes, this.partitions));
        const offsetKey = `${topic}/${partition}`;
        const offset = this.offsets.get(offsetKey) ?? 0;
        this.offsets.set(offsetKey, offset + 1);
        const task = this.tasks.get(`${sub.id}_${partition}`);
        if (task === undefined) throw new Error(`no task for ${topic}/${partition}`);
        await task.process({
          topic,
          partition,
          offset: String(offset),
          key: keyBytes,
          value: value === null ? null : valueSerde.serialize(value),
          timestamp: options.timestamp ?? this.wallClock,
          headers: options.headers ?? {},
        });
        await this.commit(task);
      },
    };
  }

  private async commit(task: Task): Promise<void> {
    for (const output of task.seal().outputs) {
      const partition =
        output.partition ??
        (output.key === null ? 0 : partitionForKey(output.key, this.partitions));
      const records = this.topics.get(output.topic) ?? [];
      records.push({ ...output, partition });
      this.topics.set(output.topic, records);
    }
    await task.committed();
  }

  /** Moves the wall clock forward and fires the wall-clock punctuators that come due. */
  async advanceWallClockTime(ms: number): Promise<void> {
    await this.start();
    this.wallClock += ms;
    for (const task of this.tasks.values()) {
      await task.punctuateWallClock();
      await this.commit(task);
    }
  }

  /** Every record written to `topic` so far, decoded, in write order. */
  outputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>): TestRecord<K, V>[] {
    return (this.topics.get(topic) ?? []).map((r) => ({
      key: r.key === null ? null : keySerde.deserialize(r.key),
      value: r.value === null ? null : valueSerde.deserialize(r.value),
      timestamp: r.timestamp,
      headers: r.headers,
      partition: r.partition ?? 0,
    }));
  }

  /** The raw records of a topic (dead letters keep their original bytes). */
  rawTopic(topic: string): readonly OutputRecord[] {
    return this.topics.get(topic) ?? [];
  }

  deadLetters(): readonly OutputRecord[] {
    return this.rawTopic(deadLetterTopic(this.applicationId));
  }

  /** A store of one partition (default 0), read-only. */
  store<K, V>(name: string, partition = 0): ReadableStore<K, V> {
    const store = this.stores.get(`${name}/${partition}`);
    if (store === undefined) throw new Error(`no store "${name}" for partition ${partition}`);
    return store as unknown as ReadableStore<K, V>;
  }

  async close(): Promise<void> {
    for (const task of this.tasks.values()) await task.close();
  }
}
