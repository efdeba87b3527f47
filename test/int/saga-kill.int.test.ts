/**
 * The engine's exactly-once under SIGKILL: 2,000 order sagas (placed at 50/s), 10% refused by
 * a participant and 5% acknowledged only after the step timeout, run on two worker processes; one is SIGKILLed
 * mid-run and restarted on its old state directory (so its stores must be wiped and restored
 * from their changelogs). Every saga must end as its faults say, started and ended exactly once
 * in the saga-events log, and the participants' tables must hold every effect and every
 * compensation exactly once.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { FaultPlan, type OrderService } from "../../examples/order/index.js";
import { waitUntil } from "../../src/util/index.js";
import {
  expectOrderOutcomes,
  notEnded,
  orders,
  placeSteadily,
  TERMINAL_EVENTS,
  watchSagaEvents,
} from "../support/order-outcomes.js";
import { orderWorld } from "../support/order-world.js";
import { spawnWorker, WorkerTimeline, type WorkerProcess } from "../support/worker-process.js";

const world = orderWorld("sagakill");
const { name, pool, kafka } = world;
const ORDERS = 2_000;
const STEP_TIMEOUT_MS = 10_000;
const ORDERS_PER_SECOND = 50;
const faults = new FaultPlan({ failureRate: 0.1, timeoutRate: 0.05 });
const workers: WorkerProcess[] = [];
const timeline = new WorkerTimeline();
let root = "";
let orderService: OrderService;
let services: Awaited<ReturnType<typeof world.startParticipants>>;

const workerOptions = world.workerOptions(STEP_TIMEOUT_MS);

const apis = new Map<string, string>(); // worker label → its API URL

async function startWorker(label: string, stateDir: string): Promise<WorkerProcess> {
  const worker = await spawnWorker(
    "dist/examples/order/worker.js",
    label,
    stateDir,
    workerOptions,
    (line) => {
      if (line.startsWith("api ")) apis.set(label, line.slice(4));
      else timeline.add(label, line);
    },
  );
  workers.push(worker);
  return worker;
}

/** The answer once it is 200; a 503 (a partition served by no worker yet) is asked again. */
async function getJson<T>(url: string): Promise<T> {
  return waitUntil(
    async () => {
      const response = await fetch(url);
      if (response.status === 503) return undefined;
      expect(response.status, url).toBe(200);
      return (await response.json()) as T;
    },
    { timeoutMs: 60_000, intervalMs: 500, description: `${url} to answer 200` },
  );
}

/**
 * What the workers themselves say of the first saga the test's reader saw no end of: it tells
 * a saga that stopped from a reading of the log that stopped.
 */
async function engineView(
  placed: readonly { orderId: string }[],
  events: Awaited<ReturnType<typeof watchSagaEvents>>,
): Promise<string> {
  const open = placed.find((o) => !TERMINAL_EVENTS.has(events.last.get(o.orderId) ?? ""));
  if (open === undefined) return "";
  const lines = [];
  for (const [label, api] of apis) {
    const answer = await fetch(`${api}/sagas/${open.orderId}`, {
      signal: AbortSignal.timeout(5_000),
    })
      .then(async (r) => `${r.status} ${(await r.text()).slice(0, 400)}`)
      .catch((error: unknown) => String(error));
    lines.push(`  ${label}: ${answer}`);
  }
  return `the workers on ${open.orderId}:\n${lines.join("\n")}`;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "saga-kill-"));
  await chmod(root, 0o755);
  orderService = await world.startOrderService();
});

afterAll(async () => {
  for (const w of workers) w.process.kill("SIGKILL");
  await world.cleanup();
  await rm(root, { recursive: true, force: true });
});

describe("saga engine under SIGKILL", () => {
  it(`ends ${ORDERS} sagas exactly once while a worker is killed and restarted`, async () => {
    onTestFailed(() => {
      timeline.print();
    });
    const w1 = await startWorker("w1", path.join(root, "w1"));
    await startWorker("w2", path.join(root, "w2"));
    services = await world.startParticipants(faults, STEP_TIMEOUT_MS + 500);
    const events = await watchSagaEvents(kafka, world.codec, name);
    const placed = orders(ORDERS);
    const placing = placeSteadily(orderService, placed, ORDERS_PER_SECOND);
    try {
      await waitUntil(() => (events.ended() >= ORDERS / 4 ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 200,
        description: "a quarter of the sagas to end before the kill",
      });
      const endedAtKill = events.ended();
      w1.process.kill("SIGKILL");
      await w1.exited;
      await startWorker("w1'", w1.stateDir); // same disk: unclean stores, wiped and restored
      await placing;
      await waitUntil(() => (events.ended() >= ORDERS ? true : undefined), {
        timeoutMs: 300_000,
        intervalMs: 500,
        description: `all ${ORDERS} sagas to end`,
      }).catch(async (error: unknown) => {
        throw new Error(
          `${String(error)}\n${notEnded(placed, events)}\n${await engineView(placed, events)}`,
        );
      });
      expect(endedAtKill).toBeLessThan(ORDERS); // the kill came mid-run
      const outcome = await expectOrderOutcomes(pool, services.schemas, faults, placed, events);

      // The status API (any worker; it gathers from the others) agrees with the log and tables.
      const api = apis.get("w2") ?? "";
      for (const status of ["COMPLETED", "ABORTED"]) {
        const listed = await getJson<{ sagaId: string }[]>(
          `${api}/sagas?status=${status}&limit=10000`,
        );
        const expected = placed.filter(
          (o) =>
            events.last.get(o.orderId) ===
            (status === "COMPLETED" ? "SagaCompleted" : "SagaAborted"),
        );
        expect(listed.map((s) => s.sagaId).sort()).toEqual(expected.map((o) => o.orderId).sort());
      }
      const sample = placed.filter((_, i) => i % 97 === 0);
      for (const { orderId } of sample) {
        const saga = await getJson<{ status: string; history: { event: { type: string } }[] }>(
          `${api}/sagas/${orderId}`,
        );
        expect(saga.history.at(-1)?.event.type).toBe(events.last.get(orderId));
      }
      process.stderr.write(
        `saga kill: ${JSON.stringify(outcome)}; ${endedAtKill} of ${ORDERS} had ended at the kill\n`,
      );
    } finally {
      await placing.catch(() => undefined);
      await events.stop();
    }
  }, 420_000);
});
