/**
 * A saga engine worker: the saga topology on the topology runtime, in a consumer group with
 * its peers. It creates the engine's topics when missing (all with the same partition count,
 * so that a saga's messages share one partition everywhere) and refuses to run on topics that
 * are not co-partitioned.
 */
import type { Kafka } from "kafkajs";
import { TopologyError } from "../errors/index.js";
import { createKafka, withAdmin } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import type { AnySagaDefinition } from "./definition.js";
import { sagaTopics } from "./messages.js";
import { SagaRegistry } from "./registry.js";
import { sagaTopology, type SagaSerdes, type SagaStart } from "./topology.js";

export interface SagaWorkerOptions {
  applicationId: string;
  brokers: string[];
  sagas: readonly AnySagaDefinition[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each start has its own event type
  starts: readonly SagaStart<any>[];
  stateDir: string;
  /** Partitions of the engine topics it creates (default 6). */
  partitions?: number;
  guarantee?: ProcessingGuarantee;
  serdes?: SagaSerdes;
  timerIntervalMs?: number;
  sessionTimeoutMs?: number;
  concurrency?: number;
  logger: Logger;
}

/**
 * Creates the engine's topics, and the topics whose events start sagas, when missing; all get
 * `partitions` partitions. (Debezium would create an outbox topic with the broker's default
 * count, which is rarely the engine's.)
 */
export async function ensureSagaTopics(
  kafka: Kafka,
  applicationId: string,
  participants: readonly string[],
  partitions: number,
  startTopics: readonly string[] = [],
): Promise<void> {
  const topics = sagaTopics(applicationId);
  const wanted = [
    topics.events,
    topics.replies,
    topics.control,
    ...participants.map((p) => topics.commands(p)),
    ...startTopics,
  ];
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          // the saga-events log is the source of truth: keep it
          configEntries: topic === topics.events ? [{ name: "retention.ms", value: "-1" }] : [],
        })),
        waitForLeaders: true,
      });
    }
    const present = wanted.filter((t) => existing.has(t));
    if (present.length === 0) return;
    const metadata = await admin.fetchTopicMetadata({ topics: present });
    const wrong = metadata.topics.filter((t) => t.partitions.length !== partitions);
    if (wrong.length > 0) {
      throw new TopologyError(
        `saga topics must all have ${partitions} partitions (co-partitioned by saga id); ` +
          wrong.map((t) => `${t.name} has ${t.partitions.length}`).join(", ") +
          ": repartition them (sagastream ops) or set the worker's partitions to match",
      );
    }
  });
}

export class SagaWorker {
  readonly registry: SagaRegistry;
  readonly app: StreamsApp;
  private readonly kafka: Kafka;

  constructor(private readonly options: SagaWorkerOptions) {
    this.registry = new SagaRegistry(options.sagas);
    this.kafka = createKafka({
      brokers: options.brokers,
      clientId: `${options.applicationId}-admin`,
    });
    this.app = new StreamsApp({
      applicationId: options.applicationId,
      brokers: options.brokers,
      topology: sagaTopology({
        applicationId: options.applicationId,
        registry: this.registry,
        starts: options.starts,
        serdes: options.serdes,
        timerIntervalMs: options.timerIntervalMs,
        logger: options.logger,
      }),
      stateDir: options.stateDir,
      guarantee: options.guarantee ?? ProcessingGuarantee.ExactlyOnce,
      logger: options.logger,
      sessionTimeoutMs: options.sessionTimeoutMs,
      concurrency: options.concurrency,
    });
  }

  async start(): Promise<void> {
    await ensureSagaTopics(
      this.kafka,
      this.options.applicationId,
      this.registry.participants(),
      this.options.partitions ?? 6,
      this.options.starts.map((s) => s.topic),
    );
    await this.app.start();
  }

  async stop(): Promise<void> {
    await this.app.stop();
  }
}
