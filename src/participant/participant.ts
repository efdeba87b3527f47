/**
 * The participant SDK: consumes `<app>.commands.<name>`, runs the handler for each command's
 * type in a PostgreSQL transaction that also records the command as handled (so its effect
 * happens once however often it is delivered or retried), and replies on `<app>.replies`.
 *
 * Outcomes: a handler that returns succeeds (its result goes back to the saga); one that throws
 * CommandRefusedError refuses (recorded; the saga compensates); any other error is transient
 * (nothing recorded; the saga retries with backoff). Calls to downstreams go through a circuit
 * breaker each; while one is open the optional fallback handler answers instead. A compensation
 * whose command never succeeded here succeeds without running (nothing to undo), and voids that
 * command should it still arrive.
 */
import { Partitioners, type Consumer, type Kafka, type KafkaMessage, type Producer } from "kafkajs";
import type pg from "pg";
import {
  CircuitOpenError,
  CommandRefusedError,
  DeserializationError,
  toError,
  type RecordOrigin,
} from "../errors/index.js";
import {
  deadLetterTopic,
  ensureDeadLetterTopic,
  PRODUCER_RETRY,
  sendDeadLetter,
} from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import {
  avroSagaSerdes,
  idempotencyKey,
  nameUuid,
  SAGA_HEADERS,
  sagaTopics,
  StepAction,
  type SagaCommand,
  type SagaReply,
  type StepResult,
} from "../saga/index.js";
import type { Outbox } from "../outbox/index.js";
import type { AvroCodec } from "../schema/index.js";
import {
  CircuitBreaker,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
} from "./circuit-breaker.js";
import { IdempotencyStore, Outcome, type HandledCommand } from "./idempotency.js";

