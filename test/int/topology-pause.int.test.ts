/**
 * A worker paused (SIGSTOP, as a long GC or a frozen VM would) for longer than its session
 * timeout while it restores: the group evicts it and gives its tasks to another worker; when
 * it resumes it finds itself out of the group, stops what it ran and rejoins. Records flow the
 * whole time; at the end every key's total is exact and the output holds one record per input.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createAdmin,
  createProducer,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { waitUntil } from "../../src/util/index.js";
import { readLatestValues } from "../support/latest-values.js";
import { uniqueName } from "../support/names.js";
import { spawnWorker, type WorkerProcess } from "../support/worker-process.js";

const { kafkaBrokers } = inject("connections");
const PARTITIONS = 6;
const KEYS = 20_000;
/** Before the pause: a changelog of this many records for the paused worker to restore. */
const BACKLOG = 120_000;
const MORE = 30_000;
/** The workers' session timeout is 6 s: the pause outlasts it. */
const PAUSE_MS = 12_000;

const kafka: KafkaSettings = { brokers: kafkaBrokers, clientId: "pause-test" };
let admin: KafkaAdmin;
let root = "";
const workers: WorkerProcess[] = [];
/** The workers' stdout: their task openings, and their log lines (pino writes JSON there). */
const lines: { event?: string; pid: number; task?: string; records?: number; msg?: string }[] = [];

beforeAll(async () => {
  admin = createAdmin(kafka);
  root = await mkdtemp(path.join(os.tmpdir(), "sagastream-pause-"));
  await chmod(root, 0o755);
});

afterAll(async () => {
  for (const w of workers) {
    w.process.kill("SIGCONT");
    w.process.kill("SIGKILL");
  }
  await admin.close();
  await rm(root, { recursive: true, force: true });
});

async function startWorker(name: string, options: object): Promise<WorkerProcess> {
  const worker = await spawnWorker(
    "dist/bench/running-total-worker.js",
    name,
    path.join(root, name),
    options,
    (line) => {
      if (line.startsWith("{")) lines.push(JSON.parse(line) as (typeof lines)[number]);
    },
  );
  workers.push(worker);
  return worker;
}

describe("a worker paused past its session timeout while it restores", () => {
  it("is evicted, its tasks move, it rejoins, and every total stays exact", async () => {
    const input = uniqueName("pause_in");
    const output = uniqueName("pause_out");
    await ensureTopics(
      admin,
      [input, output].map((topic) => ({ topic, partitions: PARTITIONS })),
    );
    const options = {
      applicationId: uniqueName("pause_app"),
      brokers: kafkaBrokers,
      input,
      output,
    };
    const expected = new Map<string, number>();
    let sent = 0;
    const producer = createProducer(kafka);
    const send = async (count: number) => {
      for (let i = 0; i < count; i += 1_000) {
        const messages = Array.from({ length: Math.min(1_000, count - i) }, (_, j) => {
          const n = sent + i + j;
          const key = `key-${(n * 7919) % KEYS}`;
          const amount = (n % 13) + 1;
          expected.set(key, (expected.get(key) ?? 0) + amount);
          return { topic: input, key, value: Buffer.from(String(amount)) };
        });
        await producer.send({ messages });
      }
      sent += count;
    };
    const reader = await readLatestValues(kafka, output);
    try {
      // A first worker builds the changelogs, then dies: the next one restores them all.
      await send(BACKLOG);
      const builder = await startWorker("builder", options);
      await waitUntil(() => (reader.records() >= BACKLOG ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 200,
        description: "the backlog to be processed",
      });
      builder.process.kill("SIGKILL");
      await builder.exited;

      const paused = await startWorker("paused", options); // ready: its tasks open and restore
      paused.process.kill("SIGSTOP");
      const other = await startWorker("other", options);
      const producing = send(MORE);
      await sleep(PAUSE_MS);
      paused.process.kill("SIGCONT");
      await producing;

      await waitUntil(
        () =>
          reader.records() >= BACKLOG + MORE &&
          [...expected].every(([k, v]) => reader.values.get(k) === String(v))
            ? true
            : undefined,
        { timeoutMs: 180_000, intervalMs: 500, description: "every key's exact total" },
      ).catch(() => undefined); // the assertions below show what differs
      await sleep(2_000); // a duplicate committed late would show in the count
      const totals = new Map([...reader.values].map(([k, v]) => [k, Number(v)]));
      expect(Object.fromEntries(totals)).toEqual(Object.fromEntries(expected));
      expect(reader.records()).toBe(BACKLOG + MORE);
      const of = (worker: WorkerProcess, event: (l: (typeof lines)[number]) => boolean) =>
        lines.filter((l) => l.pid === worker.process.pid && event(l));
      // The other worker ran every task while the paused one was out of the group.
      const taken = of(other, (l) => l.event === "restored").map((l) => l.task);
      expect(new Set(taken).size).toBe(PARTITIONS);
      console.log(
        `paused worker: ${JSON.stringify(of(paused, (l) => l.event === undefined).map((l) => l.msg))}`,
      );
      expect(paused.process.exitCode).toBeNull(); // back, and still running
    } finally {
      await reader.stop();
      await producer.close();
    }
  }, 600_000);
});
