/**
 * Moving a live application to another partition count (issue 15), on the real stack: order
 * sagas flow (refusals, slow answers after the step timeout) while `repartition` moves the
 * application from 4 to 8 partitions — its history and state copied, the workers and
 * participants frozen and restarted on the next generation, the order service's and the
 * payment replies' connectors rerouted; the tool is SIGKILLed once frozen and run again. Every
 * saga ends once, every effect and compensation happens once, and each saga's events on the
 * new topics are in order with nothing missing.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { FaultPlan, orderSaga, type OrderService } from "../../examples/order/index.js";
import { createProducer, topicOffsets, withAdmin } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import {
  JobJournal,
  RangeReader,
  repartitionJournalTopic,
  type RepartitionJob,
  transact,
  type VerifyReport,
} from "../../src/ops/index.js";
import { ConnectClient } from "../../src/outbox/index.js";
import { sagaDecisionReader, sagaTopics } from "../../src/saga/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import {
  expectOrderOutcomes,
  notEnded,
  orders,
  placeSteadily,
  watchSagaEvents,
} from "../support/order-outcomes.js";
import { orderWorld } from "../support/order-world.js";

const run = promisify(execFile);
const world = orderWorld("repart");

/** Runs the CLI until its stderr matches `until`, then SIGKILLs it; returns what it printed. */
async function runUntil(args: string[], until: RegExp): Promise<string> {
  const child = spawn(process.execPath, args, {
    env: process.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let printed = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
      if (until.test(printed)) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", (code) => {
      reject(
        new Error(`the CLI exited (${String(code)}) before printing ${String(until)}:\n${printed}`),
      );
    });
  });
  return printed;
}

/** The move's job as its journal holds it. */
async function journalJob(app: string): Promise<RepartitionJob> {
  const journal = await JobJournal.open(kafka, repartitionJournalTopic(app));
  return journal.get("job") as RepartitionJob;
}
const { name, kafka } = world;
const ORDERS = 300;
const STEP_TIMEOUT_MS = 4_000;
const faults = new FaultPlan({ failureRate: 0.1, timeoutRate: 0.05 });
let stateDir = "";
let orderService: OrderService;
let worker: SagaWorker;
let services: Awaited<ReturnType<typeof world.startParticipants>>;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "repartition-"));
  orderService = await world.startOrderService();
  worker = new SagaWorker({
    applicationId: name,
    brokers: world.connections.kafkaBrokers,
    sagas: [orderSaga({ stepTimeoutMs: STEP_TIMEOUT_MS })],
    starts: [orderService.sagaStart()],
    stateDir,
    partitions: 4,
    codec: world.codec,
    logger: createLogger("warn", "repartition-test"),
  });
  await worker.start();
  services = await world.startParticipants(faults, STEP_TIMEOUT_MS + 500, ["payment"]);
});

afterAll(async () => {
  await worker.stop();
  await world.cleanup();
  await rm(stateDir, { recursive: true, force: true });
});