export interface CommandContext {
  /** Inside the transaction that records the command as handled: write your changes here. */
  client: pg.PoolClient;
  command: SagaCommand;
  /** Runs a call to `downstream` through its circuit breaker. */
  call<T>(downstream: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Sends the reply `ms` later, without holding up the partition (the effect commits now): a
   * slow acknowledgment, for demos and fault-injection tests of step timeouts.
   */
  delayReply: (ms: number) => void;
}

export type CommandHandler = (
  payload: Record<string, unknown>,
  context: CommandContext,
) => Promise<StepResult | undefined>;

export interface ParticipantOptions {
  name: string;
  /** The saga engine's application id: names the command and reply topics. */
  applicationId: string;
  kafka: Kafka;
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

export interface ParticipantStats {
  succeeded: number;
  refused: number;
  failed: number;
  duplicates: number;
  /** Compensations answered without running: their command never succeeded here. */
  nothingToUndo: number;
  deadLettered: number;
}

const WEEK_MS = 7 * 24 * 3600 * 1000;

export async function createParticipant(options: ParticipantOptions) {
  const topics = sagaTopics(options.applicationId);
  const groupId = `${options.applicationId}.participant.${options.name}`;
  const dlq = deadLetterTopic(groupId);
  const serdes = await avroSagaSerdes(options.codec, options.applicationId, [options.name]);
  const commandSerde = serdes.command(options.name);
  const store = new IdempotencyStore(
    options.schema ?? options.name.replaceAll("-", "_"),
    options.idempotencyTtlMs ?? WEEK_MS,
  );
  const breakerOptions = { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker };
  const breakers = new Map<string, CircuitBreaker>();
  const breaker = (downstream: string) => {
    let found = breakers.get(downstream);
    if (found === undefined) {
      found = new CircuitBreaker(downstream, breakerOptions);
      breakers.set(downstream, found);
    }
    return found;
  };
  const stats: ParticipantStats = {
    succeeded: 0,
    refused: 0,
    failed: 0,
    duplicates: 0,
    nothingToUndo: 0,
    deadLettered: 0,
  };

  await store.migrate(options.pool);
  await ensureDeadLetterTopic(options.kafka, dlq);

  /**
   * Runs the handler (or the fallback) and records the outcome, in one transaction; `decided`
   * runs in it just before it commits and says whether it wrote the reply (to the outbox).
   */
  async function handleOnce(
    command: SagaCommand,
    delay: { ms: number },
    decided: (client: pg.PoolClient, handled: HandledCommand) => Promise<boolean>,
  ): Promise<HandledCommand & { transient?: true; replied?: boolean }> {
    const key = idempotencyKey(command);
    const client = await options.pool.connect();
    const commit = async (handled: HandledCommand) => {
      const replied = await decided(client, handled);
      await client.query("COMMIT");
      return { ...handled, replied };
    };
    try {
      await client.query("BEGIN");
      const earlier = await store.find(client, key);
      if (earlier !== undefined) {
        stats.duplicates += 1;
        return await commit(
          earlier.outcome === Outcome.Voided
            ? { outcome: Outcome.Refused, reason: "compensated before it ran", result: {} }
            : earlier,
        );
      }
      if (command.action === StepAction.Undo) {
        const doKey = idempotencyKey({ ...command, action: StepAction.Do });
        const done = await store.find(client, doKey);
        if (done?.outcome !== Outcome.Success) {
          if (done === undefined) {
            await store.record(client, doKey, { outcome: Outcome.Voided, reason: "", result: {} });
          }
          const handled = { outcome: Outcome.Success, reason: "nothing to undo", result: {} };
          await store.record(client, key, handled);
          stats.nothingToUndo += 1;
          return await commit(handled);
        }
      }
      const handler = options.handlers[command.type];
      if (handler === undefined) {
        await client.query("ROLLBACK");
        stats.failed += 1;
        return {
          outcome: Outcome.Refused,
          reason: `participant ${options.name} has no handler for ${command.type}: deploy one`,
          result: {},
          transient: true,
        };
      }
      const context: CommandContext = {
        client,
        command,
        call: (downstream, fn) => breaker(downstream).run(fn),
        delayReply: (ms) => {
          delay.ms = ms;
        },
      };
      await client.query("SAVEPOINT handler");
      let handled: HandledCommand;
      try {
        handled = {
          outcome: Outcome.Success,
          reason: "",
          result: (await handler(command.payload, context)) ?? {},
        };
      } catch (thrown) {
        await client.query("ROLLBACK TO SAVEPOINT handler");
        if (thrown instanceof CircuitOpenError && options.fallback !== undefined) {
          handled = {
            outcome: Outcome.Success,
            reason: "",
            result: (await options.fallback(command.payload, context)) ?? {},
          };
        } else if (thrown instanceof CommandRefusedError) {
          handled = { outcome: Outcome.Refused, reason: thrown.message, result: {} };
        } else {
          throw thrown;
        }
      }
      await store.record(client, key, handled);
      const committed = await commit(handled);
      if (handled.outcome === Outcome.Success) stats.succeeded += 1;
      else stats.refused += 1;
      return committed;
    } catch (thrown) {
      await client.query("ROLLBACK").catch(() => undefined);
      stats.failed += 1;
      options.logger?.warn(
        { sagaId: command.sagaId, step: command.step, err: thrown },
        "command failed; the saga will retry",
      );
      return {
        outcome: Outcome.Refused,
        reason: toError(thrown).message,
        result: {},
        transient: true,
      };
    } finally {
      client.release();
    }
  }

  // A reply goes to its saga's partition: murmur2 of the saga id, as the engine computes it.
  const producer: Producer = options.kafka.producer({
    idempotent: true,
    retry: PRODUCER_RETRY,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const delayed = new Set<NodeJS.Timeout>();
  const consumer: Consumer = options.kafka.consumer({ groupId });

  async function deadLetter(message: KafkaMessage, origin: RecordOrigin, cause: Error) {
    const error = new DeserializationError(origin, cause);
    options.logger?.warn({ ...origin, code: error.code }, error.message);
    await sendDeadLetter(producer, dlq, message, error, origin);
    stats.deadLettered += 1;
  }

  /** The reply to `command` (delivered as `message`), with the headers that trace it. */
  function replyTo(
    command: SagaCommand,
    message: KafkaMessage,
    handled: HandledCommand & { transient?: true },
  ): OutgoingReply {
    const reply: SagaReply = {
      sagaId: command.sagaId,
      step: command.step,
      action: command.action,
      attempt: command.attempt,
      outcome: handled.outcome === Outcome.Success ? "success" : "failure",
      retriable: handled.transient === true,
      reason: handled.reason,
      result: handled.result,
    };
    const commandId = message.headers?.[SAGA_HEADERS.messageId]?.toString() ?? message.offset;
    const headers: Record<string, string> = {
      [SAGA_HEADERS.messageId]: nameUuid(`reply/${commandId}/${handled.outcome}`),
      [SAGA_HEADERS.causationId]: commandId,
    };
    for (const name of [
      SAGA_HEADERS.sagaId,
      SAGA_HEADERS.sagaType,
      SAGA_HEADERS.sagaVersion,
      SAGA_HEADERS.correlationId,
      SAGA_HEADERS.traceparent,
    ]) {
      const value = message.headers?.[name];
      if (value !== undefined && !Array.isArray(value)) headers[name] = value.toString();
    }
    return { value: serdes.reply.serialize(reply), sagaId: command.sagaId, headers };
  }

  /** Sends a reply decided outside a transaction (transient failures, delayed answers). */
  async function deliver(reply: OutgoingReply): Promise<void> {
    const outbox = options.replyOutbox;
    if (outbox === undefined) {
      await producer.send({
        topic: topics.replies,
        acks: -1,
        messages: [{ key: reply.sagaId, value: reply.value, headers: reply.headers }],
      });
      return;
    }
    const client = await options.pool.connect();
    try {
      await client.query("BEGIN");
      await publishReply(outbox, client, reply);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.commands(options.name)], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: options.concurrency ?? 1,
    eachMessage: async ({ topic, partition, message }) => {
      const origin = { topic, partition, offset: message.offset };
      let command: SagaCommand;
      try {
        if (message.value === null) throw new Error("the command has no value");
        await commandSerde.prepare?.(message.value);
        command = commandSerde.deserialize(message.value);
      } catch (thrown) {
        await deadLetter(message, origin, toError(thrown));
        return;
      }
      const delay = { ms: 0 };
      const handled = await handleOnce(command, delay, async (client, decided) => {
        if (options.replyOutbox === undefined || delay.ms > 0) return false;
        await publishReply(options.replyOutbox, client, replyTo(command, message, decided));
        return true;
      });
      if (handled.replied === true) return;
      const reply = replyTo(command, message, handled);
      if (delay.ms <= 0) {
        await deliver(reply);
        return;
      }
      const timer = setTimeout(() => {
        delayed.delete(timer);
        deliver(reply).catch((error: unknown) =>
          options.logger?.warn({ err: error }, "a delayed reply was lost"),
        );
      }, delay.ms);
      delayed.add(timer);
    },
  });

  const purge = setInterval(() => {
    store
      .purge(options.pool)
      .catch((error: unknown) => options.logger?.warn({ err: error }, "idempotency purge failed"));
  }, 60_000);
  purge.unref();

  return {
    stats,
    breakers: breakers as ReadonlyMap<string, CircuitBreaker>,
    async stop(): Promise<void> {
      clearInterval(purge);
      for (const timer of delayed) clearTimeout(timer); // like a crash: the saga's timeout covers it
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

export type Participant = Awaited<ReturnType<typeof createParticipant>>;

interface OutgoingReply {
  sagaId: string;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Writes a reply into the outbox in `client`'s transaction. The EventRouter publishes it keyed
 * by saga id with the id, correlation, causation and traceparent headers.
 */
async function publishReply(outbox: Outbox, client: pg.ClientBase, reply: OutgoingReply) {
  const header = (name: string) => reply.headers[name];
  await outbox.publish(client, {
    aggregateType: "saga",
    aggregateId: reply.sagaId,
    type: "SagaReply",
    encoded: reply.value,
    messageId: header(SAGA_HEADERS.messageId),
    correlationId: header(SAGA_HEADERS.correlationId),
    causationId: header(SAGA_HEADERS.causationId),
    traceparent: header(SAGA_HEADERS.traceparent),
  });
}
