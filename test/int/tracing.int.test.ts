/**
 * Tracing on the real stack (issue 17): one order saga, with the order service, the worker and
 * the participants exporting spans by OTLP/HTTP to a receiver in this process (configured by
 * the OTEL_* variables), must give one trace: a tree rooted at the order's outbox write, with
 * every hop (Debezium's, the worker's decisions, the commands, the participants' handling and
 * replies, the saga's end), each with its duration.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultPlan, orderSaga, type OrderService } from "../../examples/order/index.js";
import { createLogger } from "../../src/log/index.js";
import { flushTracing, startTracing, stopTracing } from "../../src/tracing/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import { orders, watchSagaEvents } from "../support/order-outcomes.js";
import { orderWorld } from "../support/order-world.js";
import { startOtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";

const world = orderWorld("trace");
const receiver = await startOtlpReceiver();
let stateDir = "";
let orderService: OrderService;
let worker: SagaWorker;

beforeAll(async () => {
  const env = {
    ...process.env,
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };
  // The first call in a process decides: the worker's and the participants' own calls share it.
  expect(await startTracing({ serviceName: "trace-test", env })).toBe(true);
  stateDir = await mkdtemp(path.join(os.tmpdir(), "tracing-"));
  orderService = await world.startOrderService();
  worker = new SagaWorker({
    applicationId: world.name,
    brokers: world.connections.kafkaBrokers,
    sagas: [orderSaga({ stepTimeoutMs: 20_000 })],
    starts: [orderService.sagaStart()],
    stateDir,
    partitions: 2,
    codec: world.codec,
    logger: createLogger("warn", "tracing-test"),
  });
  await worker.start();
  // The payment replies through its outbox: that reply crosses Debezium too.
  await world.startParticipants(new FaultPlan({ failureRate: 0, timeoutRate: 0 }), 0, ["payment"]);
});

afterAll(async () => {
  await worker.stop();
  await world.cleanup();
  await stopTracing();
  await receiver.close();
  await rm(stateDir, { recursive: true, force: true });
});

const ms = (span: ReceivedSpan) => Number(span.endNs - span.startNs) / 1e6;

/** The trace as an indented tree, children in start order, each span with its duration. */
function describeTree(spans: readonly ReceivedSpan[], root: ReceivedSpan): string {
  const lines: string[] = [];
  const walk = (span: ReceivedSpan, depth: number) => {
    const a = span.attributes;
    const detail = [a["sagastream.input"], a["sagastream.step"], a["sagastream.saga.status"]]
      .filter((d) => d !== undefined)
      .join(" ");
    const at = Number(span.startNs - root.startNs) / 1e6;
    lines.push(
      `${"  ".repeat(depth)}${span.name} ${detail} [${span.service}] +${at.toFixed(1)} ms, ${ms(span).toFixed(1)} ms`,
    );
    spans
      .filter((s) => s.parentSpanId === span.spanId)
      .sort((x, y) => (x.startNs < y.startNs ? -1 : 1))
      .forEach((child) => {
        walk(child, depth + 1);
      });
  };
  walk(root, 0);
  return lines.join("\n");
}

describe("tracing on the real stack", () => {
  it("gives one saga one trace, from its outbox write to its end, with each hop's duration", async () => {
    const events = await watchSagaEvents(world.kafka, world.codec, world.name);
    const [order] = orders(1);
    if (order === undefined) throw new Error("no order");
    const sagaId = order.orderId;
    try {
      await orderService.place(order);
      await waitUntil(() => (events.last.get(sagaId) === "SagaCompleted" ? true : undefined), {
        timeoutMs: 60_000,
        description: `saga ${sagaId} to complete (so far: ${events.trail(sagaId)})`,
      });
    } finally {
      await events.stop();
    }
    // The end's span closes when its transaction's commit returns; then it is exported.
    await waitUntil(
      async () => {
        await flushTracing();
        return receiver.spans.some(
          (s) => s.name === "saga.end" && s.attributes["sagastream.saga.id"] === sagaId,
        )
          ? true
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: "the saga.end span to be exported" },
    );

    const root = receiver.spans.find(
      (s) => s.name === "outbox.write" && s.attributes["sagastream.outbox.aggregate_id"] === sagaId,
    );
    if (root === undefined) throw new Error("no outbox.write span for the order");
    const trace = receiver.spans.filter((s) => s.traceId === root.traceId);
    process.stderr.write(`trace ${root.traceId}:\n${describeTree(trace, root)}\n`);

    // Every span about this saga is in the one trace.
    const ofSaga = receiver.spans.filter(
      (s) =>
        s.attributes["sagastream.saga.id"] === sagaId ||
        s.attributes["sagastream.outbox.aggregate_id"] === sagaId,
    );
    expect(ofSaga.length).toBeGreaterThan(10);
    expect(new Set(ofSaga.map((s) => s.traceId))).toEqual(new Set([root.traceId]));

    // One tree: the outbox write is the only root, every other span's parent is in the trace.
    const ids = new Set(trace.map((s) => s.spanId));
    expect(trace.filter((s) => s.parentSpanId === undefined)).toEqual([root]);
    for (const span of trace) {
      if (span !== root) expect(ids, `${span.name}'s parent`).toContain(span.parentSpanId);
      expect(span.endNs, `${span.name} ends after it starts`).toBeGreaterThanOrEqual(span.startNs);
    }

    // Every hop: three steps (payment, inventory, shipping), each a command, its handling and
    // its reply; the start and the three replies each a decision; Debezium carried the order
    // and the payment's reply.
    const count = (name: string) => trace.filter((s) => s.name === name).length;
    expect(count("outbox.write")).toBe(1);
    expect(count("outbox.relay")).toBe(2);
    expect(count("saga.decide")).toBe(4);
    expect(count("saga.command")).toBe(3);
    expect(count("participant.handle")).toBe(3);
    expect(count("participant.reply")).toBe(3);
    expect(count("saga.end")).toBe(1);
    expect(trace.find((s) => s.name === "saga.end")?.attributes["sagastream.saga.status"]).toBe(
      "COMPLETED",
    );

    // The chain runs through the messages: each participant's handling is a child of its
    // command's span, and each decision on a reply descends from that reply's span.
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentName = (s: ReceivedSpan) => byId.get(s.parentSpanId ?? "")?.name;
    for (const handle of trace.filter((s) => s.name === "participant.handle")) {
      expect(parentName(handle)).toBe("saga.command");
    }
    const decisions = trace.filter((s) => s.name === "saga.decide");
    expect(decisions.map((d) => d.attributes["sagastream.input"]).sort()).toEqual([
      "Reply",
      "Reply",
      "Reply",
      "Start",
    ]);
    expect(decisions.map(parentName).sort()).toEqual([
      "outbox.relay", // the order, through Debezium
      "outbox.relay", // the payment's reply, through its outbox
      "participant.reply",
      "participant.reply",
    ]);

    // Each hop's duration, summed per name.
    const hops = new Map<string, number[]>();
    for (const span of trace) hops.set(span.name, [...(hops.get(span.name) ?? []), ms(span)]);
    for (const [name, durations] of hops) {
      process.stderr.write(`${name}: ${durations.map((d) => d.toFixed(1)).join(", ")} ms\n`);
    }
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(["trace-test"]));
  });
});
