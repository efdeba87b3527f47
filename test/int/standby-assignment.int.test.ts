/**
 * Sticky assignment and standby replicas on the real Kafka, with the running-total topology:
 * a member that joins a group of two takes its share and nothing else moves (from the tasks
 * each member opened, as the runtime records them); a member that leaves hands its tasks to
 * the members keeping standby copies of them, which restore only the tail, never from zero;
 * the totals stay exact throughout.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runningTotalTopology } from "../../src/bench/running-total.js";
import {
  createAdmin,
  createProducer,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { StreamsApp, type TaskOpening } from "../../src/topology/index.js";
import { waitUntil } from "../../src/util/index.js";
import { readLatestValues } from "../support/latest-values.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers } = inject("connections");
const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "standby-test" };
const PARTITIONS = 6;
const KEYS = 60;
const topics = { input: uniqueName("standby_in"), output: uniqueName("standby_out") };
const applicationId = uniqueName("standby_app");
let admin: KafkaAdmin;
let stateRoot = "";
const apps = new Map<string, StreamsApp>();
const expected = new Map<string, number>();

beforeAll(async () => {
  admin = createAdmin(kafka);
  stateRoot = await mkdtemp(path.join(os.tmpdir(), "standby-"));
  await ensureTopics(
    admin,
    [topics.input, topics.output].map((topic) => ({ topic, partitions: PARTITIONS })),
  );
});

afterAll(async () => {
  for (const app of apps.values()) await app.stop().catch(() => undefined);
  await admin.close();
  await rm(stateRoot, { recursive: true, force: true });
});

async function produce(count: number, seed: number): Promise<void> {
  const producer = createProducer(kafka);
  try {
    const messages = Array.from({ length: count }, (_, i) => {
      const key = `key-${(i * 7 + seed) % KEYS}`;
      const amount = ((i * 31 + seed) % 97) + 1;
      expected.set(key, (expected.get(key) ?? 0) + amount);
      return { topic: topics.input, key, value: Buffer.from(String(amount)) };
    });
    await producer.send({ messages });
  } finally {
    await producer.close();
  }
}

async function start(label: string): Promise<StreamsApp> {
  const app = new StreamsApp({
    applicationId,
    brokers: kafkaBrokers,
    topology: runningTotalTopology(topics),
    stateDir: path.join(stateRoot, label),
    numStandbyReplicas: 1,
    sessionTimeoutMs: 6_000,
    logger: createLogger("warn", `standby-${label}`),
  });
  apps.set(label, app);
  await app.start();
  return app;
}

/** Waits until the running members own every partition once, each running what it owns. */
async function settled(members: readonly string[]): Promise<Map<string, string[]>> {
  return waitUntil(
    () => {
      const owned = new Map(members.map((m) => [m, apps.get(m)?.ownedTasks() ?? []]));
      const all = [...owned.values()].flat().sort();
      const assigned = members.flatMap((m) => apps.get(m)?.ownedPartitions() ?? []);
      return all.length === PARTITIONS &&
        new Set(all).size === PARTITIONS &&
        assigned.length === PARTITIONS
        ? owned
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100, description: `${members.join(", ")} to share the tasks` },
  );
}

async function exactTotals(): Promise<void> {
  const reader = await readLatestValues(kafka, topics.output);
  try {
    await waitUntil(
      () =>
        [...expected].every(([key, total]) => reader.values.get(key) === String(total))
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 200, description: "the exact totals on the output topic" },
    );
  } finally {
    await reader.stop();
  }
}

const openings = (label: string): TaskOpening[] => [
  ...(apps.get(label)?.metrics.restorations ?? []),
];

describe("sticky assignment and standby replicas", () => {
  it("moves only the tasks a joining member takes over, and hands a leaving member's tasks to their standby copies", async () => {
    await produce(3_000, 1);
    await start("a");
    await start("b");
    const before = await settled(["a", "b"]);
    await exactTotals();
    // Each partition is kept warm by the member that does not run it.
    await waitUntil(
      () =>
        [...before].every(([m, tasks]) =>
          tasks.every(
            (t) => !(apps.get(m)?.standbyPartitions() ?? []).includes(Number(t.split("_")[1])),
          ),
        ) && ["a", "b"].every((m) => (apps.get(m)?.standbyPartitions().length ?? 0) === 3)
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 100, description: "standby copies on the other member" },
    );

    const openedBefore = { a: openings("a").length, b: openings("b").length };
    await start("c");
    const after = await settled(["a", "b", "c"]);
    expect(after.get("c")).toHaveLength(2);
    for (const m of ["a", "b"] as const) {
      // It kept two of its three tasks and opened none.
      expect(after.get(m)?.every((t) => before.get(m)?.includes(t))).toBe(true);
      expect(openings(m).slice(openedBefore[m])).toEqual([]);
    }
    expect(
      openings("c")
        .map((o) => o.task)
        .sort(),
    ).toEqual([...(after.get("c") ?? [])].sort());
    await produce(3_000, 2);
    await exactTotals();

    // b leaves: its tasks go to a and c, each from a standby copy, not from zero.
    const leaving = after.get("b") ?? [];
    const openedAt = { a: openings("a").length, c: openings("c").length };
    await apps.get("b")?.stop();
    apps.delete("b");
    const final = await settled(["a", "c"]);
    const taken = [...openings("a").slice(openedAt.a), ...openings("c").slice(openedAt.c)];
    expect(taken.map((o) => o.task).sort()).toEqual([...leaving].sort());
    for (const opening of taken) expect(opening.from).toBe("checkpoint");
    expect([...final.values()].flat().sort()).toHaveLength(PARTITIONS);
    await produce(3_000, 3);
    await exactTotals();
  });
});
