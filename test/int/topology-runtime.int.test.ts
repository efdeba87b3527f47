/**
 * The topology runtime on the real Kafka: the running-total topology keeps exact totals in
 * exactly_once and at_least_once, restores its stores from a checkpoint after a clean stop,
 * and sends bad input to the dead-letter topic without stopping.
 */
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Consumer, findErrorBy, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runningTotalTopology, TOTALS_STORE } from "../../src/bench/running-total.js";
import {
  createAdmin,
  createProducer,
  DLQ_HEADERS,
  deadLetterTopic,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { TransactionalCommitSink } from "../../src/topology/commit-sinks.js";
import { GroupCoordinator, type GroupGeneration } from "../../src/topology/group-coordinator.js";
import { ProcessingGuarantee, StreamsApp } from "../../src/topology/index.js";
import { waitUntil } from "../../src/util/index.js";
import { deadlineTopology, type DeadlineInput } from "../support/deadline-topology.js";
import { readLatestValues } from "../support/latest-values.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";

const { kafkaBrokers } = inject("connections");
const logger = createLogger("warn", "runtime-test");
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "runtime-test" };
let admin: KafkaAdmin;
let stateRoot: string;
const apps: StreamsApp[] = [];

beforeAll(async () => {
  admin = createAdmin(kafka);
  stateRoot = await mkdtemp(path.join(os.tmpdir(), "sagastream-runtime-"));
  await chmod(stateRoot, 0o755);
});

afterAll(async () => {
  for (const app of apps) await app.stop().catch(() => undefined);
  await admin.close();
  await rm(stateRoot, { recursive: true, force: true });
});

async function topics(label: string, partitions: number) {
  const input = uniqueName(`${label}_in`);
  const output = uniqueName(`${label}_out`);
  await ensureTopics(
    admin,
    [input, output].map((topic) => ({ topic, partitions })),
  );
  return { input, output };
}

async function produce(topic: string, records: [string, string][]): Promise<void> {
  const producer = createProducer(kafka);
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({
        messages: records
          .slice(i, i + 1000)
          .map(([key, value]) => ({ topic, key, value: Buffer.from(value) })),
      });
    }
  } finally {
    await producer.close();
  }
}

/** `count` amounts over `keys` keys; returns the records and each key's exact total. */
function amounts(
  count: number,
  keys: number,
  seed: number,
): { records: [string, string][]; totals: Map<string, number> } {
  const records: [string, string][] = [];
  const totals = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const key = `key-${(i * 7 + seed) % keys}`;
    const amount = ((i * 31 + seed) % 97) + 1;
    records.push([key, String(amount)]);
    totals.set(key, (totals.get(key) ?? 0) + amount);
  }
  return { records, totals };
}

async function startApp(
  applicationId: string,
  t: { input: string; output: string },
  guarantee: ProcessingGuarantee,
  stateDir: string,
  topology = runningTotalTopology(t),
) {
  const app = new StreamsApp({
    applicationId,
    brokers: kafkaBrokers,
    topology,
    stateDir,
    guarantee,
    logger,
  });
  apps.push(app);
  await app.start();
  return app;
}

/** The last committed total per key on the output topic, once it matches (or the deadline). */
async function lastTotals(
  topic: string,
  expectedKeys: number,
  expected: Map<string, number>,
): Promise<Map<string, number>> {
  const reader = await readLatestValues(kafka, topic);
  const totals = () => new Map([...reader.values].map(([k, v]) => [k, Number(v)]));
  try {
    await waitUntil(
      () => {
        const latest = totals();
        return latest.size >= expectedKeys && [...expected].every(([k, v]) => latest.get(k) === v)
          ? true
          : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 200,
        description: `the last total of ${expectedKeys} keys on ${topic}`,
      },
    ).catch(() => undefined); // compared in full by the caller, which shows the difference
    return totals();
  } finally {
    await reader.stop();
  }
}

