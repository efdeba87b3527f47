/**
 * Exactly-once under SIGKILL: worker processes run the running-total topology over 6
 * partitions while 100,000 records flow; one worker is killed at random points again and
 * again and replaced (on its old state dir, so its unclean stores must be wiped and
 * restored), and a third worker joins mid-run. At the end every key's total on the output
 * topic and in the stores equals the exact sum of its inputs, and the output holds exactly
 * one record per input: nothing lost, nothing counted twice.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runningTotalTopology, TOTALS_STORE } from "../../src/bench/running-total.js";
import {
  createAdmin,
  createProducer,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { StreamsApp, partitionForKey } from "../../src/topology/index.js";
import { waitUntil } from "../../src/util/index.js";
import { readLatestValues } from "../support/latest-values.js";
import { uniqueName } from "../support/names.js";
import { spawnWorker, type WorkerProcess } from "../support/worker-process.js";

const { kafkaBrokers } = inject("connections");
const RECORDS = 100_000;
const KEYS = 500;
const PARTITIONS = 6;
const KILLS = 4;

const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "kill-test" };
let admin: KafkaAdmin;
let root: string;
const workers: WorkerProcess[] = [];
const restorations: { pid: number; task: string; records: number; seconds: number }[] = [];

beforeAll(async () => {
  admin = createAdmin(kafka);
  root = await mkdtemp(path.join(os.tmpdir(), "sagastream-kill-"));
  await chmod(root, 0o755);
});

afterAll(async () => {
  for (const w of workers) w.process.kill("SIGKILL");
  await admin.close();
  await rm(root, { recursive: true, force: true });
});

/** A small seeded generator, so a failing run can be replayed (the seed is printed). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function startWorker(
  name: string,
  stateDir: string,
  options: object,
): Promise<WorkerProcess> {
  const worker = await spawnWorker(
    "dist/bench/running-total-worker.js",
    name,
    stateDir,
    options,
    (line) => {
      if (line.startsWith("{"))
        restorations.push(JSON.parse(line) as (typeof restorations)[number]);
    },
  );
  workers.push(worker);
  return worker;
}

/** On a mismatch, says per partition how many keys are off and by how much (+ double, − lost). */
function describeDifferences(expected: Map<string, number>, actual: Map<string, number>): void {
  const byPartition = new Map<number, { keys: number; difference: number }>();
  for (const [key, total] of expected) {
    const difference = (actual.get(key) ?? 0) - total;
    if (difference === 0) continue;
    const partition = partitionForKey(Buffer.from(key), PARTITIONS);
    const entry = byPartition.get(partition) ?? { keys: 0, difference: 0 };
    entry.keys += 1;
    entry.difference += difference;
    byPartition.set(partition, entry);
  }
  if (byPartition.size > 0)
    console.log("differences by partition", Object.fromEntries(byPartition));
}

describe("exactly-once under SIGKILL", () => {
  it("keeps exact totals while workers are killed, replaced and joined", async () => {
    const seed = Date.now() % 100_000;
    const rand = random(seed);
    console.log(`kill test seed ${seed}`);
    const input = uniqueName("kill_in");
    const output = uniqueName("kill_out");
    const applicationId = uniqueName("kill_app");
    await ensureTopics(
      admin,
      [input, output].map((topic) => ({ topic, partitions: PARTITIONS })),
    );
    const options = { applicationId, brokers: kafkaBrokers, input, output };

    const expected = new Map<string, number>();
    const records = Array.from({ length: RECORDS }, (_, i) => {
      const key = `key-${(i * 7919) % KEYS}`;
      const amount = (i % 13) + 1;
      expected.set(key, (expected.get(key) ?? 0) + amount);
      return { topic: input, key, value: Buffer.from(String(amount)) };
    });

    await startWorker("w1", path.join(root, "w1"), options);
    await startWorker("w2", path.join(root, "w2"), options);

    // The records flow for the whole chaos phase, in chunks.
    const producing = (async () => {
      const producer = createProducer(kafka);
      try {
        for (let i = 0; i < RECORDS; i += 500) {
          await producer.send({ messages: records.slice(i, i + 500) });
          await sleep(40);
        }
      } finally {
        await producer.close();
      }
    })();

    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(1500 + rand() * 3000);
      const alive = workers.filter(
        (w) => w.process.exitCode === null && w.process.signalCode === null,
      );
      const victim = alive[Math.floor(rand() * alive.length)];
      if (victim === undefined) throw new Error("no worker alive to kill");
      victim.process.kill("SIGKILL");
      await victim.exited;
      console.log(`killed ${victim.name} (pid ${victim.process.pid})`);
      if (kill === 1) await startWorker("w3", path.join(root, "w3"), options); // joins mid-run
      await startWorker(`${victim.name}'`, victim.stateDir, options); // same disk, unclean stores
    }
    await producing;

    // The output topic: per key, the last committed total, and exactly one record per input.
    const reader = await readLatestValues(kafka, output);
    const latest = new Map<string, number>();
    const settled = () => {
      latest.clear();
      for (const [key, value] of reader.values) latest.set(key, Number(value));
      return reader.records() >= RECORDS && [...expected].every(([k, v]) => latest.get(k) === v);
    };
    await waitUntil(() => (settled() ? true : undefined), {
      timeoutMs: 240_000,
      intervalMs: 500,
      description: "every key's exact total on the output topic",
    }).catch(() => undefined); // the assertions below show what differs
    await sleep(2000); // a duplicate committed late would show up in the count below
    settled();
    const outputs = reader.records();
    await reader.stop();
    describeDifferences(expected, latest);
    console.log(`output records: ${outputs}`);
    expect(Object.fromEntries(latest)).toEqual(Object.fromEntries(expected));
    expect(outputs).toBe(RECORDS);

    // The stores: stop the workers cleanly; a fresh instance restores every task from the
    // changelogs, and its stores must hold the same exact totals.
    for (const w of workers.filter(
      (x) => x.process.exitCode === null && x.process.signalCode === null,
    )) {
      w.process.kill("SIGTERM");
      await w.exited;
    }
    const checker = new StreamsApp({
      applicationId,
      brokers: kafkaBrokers,
      topology: runningTotalTopology({ input, output }),
      stateDir: path.join(root, "checker"),
      logger: createLogger("warn", "kill-checker"),
    });
    await checker.start();
    try {
      const stores = new Map<string, number>();
      await waitUntil(
        async () => {
          stores.clear();
          for (let p = 0; p < PARTITIONS; p++) {
            const store = await checker.localStore<string, number>(TOTALS_STORE, p);
            if (store === undefined) return undefined;
            for await (const [key, total] of store.range()) stores.set(key, total);
          }
          return stores.size === KEYS ? true : undefined;
        },
        { timeoutMs: 60_000, description: "the checker's restored stores" },
      );
      expect(Object.fromEntries(stores)).toEqual(Object.fromEntries(expected));
    } finally {
      await checker.stop();
    }

    const restored = restorations.filter((r) => r.records > 0);
    const restoredRecords = restored.reduce((n, r) => n + r.records, 0);
    const seconds = restored.reduce((n, r) => n + r.seconds, 0);
    console.log(
      `restorations: ${restorations.length} task openings, ${restored.length} restored ${restoredRecords} records ` +
        `in ${seconds.toFixed(1)} task-seconds (${seconds > 0 ? Math.round(restoredRecords / seconds) : 0} records/s)`,
    );
    expect(restored.length).toBeGreaterThan(0); // killed workers' tasks were rebuilt from changelogs
  }, 600_000);
});
