/**
 * The demo: the order service places N orders through its outbox, Debezium publishes them,
 * an engine worker runs an order saga for each over the payment, inventory and shipping
 * services (each replying through an outbox of its own), some refused and some acknowledged
 * too late. A progress bar follows the sagas
 * from the saga-events log; a summary table ends it, and the worker's status API stays up
 * for a while to be explored.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import cliProgress from "cli-progress";
import pg from "pg";
import {
  AvroCodec,
  ConnectClient,
  createSchemaRegistry,
  formatTable,
  flushTracing,
  followSagaEvents,
  percentile,
  removeOutboxPipeline,
  type Connections,
  type KafkaSettings,
  kafkaSecurityEnv,
} from "sagastream";
import { FaultPlan } from "./faults.js";
import { startOrderService } from "./order-service.js";
import type { ParticipantsProcessOptions } from "./participants-process.js";
import type { OrderData } from "./saga.js";
import type { WorkerOptions } from "./worker.js";
import { startChild } from "./child-process.js";

export interface DemoOptions {
  connections: Connections;
  orders: number;
  /** Orders placed per second. */
  rate: number;
  failureRate: number;
  timeoutRate: number;
  stepTimeoutMs: number;
  /** Where the worker's HTTP API listens. */
  apiUrl: string;
  /** Seconds to keep the API up after the summary (0: stop at once; -1: until Ctrl-C). */
  serveSeconds: number;
  write: (text: string) => void;
}

const ENDS: Record<string, string> = {
  SagaCompleted: "completed",
  SagaAborted: "compensated",
  SagaFailed: "failed",
  SagaCancelled: "cancelled",
};

function orderNumber(run: string, i: number): OrderData {
  return {
    orderId: `${run}-order-${String(i).padStart(5, "0")}`,
    customerId: `customer-${i % 97}`,
    amountCents: 500 + ((i * 37) % 10_000),
    items: [{ sku: `sku-${i % 23}`, quantity: 1 + (i % 3) }],
  };
}

/**
 * Partitions of the saga topics; each participant handles as many at once, one partition's
 * commands in order (12 made the demo slower on two cores, not faster).
 */
const PARTITIONS = 6;

/**
 * Before the measured orders, orders are placed at the run's rate, second by second, and not
 * counted, until the sagas of a second end within WARMED_UP_MS of being placed (median):
 * each demo starts four new Debezium connectors, a worker and participants, whose first
 * seconds (and the stack's JVMs' first minute, right after it started) are slower than what
 * follows. Measured on a fresh clone at 100 orders/s, 1,000 orders: the first run p50 8.2 s
 * and 84 sagas ended per second without a warm-up, 2.7 s and 92/s after 10 s of it; on a warm
 * stack, 3 s of warm-up gave p50 1.4–3.1 s, 10 s gave 0.2–0.4 s and 96–97/s.
 */
const WARMED_UP_MS = 500;
const WARM_UP_MIN_SECONDS = 5;
const WARM_UP_MAX_SECONDS = 90;
/** How long the warm-up waits for its sagas answered on time to end. */
const WARM_UP_WAIT_MS = 30_000;

/** The most orders being written at once: a slow write must not hold the next ones back. */
const MAX_PLACING = 32;

/** Calls `place(i)` for i < count at `rate` per second, up to MAX_PLACING at once. */
async function placeOnSchedule(
  count: number,
  rate: number,
  place: (i: number) => Promise<void>,
): Promise<void> {
  const started = Date.now();
  const running = new Set<Promise<void>>();
  for (let i = 0; i < count; i += 1) {
    const due = started + (i / rate) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
    if (running.size >= MAX_PLACING) await Promise.race(running);
    const placing = place(i).finally(() => running.delete(placing));
    running.add(placing);
  }
  await Promise.all(running);
}

function perSecond(count: number, ms: number): string {
  return (count / Math.max(0.001, ms / 1000)).toFixed(0);
}

/**
 * Sagas ended per second while orders came, seen one median latency later: the window
 * [first placed, last placed] shifted by the median latency. The offered rate when the system
 * keeps up; less when a backlog builds (its latency then grows through the run).
 */
function endRate(endedAt: readonly number[], from: number, to: number, lag: number): string {
  if (to - from < 1000) return "-";
  const inWindow = endedAt.filter((at) => at >= from + lag && at < to + lag).length;
  return perSecond(inWindow, to - from);
}

/**
 * Places orders at the run's rate, second by second (each second's once no more than a
 * second's worth are still running), until the sagas of the second before last ended within
 * WARMED_UP_MS (median, unended ones counting as late), then waits for every warm-up saga to
 * end. Returns how long it took, in seconds. `place` places the i-th and returns its saga id, or undefined
 * for a saga answered late on purpose (left out: it waits out the step timeout).
 */
