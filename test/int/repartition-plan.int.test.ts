/**
 * `repartition --plan` on the real stack (issue 15): an application's topics on 3 partitions —
 * saga-events with 60 sagas' records, a changelog with tombstones, a parked-inputs changelog
 * keyed `<sagaId>\0<seq>`, a start topic and a commands topic partly consumed by their groups —
 * planned onto 6: every topic found with its role and new name, its records, its distinct keys
 * and their spread over the 6 partitions as the Java partitioner places them (a parked input by
 * its saga id), the groups reading it and the unconsumed tails; the CLI prints the same; a
 * layout naming another generation, or a move under way, is followed or refused.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { UsageError } from "../../src/errors/index.js";
import {
  createProducer,
  ensureTopics,
  partitionForKey,
  topicOffsets,
  withAdmin,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import {
  CopyKind,
  planRepartition,
  TopicRole,
  type PlannedTopic,
  type RepartitionPlan,
} from "../../src/ops/index.js";
import {
  encodeLayout,
  ensureSagaTopics,
  LAYOUT_KEY,
  layoutTopic,
  LayoutState,
  sagaTopics,
} from "../../src/saga/index.js";
import { uniqueName } from "../support/names.js";

const run = promisify(execFile);
const connections = inject("connections");
const app = uniqueName("repart");
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${app}-test` };
const topics = sagaTopics(app);
const starts = `${app}_orders.outbox.event.order`;
const sagasChangelog = `${app}-sagas-changelog`;
const parkedChangelog = `${app}-parked-changelog`;
const SAGAS = 60;
const DELETED = 5; // sagas whose state was deleted (a tombstone last)
const ids = Array.from({ length: SAGAS }, (_, i) => `order-${String(i).padStart(3, "0")}`);
/** Parked inputs: saga order-010 has two, order-011 one. */
const parkedKeys = [
  "order-010\u00000000000000",
  "order-010\u00000000000001",
  "order-011\u00000000000000",
];
/** Records not yet consumed by their group, as committed below. */
let startsTail = 0;
let commandsTail = 0;
let producer: KafkaProducer;
let plan: RepartitionPlan;

/** Keys per partition of 6 as the Java client places them. */
function spread(keys: readonly string[]): number[] {
  const counts = [0, 0, 0, 0, 0, 0];
  for (const key of keys) {
    const p = partitionForKey(Buffer.from(key), 6);
    counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts;
}

/** Commits half of each partition's records of `topic` for `groupId`; returns the rest's count. */
async function commitHalf(groupId: string, topic: string): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const offsets = await topicOffsets(admin, topic);
    const at = offsets.map((p) => ({
      partition: p.partition,
      offset: p.low + (p.high - p.low) / 2n,
    }));
    await admin.alterConsumerGroupOffsets({
      groupId,
      topics: [{ name: topic, partitionOffsets: at }],
    });
    return offsets.reduce((sum, p, i) => sum + Number(p.high - (at[i]?.offset ?? 0n)), 0);
  });
}

function topicOf(role: TopicRole, name?: string): PlannedTopic {
  const found = plan.topics.find(
    (t) => t.role === role && (name === undefined || t.topic === name),
  );
  if (found === undefined) throw new Error(`no ${role} topic ${name ?? ""} in the plan`);
  return found;
}

