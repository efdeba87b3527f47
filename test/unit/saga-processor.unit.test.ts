/**
 * The saga processor on the in-memory topology driver: starts from a domain event, sends
 * commands, advances on replies, fires durable timers from the wall clock, obeys operators,
 * keeps state in its store and the index and timers in memory, writes one saga-events record
 * per decision, and emits the same messages (same ids) when the same inputs are processed
 * again.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import {
  defineSaga,
  eventsOf,
  jsonSagaSerdes,
  SAGA_HEADERS,
  SAGA_STORES,
  SagaIndexes,
  SagaRegistry,
  sagaTopics,
  sagaTopology,
  step,
  timersOf,
  type AnySagaDefinition,
  type SagaDefinitionInput,
  type SagaCommand,
  type SagaControl,
  type SagaDecision,
  type SagaLimits,
  type SagaRecord,
  type SagaReply,
  type SagaStatus,
} from "../../src/saga/index.js";
import { ErrorCode } from "../../src/errors/index.js";
import { deadLetterTopic, DLQ_HEADERS } from "../../src/kafka/index.js";
import type { ParkedInput } from "../../src/saga/parked-inputs.js";
import { KeyValueStore, MemoryBytesStore, Serdes } from "../../src/state/index.js";
import {
  changelogTopic,
  ErrorHandling,
  partitionForKey,
  Task,
  TopologyTestDriver,
  type OutputRecord,
  type Topology,
} from "../../src/topology/index.js";

interface Order {
  orderId: string;
  amountCents: number;
  note?: string;
}

/** The order saga; `release` builds the reservation's compensation. */
function orderSaga(release = (o: Order) => ({ type: "Release", payload: { orderId: o.orderId } })) {
  return defineSaga<Order>(orderInput(release));
}

