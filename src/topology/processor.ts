/** What a processor sees: records, its context, its stores, punctuation. */
import type { WritableStore } from "../state/index.js";

export type Headers = Record<string, Buffer>;

export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Event time in ms: the input record's timestamp, inherited by what it forwards. */
  timestamp: number;
  headers: Headers;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: string;
}

export const PunctuationType = {
  /** Fires as the wall clock passes each interval (driven by the runtime's timer). */
  WallClock: "wall-clock",
  /** Fires as the task's stream time (the largest record timestamp seen) passes each interval. */
  StreamTime: "stream-time",
} as const;
export type PunctuationType = (typeof PunctuationType)[keyof typeof PunctuationType];

export type Punctuator = (timestamp: number) => void | Promise<void>;

export interface Cancellable {
  cancel(): void;
}

export interface ProcessorContext<KOut, VOut> {
  /** `${subtopology}_${partition}`, stable across restarts. */
  readonly taskId: string;
  readonly partition: number;
  /** The input record being processed; undefined inside a punctuator. */
  readonly metadata: RecordMetadata | undefined;
  /** The wall clock as the task sees it (the test driver's clock under test), in ms. */
  currentSystemTimeMs(): number;
  /** Sends a record to every child (or only `child`). */
  forward(record: StreamRecord<KOut, VOut>, child?: string): Promise<void>;
  store<K, V>(name: string): WritableStore<K, V>;
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
}

export interface Processor<KIn, VIn, KOut = never, VOut = never> {
  init?(context: ProcessorContext<KOut, VOut>): void | Promise<void>;
  process(
    record: StreamRecord<KIn, VIn>,
    context: ProcessorContext<KOut, VOut>,
  ): void | Promise<void>;
  close?(): void | Promise<void>;
  /**
   * The task sealed its commit interval: what was processed since the last seal goes in the
   * transaction now in flight, which `committed` or `aborted` then settles (for work that
   * lasts until its outputs are out, such as spans).
   */
  sealed?(): void;
  committed?(): void;
  /** The interval in flight aborted, and with it what was processed since. */
  aborted?(): void;
}
