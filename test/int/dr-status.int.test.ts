/**
 * `dr status` on the real stack with DR: an application's records once mirrored count 0
 * unmirrored; records written while MirrorMaker 2 is stopped count exactly, with their age,
 * until it runs again; a group committed on the primary has a checkpoint age; and with the
 * primary gone the DR side is reported alone, promptly.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import {
  createAdmin,
  createProducer,
  ensureTopics,
  type KafkaAdmin,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import {
  DrMonitor,
  drStatus,
  registerDrMetrics,
  type DrStatus,
  type PartitionStatus,
} from "../../src/ops/index.js";
import { writeLayout } from "../../src/ops/layout-writer.js";
import { LayoutState, layoutTopic, sagaTopics } from "../../src/saga/index.js";
import { Stack } from "../../src/stack/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";

const run = promisify(execFile);
const config = loadConfig();
const { kafkaBrokers, drKafkaBrokers } = inject("connections");
const app = uniqueName("drapp");
const topics = sagaTopics(app);
const primary: KafkaSettings = { brokers: kafkaBrokers, clientId: `${app}-test` };
const dr: KafkaSettings = { brokers: drKafkaBrokers, clientId: `${app}-test` };
/** Per partition of saga-events, in 2 transactions of 5 each. */
const FIRST = 10;
let admin: KafkaAdmin;
let drAdmin: KafkaAdmin;
let producer: KafkaProducer;

const status = () => drStatus({ primary, dr, applicationId: app });
const eventsOf = (s: DrStatus): PartitionStatus[] =>
  s.partitions.filter((p) => p.topic === topics.events);

async function sendInTransaction(partition: number, count: number, label: string): Promise<void> {
  const transaction = await producer.beginTransaction();
  await transaction.send({
    messages: Array.from({ length: count }, (_, i) => ({
      topic: topics.events,
      partition,
      key: `saga-${partition}-${i % 3}`,
      value: Buffer.from(`${label}-${i}`),
      headers: { "message-id": Buffer.from(`${label}-${partition}-${i}`) },
    })),
  });
  await transaction.commit();
}

/** Waits until DR has every record of `app`'s topics, by the status itself. */
async function caughtUp(perPartition: readonly number[]): Promise<DrStatus> {
  return waitUntil(
    async () => {
      const s = await status();
      const events = eventsOf(s);
      const done =
        events.length === perPartition.length &&
        events.every((p) => p.gap?.unmirrored === 0 && p.drEnd === perPartition[p.partition]);
      return done && s.rpo?.records === 0 ? s : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 1_000, description: `${app}'s topics mirrored to DR` },
  );
}

beforeAll(async () => {
  admin = createAdmin(primary);
  drAdmin = createAdmin(dr);
  await ensureTopics(
    admin,
    [topics.events, topics.replies, topics.control].map((topic) => ({ topic, partitions: 2 })),
  );
  producer = createProducer(primary, { transactionalId: `${app}-tx` });
  for (const partition of [0, 1]) {
    await sendInTransaction(partition, FIRST / 2, "first");
    await sendInTransaction(partition, FIRST / 2, "second");
  }
});

afterAll(async () => {
  await producer.close();
  const all = [topics.events, topics.replies, topics.control, layoutTopic(app)];
  await admin.deleteTopics({ topics: all }).catch(() => undefined);
  await drAdmin.deleteTopics({ topics: all }).catch(() => undefined);
  await Promise.all([admin.close(), drAdmin.close()]);
});