beforeAll(async () => {
  await ensureSagaTopics(kafka, app, ["payment"], 3, [starts]);
  await withAdmin(kafka, (admin) =>
    ensureTopics(
      admin,
      [sagasChangelog, parkedChangelog].map((topic) => ({
        topic,
        partitions: 3,
        configs: { "cleanup.policy": "compact" },
      })),
    ),
  );
  producer = createProducer(kafka);
  const value = (s: string) => Buffer.from(JSON.stringify({ s }));
  await producer.send({
    messages: [
      // two decisions per saga
      ...ids.flatMap((id) => [
        { topic: topics.events, key: id, value: value(`${id} started`) },
        { topic: topics.events, key: id, value: value(`${id} step`) },
      ]),
      // the saga states, written twice; the first DELETED deleted
      ...ids.flatMap((id) => [
        { topic: sagasChangelog, key: id, value: value("v1") },
        { topic: sagasChangelog, key: id, value: value("v2") },
      ]),
      ...ids.slice(0, DELETED).map((id) => ({ topic: sagasChangelog, key: id, value: null })),
      ...parkedKeys.map((key) => ({ topic: parkedChangelog, key, value: value("parked") })),
      // starts of 20 sagas, commands for 8
      ...ids.slice(0, 20).map((id) => ({ topic: starts, key: id, value: value("start") })),
      ...ids.slice(0, 8).map((id) => ({
        topic: topics.commands("payment"),
        key: id,
        value: value("charge"),
      })),
    ],
  });
  // the workers' group consumed half of the starts and all of the (empty) replies; the
  // participant half of its commands; a participant's saga-ends reader follows saga-events
  startsTail = await commitHalf(app, starts);
  await commitHalf(app, topics.replies);
  commandsTail = await commitHalf(`${app}.participant.payment`, topics.commands("payment"));
  await commitHalf(`${app}.participant.payment.saga-ends`, topics.events);
}, 60_000);

afterAll(async () => {
  await producer.close();
});

