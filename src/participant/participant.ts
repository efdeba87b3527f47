/**
 * The participant SDK: consumes `<app>.commands.<name>` (read committed), handles each command
 * once (handle-command.ts: one PostgreSQL transaction with its idempotency record), and replies
 * on `<app>.replies` (replies.ts). A command's offset is committed only after its transaction
 * committed and its reply was sent (or written to the outbox); a command that cannot be
 * decoded goes to `<group>.dlq`. Calls to downstreams go through a circuit breaker each; while
 * one is open the optional fallback handler answers instead.
 */
import type pg from "pg";
import { DeserializationError, toError } from "../errors/index.js";
import {
  createProducer,
  deadLetterTopic,
  ensureDeadLetterTopic,
  recordOrigin,
  sendDeadLetter,
  startConsuming,
  type ConsumedRecord,
  type KafkaSettings,
} from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import type { Outbox } from "../outbox/index.js";
import {
  avroSagaSerdes,
  generationId,
  initialLayout,
  LayoutLog,
  defaultRegion,
  standingBy,
  SAGA_HEADERS,
  sagaTopics,
  type AppLayout,
  TERMINAL_STATUSES,
  type SagaCommand,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import {
  CircuitBreakers,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
} from "./circuit-breaker.js";
import {
  handleCommand,
  type CommandHandler,
  type CommandHandling,
  type ParticipantStats,
} from "./handle-command.js";
import { IdempotencyStore } from "./idempotency.js";
import { CommandSpans } from "./command-spans.js";
import { flushTracing, startTracing } from "../tracing/index.js";
import { replyStatements, replyTo, ReplySender } from "./replies.js";

export type { CommandContext, CommandHandler, ParticipantStats } from "./handle-command.js";

export interface ParticipantOptions {
  name: string;
  /** The saga engine's application id: names the command and reply topics. */
  applicationId: string;
  kafka: KafkaSettings;
  /**
   * The region (cluster) it runs in (default SAGASTREAM_REGION, else "primary"): it consumes
   * while the application's layout names this region and stands by otherwise.
   */
  region?: string | undefined;
  pool: pg.Pool;
  /** A handler per command type, compensations included. */
  handlers: Readonly<Record<string, CommandHandler>>;
  /** Answers a command whose handler found a downstream's circuit open. */
  fallback?: CommandHandler;
  /** PostgreSQL schema of the idempotency table (default: the name, `-` → `_`). */
  schema?: string;
  idempotencyTtlMs?: number;
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** Commands and replies are Avro: their schemas are registered through it at start. */
  codec: AvroCodec;
  /**
   * Replies go straight to `<app>.replies` (default), or through this outbox, whose connector
   * routes to `<app>.replies`: written in the transaction that records the command's outcome,
   * so no crash can lose a reply (the saga would otherwise wait out the step's timeout).
   */
  replyOutbox?: Outbox | undefined;
  /** Partitions handled at once (order within each is kept). */
  concurrency?: number;
  logger?: Logger;
}

const WEEK_MS = 7 * 24 * 3600 * 1000;
/** The statuses that end a saga for good (a FAILED saga may still be retried or cancelled). */
const SAGA_ENDS = new Set<string>(TERMINAL_STATUSES);

export async function createParticipant(options: ParticipantOptions) {
  const settings: KafkaSettings = {
    ...options.kafka,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const stats: ParticipantStats = {
    succeeded: 0,
    refused: 0,
    failed: 0,
    duplicates: 0,
    nothingToUndo: 0,
    deadLettered: 0,
  };
  const handling: CommandHandling = {
    name: options.name,
    pool: options.pool,
    store: new IdempotencyStore(
      options.schema ?? options.name.replaceAll("-", "_"),
      options.idempotencyTtlMs ?? WEEK_MS,
    ),
    handlers: options.handlers,
    fallback: options.fallback,
    breakers: new CircuitBreakers({ ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker }),
    stats,
    logger: options.logger,
  };
  await handling.store.migrate(options.pool);
  // Off unless the OTEL_* variables ask for it (then once per process; see src/tracing).
  const traced = await startTracing({ serviceName: `sagastream-participant-${options.name}` });
  const producer = createProducer(settings);

  /** Consumes one generation's commands and saga ends (generations.ts) until stopped. */
  async function consumeGeneration(generation: number): Promise<() => Promise<void>> {
    const topics = sagaTopics(options.applicationId, generation);
    const groupId = `${generationId(options.applicationId, generation)}.participant.${options.name}`;
    const dlq = deadLetterTopic(groupId);
    const serdes = await avroSagaSerdes(
      options.codec,
      options.applicationId,
      [options.name],
      generation,
    );
    const commandSerde = serdes.command(options.name);
    await ensureDeadLetterTopic(settings, dlq);
    const replies = new ReplySender({
      topic: topics.replies,
      producer,
      pool: options.pool,
      outbox: options.replyOutbox,
      logger: options.logger,
    });

    async function decodeCommand(record: ConsumedRecord): Promise<SagaCommand | undefined> {
      try {
        if (record.value === undefined) throw new Error("the command has no value");
        await commandSerde.prepare?.(record.value);
        return commandSerde.deserialize(record.value);
      } catch (thrown) {
        const origin = recordOrigin(record);
        const error = new DeserializationError(origin, toError(thrown));
        options.logger?.warn({ ...origin, code: error.code }, error.message);
        await sendDeadLetter(producer, dlq, record, error, origin);
        stats.deadLettered += 1;
        return undefined;
      }
    }

    /** Handles one command record; resolves once its outcome is durable and its reply sent. */
    async function onCommand(record: ConsumedRecord, spans?: CommandSpans): Promise<void> {
      const command = await decodeCommand(record);
      if (command === undefined) return;
      spans?.command(command);
      const outbox = options.replyOutbox;
      const handled = await handleCommand(handling, command, async (defer, decided, delayMs) => {
        if (outbox === undefined || delayMs > 0) return false;
        const reply = replyTo(serdes.reply, command, record, decided, spans?.reply());
        defer(await replyStatements(outbox, reply));
        return true;
      });
      spans?.handled(handled);
      if (handled.replied === true) return;
      const reply = replyTo(serdes.reply, command, record, handled, spans?.reply());
      if (handled.delayMs > 0) replies.later(reply, handled.delayMs);
      else await replies.send(reply);
    }

    async function onTracedCommand(record: ConsumedRecord): Promise<void> {
      const spans = new CommandSpans(options.name, record);
      try {
        await onCommand(record, spans);
        spans.end();
      } catch (error) {
        spans.fail(error);
        throw error;
      }
    }

    const consuming = await startConsuming(settings, {
      groupId,
      topics: [topics.commands(options.name)],
      concurrency: options.concurrency ?? 1,
      handle: traced ? onTracedCommand : (record) => onCommand(record),
    });
    // Its records of a saga expire a TTL after the saga ends (idempotency.ts): the ends are
    // read from the saga-events log, by each record's status header (nothing is decoded).
    let ends;
    try {
      ends = await startConsuming(settings, {
        groupId: `${groupId}.saga-ends`,
        topics: [topics.events],
        startFrom: "earliest",
        handle: async ({ key, headers }) => {
          const status = headers.get(SAGA_HEADERS.status)?.toString();
          if (key !== undefined && SAGA_ENDS.has(status ?? "")) {
            await handling.store.sagasEnded(options.pool, [key.toString()]);
          }
        },
      });
    } catch (error) {
      await consuming.stop();
      throw error;
    }
    return async () => {
      replies.dropDelayed(); // like a crash: the saga's timeout covers them
      await consuming.stop();
      await ends.stop();
    };
  }

  // Follows the application's layout: stops while a cut-over freezes its generation, and
  // consumes the next generation once it is live.
  const layoutLog = new LayoutLog(settings, options.applicationId, options.logger);
  let running: { generation: number; stop: () => Promise<void> } | undefined;
  const region = options.region ?? defaultRegion();
  const follow = async (layout: AppLayout) => {
    const why = standingBy(layout, region);
    if (running !== undefined && (why !== undefined || layout.generation !== running.generation)) {
      options.logger?.info(
        `participant ${options.name}: ${why ?? `generation ${layout.generation} is live`}: leaving generation ${running.generation}`,
      );
      const stopping = running;
      running = undefined;
      await stopping.stop();
    } else if (running === undefined && why !== undefined) {
      options.logger?.info(`participant ${options.name} standing by: ${why}`);
    }
    if (why === undefined && running === undefined) {
      running = { generation: layout.generation, stop: await consumeGeneration(layout.generation) };
    }
  };
  try {
    await follow((await layoutLog.read()) ?? initialLayout(0));
  } catch (error) {
    await layoutLog.close();
    await producer.close();
    throw error;
  }
  layoutLog.follow(follow);

  const purge = setInterval(() => {
    handling.store
      .purge(options.pool)
      .catch((error: unknown) => options.logger?.warn({ err: error }, "idempotency purge failed"));
  }, 60_000);
  purge.unref();

  return {
    stats,
    breakers: handling.breakers.all,
    async stop(): Promise<void> {
      clearInterval(purge);
      await layoutLog.close();
      await running?.stop();
      running = undefined;
      await producer.close();
      await flushTracing();
    },
  };
}

export type Participant = Awaited<ReturnType<typeof createParticipant>>;
