/**
 * The saga processor on the in-memory topology driver: starts from a domain event, sends
 * commands, advances on replies, fires durable timers from the wall clock, obeys operators,
 * keeps state and index in its stores, and emits the same messages (same ids) when the same
 * inputs are processed again.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import {
  defineSaga,
  indexPrefix,
  jsonSagaSerdes,
  parseIndexKey,
  SAGA_HEADERS,
  SAGA_STORES,
  SagaRegistry,
  sagaTopics,
  sagaTopology,
  step,
  type SagaCommand,
  type SagaControl,
  type SagaEventRecord,
  type SagaRecord,
  type SagaReply,
} from "../../src/saga/index.js";
import { Serdes } from "../../src/state/index.js";
import { TopologyTestDriver } from "../../src/topology/index.js";

interface Order {
  orderId: string;
  amountCents: number;
}

const saga = defineSaga<Order>({
  name: "order",
  version: 1,
  participants: ["inventory", "payment"],
  stages: [
    step({
      name: "reserve",
      participant: "inventory",
      command: (o) => ({ type: "Reserve", payload: { orderId: o.orderId } }),
      compensation: (o) => ({ type: "Release", payload: { orderId: o.orderId } }),
      timeoutMs: 1_000,
      retry: { maxAttempts: 2, jitter: 0 },
    }),
    step({
      name: "charge",
      participant: "payment",
      command: (o) => ({ type: "Charge", payload: { amountCents: o.amountCents } }),
      pivot: true,
    }),
  ],
});

const app = "shop";
const topics = sagaTopics(app);
const json = <T>() => Serdes.json<T>();

function driver(partitions = 1) {
  const topology = sagaTopology({
    applicationId: app,
    registry: new SagaRegistry([saga]),
    starts: [{ topic: "orders", saga: "order", valueSerde: json<Order>(), data: (o: Order) => o }],
    serdes: jsonSagaSerdes,
    timerIntervalMs: 50,
    logger: createLogger("silent", "test"),
  });
  const d = new TopologyTestDriver(topology, { applicationId: app, partitions, startTime: 10_000 });
  const orders = d.inputTopic("orders", Serdes.string, json<Order>());
  const replies = d.inputTopic(topics.replies, Serdes.string, json<SagaReply>());
  const control = d.inputTopic(topics.control, Serdes.string, json<SagaControl>());
  return {
    d,
    start: (id: string, at = 10_000) =>
      orders.pipe(
        id,
        { orderId: id, amountCents: 500 },
        { timestamp: at, headers: { id: Buffer.from(`evt-${id}`) } },
      ),
    reply: (command: SagaCommand, outcome: "success" | "failure" = "success", at = 10_000) =>
      replies.pipe(
        command.sagaId,
        {
          sagaId: command.sagaId,
          step: command.step,
          action: command.action,
          attempt: command.attempt,
          outcome,
          retriable: false,
          reason: outcome === "failure" ? "refused" : "",
          result: {},
        },
        { timestamp: at },
      ),
    control: (id: string, value: SagaControl) => control.pipe(id, value, { timestamp: 10_000 }),
    commands: (participant: string) =>
      d.outputTopic(topics.commands(participant), Serdes.string, json<SagaCommand>()),
    events: () => d.outputTopic(topics.events, Serdes.string, json<SagaEventRecord>()),
    saga: (id: string, partition = 0) =>
      d.store<string, SagaRecord>(SAGA_STORES.sagas, partition).get(id),
  };
}

async function timerKeys(d: TopologyTestDriver): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of d.store<string, unknown>(SAGA_STORES.timers).range()) keys.push(key);
  return keys;
}

async function indexed(d: TopologyTestDriver, status: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const [key] of d
    .store<string, string>(SAGA_STORES.index)
    .prefix(indexPrefix(status as "RUNNING"))) {
    ids.push(parseIndexKey(key).sagaId);
  }
  return ids;
}

describe("saga processor", () => {
  it("starts from a domain event, commands each participant in turn and completes", async () => {
    const t = driver();
    await t.start("o-1");
    const [reserve] = t.commands("inventory");
    expect(reserve?.value).toMatchObject({
      sagaId: "o-1",
      step: "reserve",
      action: "do",
      attempt: 1,
      type: "Reserve",
      payload: { orderId: "o-1" },
    });
    expect(reserve?.key).toBe("o-1");
    expect(reserve?.headers[SAGA_HEADERS.causationId]?.toString()).toBeDefined();
    expect(reserve?.headers[SAGA_HEADERS.correlationId]?.toString()).toBe("o-1");
    expect(await indexed(t.d, "RUNNING")).toEqual(["o-1"]);

    await t.reply(reserve?.value as SagaCommand);
    const [charge] = t.commands("payment");
    expect(charge?.value).toMatchObject({
      step: "charge",
      type: "Charge",
      payload: { amountCents: 500 },
    });
    await t.reply(charge?.value as SagaCommand);

    expect((await t.saga("o-1"))?.state.status).toBe("COMPLETED");
    expect(await indexed(t.d, "RUNNING")).toEqual([]);
    expect(await indexed(t.d, "COMPLETED")).toEqual(["o-1"]);
    const events = t.events().map((e) => e.value?.event.type);
    expect(events).toEqual([
      "SagaStarted",
      "CommandIssued",
      "StepSucceeded",
      "CommandIssued",
      "StepSucceeded",
      "SagaCompleted",
    ]);
    expect(t.events().map((e) => e.value?.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await t.saga("o-1"))?.seq).toBe(6);
  });

  it("drops a step's timeout timer once the step is answered, not firing it later", async () => {
    const t = driver();
    await t.start("o-9");
    const [reserve] = t.commands("inventory");
    expect((await timerKeys(t.d)).map((k) => k.split("\u0000").slice(1, 4))).toEqual([
      ["o-9", "Timeout", "reserve"],
    ]);
    await t.reply(reserve?.value as SagaCommand);
    const [charge] = t.commands("payment");
    expect((await timerKeys(t.d)).map((k) => k.split("\u0000")[3])).toEqual(["charge"]);
    await t.reply(charge?.value as SagaCommand);
    expect(await timerKeys(t.d)).toEqual([]);
  });

  it("fires a step's timeout from the wall clock, retries, then compensates when retries run out", async () => {
    const t = driver();
    await t.start("o-2");
    await t.d.advanceWallClockTime(999);
    expect(t.commands("inventory")).toHaveLength(1); // not due yet
    await t.d.advanceWallClockTime(1); // 11,000: the timeout is due
    await t.d.advanceWallClockTime(100); // the retry (100 ms later) is due
    expect(t.commands("inventory").map((c) => [c.value?.action, c.value?.attempt])).toEqual([
      ["do", 1],
      ["do", 2],
    ]);
    await t.d.advanceWallClockTime(1_000); // attempt 2 times out: compensation (it may have reserved)
    const issued = t.commands("inventory").map((c) => `${c.value?.action}:${c.value?.type}`);
    expect(issued).toEqual(["do:Reserve", "do:Reserve", "undo:Release"]);
    await t.reply(t.commands("inventory")[2]?.value as SagaCommand);
    expect((await t.saga("o-2"))?.state.status).toBe("ABORTED");
    const types = t.events().map((e) => e.value?.event.type);
    expect(types.filter((x) => x === "StepTimedOut")).toHaveLength(2);
  });

  it("cancels on an operator's request and refuses one after the pivot", async () => {
    const t = driver();
    await t.start("o-3");
    await t.control("o-3", { type: "Cancel", reason: "customer asked" });
    expect(t.commands("inventory").map((c) => c.value?.action)).toEqual(["do", "undo"]);
    await t.reply(t.commands("inventory")[1]?.value as SagaCommand);
    expect((await t.saga("o-3"))?.state).toMatchObject({
      status: "CANCELLED",
      reason: "customer asked",
    });

    await t.start("o-4");
    await t.reply(t.commands("inventory")[2]?.value as SagaCommand);
    await t.reply(t.commands("payment")[0]?.value as SagaCommand);
    await t.control("o-4", { type: "Cancel", reason: "too late" });
    expect((await t.saga("o-4"))?.state.status).toBe("COMPLETED");
  });

  it("ignores late and repeated replies, and dead-letters a reply it cannot decode", async () => {
    const t = driver();
    await t.start("o-5");
    const reserve = t.commands("inventory")[0]?.value as SagaCommand;
    await t.reply(reserve);
    await t.reply(reserve); // repeated
    await t.reply({ ...reserve, sagaId: "nobody" }); // unknown saga
    expect(t.commands("payment")).toHaveLength(1);
    await t.d.inputTopic(topics.replies, Serdes.string, Serdes.string).pipe("o-5", "{not json");
    expect(t.d.deadLetters()).toHaveLength(1);
    expect((await t.saga("o-5"))?.state.status).toBe("RUNNING");
  });

  it("processes the same inputs into the same messages, ids included (deterministic replay)", async () => {
    const run = async () => {
      const t = driver(4);
      for (const id of ["a", "b", "c", "d", "e", "f"]) await t.start(id);
      for (const c of t.commands("inventory"))
        await t.reply(c.value as SagaCommand, c.key === "c" ? "failure" : "success");
      await t.d.advanceWallClockTime(5_000);
      return [...t.events(), ...t.commands("inventory"), ...t.commands("payment")].map((r) => ({
        key: r.key,
        partition: r.partition,
        id: r.headers[SAGA_HEADERS.messageId]?.toString(),
        value: r.value,
      }));
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(30);
    expect(new Set(first.map((r) => r.partition)).size).toBeGreaterThan(1);
    expect(await run()).toEqual(first);
  });

  it("prepares a start event's serde before decoding it (regression: a fresh worker knew no writer schema)", async () => {
    const prepared = new Set<string>();
    const serde = {
      serialize: (o: Order) => Buffer.from(JSON.stringify(o)),
      deserialize: (bytes: Buffer) => {
        if (!prepared.has(bytes.toString())) throw new Error("not prepared");
        return JSON.parse(bytes.toString()) as Order;
      },
      prepare: (bytes: Buffer) => {
        prepared.add(bytes.toString());
        return Promise.resolve();
      },
    };
    const topology = sagaTopology({
      applicationId: app,
      registry: new SagaRegistry([saga]),
      starts: [{ topic: "orders", saga: "order", valueSerde: serde, data: (o: Order) => o }],
      serdes: jsonSagaSerdes,
      logger: createLogger("silent", "test"),
    });
    const d = new TopologyTestDriver(topology, { applicationId: app });
    await d
      .inputTopic("orders", Serdes.string, serde)
      .pipe("o-9", { orderId: "o-9", amountCents: 1 });
    expect(d.deadLetters()).toHaveLength(0);
    expect(
      d.outputTopic(topics.commands("inventory"), Serdes.string, json<SagaCommand>()),
    ).toHaveLength(1);
  });
});
