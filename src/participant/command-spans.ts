/**
 * A participant's spans for one command, made only when tracing is on: `participant.handle`
 * (a child of the command's span, through its traceparent) covers decoding, the transaction
 * with the handler and the reply; `participant.reply` (its child) is the reply, whose
 * traceparent the reply carries, so the worker's next decision follows on from it.
 */
import type { Span } from "@opentelemetry/api";
import type { ConsumedRecord } from "../kafka/index.js";
import { SAGA_HEADERS, type SagaCommand } from "../saga/index.js";
import {
  ATTR,
  contextOf,
  endFailed,
  parentFrom,
  SPAN,
  SpanKind,
  startSpan,
  traceparentOf,
} from "../tracing/index.js";
import type { HandledOnce } from "./handle-command.js";

export class CommandSpans {
  private readonly handle: Span;
  private replySpan: Span | undefined;

  constructor(participant: string, record: ConsumedRecord) {
    const header = (name: string) => record.headers.get(name)?.toString();
    this.handle = startSpan(SPAN.participantHandle, {
      kind: SpanKind.CONSUMER,
      parent: parentFrom(header(SAGA_HEADERS.traceparent)),
      attributes: {
        [ATTR.participant]: participant,
        [ATTR.system]: "kafka",
        [ATTR.destination]: record.topic,
        [ATTR.partition]: String(record.partition),
        [ATTR.offset]: Number(record.offset),
        [ATTR.messageId]: header(SAGA_HEADERS.messageId),
        [ATTR.sagaId]: header(SAGA_HEADERS.sagaId),
      },
    });
  }

  /** The command decoded. */
  command(command: SagaCommand): void {
    this.handle.setAttributes({
      [ATTR.sagaType]: command.sagaType,
      [ATTR.commandType]: command.type,
      [ATTR.step]: command.step,
      [ATTR.action]: command.action,
      [ATTR.attempt]: command.attempt,
    });
  }

  /** The reply is being made: the traceparent it carries (its span's). */
  reply(): string {
    this.replySpan ??= startSpan(SPAN.participantReply, {
      kind: SpanKind.PRODUCER,
      parent: contextOf(this.handle),
    });
    return traceparentOf(this.replySpan);
  }

  /** How the command was handled. */
  handled(handled: HandledOnce): void {
    const attributes = {
      [ATTR.outcome]: handled.outcome,
      [ATTR.retriable]: handled.transient === true,
      [ATTR.replyDelayMs]: handled.delayMs,
    };
    this.handle.setAttributes(attributes);
    this.replySpan?.setAttributes(attributes);
  }

  /** The reply is sent (or committed to the outbox, or scheduled): the command is done. */
  end(): void {
    this.replySpan?.end();
    this.handle.end();
  }

  /** The command threw (it is handled again). */
  fail(error: unknown): void {
    if (this.replySpan !== undefined) endFailed(this.replySpan, error);
    endFailed(this.handle, error);
  }
}