function orderInput(
  release = (o: Order) => ({ type: "Release", payload: { orderId: o.orderId } }),
): SagaDefinitionInput<Order> {
  return {
    name: "order",
    version: 1,
    participants: ["inventory", "payment"],
    stages: [
      step({
        name: "reserve",
        participant: "inventory",
        command: (o) => ({ type: "Reserve", payload: { orderId: o.orderId } }),
        compensation: release,
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
  };
}

const saga = orderSaga();

const app = "shop";
const topics = sagaTopics(app);
const json = <T>() => Serdes.json<T>();

function driver(
  partitions = 1,
  serdes = jsonSagaSerdes,
  definition = saga,
  limits: Partial<SagaLimits> = {},
  retentionMs?: number,
) {
  const indexes = new SagaIndexes();
  const topology = sagaTopology({
    applicationId: app,
    registry: new SagaRegistry([definition]),
    starts: [{ topic: "orders", saga: "order", valueSerde: json<Order>(), data: (o: Order) => o }],
    serdes,
    timerIntervalMs: 50,
    indexes,
    limits,
    retentionMs,
    logger: createLogger("silent", "test"),
  });
  const d = new TopologyTestDriver(topology, { applicationId: app, partitions, startTime: 10_000 });
  const orders = d.inputTopic("orders", Serdes.string, json<Order>());
  const replies = d.inputTopic(topics.replies, Serdes.string, json<SagaReply>());
  const control = d.inputTopic(topics.control, Serdes.string, json<SagaControl>());
  return {
    d,
    indexes,
    start: (id: string, at = 10_000, order: Partial<Order> = {}, partition?: number) =>
      orders.pipe(
        id,
        { orderId: id, amountCents: 500, ...order },
        {
          timestamp: at,
          headers: { id: Buffer.from(`evt-${id}`) },
          ...(partition === undefined ? {} : { partition }),
        },
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
    decisions: () => d.outputTopic(topics.events, Serdes.string, json<SagaDecision>()),
    events: () =>
      d
        .outputTopic(topics.events, Serdes.string, json<SagaDecision>())
        .flatMap((r) => eventsOf(r.value as SagaDecision)),
    saga: (id: string, partition = 0) =>
      d.store<string, SagaRecord>(SAGA_STORES.sagas, partition).get(id),
  };
}

function indexed(t: ReturnType<typeof driver>, status: SagaStatus, partition = 0): string[] {
  return [...(t.indexes.get(partition)?.list(status) ?? [])].map((s) => s.sagaId);
}

/** The sagas in the timer queue, with when their first timer is due. */
function queued(t: ReturnType<typeof driver>, partition = 0) {
  return t.indexes.get(partition)?.dueBy(Number.MAX_SAFE_INTEGER, Infinity) ?? [];
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
    expect(indexed(t, "RUNNING")).toEqual(["o-1"]);

    await t.reply(reserve?.value as SagaCommand);
    const [charge] = t.commands("payment");
    expect(charge?.value).toMatchObject({
      step: "charge",
      type: "Charge",
      payload: { amountCents: 500 },
    });
    await t.reply(charge?.value as SagaCommand);

    expect((await t.saga("o-1"))?.state.status).toBe("COMPLETED");
    expect(indexed(t, "RUNNING")).toEqual([]);
    expect(indexed(t, "COMPLETED")).toEqual(["o-1"]);
    const events = t.events().map((e) => e.event.type);
    expect(events).toEqual([
      "SagaStarted",
      "CommandIssued",
      "StepSucceeded",
      "CommandIssued",
      "StepSucceeded",
      "SagaCompleted",
    ]);
    expect(t.events().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await t.saga("o-1"))?.seq).toBe(6);
    // One saga-events record per decision: the start, then each reply.
    expect(t.decisions().map((r) => [r.value?.firstSeq, r.value?.events.length])).toEqual([
      [1, 2],
      [3, 2],
      [5, 2],
    ]);
    // Each says the saga's status after it, so that a reader finds the ends without decoding.
    expect(t.decisions().map((r) => r.headers[SAGA_HEADERS.status]?.toString())).toEqual([
      "RUNNING",
      "RUNNING",
      "COMPLETED",
    ]);
  });

  it("drops a step's timeout timer once the step is answered, not firing it later", async () => {
    const t = driver();
    await t.start("o-9");
    const [reserve] = t.commands("inventory");
    expect(queued(t)).toEqual([{ sagaId: "o-9", dueAt: 11_000 }]);
    const timers = async () => {
      const record = await t.saga("o-9");
      return record === undefined ? [] : timersOf(record.state).map((x) => [x.type, x.step]);
    };
    expect(await timers()).toEqual([["Timeout", "reserve"]]);
    await t.reply(reserve?.value as SagaCommand);
    const [charge] = t.commands("payment");
    expect(await timers()).toEqual([["Timeout", "charge"]]);
    expect(queued(t)).toEqual([{ sagaId: "o-9", dueAt: 40_000 }]); // the default 30 s
    await t.reply(charge?.value as SagaCommand);
    expect(queued(t)).toEqual([]);
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
    const types = t.events().map((e) => e.event.type);
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

  it("numbers the commands an operator's retry re-issues by round, so that a participant runs again what it refused (regression: it answered the recorded refusal to every retry)", async () => {
    const t = driver();
    await t.start("o-r");
    await t.reply(t.commands("inventory")[0]?.value as SagaCommand);
    await t.reply(t.commands("payment")[0]?.value as SagaCommand, "failure"); // the pivot refused
    const release = t.commands("inventory")[1]?.value as SagaCommand;
    expect(release).toMatchObject({ action: "undo", round: 0 });
    await t.reply(release, "failure"); // the compensation refused: FAILED, for an operator
    expect((await t.saga("o-r"))?.state.status).toBe("FAILED");
    await t.control("o-r", { type: "Retry" });
    expect(t.commands("inventory")[2]?.value).toMatchObject({
      action: "undo",
      attempt: 2,
      round: 1,
    });
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
      return [...t.decisions(), ...t.commands("inventory"), ...t.commands("payment")].map((r) => ({
        key: r.key,
        partition: r.partition,
        id: r.headers[SAGA_HEADERS.messageId]?.toString(),
        value: r.value,
      }));
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(20);
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

  it("writes at most 12 records for a 3-step saga that succeeds: a decision record per input, commands, state", async () => {
    const threeSteps = defineSaga<Order>({
      name: "three",
      version: 1,
      participants: ["a", "b", "c"],
      stages: ["a", "b", "c"].map((name) =>
        step({
          name,
          participant: name,
          command: (o) => ({ type: "Do", payload: { orderId: o.orderId } }),
          compensation: (o) => ({ type: "Undo", payload: { orderId: o.orderId } }),
        }),
      ),
    });
    const topology = sagaTopology({
      applicationId: app,
      registry: new SagaRegistry([threeSteps]),
      starts: [
        { topic: "orders", saga: "three", valueSerde: json<Order>(), data: (o: Order) => o },
      ],
      serdes: jsonSagaSerdes,
      logger: createLogger("silent", "test"),
    });
    const d = new TopologyTestDriver(topology, { applicationId: app });
    await d
      .inputTopic("orders", Serdes.string, json<Order>())
      .pipe("s-1", { orderId: "s-1", amountCents: 1 });
    const replies = d.inputTopic(topics.replies, Serdes.string, json<SagaReply>());
    for (const participant of ["a", "b", "c"]) {
      const [command] = d.outputTopic(
        topics.commands(participant),
        Serdes.string,
        json<SagaCommand>(),
      );
      const c = command?.value as SagaCommand;
      // Each input committed on its own (the driver commits per record): the costliest case.
      await replies.pipe("s-1", success(c));
    }
    const count = (topic: string) => d.rawTopic(topic).length;
    const changelogs = [...topology.stores.values()]
      .filter((store) => store.changelog)
      .map((store) => count(changelogTopic(app, store.name)));
    const produced = {
      sagaEvents: count(topics.events),
      commands: ["a", "b", "c"].map((p) => count(topics.commands(p))).reduce((x, y) => x + y),
      changelog: changelogs.reduce((x, y) => x + y, 0),
    };
    expect(produced).toEqual({ sagaEvents: 4, commands: 3, changelog: 4 });
    expect(produced.sagaEvents + produced.commands + produced.changelog).toBeLessThanOrEqual(12);
    const decisions = d.outputTopic(topics.events, Serdes.string, json<SagaDecision>());
    expect(
      decisions.flatMap((r) => eventsOf(r.value as SagaDecision)).map((e) => e.event.type),
    ).toEqual([
      "SagaStarted",
      "CommandIssued",
      "StepSucceeded",
      "CommandIssued",
      "StepSucceeded",
      "CommandIssued",
      "StepSucceeded",
      "SagaCompleted",
    ]);
  });

  it("rebuilds the status index and the timers from the saga states when its task reopens", async () => {
    const t = reopenable();
    const first = await t.open();
    for (const id of ["o-1", "o-2", "o-3"]) await first.process(t.start(id));
    await first.commit();
    const [, , third] = first.commands("inventory");
    await first.process(t.reply(defined(third)));
    await first.commit();
    await first.process(t.reply(defined(first.commands("payment")[0])));
    await first.commit();
    await first.task.close();
    expect(t.indexes.get(0)).toBeUndefined(); // a closed task serves no index

    const second = await t.open();
    const index = t.indexes.get(0);
    expect([...(index?.list("RUNNING") ?? [])].map((s) => s.sagaId)).toEqual(["o-1", "o-2"]);
    expect([...(index?.list("COMPLETED") ?? [])].map((s) => s.sagaId)).toEqual(["o-3"]);
    expect(index?.count("RUNNING")).toBe(2);
    expect(index?.dueBy(Infinity, Infinity)).toEqual([
      { sagaId: "o-1", dueAt: 11_000 },
      { sagaId: "o-2", dueAt: 11_000 },
    ]);
    t.clock = 11_000; // the reserve steps time out: the rebuilt timers fire
    await second.task.punctuateWallClock();
    await second.commit();
    const fired = second.decisions().map((r) => [r.sagaId, r.events.map((e) => e.type)]);
    expect(fired).toEqual([
      ["o-1", ["StepTimedOut", "RetryScheduled"]],
      ["o-2", ["StepTimedOut", "RetryScheduled"]],
    ]);
  });

  it("rebuilds a discarded instance's index from committed state only", async () => {
    const t = reopenable();
    const first = await t.open();
    await first.process(t.start("o-1"));
    await first.commit();
    await first.process(t.reply(defined(first.commands("inventory")[0]))); // never committed
    expect(t.indexes.get(0)?.dueBy(Infinity, Infinity)).toEqual([{ sagaId: "o-1", dueAt: 40_000 }]);
    first.task.aborted(); // the commit failed: the instance is dropped
    await first.task.close();

    await t.open();
    expect(t.indexes.get(0)?.dueBy(Infinity, Infinity)).toEqual([{ sagaId: "o-1", dueAt: 11_000 }]);
  });

  it("fails the saga whose timer its definition cannot handle, alone, and fires the other timers of the tick (regression: the throw rolled the tick back, and no timer of the partition fired again)", async () => {
    const fragile = orderSaga((o) => {
      if (o.orderId === "o-bad") throw new Error("no reservation id to release");
      return { type: "Release", payload: { orderId: o.orderId } };
    });
    const t = driver(1, jsonSagaSerdes, fragile);
    await t.start("o-bad");
    await t.start("o-good");
    await t.d.advanceWallClockTime(1_000); // both time out: retries 100 ms later
    await t.d.advanceWallClockTime(100); // attempt 2 of each
    await t.d.advanceWallClockTime(1_000); // both time out again: compensation
    const undo = t.commands("inventory").filter((c) => c.value?.action === "undo");
    expect(undo.map((c) => c.value?.sagaId)).toEqual(["o-good"]);
    const bad = await t.saga("o-bad");
    expect(bad?.state.status).toBe("FAILED");
    expect(bad?.state.reason).toMatch(/no reservation id to release/);
    expect(timersOf(defined(bad).state)).toEqual([]);
    const failed = t.events().filter((e) => e.event.type === "SagaFailed");
    expect(failed.map((e) => e.sagaId)).toEqual(["o-bad"]);
    expect(indexed(t, "FAILED")).toEqual(["o-bad"]);
    await t.d.advanceWallClockTime(5_000); // nothing of it fires again
    expect(
      t
        .events()
        .filter((e) => e.sagaId === "o-bad")
        .at(-1)?.event.type,
    ).toBe("SagaFailed");
  });

  it("keeps a timer whose punctuation failed, and fires it at the next one", async () => {
    let failing = true;
    const serdes = {
      ...jsonSagaSerdes,
      command: (participant: string) => ({
        ...jsonSagaSerdes.command(participant),
        serialize: (c: SagaCommand) => {
          if (failing && c.attempt === 2) throw new Error("broker says no");
          return jsonSagaSerdes.command(participant).serialize(c);
        },
      }),
    };
    const t = driver(1, serdes);
    await t.start("o-1");
    await t.d.advanceWallClockTime(1_000); // the timeout: a retry is due 100 ms later
    expect(queued(t)).toEqual([{ sagaId: "o-1", dueAt: 11_100 }]);
    await expect(t.d.advanceWallClockTime(100)).rejects.toThrow("broker says no");
    expect(queued(t)).toEqual([{ sagaId: "o-1", dueAt: 11_100 }]);
    failing = false;
    await t.d.advanceWallClockTime(50);
    expect(t.commands("inventory").map((c) => c.value?.attempt)).toEqual([1, 2]);
    expect(queued(t)).toEqual([{ sagaId: "o-1", dueAt: 12_150 }]);
  });
});

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("expected a value");
  return value;
}

/** A participant's success reply to `c`. */
function success(c: SagaCommand): SagaReply {
  const { sagaId, step, action, attempt } = c;
  return {
    sagaId,
    step,
    action,
    attempt,
    outcome: "success",
    retriable: false,
    reason: "",
    result: {},
  };
}

/**
 * The saga topology's task run by hand, so that a second instance can open on the first one's
 * stores, as the runtime reopens a task on what it restored.
 */
/** A task of partition 0 that can be closed and opened again, on the same stores, by workers
 * that run other definitions. */
function reopenable() {
  const indexes = new SagaIndexes();
  const topologyOf = (definitions: AnySagaDefinition[]): Topology =>
    sagaTopology({
      applicationId: app,
      registry: new SagaRegistry(definitions),
      starts: [
        { topic: "orders", saga: "order", valueSerde: json<Order>(), data: (o: Order) => o },
      ],
      serdes: jsonSagaSerdes,
      indexes,
      logger: createLogger("silent", "test"),
    });
  const engines = new Map<string, MemoryBytesStore>();
  const state = { clock: 10_000 };
  let offset = 0;
  const input = (topic: string, key: string, value: unknown) => ({
    topic,
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(key),
    value: Buffer.from(JSON.stringify(value)),
    timestamp: state.clock,
    headers: {},
  });
  return {
    indexes,
    get clock() {
      return state.clock;
    },
    set clock(value: number) {
      state.clock = value;
    },
    start: (id: string) => input("orders", id, { orderId: id, amountCents: 500 }),
    reply: (c: SagaCommand) => input(topics.replies, c.sagaId, success(c)),
    cancel: (id: string) => input(topics.control, id, { type: "Cancel", reason: "ops" }),
    open: async (definitions: AnySagaDefinition[] = [saga]) => {
      const topology = topologyOf(definitions);
      const subtopology = defined(topology.subtopologies[0]);
      const stores = new Map<string, KeyValueStore<unknown, unknown>>();
      for (const name of subtopology.stores) {
        const spec = defined(topology.stores.get(name));
        const engine = engines.get(name) ?? new MemoryBytesStore();
        engines.set(name, engine);
        stores.set(name, new KeyValueStore(name, engine, spec.keySerde, spec.valueSerde));
      }
      const task = new Task({
        applicationId: app,
        topology,
        subtopology,
        partition: 0,
        stores,
        onError: ErrorHandling.DeadLetter,
        now: () => state.clock,
      });
      await task.init();
      const outputs: OutputRecord[] = [];
      const decode = <T>(topic: string) =>
        outputs.filter((o) => o.topic === topic).map((o) => JSON.parse(String(o.value)) as T);
      return {
        task,
        process: (record: ReturnType<typeof input>) => task.process(record),
        /** Seals the open interval and commits it (its outputs are then readable). */
        commit: async () => {
          outputs.push(...task.seal().outputs);
          await task.committed();
        },
        /** What the commits so far wrote. */
        commands: (participant: string) => decode<SagaCommand>(topics.commands(participant)),
        decisions: () => decode<SagaDecision>(topics.events),
        deadLetters: () => outputs.filter((o) => o.topic === deadLetterTopic(app)),
        parked: async () => {
          const found: [string, ParkedInput][] = [];
          for await (const entry of defined(stores.get(SAGA_STORES.parked)).range()) {
            found.push(entry as [string, ParkedInput]);
          }
          return found;
        },
        saga: async (id: string) =>
          (await defined(stores.get(SAGA_STORES.sagas)).get(id)) as SagaRecord | undefined,
      };
    },
  };
}

describe("saga processor and inputs that would stop a partition", () => {
  it("runs a saga once when its start also arrives on a partition its id does not hash to (regression: a second instance refunded a shipped order)", async () => {
    const t = driver(2);
    const home = partitionForKey(Buffer.from("o-dup"), 2);
    await t.start("o-dup");
    await t.start("o-dup", 10_000, {}, 1 - home); // a producer with another partitioner
    expect(t.events().filter((e) => e.event.type === "SagaStarted")).toHaveLength(1);
    expect(await t.saga("o-dup", 1 - home)).toBeUndefined();
    expect(t.commands("inventory")).toHaveLength(1);
    const [dead] = t.d.deadLetters();
    expect(dead?.headers[DLQ_HEADERS.code]?.toString()).toBe(ErrorCode.RecordMisplaced);
    expect(dead?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      new RegExp(`orders/${1 - home}@0 belongs on partition ${home} of 2`),
    );
  });

  it("refuses data and results over its limits where they enter, and cuts long reasons (regression: they made records the broker refused at every retry)", async () => {
    const limits = { maxDataBytes: 200, maxResultBytes: 100, maxReasonLength: 40 };
    const t = driver(1, jsonSagaSerdes, saga, limits);
    await t.start("o-big", 10_000, { note: "x".repeat(300) });
    expect(await t.saga("o-big")).toBeUndefined();
    await t.start("o-ok");
    const reserve = t.commands("inventory")[0]?.value as SagaCommand;
    const reply = {
      sagaId: "o-ok",
      step: reserve.step,
      action: reserve.action,
      attempt: reserve.attempt,
      outcome: "success" as const,
      retriable: false,
      reason: "",
    };
    const replies = t.d.inputTopic(topics.replies, Serdes.string, json<SagaReply>());
    await replies.pipe("o-ok", { ...reply, result: { receipt: "r".repeat(200) } });
    expect((await t.saga("o-ok"))?.state.steps.reserve?.phase).toBe("doing"); // not taken
    await t.control("o-ok", { type: "Cancel", reason: "because ".repeat(20) });
    const state = (await t.saga("o-ok"))?.state;
    expect(state?.reason?.length).toBeLessThanOrEqual(40);
    expect(state?.reason).toMatch(/^because because … \(\d+ more characters\)$/);
    const dead = t.d.deadLetters().map((d) => d.headers[DLQ_HEADERS.error]?.toString());
    expect(dead).toHaveLength(2);
    expect(dead[0]).toMatch(
      /saga o-big: its data is \d+ bytes, more than the limit of 200 \(maxDataBytes\)/,
    );
    expect(dead[1]).toMatch(
      /saga o-ok: the result of step "reserve" \(attempt 1\) is 2\d\d bytes, more than the limit of 100/,
    );
  });
});

describe("saga processor retention", () => {
  it("deletes a saga that ended longer than the retention ago, with a tombstone, and keeps the others", async () => {
    const t = driver(1, jsonSagaSerdes, saga, {}, 60_000);
    await t.start("o-done");
    await t.reply(t.commands("inventory")[0]?.value as SagaCommand);
    await t.reply(t.commands("payment")[0]?.value as SagaCommand); // COMPLETED at 10,000
    await t.start("o-running");
    await t.d.advanceWallClockTime(59_000);
    expect((await t.saga("o-done"))?.state.status).toBe("COMPLETED"); // within the retention
    await t.d.advanceWallClockTime(2_000);
    expect(await t.saga("o-done")).toBeUndefined();
    expect(indexed(t, "COMPLETED")).toEqual([]);
    expect(t.indexes.get(0)?.count("COMPLETED")).toBe(0);
    const changelog = t.d.rawTopic(changelogTopic(app, SAGA_STORES.sagas));
    const last = changelog.filter((r) => r.key?.toString() === "o-done").at(-1);
    expect(last?.value).toBeNull(); // a tombstone: compaction forgets it
    // Its step timed out and it compensated meanwhile: it ended within the retention.
    const other = (await t.saga("o-running"))?.state;
    expect(other?.updatedAt).toBeGreaterThan(71_000 - 60_000);
    expect(t.events().filter((e) => e.sagaId === "o-done")).toHaveLength(6); // the log keeps all
  });
});

describe("saga processor across deploys", () => {
  /** The order saga's next version: new instances start on it, v1's carry on as v1. */
  const v2 = defineSaga<Order>({ ...orderInput(), version: 2 });
  /** v1 edited in place: a step added, the version kept. */
  const editedV1 = defineSaga<Order>({
    ...orderInput(),
    participants: ["inventory", "payment", "shipping"],
    stages: [
      ...orderInput().stages,
      step({
        name: "ship",
        participant: "shipping",
        command: (o) => ({ type: "Ship", payload: { orderId: o.orderId } }),
      }),
    ],
  });

  it("parks the replies, operators' requests and timers of a saga whose version the worker lacks, and runs them in order once a worker with it opens the task (regression: they were dead-lettered and its timers dropped, so a rolling deploy that dropped v1 lost v1's sagas in flight)", async () => {
    const t = reopenable();
    const before = await t.open([saga]);
    await before.process(t.start("o-1"));
    await before.process(t.start("o-2"));
    await before.commit();
    const [reserve1, reserve2] = before.commands("inventory");
    await before.task.close();

    const without = await t.open([v2]); // v1 dropped too early
    await without.process(t.reply(defined(reserve1)));
    await without.process(t.cancel("o-2"));
    await without.process(t.start("o-3")); // new sagas start on v2 meanwhile
    t.clock = 12_000; // past the reserve steps' timeouts
    await without.task.punctuateWallClock();
    await without.commit();
    expect(without.deadLetters()).toEqual([]);
    expect(without.decisions().filter((d) => d.sagaId !== "o-3")).toEqual([]);
    const parked = await without.parked();
    expect(parked.map(([, p]) => [p.message.kind, p.reason.slice(0, 39)])).toEqual([
      ["reply", "saga order v1 is not deployed on this w"],
      ["control", "saga order v1 is not deployed on this w"],
    ]);
    expect(timersOf(defined(await without.saga("o-1")).state)).toHaveLength(1); // kept
    await without.task.close();

    const again = await t.open([saga, v2]);
    t.clock += 100;
    await again.task.punctuateWallClock(); // the first tick re-drives what was parked
    await again.commit();
    const events = again
      .decisions()
      .filter((d) => d.sagaId !== "o-3") // v2's own, retrying its reserve step meanwhile
      .map((d) => [d.sagaId, d.events.map((e) => e.type)]);
    expect(events).toEqual([
      ["o-1", ["StepSucceeded", "CommandIssued"]],
      ["o-2", ["CompensationStarted", "CommandIssued"]],
    ]);
    expect(again.commands("payment").map((c) => [c.sagaId, c.version])).toEqual([["o-1", 1]]);
    expect(
      again.commands("inventory").flatMap((c) => (c.sagaId === "o-3" ? [] : [[c.sagaId, c.type]])),
    ).toEqual([["o-2", "Release"]]);
    expect(await again.parked()).toEqual([]);
    expect(reserve2?.sagaId).toBe("o-2");
  });

  it("runs a saga's parked inputs before a new one when it arrives first", async () => {
    const t = reopenable();
    const before = await t.open([saga]);
    await before.process(t.start("o-1"));
    await before.commit();
    const [reserve] = before.commands("inventory");
    await before.task.close();
    const without = await t.open([v2]);
    await without.process(t.reply(defined(reserve)));
    await without.commit();
    await without.task.close();

    const again = await t.open([saga, v2]);
    await again.process(t.reply(defined(reserve))); // a redelivery, before any tick
    await again.commit();
    expect(again.decisions().flatMap((d) => d.events.map((e) => e.type))).toEqual([
      "StepSucceeded",
      "CommandIssued",
    ]); // the parked reply ran first; the late copy is ignored
    t.clock += 100;
    await again.task.punctuateWallClock();
    await again.commit();
    expect(again.decisions()).toHaveLength(1);
  });

  it("parks a saga's inputs when its version was edited without a new number (regression: an edit in place went unnoticed, and instances ran on steps they never started with)", async () => {
    expect(editedV1.fingerprint).not.toBe(saga.fingerprint);
    expect(defineSaga<Order>({ ...orderInput(), version: 1 }).fingerprint).toBe(saga.fingerprint);
    const t = reopenable();
    const before = await t.open([saga]);
    await before.process(t.start("o-1"));
    await before.commit();
    const [reserve] = before.commands("inventory");
    expect(defined(await before.saga("o-1")).state.fingerprint).toBe(saga.fingerprint);
    await before.task.close();

    const edited = await t.open([editedV1]);
    await edited.process(t.reply(defined(reserve)));
    await edited.commit();
    expect(edited.decisions()).toEqual([]);
    const [[, parked] = []] = await edited.parked();
    expect(parked?.reason).toMatch(
      /saga order v1 was edited since this instance started .*deploy the edit as a new version/,
    );
    await edited.task.close();

    const original = await t.open([saga]);
    t.clock += 100;
    await original.task.punctuateWallClock();
    await original.commit();
    expect(original.commands("payment").map((c) => c.sagaId)).toEqual(["o-1"]);
  });
});
