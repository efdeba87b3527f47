/**
 * A saga engine worker: the saga topology on the topology runtime, in a consumer group with
 * its peers, serving the HTTP API (queries routed to the owner of each saga, operator
 * requests, metrics). It creates the engine's topics when missing.
 */
import { randomUUID } from "node:crypto";
import {
  kafkaSagaHistory,
  apiTokensFromEnv,
  type ApiTokens,
  SagaQueries,
  sagaMetrics,
  startApiServer,
  type ApiServer,
  type SagaApiBackend,
  type SagaHistoryReader,
  type WorkerStatus,
} from "../api/index.js";
import type { KafkaSecurity } from "../config/index.js";
import {
  createProducer,
  deadLetterTopic,
  type KafkaProducer,
  type KafkaSettings,
} from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import {
  DrMonitor,
  participantGroup,
  registerDrMetrics,
  ScalingMonitor,
  type ScalingReport,
  type ScalingTriggers,
} from "../ops/index.js";
import { consoleRoutes } from "../console/index.js";
import type { AvroCodec } from "../schema/index.js";
import {
  avroSagaSerdes,
  ensureSagaTopics,
  generationId,
  generationTopic,
  initialLayout,
  LayoutLog,
  defaultRegion,
  standingBy,
  type AppLayout,
  SAGA_HEADERS,
  SagaIndexes,
  SagaRegistry,
  sagaTopics,
  sagaTopology,
  type AnySagaDefinition,
  type SagaControl,
  type SagaLimits,
  type SagaSerdes,
  type SagaStart,
} from "../saga/index.js";
import { ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import { flushTracing, startTracing } from "../tracing/index.js";
import { registerScalingMetrics } from "./scaling-metrics.js";

/** Measured: 5,000 made transactions of seconds while draining and stalled the participants. */
const SAGA_MAX_UNCOMMITTED_RECORDS = 1_000;
export interface SagaWorkerOptions {
  applicationId: string;
  brokers: string[];
  /** SASL and TLS for every Kafka client of the worker (default: the process default). */
  security?: KafkaSecurity | undefined;
  sagas: readonly AnySagaDefinition[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each start has its own event type
  starts: readonly SagaStart<any>[];
  stateDir: string;
  /** Partitions of the engine topics it creates (default 6). */
  partitions?: number;
  guarantee?: ProcessingGuarantee;
  /** The engine's messages are Avro: their schemas are registered through it at start. */
  codec: AvroCodec;
  timerIntervalMs?: number;
  /** How often each task commits its work (ms; see StreamsAppOptions.commitIntervalMs). */
  commitIntervalMs?: number | undefined;
  sessionTimeoutMs?: number;
  /** Warm copies of each task's stores kept by other workers (default 0; see StreamsAppOptions). */
  numStandbyReplicas?: number;
  /** The longest `stop` waits for a clean stop (ms, default 20 s; see StreamsAppOptions). */
  shutdownTimeoutMs?: number;
  concurrency?: number;
  /**
   * How long a saga that ended stays in the worker's store, queryable by id (ms, default 7
   * days); its history stays in the saga-events log.
   */
  retentionMs?: number;
  /** What a saga may carry (default DEFAULT_SAGA_LIMITS: data 256 KiB, a result 64 KiB). */
  limits?: Partial<SagaLimits>;
  /**
   * The HTTP API (default: 127.0.0.1, a free port, tokens from the environment, see
   * api/auth.ts); false serves none. `host` is the address bound, `advertisedUrl` the one the
   * group is told.
   */
  api?: { host?: string; port?: number; advertisedUrl?: string; tokens?: ApiTokens } | false;
  /**
   * The region (cluster) this worker runs in (default SAGASTREAM_REGION, else "primary"): it
   * runs the application while its layout names this region and stands by otherwise, as a
   * disaster-recovery region's workers do until a failover (ops/dr-failover.ts).
   */
  region?: string | undefined;
  /**
   * The DR cluster MirrorMaker 2 fills: the worker then exports the replication lag and the
   * RPO of its application as metrics (`sagastream_dr_*`, sampled every `intervalMs`, default
   * 10 s); one worker of a group is enough. Off by default.
   */
  disasterRecovery?: { brokers: string[]; intervalMs?: number | undefined } | undefined;
  /** Scaling advice (GET /scaling): the triggers and how often the group's lag is sampled. */
  scaling?: { triggers?: Partial<ScalingTriggers>; intervalMs?: number } | undefined;
  logger: Logger;
}

export class SagaWorker {
  readonly registry: SagaRegistry;
  private readonly kafka: KafkaSettings;
  private running: StreamsApp | undefined;
  private producer: KafkaProducer | undefined;
  private serdes: SagaSerdes | undefined;
  private server: ApiServer | undefined;
  private readonly queries: { current: SagaQueries | undefined } = { current: undefined };
  /** The status index of each task open in this worker (the tasks publish them). */
  private readonly indexes = new SagaIndexes();
  private history: SagaHistoryReader | undefined;
  private scaling: ScalingMonitor | undefined;
  private layoutLog: LayoutLog | undefined;
  private readonly drMonitor: DrMonitor | undefined;
  /** The layout it follows (undefined before start). */
  private layout: AppLayout | undefined;
  private readonly metrics = sagaMetrics(
    () => this.running,
    () => this.queries.current,
  );

  constructor(private readonly options: SagaWorkerOptions) {
    this.registry = new SagaRegistry(options.sagas);
    registerScalingMetrics(this.metrics.registry, () => this.scaling?.latest);
    this.kafka = {
      brokers: options.brokers,
      clientId: `${options.applicationId}-worker`,
      logger: options.logger,
      ...(options.security === undefined ? {} : { security: options.security }),
    };
    const dr = options.disasterRecovery;
    if (dr !== undefined) {
      this.drMonitor = new DrMonitor({
        primary: this.kafka,
        dr: { ...this.kafka, brokers: dr.brokers },
        applicationId: options.applicationId,
        intervalMs: dr.intervalMs,
        logger: options.logger,
      });
      registerDrMetrics(this.metrics.registry, this.drMonitor);
    }
  }

  /** The partition count of the generation it runs (or was told to use before any runs). */
  get partitions(): number {
    return this.layout?.partitions ?? this.options.partitions ?? 6;
  }

  /** The generation of the application's topics it runs (generations.ts). */
  get generation(): number {
    return this.layout?.generation ?? 0;
  }

  /** The runtime, once started. */
  get app(): StreamsApp {
    if (this.running === undefined) throw new Error("the saga worker is not running");
    return this.running;
  }

  /** The URL of this worker's HTTP API (empty when it serves none). */
  get apiAddress(): string {
    return this.server?.address ?? "";
  }

  /**
   * Starts on the generation the application's layout names live (generation 0 when it was
   * never repartitioned), then follows the layout: a cut-over freezes its generation and it
   * stops; once the next is live it starts on that one.
   */
  async start(): Promise<void> {
    const { options } = this;
    // Off unless the OTEL_* variables ask for it (then once per process; see src/tracing).
    await startTracing({ serviceName: "sagastream-worker" });
    this.layoutLog = new LayoutLog(this.kafka, options.applicationId, options.logger);
    const layout = (await this.layoutLog.read()) ?? initialLayout(this.partitions);
    if (options.partitions !== undefined && layout.partitions !== options.partitions) {
      options.logger.warn(
        `${options.applicationId} runs on ${layout.partitions} partitions (generation ${layout.generation}), not the ${options.partitions} configured: its layout says so`,
      );
    }
    if (options.api !== false) {
      this.server = await startApiServer({
        host: options.api?.host ?? "127.0.0.1",
        port: options.api?.port ?? 0,
        advertisedUrl:
          options.api?.advertisedUrl ?? (process.env["SAGASTREAM_API_ADVERTISED_URL"] || undefined),
        tokens: options.api?.tokens ?? apiTokensFromEnv(),
        backend: () => this.backend(),
        ui: (group, tokens) =>
          consoleRoutes({
            group,
            tokens,
            logger: options.logger,
            sources: {
              applicationId: options.applicationId,
              kafka: { ...this.kafka, clientId: `${options.applicationId}-console` },
              codec: options.codec,
              deadLetterTopics: () => this.deadLetterTopics(),
            },
          }),
        logger: options.logger,
      });
    }
    await this.follow(layout);
    this.layoutLog.follow((next) => this.follow(next));
    this.drMonitor?.start();
  }

  /** The region it runs in (SagaWorkerOptions.region). */
  get region(): string {
    return this.options.region ?? defaultRegion();
  }

  /**
   * Runs what the layout says: its generation when live in this worker's region; nothing while
   * it is frozen or runs in another region.
   */
  private async follow(layout: AppLayout): Promise<void> {
    const why = standingBy(layout, this.region);
    if (
      this.running !== undefined &&
      (why !== undefined || layout.generation !== this.generation)
    ) {
      this.options.logger.info(
        `${why ?? `generation ${layout.generation} is live`}: stopping generation ${this.generation}`,
      );
      await this.stopGeneration();
    } else if (this.running === undefined && why !== undefined) {
      this.options.logger.info(`standing by: ${why}`);
    }
    this.layout = layout;
    if (why === undefined && this.running === undefined) await this.startGeneration();
  }

  private async startGeneration(): Promise<void> {
    const { options, generation } = this;
    const appId = generationId(options.applicationId, generation);
    await ensureSagaTopics(
      this.kafka,
      options.applicationId,
      this.registry.participants(),
      this.partitions,
      options.starts.map((s) => s.topic),
      generation,
    );
    const serdes = await avroSagaSerdes(
      options.codec,
      options.applicationId,
      this.registry.participants(),
      generation,
    );
    this.serdes = serdes;
    const app = new StreamsApp({
      applicationId: appId,
      brokers: options.brokers,
      security: options.security,
      topology: sagaTopology({
        applicationId: options.applicationId,
        generation,
        registry: this.registry,
        starts: options.starts,
        serdes,
        timerIntervalMs: options.timerIntervalMs,
        observer: this.metrics.observer,
        indexes: this.indexes,
        limits: options.limits,
        retentionMs: options.retentionMs,
        logger: options.logger,
      }),
      stateDir: options.stateDir,
      guarantee: options.guarantee ?? ProcessingGuarantee.ExactlyOnce,
      logger: options.logger,
      sessionTimeoutMs: options.sessionTimeoutMs,
      shutdownTimeoutMs: options.shutdownTimeoutMs,
      numStandbyReplicas: options.numStandbyReplicas,
      commitIntervalMs: options.commitIntervalMs,
      // Sagas are a closed loop: small commits get commands to participants sooner.
      maxUncommittedRecords: SAGA_MAX_UNCOMMITTED_RECORDS,
      concurrency: options.concurrency,
      advertisedAddress: this.apiAddress,
    });
    await app.start();
    this.producer = createProducer(this.kafka);
    this.running = app;
    this.history = kafkaSagaHistory({
      kafka: this.kafka,
      topic: sagaTopics(options.applicationId, generation).events,
      codec: options.codec,
    });
    this.queries.current = new SagaQueries(app, this.partitions, this.indexes, this.history);
    this.scaling = this.scalingMonitor(app);
    this.scaling.start();
  }

  private async stopGeneration(): Promise<void> {
    const { running, producer, history, scaling } = this;
    this.running = undefined;
    this.queries.current = undefined;
    this.producer = undefined;
    this.history = undefined;
    this.scaling = undefined;
    await scaling?.stop();
    await running?.stop();
    await producer?.close();
    await history?.close();
  }

  /** Samples the group's backlog and this worker's busy share for the scaling advice. */
  private scalingMonitor(app: StreamsApp): ScalingMonitor {
    const { options } = this;
    const topics = sagaTopics(options.applicationId, this.generation);
    const loop = app.metrics.loop;
    let last = { at: Date.now(), processMs: loop.processMs };
    const monitor = new ScalingMonitor({
      kafka: this.kafka,
      groupId: generationId(options.applicationId, this.generation),
      topics: [
        topics.replies,
        topics.control,
        ...new Set(options.starts.map((s) => generationTopic(s.topic, this.generation))),
      ],
      triggers: options.scaling?.triggers,
      intervalMs: options.scaling?.intervalMs,
      busy: () => {
        const now = { at: Date.now(), processMs: loop.processMs };
        const share = (now.processMs - last.processMs) / Math.max(1, now.at - last.at);
        last = now;
        return Math.min(1, share);
      },
      logger: options.logger,
    });
    return monitor;
  }

  /** The latest scaling advice, sampled now when there is none yet. */
  async scalingReport(): Promise<ScalingReport> {
    if (this.scaling === undefined) throw new Error("the saga worker has not started");
    return this.scaling.latest ?? (await this.scaling.sample());
  }

  /** The sagas in this worker's stores, by status (its partitions' indexes: no scan). */
  sagaCounts(): Promise<Map<string, number>> {
    return this.queries.current?.countByStatus() ?? Promise.resolve(new Map<string, number>());
  }

  /** Asks the saga's owner to cancel or retry it (applied in order with its other inputs). */
  request(sagaId: string, control: SagaControl): Promise<void> {
    return this.requestMany([{ sagaId, control }]);
  }

  /** Many such requests in one send. */
  async requestMany(requests: { sagaId: string; control: SagaControl }[]): Promise<void> {
    const { producer, serdes } = this;
    if (producer === undefined || serdes === undefined) {
      throw new Error("the saga worker has not started");
    }
    const topic = sagaTopics(this.options.applicationId, this.generation).control;
    await producer.send({
      messages: requests.map(({ sagaId, control }) => ({
        topic,
        key: sagaId,
        value: serdes.control.serialize(control),
        headers: { [SAGA_HEADERS.messageId]: Buffer.from(randomUUID()) },
      })),
    });
  }

  private backend(): SagaApiBackend | undefined {
    const app = this.running;
    const queries = this.queries.current;
    if (app === undefined || queries === undefined) return undefined;
    return {
      queries,
      members: () => app.members(),
      stuck: () => app.metrics.stuck.list(),
      request: (sagaId, control) => this.request(sagaId, control),
      requestMany: (requests) => this.requestMany(requests),
      worker: (address) => this.workerStatus(app, address),
      scaling: () => this.scalingReport(),
      registry: this.metrics.registry,
    };
  }

  /** The live generation's dead-letter topics: its workers', then each participant's. */
  private deadLetterTopics(): string[] {
    const app = this.options.applicationId;
    return [
      deadLetterTopic(generationId(app, this.generation)),
      ...this.registry
        .participants()
        .map((p) => deadLetterTopic(participantGroup(app, this.generation, p))),
    ];
  }

  /** What this worker runs now, for the console's group view. */
  private workerStatus(app: StreamsApp, address: string): WorkerStatus {
    const now = Date.now();
    return {
      address,
      active: app.ownedPartitions(),
      standby: app.standbyPartitions(),
      restoring: [...app.metrics.restoring].map(([task, remaining]) => ({ task, remaining })),
      lag: [...app.metrics.lag].map(([input, records]) => ({ input, records })),
      stuck: app.metrics.stuck.list().map((s) => ({
        where: s.where,
        seconds: Math.round((now - s.since) / 1000),
        reason: s.reason,
      })),
      deadLetters: app.metrics.deadLetters,
      commits: app.metrics.commits,
    };
  }

  async stop(): Promise<void> {
    await this.drMonitor?.stop();
    await this.layoutLog?.close();
    await this.server?.close();
    await this.stopGeneration();
    await flushTracing();
  }
}