describe("sagastream dr status", () => {
  it("counts nothing unmirrored once DR has every record (offsets differ: the primary's hold markers)", async () => {
    const s = await caughtUp([FIRST, FIRST]);
    for (const p of eventsOf(s)) {
      expect(p.gap).toMatchObject({ unmirrored: 0, lagSeconds: 0, basis: "matched" });
      // 2 commit markers per partition on the primary, none on DR
      expect(p.primaryEnd).toBe(FIRST + 2);
    }
    expect(s.primary.reachable).toBe(true);
    expect(s.partitions.map((p) => p.topic)).toEqual(
      expect.arrayContaining([topics.events, topics.replies, topics.control]),
    );
  });

  it("gives a group committed on the primary a checkpoint age, caught up with its offsets", async () => {
    await readTopic(primary, topics.events, 2 * FIRST, { group: app });
    const s = await waitUntil(
      async () => {
        const found = await status();
        const group = found.groups.find((g) => g.group === app);
        return group?.partitions === 2 && group.behindOffsets === 0 ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000, description: `a checkpoint of group ${app} on DR` },
    );
    const group = s.groups.find((g) => g.group === app);
    expect(group?.newestAt).toBeLessThanOrEqual(s.at);
    expect(group?.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(group?.ageSeconds).toBeLessThan(60);
  });

  it("says when the application runs in DR (failed over), and not once it runs in the primary", async () => {
    const named = (s: DrStatus) => s.notes.some((n) => n.includes(`${app} runs in region dr`));
    const layout = (region: string) => ({
      generation: 0,
      partitions: 2,
      state: LayoutState.Active,
      at: Date.now(),
      region,
    });
    // (a transaction's markers are written after its commit returns: read committed, the
    // layout shows a moment later)
    const until = (said: boolean) =>
      waitUntil(async () => (named(await status()) === said ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 500,
        description: `dr status ${said ? "to say" : "no longer to say"} that ${app} runs in DR`,
      });
    await writeLayout(dr, app, layout("dr"), `${app}-layout`);
    expect(await until(true)).toBe(true);
    await writeLayout(dr, app, layout("primary"), `${app}-layout`);
    expect(await until(false)).toBe(true);
  });

  describe.skipIf(config.externalCluster)("with MirrorMaker 2 stopped", () => {
    const stack = new Stack(config);

    it("counts exactly the records written meanwhile, with their age, until it runs again", async () => {
      const stopped = await stack.down({ only: ["mirror-maker"] });
      expect(stopped).toEqual(["mirror-maker"]);
      try {
        const before = Date.now();
        await sendInTransaction(0, 7, "unmirrored");
        await sendInTransaction(1, 3, "unmirrored");
        const after = Date.now();

        const s = await status();
        const [p0, p1] = eventsOf(s);
        expect(p0?.gap).toMatchObject({ unmirrored: 7, atLeast: false, basis: "matched" });
        expect(p1?.gap).toMatchObject({ unmirrored: 3, atLeast: false, basis: "matched" });
        expect(p0?.drEnd).toBe(FIRST);
        expect(s.rpo).toMatchObject({ records: 10, atLeast: false });
        // the records were stamped between `before` and `after`
        expect(s.rpo?.seconds).toBeGreaterThanOrEqual((s.at - after) / 1000);
        expect(s.rpo?.seconds).toBeLessThanOrEqual((s.at - before) / 1000);
        expect(p0?.gap?.oldestUnmirroredAt).toBeGreaterThanOrEqual(before);

        // the CLI says the same, as JSON
        const cli = path.resolve("dist/cli/main.js");
        const { stdout } = await run(
          process.execPath,
          [cli, "dr", "status", "--app", app, "--json"],
          { env: process.env },
        );
        const printed = JSON.parse(stdout) as DrStatus;
        expect(printed.rpo?.records).toBe(10);
        expect(eventsOf(printed).map((p) => p.gap?.unmirrored)).toEqual([7, 3]);

        // and the metrics
        const monitor = new DrMonitor({ primary, dr, applicationId: app });
        const registry = new Registry();
        registerDrMetrics(registry, monitor);
        await monitor.sample();
        await monitor.stop();
        expect(await registry.metrics()).toMatch(/^sagastream_dr_rpo_records 10$/m);
      } finally {
        await stack.up({ dr: true, only: ["mirror-maker"] });
      }
      const s = await caughtUp([FIRST + 7, FIRST + 3]);
      expect(s.rpo).toEqual({ records: 0, atLeast: false, seconds: 0 });
    });
  });

  it("reports DR's side alone, promptly, when the primary does not answer", async () => {
    const started = Date.now();
    const s = await drStatus({
      primary: { brokers: ["127.0.0.1:1"], clientId: `${app}-test` },
      dr,
      applicationId: app,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(s.primary.reachable).toBe(false);
    expect(s.rpo).toBeUndefined();
    expect(s.notes[0]).toMatch(/the primary did not answer/);
    const events = eventsOf(s);
    // (the records written while MirrorMaker was stopped are on DR since)
    const mirrored = config.externalCluster ? [FIRST, FIRST] : [FIRST + 7, FIRST + 3];
    expect(events.map((p) => p.drEnd)).toEqual(mirrored);
    expect(events.every((p) => p.gap === undefined && p.drLastAt !== undefined)).toBe(true);
  });
});