describe("repartition of a live application", () => {
  it("moves it from 4 to 8 partitions while sagas run: each ends once, each effect once, in order", async () => {
    const placed = orders(ORDERS);
    const placing = placeSteadily(orderService, placed, 40);
    const before = await watchSagaEvents(kafka, world.codec, name);
    await waitUntil(() => (before.ended() >= 60 ? true : undefined), {
      timeoutMs: 60_000,
      description: "60 sagas to end before the move",
    });
    await before.stop();
    // The CLI, SIGKILLed once frozen (sagas held still, connectors not yet stopped), then run
    // again: it finishes the move from its journal.
    const args = [
      "dist/cli/main.js",
      "repartition",
      "--app",
      name,
      "--partitions",
      "8",
      "--topic",
      orderService.sagaStart().topic,
    ];
    const killed = await runUntil(args, /^frozen: /m);
    const rerun = await run(process.execPath, args, { env: process.env });
    process.stderr.write(
      `repartition, killed:\n  ${killed.trim().split("\n").join("\n  ")}\nrerun:\n  ${rerun.stderr.trim().split("\n").join("\n  ")}\n  ${rerun.stdout}`,
    );
    expect(killed).toMatch(/stage done: history copied/);
    expect(rerun.stderr).toMatch(/^resuming the move to 8 partitions at stage "history copied"/m);
    expect(rerun.stdout).toMatch(
      /runs on 8 partitions \(generation 1\); .* sagas held still for [\d.]+ s/,
    );
    const job = await journalJob(name);
    expect(job.stage).toBe("done");
    expect(job.switchedAt).toBeGreaterThan(job.frozenAt ?? Infinity);
    expect(job.connectors?.map((c) => c.to).sort()).toEqual(
      [
        `${orderService.sagaStart().topic.replace(/order$/, "${routedByValue}")}.g1`,
        `${name}.replies.g1`,
      ].sort(),
    );
    await waitUntil(() => (worker.generation === 1 ? true : undefined), {
      timeoutMs: 30_000,
      description: "the worker to run generation 1",
    });
    expect(worker.partitions).toBe(8);
    await placing;

    const events = await watchSagaEvents(kafka, world.codec, name, 1);
    try {
      await waitUntil(() => (events.ended() >= ORDERS ? true : undefined), {
        timeoutMs: 150_000,
        intervalMs: 500,
        description: `${ORDERS} sagas to end`,
      }).catch(async (error: unknown) => {
        const connect = new ConnectClient(world.connections.connectUrl);
        const statuses = await Promise.all(
          (job.connectors ?? []).map(async (c) => JSON.stringify(await connect.status(c.name))),
        );
        const start = orderService.sagaStart().topic;
        const ends = await withAdmin(kafka, async (admin) =>
          JSON.stringify(
            await Promise.all(
              [start, `${start}.g1`].map(async (t) => [
                t,
                (await topicOffsets(admin, t)).map((p) => String(p.high)),
              ]),
            ),
          ),
        );
        throw new Error(
          `${String(error)}\n${notEnded(placed, events)}\nconnectors: ${statuses.join("\n")}\nstart topics' ends: ${ends}`,
        );
      });
    } finally {
      await events.stop();
    }
    const outcome = await expectOrderOutcomes(world.pool, services.schemas, faults, placed, events);
    process.stderr.write(`repartition: ${JSON.stringify(outcome)}\n`);

    // Each saga's decisions on the new saga-events topic: one partition, seq numbers in order
    // with none missing.
    const read = sagaDecisionReader(world.codec);
    const reader = new RangeReader(kafka, {
      topic: sagaTopics(name, 1).events,
      from: { kind: "earliest" },
      to: { kind: "latest" },
    });
    const seqs = new Map<string, { partition: number; next: number }>();
    try {
      for await (const { partition, record } of reader.read(await reader.spans())) {
        if (record.value === null) continue;
        const decision = await read(record.value);
        const seen = seqs.get(decision.sagaId) ?? { partition, next: 1 };
        expect(
          [decision.sagaId, partition, decision.firstSeq],
          `${decision.sagaId}'s decisions`,
        ).toEqual([decision.sagaId, seen.partition, seen.next]);
        seqs.set(decision.sagaId, { partition, next: decision.firstSeq + decision.events.length });
      }
    } finally {
      await reader.close();
    }
    expect(seqs.size).toBe(ORDERS);

    // --verify: each key's records and each saga's state, old generation against new.
    const verified = await run(
      process.execPath,
      ["dist/cli/main.js", "repartition", "--app", name, "--verify", "--json"],
      { env: process.env },
    );
    const report = JSON.parse(verified.stdout) as VerifyReport;
    process.stderr.write(
      `verify: ${report.topics.map((t) => `${t.topic}: ${t.keys} keys, ${t.records} records`).join("; ")}; ${report.sagas.checked} sagas\n`,
    );
    expect(report.ok).toBe(true);
    expect(report.topics.find((t) => t.topic === sagaTopics(name).events)?.keys).toBeGreaterThan(
      50,
    );
    expect(report.sagas.checked).toBeGreaterThan(50);

    // A record the copy would have missed (written to the old log before the freeze's end)
    // makes --verify fail, naming its saga.
    const lost = placed[0]?.orderId ?? "";
    const oldEvents = sagaTopics(name).events;
    const producer = createProducer(kafka);
    const [written] = await producer
      .send({ messages: [{ topic: oldEvents, key: lost, value: Buffer.from("lost") }] })
      .then((r) => r.offsets ?? []);
    await producer.close();
    const journal = await JobJournal.open(kafka, repartitionJournalTopic(name));
    const moved = journal.get("job") as RepartitionJob;
    const ends = moved.ends?.[oldEvents] ?? [];
    ends[written?.partition ?? 0] = String((written?.offset ?? 0n) + 1n);
    const fencing = journal.producer(repartitionJournalTopic(name));
    await transact(fencing, journal, [], { job: moved });
    await fencing.close();
    const failed = await run(
      process.execPath,
      ["dist/cli/main.js", "repartition", "--app", name, "--verify"],
      { env: process.env },
    ).catch((error: unknown) => error as { code: number; stdout: string });
    expect(failed).toMatchObject({ code: ExitCode.Data });
    expect((failed as { stdout: string }).stdout).toContain(`differs: ${lost}`);
    expect((failed as { stdout: string }).stdout).toMatch(/^NOT verified$/m);
  }, 300_000);
});
