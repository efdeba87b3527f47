/**
 * The application's layout record (generations.ts), read and followed: workers and
 * participants read it at start to know which generation of topics to use, then poll it to
 * stop when a cut-over freezes their generation and start again on the next one.
 */
import { FetchIsolationLevels, ListOffsetTimestamps } from "@platformatic/kafka";
import { baseOptions, ReadCommittedConsumer, type KafkaSettings } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { KafkaPartitionFetcher } from "../topology/index.js";
import { decodeLayout, LAYOUT_KEY, layoutTopic, type AppLayout } from "./generations.js";

const POLL_MS = 1_000;

export class LayoutLog {
  private readonly consumer: ReadCommittedConsumer;
  private readonly fetcher: KafkaPartitionFetcher;
  private readonly topic: string;
  private next = -1n;
  private latest: AppLayout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    settings: KafkaSettings,
    applicationId: string,
    private readonly logger?: Logger,
  ) {
    this.topic = layoutTopic(applicationId);
    // Never joins its group (the library wants one named): it lists offsets and fetches.
    this.consumer = new ReadCommittedConsumer({
      ...baseOptions(settings),
      groupId: `${applicationId}-layout-reader`,
      autocommit: false,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    this.fetcher = new KafkaPartitionFetcher(this.consumer);
  }

  /** The latest layout record, read to the end now (undefined: never repartitioned). */
  async read(): Promise<AppLayout | undefined> {
    if (this.next < 0n) {
      if (!(await this.exists())) return undefined;
      const listed = await this.consumer.listOffsets({
        topics: [this.topic],
        partitions: { [this.topic]: [0] },
        timestamp: ListOffsetTimestamps.EARLIEST,
      });
      this.next = listed.get(this.topic)?.[0] ?? 0n;
    }
    for (;;) {
      const [fetched] = await this.fetcher.fetch(
        [{ topic: this.topic, partition: 0, offset: this.next }],
        0,
      );
      // (a fetch session leaves out a partition with nothing new)
      if (fetched === undefined) return this.latest;
      if ((fetched.errorCode ?? 0) !== 0) {
        throw new Error(`reading ${this.topic}: the broker answered error ${fetched.errorCode}`);
      }
      for (const record of fetched.records) {
        if (record.key?.toString() === LAYOUT_KEY && record.value !== null) {
          this.latest = decodeLayout(record.value);
        }
      }
      this.next = fetched.next > this.next ? fetched.next : this.next;
      if (this.next >= fetched.lastStable) return this.latest;
    }
  }

  private async exists(): Promise<boolean> {
    const metadata = await this.consumer
      .metadata({ topics: [this.topic], forceUpdate: true, retries: 0 })
      .catch(() => undefined); // "Unknown topic": no layout yet
    return (metadata?.topics.get(this.topic)?.partitionsCount ?? 0) > 0;
  }

  /**
   * Calls `onChange` with each new layout record, polling every second, until `close`; a call
   * that fails is made again at the next poll.
   */
  follow(onChange: (layout: AppLayout) => Promise<void>): void {
    let known = this.latest;
    const poll = async () => {
      const layout = await this.read();
      if (layout !== undefined && layout.at !== known?.at) {
        await onChange(layout);
        known = layout;
      }
    };
    const tick = () => {
      this.polling ??= poll()
        .catch((error: unknown) => {
          this.logger?.warn(
            { err: error },
            `following ${this.topic} failed (reading it, or starting what it names); trying again`,
          );
        })
        .finally(() => {
          this.polling = undefined;
        });
    };
    this.timer = setInterval(tick, POLL_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.consumer.close(true);
  }
}