async function warmUpPipeline(
  options: DemoOptions,
  endedAt: ReadonlyMap<string, number>,
  place: (i: number) => Promise<string | undefined>,
): Promise<number> {
  const perSecond = Math.ceil(options.rate);
  const placed = new Map<string, { at: number; second: number }>();
  const medianOf = (second: number): number => {
    const latencies: number[] = [];
    for (const [id, order] of placed) {
      if (order.second !== second) continue;
      latencies.push((endedAt.get(id) ?? Number.POSITIVE_INFINITY) - order.at);
    }
    latencies.sort((a, b) => a - b);
    return latencies.length === 0 ? Number.POSITIVE_INFINITY : percentile(latencies, 50);
  };
  // A cold pipeline that cannot yet take the full rate must not build a backlog that the
  // measured orders would then queue behind: a second's orders wait until at most a second's
  // worth of warm-up sagas are still running.
  const running = () => {
    let count = 0;
    for (const id of placed.keys()) if (!endedAt.has(id)) count += 1;
    return count;
  };
  const started = Date.now();
  let seconds = 0;
  while (Date.now() - started < WARM_UP_MAX_SECONDS * 1000) {
    while (running() > perSecond && Date.now() - started < WARM_UP_MAX_SECONDS * 1000) {
      await sleep(100);
    }
    const second = seconds;
    await placeOnSchedule(perSecond, options.rate, async (i) => {
      const at = Date.now();
      const id = await place(second * perSecond + i);
      if (id !== undefined) placed.set(id, { at, second });
    });
    seconds += 1;
    if (seconds >= WARM_UP_MIN_SECONDS && medianOf(second - 1) <= WARMED_UP_MS) break;
  }
  const deadline = Date.now() + WARM_UP_WAIT_MS;
  while (running() > 0 && Date.now() < deadline) await sleep(200);
  return Math.round((Date.now() - started) / 1000);
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { connections, write } = options;
  const run = `demo_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: connections.databaseUrl, max: MAX_PLACING });
  const kafka: KafkaSettings = {
    brokers: connections.kafkaBrokers,
    clientId: run,
    security: connections.kafkaSecurity,
  };
  // The worker's and the participants' processes read their Kafka security from the env.
  const childEnv = kafkaSecurityEnv(connections.kafkaSecurity, { revealPassword: true });
  const connect = new ConnectClient(connections.connectUrl);
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  const rates = { failureRate: options.failureRate, timeoutRate: options.timeoutRate };
  const faults = new FaultPlan(rates);
  const api = new URL(options.apiUrl);

  write(
    `demo ${run}: starting the order service, an engine worker and three participants (four outbox connectors) …\n`,
  );
  const orders = await startOrderService({
    pool,
    connect,
    codec,
    cdcDatabaseUrl: connections.cdcDatabaseUrl,
    name: `${run}_orders`,
  });
  const worker = await startChild(
    "./worker.js",
    {
      applicationId: run,
      brokers: connections.kafkaBrokers,
      schemaRegistryUrl: connections.schemaRegistryUrl,
      orderService: orders.name,
      partitions: PARTITIONS,
      stepTimeoutMs: options.stepTimeoutMs,
      stateDir: await mkdtemp(path.join(os.tmpdir(), `${run}-`)),
      api: { host: api.hostname, port: Number(api.port) },
      logLevel: "error",
    } satisfies WorkerOptions,
    childEnv,
  );
  const apiAddress = worker.said.get("api") ?? options.apiUrl;
  const services = await startChild(
    "./participants-process.js",
    {
      applicationId: run,
      brokers: connections.kafkaBrokers,
      schemaRegistryUrl: connections.schemaRegistryUrl,
      databaseUrl: connections.databaseUrl,
      cdcDatabaseUrl: connections.cdcDatabaseUrl,
      connectUrl: connections.connectUrl,
      faults: rates,
      slowMs: options.stepTimeoutMs + 500,
      schemaPrefix: `${run}_`,
      concurrency: PARTITIONS,
    } satisfies ParticipantsProcessOptions,
    childEnv,
  );

  const ended = new Map<string, { end: string; at: number }>();
  const warmUpIds = new Set<string>();
  const warmUpEndedAt = new Map<string, number>();
  const watcher = await followSagaEvents(
    kafka,
    { applicationId: run, groupId: `${run}-demo-watcher`, codec },
    ({ record: { sagaId, event }, timestamp }) => {
      const end = ENDS[event.type];
      if (end === undefined) return;
      if (warmUpIds.has(sagaId)) warmUpEndedAt.set(sagaId, timestamp);
      else ended.set(sagaId, { end, at: timestamp });
    },
  );
  write(
    `warming up at up to ${options.rate} orders/s (not counted) until sagas end within ${WARMED_UP_MS} ms …\n`,
  );
  const warmUpSeconds = await warmUpPipeline(options, warmUpEndedAt, async (i) => {
    const order = orderNumber(`${run}-warmup`, i);
    warmUpIds.add(order.orderId);
    await orders.place(order);
    return faults.isSlow("inventory", order.orderId) ? undefined : order.orderId;
  });
  write(`warmed up after ${warmUpSeconds} s (${warmUpIds.size} orders)\n`);

  const placedAt = new Map<string, number>();
  const bar = new cliProgress.SingleBar(
    {
      format:
        "sagas [{bar}] {value}/{total} ended | {placed} placed | {completed} completed, {compensated} compensated, {failed} failed",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const counts = () => {
    const c = { completed: 0, compensated: 0, failed: 0, cancelled: 0 };
    for (const { end } of ended.values()) c[end as keyof typeof c] += 1;
    return c;
  };
  bar.start(options.orders, 0, { placed: 0, ...counts() });
  const ticker = setInterval(() => {
    bar.update(ended.size, { placed: placedAt.size, ...counts() });
  }, 200);
  const started = Date.now();
  let lastPlacedAt = started;
  try {
    await placeOnSchedule(options.orders, options.rate, async (i) => {
      const order = orderNumber(run, i);
      placedAt.set(order.orderId, Date.now());
      await orders.place(order);
      lastPlacedAt = Date.now();
    });
    const deadline = Date.now() + 120_000 + options.stepTimeoutMs * 20;
    while (ended.size < options.orders && Date.now() < deadline) await sleep(200);
  } finally {
    clearInterval(ticker);
    bar.update(ended.size, { placed: placedAt.size, ...counts() });
    bar.stop();
  }

  // Orders a participant answers late on purpose wait out the step's timeout: their latency
  // is the timeout's, so it is shown apart from the rest.
  const late = (id: string) => faults.isSlow("inventory", id);
  const latency = (keep: (id: string) => boolean) =>
    [...ended]
      .filter(([id]) => keep(id))
      .map(([id, { at }]) => at - (placedAt.get(id) ?? at))
      .sort((a, b) => a - b);
  const onTime = latency((id) => !late(id));
  const answeredLate = latency(late);
  const c = counts();
  const rows = [
    ["orders placed", String(placedAt.size)],
    ["completed", String(c.completed)],
    ["compensated (refused by payment or stock, or timed out)", String(c.compensated)],
    ["failed (need an operator)", String(c.failed)],
    ["still running", String(options.orders - ended.size)],
    [
      `saga latency p50 / p99, ${onTime.length} sagas (placed → ended, ms)`,
      `${percentile(onTime, 50)} / ${percentile(onTime, 99)}`,
    ],
    [
      `  of ${answeredLate.length} answered after the ${options.stepTimeoutMs} ms step timeout`,
      answeredLate.length === 0
        ? "-"
        : `${percentile(answeredLate, 50)} / ${percentile(answeredLate, 99)}`,
    ],
    [
      "orders placed / sagas ended per second, one median latency later",
      `${perSecond(placedAt.size, lastPlacedAt - started)} / ${endRate(
        [...ended.values()].map(({ at }) => at),
        started,
        lastPlacedAt,
        percentile(onTime, 50),
      )}`,
    ],
  ];
  write(`\n${formatTable(["", ""], rows)}\n\n`);
  write(
    `status API: ${apiAddress}  (try: npx sagastream saga list --status ABORTED --limit 5;\n` +
      `  npx sagastream saga get ${run}-order-00000; curl ${apiAddress}/metrics)\n` +
      `console: ${apiAddress}/ui  (npx sagastream console; while it serves)\n`,
  );
  if (options.serveSeconds !== 0) {
    write(
      options.serveSeconds < 0
        ? "serving until Ctrl-C …\n"
        : `serving for ${options.serveSeconds} s (Ctrl-C stops now) …\n`,
    );
    await new Promise<void>((resolve) => {
      const timer =
        options.serveSeconds < 0 ? undefined : setTimeout(resolve, options.serveSeconds * 1000);
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
          clearTimeout(timer);
          resolve();
        });
      }
    });
  }
  write(
    "stopping; the run's topics and tables stay (npx sagastream stack down --purge clears all)\n",
  );
  await watcher.stop();
  await services.stop();
  await worker.stop();
  await flushTracing(); // the order service's last spans
  await removeOutboxPipeline({
    pool,
    connect,
    name: `${run}_orders`,
    table: `${run}_orders.outbox`,
  });
  await pool.end();
}