async function storeTotals(app: StreamsApp, partitions: number): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (let p = 0; p < partitions; p++) {
    const store = await app.localStore<string, number>(TOTALS_STORE, p);
    if (store === undefined) continue;
    for await (const [key, total] of store.range()) totals.set(key, total);
  }
  return totals;
}

describe.each([ProcessingGuarantee.ExactlyOnce, ProcessingGuarantee.AtLeastOnce])(
  "StreamsApp (%s)",
  (guarantee) => {
    it("keeps exact running totals in its stores and on the output topic", async () => {
      const t = await topics("totals", 3);
      const { records, totals } = amounts(3000, 40, 1);
      await produce(t.input, records);
      const app = await startApp(
        uniqueName("app"),
        t,
        guarantee,
        path.join(stateRoot, uniqueName("s")),
      );

      expect(Object.fromEntries(await lastTotals(t.output, 40, totals))).toEqual(
        Object.fromEntries(totals),
      );
      await waitUntil(async () => ((await storeTotals(app, 3)).size === 40 ? true : undefined), {
        timeoutMs: 10_000,
        description: "all keys in the stores",
      });
      expect(Object.fromEntries(await storeTotals(app, 3))).toEqual(Object.fromEntries(totals));
      // Counted once a commit's stores took its writes: just after they show in the stores.
      await waitUntil(() => (app.metrics.recordsProcessed >= 3000 ? true : undefined), {
        timeoutMs: 10_000,
        description: "3000 records counted as processed",
      }).catch(() => undefined); // compared exactly below
      expect(app.metrics.recordsProcessed).toBe(3000);
    });
  },
);

describe("StreamsApp restarts", () => {
  it("restores from its checkpoint after a clean stop and goes on with exact totals", async () => {
    const t = await topics("restart", 3);
    const applicationId = uniqueName("app");
    const stateDir = path.join(stateRoot, uniqueName("s"));
    const first = amounts(2000, 30, 2);
    await produce(t.input, first.records);
    const app1 = await startApp(applicationId, t, ProcessingGuarantee.ExactlyOnce, stateDir);
    expect(Object.fromEntries(await lastTotals(t.output, 30, first.totals))).toEqual(
      Object.fromEntries(first.totals),
    );
    await app1.stop();
    apps.splice(apps.indexOf(app1), 1);

    const second = amounts(1000, 30, 3);
    await produce(t.input, second.records);
    const expected = new Map(first.totals);
    for (const [k, v] of second.totals) expected.set(k, (expected.get(k) ?? 0) + v);
    const app2 = await startApp(applicationId, t, ProcessingGuarantee.ExactlyOnce, stateDir);
    expect(Object.fromEntries(await lastTotals(t.output, 30, expected))).toEqual(
      Object.fromEntries(expected),
    );
    // The checkpoint covered the stores, so nothing was replayed from the changelog.
    expect(app2.metrics.restorations.length).toBe(3);
    expect(app2.metrics.restoredRecords).toBe(0);
  });

  it("wipes and restores from the changelog when there is no checkpoint", async () => {
    const t = await topics("wiped", 2);
    const applicationId = uniqueName("app");
    const { records, totals } = amounts(1500, 20, 4);
    await produce(t.input, records);
    const app1 = await startApp(
      applicationId,
      t,
      ProcessingGuarantee.ExactlyOnce,
      path.join(stateRoot, uniqueName("a")),
    );
    expect(Object.fromEntries(await lastTotals(t.output, 20, totals))).toEqual(
      Object.fromEntries(totals),
    );
    await app1.stop();
    apps.splice(apps.indexOf(app1), 1);

    // A new state dir is like a lost disk: everything comes back from the changelog.
    const app2 = await startApp(
      applicationId,
      t,
      ProcessingGuarantee.ExactlyOnce,
      path.join(stateRoot, uniqueName("b")),
    );
    await waitUntil(async () => ((await storeTotals(app2, 2)).size === 20 ? true : undefined), {
      timeoutMs: 60_000,
      description: "the restored stores",
    });
    expect(Object.fromEntries(await storeTotals(app2, 2))).toEqual(Object.fromEntries(totals));
    expect(app2.metrics.restoredRecords).toBeGreaterThanOrEqual(20);
  });
});

