/**
 * The worker's spans on the in-memory topology driver. Off (a provider registered, but the
 * engine not told to trace): no span, and each message carries the saga's traceparent as it
 * came. On: a decision per input, a command span whose traceparent the command carries, Debezium's
 * hop from the outbox row's time, the saga's end; spans end when their transaction commits.
 */
import { trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import {
  defineSaga,
  jsonSagaSerdes,
  SAGA_HEADERS,
  SagaRegistry,
  sagaTopics,
  sagaTopology,
  step,
  type SagaCommand,
  type SagaDecision,
  type SagaReply,
} from "../../src/saga/index.js";
import { SagaSpans } from "../../src/saga/saga-spans.js";
import { Serdes } from "../../src/state/index.js";
import { TopologyTestDriver } from "../../src/topology/index.js";
import {
  parseTraceparent,
  stopTracing,
  tracingEnabled,
  useGlobalTracerProvider,
} from "../../src/tracing/index.js";

const ORIGIN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const topics = sagaTopics("shop");
const exporter = new InMemorySpanExporter();

const saga = defineSaga<{ orderId: string }>({
  name: "order",
  version: 1,
  participants: ["payment"],
  stages: [
    step({
      name: "charge",
      participant: "payment",
      command: (o) => ({ type: "Charge", payload: { orderId: o.orderId } }),
      pivot: true,
    }),
  ],
});

function driver() {
  const topology = sagaTopology({
    applicationId: "shop",
    registry: new SagaRegistry([saga]),
    starts: [
      { topic: "orders", saga: "order", valueSerde: Serdes.json(), data: (o: unknown) => o },
    ],
    serdes: jsonSagaSerdes,
    logger: createLogger("silent", "test"),
  });
  const d = new TopologyTestDriver(topology, { applicationId: "shop", startTime: 10_000 });
  const orders = d.inputTopic("orders", Serdes.string, Serdes.json<{ orderId: string }>());
  const replies = d.inputTopic(topics.replies, Serdes.string, Serdes.json<SagaReply>());
  return {
    start: (id: string, headers: Record<string, string>, timestamp = 10_000) =>
      orders.pipe(
        id,
        { orderId: id },
        {
          timestamp,
          headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
        },
      ),
    reply: (command: SagaCommand, traceparent: string) =>
      replies.pipe(
        command.sagaId,
        {
          sagaId: command.sagaId,
          step: command.step,
          action: command.action,
          attempt: command.attempt,
          outcome: "success",
          retriable: false,
          reason: "",
          result: {},
        },
        { timestamp: 10_000, headers: { [SAGA_HEADERS.traceparent]: Buffer.from(traceparent) } },
      ),
    commands: () =>
      d.outputTopic(topics.commands("payment"), Serdes.string, Serdes.json<SagaCommand>()),
    decisions: () => d.outputTopic(topics.events, Serdes.string, Serdes.json<SagaDecision>()),
  };
}

const traceparentOf = (headers: Record<string, Buffer>) =>
  headers[SAGA_HEADERS.traceparent]?.toString();
const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const only = (name: string): ReadableSpan => {
  const [span, ...rest] = named(name);
  if (span === undefined || rest.length > 0) throw new Error(`not one ${name} span`);
  return span;
};
const ms = ([s, ns]: readonly [number, number]) => s * 1_000 + ns / 1e6;

beforeAll(() => {
  // A provider is there in both cases: only the engine's switch decides whether spans are made.
  trace.setGlobalTracerProvider(
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
  );
});

afterAll(async () => {
  await stopTracing();
  trace.disable();
});

beforeEach(() => {
  exporter.reset();
});

describe("saga spans", () => {
  it("off: makes no span and passes the traceparent on unchanged", async () => {
    expect(tracingEnabled()).toBe(false);
    const t = driver();
    await t.start("o-1", {
      [SAGA_HEADERS.traceparent]: ORIGIN,
      outboxCreatedAt: "2026-01-01T00:00:00Z",
    });
    const [command] = t.commands();
    if (command === undefined) throw new Error("no command");
    expect(traceparentOf(command.headers)).toBe(ORIGIN);
    expect(t.decisions().map((d) => traceparentOf(d.headers))).toEqual([ORIGIN]);
    await t.reply(command.value as SagaCommand, ORIGIN);
    expect(t.decisions().map((d) => traceparentOf(d.headers))).toEqual([ORIGIN, ORIGIN]);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("on: a decision per input, the command carrying its span, Debezium's hop, the end", async () => {
    useGlobalTracerProvider();
    const t = driver(); // its processor reads the switch when created
    const rowAt = Date.parse("2026-01-01T00:00:00.000Z");
    await t.start(
      "o-1",
      { [SAGA_HEADERS.traceparent]: ORIGIN, outboxCreatedAt: "2026-01-01T00:00:00.000Z" },
      rowAt + 40,
    );
    const origin = parseTraceparent(ORIGIN);
    const relay = only("outbox.relay");
    expect(relay.parentSpanContext?.spanId).toBe(origin?.spanId);
    expect(ms(relay.startTime)).toBe(rowAt);
    expect(ms(relay.endTime)).toBe(rowAt + 40);

    const decision = only("saga.decide");
    expect(decision.parentSpanContext?.spanId).toBe(relay.spanContext().spanId);
    expect(decision.attributes).toMatchObject({
      "sagastream.saga.id": "o-1",
      "sagastream.saga.type": "order",
      "sagastream.input": "Start",
      "sagastream.saga.status": "RUNNING",
      "messaging.destination.name": "orders",
    });
    const sent = only("saga.command");
    expect(sent.parentSpanContext?.spanId).toBe(decision.spanContext().spanId);
    expect(sent.attributes).toMatchObject({
      "sagastream.participant": "payment",
      "sagastream.command.type": "Charge",
      "sagastream.step": "charge",
    });
    // The receiver's spans become children of the command's: its traceparent names that span.
    const [command] = t.commands();
    if (command === undefined) throw new Error("no command");
    const carried = parseTraceparent(traceparentOf(command.headers));
    expect(carried?.traceId).toBe(origin?.traceId);
    expect(carried?.spanId).toBe(sent.spanContext().spanId);
    expect(parseTraceparent(traceparentOf(t.decisions()[0]?.headers ?? {}))?.spanId).toBe(
      decision.spanContext().spanId,
    );

    const replySpan = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
    await t.reply(command.value as SagaCommand, replySpan);
    const onReply = named("saga.decide").find((s) => s.attributes["sagastream.input"] === "Reply");
    expect(onReply?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    const end = only("saga.end");
    expect(end.parentSpanContext?.spanId).toBe(onReply?.spanContext().spanId);
    expect(end.attributes["sagastream.saga.status"]).toBe("COMPLETED");
    expect(new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId))).toEqual(
      new Set([origin?.traceId]),
    );
  });

  it("ends a decision's spans when its transaction commits, as failed when it aborts", () => {
    useGlobalTracerProvider();
    const spans = new SagaSpans();
    const origin = { causationId: "m-1", correlationId: undefined, traceparent: ORIGIN };
    const decide = () => {
      spans.decision("o-1", "order", { type: "Retry", at: 1 }, origin, undefined);
      spans.accept();
    };
    decide();
    spans.sealedInterval();
    decide(); // processed while the first commit is in flight: the next interval's
    expect(named("saga.decide")).toEqual([]);
    spans.committed();
    expect(named("saga.decide")).toHaveLength(1);
    spans.sealedInterval();
    spans.aborted();
    expect(named("saga.decide").map((s) => s.status.code)).toEqual([0, 2]); // unset, error
  });
});