describe("repartition --plan", () => {
  it("finds the application's topics in generation 0 with their new names", async () => {
    plan = await planRepartition({ kafka, applicationId: app, partitions: 6 });
    expect(plan.from).toEqual({ generation: 0, partitions: 3, layoutRecord: false });
    expect(plan.to).toEqual({ generation: 1, partitions: 6 });
    expect(plan.workersGroup).toEqual({ now: app, next: `${app}.g1` });
    expect(
      plan.topics.map((t) => [t.role, t.topic, t.partitions, t.newTopic, t.newPartitions]),
    ).toEqual([
      [TopicRole.Events, topics.events, 3, `${topics.events}.g1`, 6],
      [TopicRole.Replies, topics.replies, 3, `${topics.replies}.g1`, 6],
      [TopicRole.Control, topics.control, 3, `${topics.control}.g1`, 6],
      [TopicRole.Commands, topics.commands("payment"), 3, `${topics.commands("payment")}.g1`, 6],
      [TopicRole.Start, starts, 3, `${starts}.g1`, 6],
      [TopicRole.Changelog, sagasChangelog, 3, `${app}.g1-sagas-changelog`, 6],
      [TopicRole.Changelog, parkedChangelog, 3, `${app}.g1-parked-changelog`, 6],
    ]);
    expect(topicOf(TopicRole.Commands).participant).toBe("payment");
  });

  it("counts records and distinct keys, and their spread over the 6 new partitions", () => {
    const events = topicOf(TopicRole.Events);
    expect(events.records).toBe(2 * SAGAS);
    expect(events.copy).toBe(CopyKind.History);
    expect(events.toCopy).toBe(2 * SAGAS);
    expect(events.keys).toMatchObject({
      recordsRead: 2 * SAGAS,
      keys: SAGAS,
      deletedKeys: 0,
      unkeyed: 0,
    });
    const expected = spread(ids);
    expect(events.keys?.skew.perPartition).toEqual(expected);
    expect(events.keys?.skew.min).toBe(Math.min(...expected));
    expect(events.keys?.skew.max).toBe(Math.max(...expected));
    expect(events.keys?.skew.mean).toBe(SAGAS / 6);
    expect(events.keys?.skew.maxOverMean).toBeCloseTo(Math.max(...expected) / (SAGAS / 6), 10);
    expect(events.bytes).toBeGreaterThan(0);

    const states = topicOf(TopicRole.Changelog, sagasChangelog);
    expect(states.records).toBe(2 * SAGAS + DELETED);
    expect(states.copy).toBe(CopyKind.LatestValues);
    expect(states.keys).toMatchObject({ keys: SAGAS - DELETED, deletedKeys: DELETED });
    expect(states.toCopy).toBe(SAGAS - DELETED);
    expect(states.keys?.skew.perPartition).toEqual(spread(ids.slice(DELETED)));

    // a parked input goes where its saga does
    const parked = topicOf(TopicRole.Changelog, parkedChangelog);
    expect(parked.keys?.keys).toBe(3);
    expect(parked.keys?.skew.perPartition).toEqual(spread(["order-010", "order-010", "order-011"]));
    expect(parked.keys?.skew.max).toBe(
      Math.max(...spread(["order-010", "order-010", "order-011"])),
    );
  });

  it("finds the start topic from the workers' group's offsets, the groups reading each topic, and the unconsumed tails", () => {
    const start = topicOf(TopicRole.Start);
    expect(start.groups).toEqual([app]);
    expect(start.copy).toBe(CopyKind.Unconsumed);
    expect(start.tailGroup).toBe(app);
    expect(start.records).toBe(20);
    expect(start.unconsumed).toBe(startsTail);
    expect(startsTail).toBeGreaterThan(0);
    expect(startsTail).toBeLessThan(20);

    const commands = topicOf(TopicRole.Commands);
    expect(commands.groups).toEqual([`${app}.participant.payment`]);
    expect(commands.tailGroup).toBe(`${app}.participant.payment`);
    expect(commands.unconsumed).toBe(commandsTail);

    expect(topicOf(TopicRole.Events).groups).toEqual([`${app}.participant.payment.saga-ends`]);
    expect(topicOf(TopicRole.Replies).groups).toEqual([app]);
    expect(topicOf(TopicRole.Control).groups).toEqual([]);
    expect(topicOf(TopicRole.Control).unconsumed).toBe(0);

    expect(plan.estimate.tailRecords).toBe(startsTail + commandsTail);
    expect(plan.estimate.recordsToCopy).toBe(
      2 * SAGAS + (SAGAS - DELETED) + 3 + startsTail + commandsTail,
    );
    expect(plan.estimate.unavailableMs).toBeCloseTo(
      ((startsTail + commandsTail) / 50_000) * 1000 + 10_000,
      6,
    );
    expect(plan.stages[0]?.text).toContain(`${topics.events} → ${topics.events}.g1`);
    expect(plan.warnings).toEqual([]);
  });

  it("refuses the count the application has, and an application without saga-events", async () => {
    await expect(planRepartition({ kafka, applicationId: app, partitions: 3 })).rejects.toThrow(
      /has 3 partitions already/,
    );
    await expect(
      planRepartition({ kafka, applicationId: `${app}-nope`, partitions: 6 }),
    ).rejects.toBeInstanceOf(UsageError);
  });

  it("prints the plan from the CLI", async () => {
    const cli = path.resolve("dist/cli/main.js");
    const { stdout } = await run(
      process.execPath,
      [cli, "repartition", "--app", app, "--partitions", "6", "--plan"],
      { env: process.env },
    );
    const line = stdout.split("\n").find((l) => l.startsWith(`${topics.events} `));
    expect(line).toMatch(/ saga-events +3 → 6 +120 +.+ 60 +\d\.\d\d +all 120 +/);
    expect(line).toContain(`${app}.participant.payment.saga-ends`);
    expect(line?.trimEnd().endsWith(`${topics.events}.g1`)).toBe(true);
    expect(stdout).toMatch(/^1\. prepare: create generation 1's topics with 6 partitions/m);
    expect(stdout).toMatch(/^- unavailable \(freeze → switch\): ~10 s/m);
  });

  it("follows the generation its layout names, and refuses while a move is under way", async () => {
    await withAdmin(kafka, (admin) =>
      ensureTopics(admin, [
        { topic: layoutTopic(app), partitions: 1, configs: { "cleanup.policy": "compact" } },
      ]),
    );
    const at = Date.now();
    await producer.send({
      messages: [
        {
          topic: layoutTopic(app),
          key: LAYOUT_KEY,
          value: encodeLayout({ generation: 1, partitions: 6, state: LayoutState.Active, at }),
        },
      ],
    });
    await expect(planRepartition({ kafka, applicationId: app, partitions: 12 })).rejects.toThrow(
      `no topic ${topics.events}.g1 on the cluster`,
    );
    await producer.send({
      messages: [
        {
          topic: layoutTopic(app),
          key: LAYOUT_KEY,
          value: encodeLayout({
            generation: 0,
            partitions: 3,
            state: LayoutState.Frozen,
            next: { generation: 1, partitions: 6 },
            at,
          }),
        },
      ],
    });
    await expect(planRepartition({ kafka, applicationId: app, partitions: 12 })).rejects.toThrow(
      /under way.*generation 0 is frozen for a move to generation 1 \(6 partitions\)/,
    );
  });
});