describe("StreamsApp fencing", () => {
  it("refuses a commit made under a group generation that has passed, and nothing it sent becomes visible (KIP-447: a zombie member is fenced by the coordinator)", async () => {
    const t = await topics("zombie", 1);
    const groupId = uniqueName("group");
    const member = (name: string) =>
      new Consumer({ clientId: name, bootstrapBrokers: kafkaBrokers, groupId, autocommit: false });
    const zombie = member("zombie");
    const joined = new Promise<GroupGeneration>((resolve) => {
      zombie.once("consumer:group:join", (payload) => {
        resolve({ groupId, memberId: payload.memberId, generationId: payload.generationId ?? -1 });
      });
    });
    zombie.topics.trackAll(t.input);
    await zombie.joinGroup({ sessionTimeout: 6_000, heartbeatInterval: 500 });
    const old = await joined;
    // A second member joins: the group moves to the next generation without the zombie's say.
    const newcomer = member("newcomer");
    newcomer.topics.trackAll(t.input);
    await newcomer.joinGroup({ sessionTimeout: 6_000, heartbeatInterval: 500 });
    const coordinator = new GroupCoordinator(zombie, "zombie-coordinator");
    const transactionalId = uniqueName("zombie-tx");
    const sink = new TransactionalCommitSink({
      transactionalId,
      consumer: zombie,
      coordinator,
      partitionCount: () => 1,
      generation: () => old,
      createProducer: () =>
        new Producer({
          clientId: "zombie-producer",
          bootstrapBrokers: kafkaBrokers,
          transactionalId,
          idempotent: true,
          producerId: -1n,
          producerEpoch: -1,
        }),
    });
    try {
      const output = {
        topic: t.output,
        key: Buffer.from("z"),
        value: Buffer.from("1"),
        timestamp: Date.now(),
        headers: {},
      };
      const refused = await sink
        .commit([output], [{ topic: t.input, partition: 0, offset: 1n }])
        .then(
          () => undefined,
          (error: unknown) => error as Error,
        );
      expect(findErrorBy(refused, "apiId", "ILLEGAL_GENERATION")).not.toBeNull();
      expect(
        await coordinator.committedOffsets(groupId, [{ topic: t.input, partition: 0 }]),
      ).toEqual(new Map());
      // What it sent was aborted: a read_committed reader sees none of it.
      await produce(t.output, [["sentinel", "1"]]);
      const seen = await readTopic(kafka, t.output, 1);
      expect(seen.map((m) => m.key)).toEqual(["sentinel"]);
    } finally {
      await sink.close();
      await coordinator.close();
      await newcomer.close();
      await zombie.close();
    }
  });

  it("reopens a task whose commit failed at once, without waiting for more input (regression: it stayed closed, unserved and unpunctuated)", async () => {
    const t = await topics("refence", 1);
    const applicationId = uniqueName("app");
    await produce(t.input, [
      ["a", "1"],
      ["a", "2"],
    ]);
    const stateDir = path.join(stateRoot, uniqueName("s"));
    const app = await startApp(applicationId, t, ProcessingGuarantee.ExactlyOnce, stateDir);
    expect(Object.fromEntries(await lastTotals(t.output, 1, new Map([["a", 3]])))).toEqual({
      a: 3,
    });

    // Another producer takes the worker's transactional id: its next commit fails.
    const processId = await readFile(path.join(stateDir, applicationId, "process.id"), "utf8");
    // Its InitProducerId bumps the id's epoch: that fences the worker's producer. (An empty
    // transaction cannot be aborted: the broker answers INVALID_TXN_STATE to its EndTxn.)
    const usurper = createProducer(kafka, { transactionalId: `${applicationId}-${processId}` });
    await usurper.beginTransaction();
    await usurper.close();
    await produce(t.input, [["a", "4"]]); // the last input: nothing more comes to reopen the task

    expect(Object.fromEntries(await lastTotals(t.output, 1, new Map([["a", 7]])))).toEqual({
      a: 7,
    });
    expect(app.ownedTasks()).toEqual(["0_0"]);
    expect(Object.fromEntries(await storeTotals(app, 1))).toEqual({ a: 7 });
  });
});

