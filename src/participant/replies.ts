/**
 * A participant's replies: built from the command and its outcome, with the headers that
 * trace it, and sent straight to `<app>.replies` or written to the participant's own outbox
 * (then in the transaction that records the outcome, when there is one).
 */
import type pg from "pg";
import { withTransaction } from "../db/index.js";
import { headerText, type ConsumedRecord, type KafkaProducer } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import type { Outbox } from "../outbox/index.js";
import { nameUuid, SAGA_HEADERS, type SagaCommand, type SagaReply } from "../saga/index.js";
import type { Serde } from "../state/index.js";
import { Outcome, type HandledCommand } from "./idempotency.js";

export interface OutgoingReply {
  sagaId: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** Headers a reply copies from its command. */
const TRACED = [
  SAGA_HEADERS.sagaId,
  SAGA_HEADERS.sagaType,
  SAGA_HEADERS.sagaVersion,
  SAGA_HEADERS.correlationId,
  SAGA_HEADERS.traceparent,
] as const;

/**
 * The reply to `command` (delivered as `record`). It carries the command's traceparent, or
 * `traceparent` (the reply's span's, when tracing is on).
 */
export function replyTo(
  serde: Serde<SagaReply>,
  command: SagaCommand,
  record: ConsumedRecord,
  handled: HandledCommand & { transient?: true; retryAfterMs?: number },
  traceparent?: string,
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
    retryAfterMs: handled.retryAfterMs ?? 0,
  };
  const commandId = headerText(record, SAGA_HEADERS.messageId) ?? String(record.offset);
  const headers: Record<string, string> = {
    [SAGA_HEADERS.messageId]: nameUuid(`reply/${commandId}/${handled.outcome}`),
    [SAGA_HEADERS.causationId]: commandId,
  };
  for (const name of TRACED) {
    const value = headerText(record, name);
    if (value !== undefined) headers[name] = value;
  }
  if (traceparent !== undefined) headers[SAGA_HEADERS.traceparent] = traceparent;
  return { value: serde.serialize(reply), sagaId: command.sagaId, headers };
}

/**
 * The statements that write a reply into the outbox, for the caller's transaction. The
 * EventRouter publishes it keyed by saga id with the id, correlation, causation and
 * traceparent headers.
 */
export async function replyStatements(outbox: Outbox, reply: OutgoingReply): Promise<string> {
  const header = (name: string) => reply.headers[name];
  const { statements } = await outbox.statements({
    aggregateType: "saga",
    aggregateId: reply.sagaId,
    type: "SagaReply",
    encoded: reply.value,
    messageId: header(SAGA_HEADERS.messageId),
    correlationId: header(SAGA_HEADERS.correlationId),
    causationId: header(SAGA_HEADERS.causationId),
    traceparent: header(SAGA_HEADERS.traceparent),
  });
  return statements;
}

/** Sends replies decided outside a transaction: transient failures, delayed answers. */
export class ReplySender {
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(
    private readonly options: {
      topic: string;
      producer: KafkaProducer;
      pool: pg.Pool;
      outbox: Outbox | undefined;
      logger: Logger | undefined;
    },
  ) {}

  /** Sends `reply` now (keyed by saga id: the partition the engine reads its saga from). */
  async send(reply: OutgoingReply): Promise<void> {
    const { outbox } = this.options;
    if (outbox === undefined) {
      await this.options.producer.send({
        messages: [
          {
            topic: this.options.topic,
            key: reply.sagaId,
            value: reply.value,
            headers: reply.headers,
          },
        ],
      });
      return;
    }
    const statements = await replyStatements(outbox, reply);
    await withTransaction(this.options.pool, (_client, _opened, defer) => {
      defer(statements);
      return Promise.resolve();
    });
  }

  /** Sends `reply` `ms` later, without holding anything up; lost if the participant stops. */
  later(reply: OutgoingReply, ms: number): void {
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.send(reply).catch((error: unknown) =>
        this.options.logger?.warn({ err: error }, "a delayed reply was lost"),
      );
    }, ms);
    this.delayed.add(timer);
  }

  /** Drops the delayed replies, like a crash would: the saga's step timeout covers them. */
  dropDelayed(): void {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
  }
}
