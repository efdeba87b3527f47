/**
 * Operators' batches on the real stack (issue 13): two workers with API tokens hold 1,100
 * running sagas of two types; the API refuses callers without the right token and oversized
 * or malformed requests and keeps serving; a dry run counts the 1,000 of one type, and
 * `sagastream saga batch cancel` cancels exactly those, through both workers, while the other
 * type runs on.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createProducer, type KafkaSettings } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { defineSaga, step, type AnySagaDefinition } from "../../src/saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { Serdes } from "../../src/state/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import { uniqueName } from "../support/names.js";

const run = promisify(execFile);
const connections = inject("connections");
const name = uniqueName("batch");
const tokens = { operate: "batch-operate-token-0123", read: "batch-read-token-0123" };
const HELD = 1_000;
const KEPT = 100;

/** A saga that waits: its one step's participant never answers within the test. */
function waiting(sagaName: string): AnySagaDefinition {
  return defineSaga<{ id: string }>({
    name: sagaName,
    version: 1,
    participants: ["desk"],
    stages: [
      step({
        name: "wait",
        participant: "desk",
        command: (d) => ({ type: "Wait", payload: { id: d.id } }),
        retriableOnly: true, // nothing to undo: a cancel ends it at once
        timeoutMs: 600_000,
      }),
    ],
  });
}

const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${name}-test` };
const topics = { hold: `${name}.holds`, keep: `${name}.keeps` };
const workers: SagaWorker[] = [];
const stateDirs: string[] = [];

async function startWorker(): Promise<void> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "saga-batch-"));
  stateDirs.push(stateDir);
  const worker = new SagaWorker({
    applicationId: name,
    brokers: connections.kafkaBrokers,
    sagas: [waiting("hold"), waiting("keep")],
    starts: [
      { topic: topics.hold, saga: "hold", valueSerde: Serdes.json(), data: (e: unknown) => e },
      { topic: topics.keep, saga: "keep", valueSerde: Serdes.json(), data: (e: unknown) => e },
    ],
    stateDir,
    partitions: 4,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
    api: { tokens },
    logger: createLogger("warn", "saga-batch-test"),
  });
  workers.push(worker);
  await worker.start();
}

async function counts(type: string): Promise<Map<string, number>> {
  const all = new Map<string, number>();
  for (const status of ["RUNNING", "CANCELLED"]) {
    const response = await fetch(
      `${workers[0]?.apiAddress ?? ""}/sagas?status=${status}&type=${type}&limit=10000`,
      { headers: { authorization: `Bearer ${tokens.read}` } },
    );
    if (response.status !== 200) continue; // a rebalance: asked again
    all.set(status, ((await response.json()) as unknown[]).length);
  }
  return all;
}

async function post(path: string, body: unknown, token?: string) {
  const response = await fetch(`${workers[0]?.apiAddress ?? ""}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  await startWorker(); // makes the topics, the start topics too
  await startWorker();
  const producer = createProducer(kafka);
  const started = (topic: string, prefix: string, n: number) =>
    [...Array(n).keys()].map((i) => ({
      topic,
      key: `${prefix}-${i}`,
      value: Buffer.from(JSON.stringify({ id: `${prefix}-${i}` })),
    }));
  await producer.send({ messages: started(topics.hold, "hold", HELD) });
  await producer.send({ messages: started(topics.keep, "keep", KEPT) });
  await producer.close();
  await waitUntil(
    async () =>
      ((await counts("hold")).get("RUNNING") === HELD &&
        (await counts("keep")).get("RUNNING") === KEPT) ||
      undefined,
    { timeoutMs: 90_000, description: "every saga running on the two workers" },
  );
}, 180_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
});

describe("operators' batches on the real stack", () => {
  it("refuses a caller without a token (401), a read token acting (403), a 10 MB body (413) and a malformed id (400), and keeps serving", async () => {
    const filter = { filter: { type: "hold" } };
    expect((await post("/batch/cancel", filter)).status).toBe(401);
    expect((await post("/batch/cancel", filter, tokens.read)).status).toBe(403);
    const big = await post("/batch/cancel", `"${"x".repeat(10 * 2 ** 20)}"`, tokens.operate);
    expect(big.status).toBe(413);
    const malformed = await fetch(`${workers[0]?.apiAddress ?? ""}/sagas/%E0%A4%A`, {
      headers: { authorization: `Bearer ${tokens.read}` },
    });
    expect(malformed.status).toBe(400);
    expect((await counts("hold")).get("RUNNING")).toBe(HELD); // nothing was cancelled
    const health = await fetch(`${workers[1]?.apiAddress ?? ""}/health`);
    expect(health.status).toBe(200);
  });

  it(`counts the ${HELD} sagas a filter matches in a dry run, then the CLI cancels exactly those`, async () => {
    const before = new Date(Date.now() - 3_600_000).toISOString();
    const none = await post(
      "/batch/cancel",
      { dryRun: true, filter: { type: "hold", startedBefore: before } },
      tokens.operate,
    );
    expect(none.body["matched"]).toBe(0);
    expect(
      (await post("/batch/cancel", { dryRun: true, filter: { version: 2 } }, tokens.operate)).body[
        "matched"
      ],
    ).toBe(0);
    const dry = await post(
      "/batch/cancel",
      { dryRun: true, filter: { type: "hold", status: ["RUNNING"] } },
      tokens.operate,
    );
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ matched: HELD, requested: 0, missing: [], failed: [] });
    expect(dry.body["workers"]).toHaveLength(2); // each worker counted its own partitions

    const cli = await run(
      process.execPath,
      [
        path.resolve("dist/cli/main.js"),
        "saga",
        "batch",
        "cancel",
        "--type",
        "hold",
        "--status",
        "RUNNING",
        "--started-after",
        "1h",
        "--reason",
        "batch test",
        "--api",
        workers[0]?.apiAddress ?? "",
      ],
      { env: { ...process.env, SAGASTREAM_API_TOKEN: tokens.operate } },
    );
    expect(cli.stderr).toContain(`${HELD} saga(s) match`);
    expect(cli.stdout).toContain(`${HELD} cancel request(s) sent`);
    await waitUntil(async () => (await counts("hold")).get("CANCELLED") === HELD || undefined, {
      timeoutMs: 60_000,
      description: `${HELD} sagas cancelled`,
    });
    const held = await counts("hold");
    expect(held.get("RUNNING")).toBe(0);
    expect((await counts("keep")).get("RUNNING")).toBe(KEPT);
    const again = await post(
      "/batch/cancel",
      { dryRun: true, filter: { type: "hold" } },
      tokens.operate,
    );
    expect(again.body["matched"]).toBe(0); // nothing left to cancel
  });
});