describe("StreamsApp wall-clock punctuation", () => {
  it("waits until a reopened task has read what its input held at opening (an answer that came while no task ran is not timed out)", async () => {
    const t = await topics("deadline", 1);
    const applicationId = uniqueName("app");
    const start = (stateDir: string) =>
      startApp(applicationId, t, ProcessingGuarantee.ExactlyOnce, stateDir, deadlineTopology(t));
    const send = async (records: [string, DeadlineInput][]) => {
      for (let i = 0; i < records.length; i += 50) {
        const chunk = records.slice(i, i + 50); // padded records: each send under 1 MB
        await produce(
          t.input,
          chunk.map(([key, value]) => [key, JSON.stringify(value)]),
        );
      }
    };
    const KEYS = 600;
    const keys = [...Array(KEYS).keys()].map((i) => `k${i}`);
    const due = Date.now() + 3_000;
    const first = await start(path.join(stateRoot, uniqueName("s")));
    await send([...keys, "unanswered"].map((key) => [key, { due }]));
    await waitUntil(
      async () => ((await first.changelogEnd("deadlines", 0)) > BigInt(KEYS) ? true : undefined),
      {
        timeoutMs: 30_000,
        description: "the deadlines committed",
      },
    );
    await first.stop();
    apps.splice(apps.indexOf(first), 1);

    // The answers come while no task runs, and their deadline passes before one opens again.
    // Padded to 8 KB, they take several fetches (1 MB each) to read: punctuation could run
    // between two of them.
    const padding = "x".repeat(8_192);
    await send(keys.map((key) => [key, { answer: true, padding }]));
    await waitUntil(() => (Date.now() > due + 500 ? true : undefined), {
      timeoutMs: 10_000,
      description: "the deadline to pass",
    });
    await start(path.join(stateRoot, uniqueName("s"))); // a new disk: restored from the changelog

    const outcomes = await readTopic(kafka, t.output, KEYS + 1, { timeoutMs: 60_000 });
    const byKey = new Map(outcomes.map((r) => [r.key ?? "", String(r.value)]));
    expect(byKey.get("unanswered")).toBe("timed out"); // the punctuator does run
    expect(outcomes.filter((r) => String(r.value) === "timed out").map((r) => r.key)).toEqual([
      "unanswered",
    ]);
    expect(outcomes).toHaveLength(KEYS + 1);
  });
});

describe("StreamsApp bad input", () => {
  it("dead-letters a record it cannot decode, with its origin, and keeps processing", async () => {
    const t = await topics("dlq", 1);
    const applicationId = uniqueName("app");
    await produce(t.input, [
      ["a", "1"],
      ["a", "{oops"],
      ["a", "2"],
    ]);
    await startApp(
      applicationId,
      t,
      ProcessingGuarantee.ExactlyOnce,
      path.join(stateRoot, uniqueName("s")),
    );
    expect(Object.fromEntries(await lastTotals(t.output, 1, new Map([["a", 3]])))).toEqual({
      a: 3,
    });

    const dead = await readTopic(kafka, deadLetterTopic(applicationId), 1, { timeoutMs: 30_000 });
    expect(dead).toHaveLength(1);
    expect(String(dead[0]?.value)).toBe("{oops");
    expect(dead[0]?.headers[DLQ_HEADERS.topic]).toBe(t.input);
    expect(dead[0]?.headers[DLQ_HEADERS.offset]).toBe("1");
    expect(dead[0]?.headers[DLQ_HEADERS.code]).toBe("DESERIALIZATION_FAILED");
  });
});
