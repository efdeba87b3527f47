/**
 * What the order-saga tests check: the saga-events log (read committed) and the participant
 * services' own tables against the fault plan, order by order.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { expect } from "vitest";
import type {
  FaultPlan,
  OrderData,
  OrderService,
  serviceSchemas,
} from "../../examples/order/index.js";
import type { KafkaSettings } from "../../src/kafka/index.js";
import { followSagaEvents } from "../../src/saga/index.js";
import type { AvroCodec } from "../../src/schema/index.js";

/** The events that end a saga. */
export const TERMINAL_EVENTS = new Set([
  "SagaCompleted",
  "SagaAborted",
  "SagaCancelled",
  "SagaFailed",
]);

/** Seconds since the test process started: the clock of saga trails and test phases. */
export function clock(at = Date.now()): string {
  return `${((at - performance.timeOrigin) / 1000).toFixed(1)}s`;
}

/** Follows `<app>.saga-events`: each saga's last event type, and how often each type occurred. */
export async function watchSagaEvents(
  kafka: KafkaSettings,
  codec: AvroCodec,
  applicationId: string,
  generation = 0,
) {
  const last = new Map<string, string>();
  const counts = new Map<string, number>(); // `${sagaId}/${type}`
  const trails = new Map<string, string[]>(); // each saga's events, to explain a failed check
  const partitionOf = new Map<string, number>();
  /** Per partition, the last offset read and when (test clock): where a stalled read stands. */
  const readUpTo = new Map<number, string>();
  const follower = await followSagaEvents(
    kafka,
    { applicationId, generation, groupId: `${applicationId}-watcher-${Date.now()}`, codec },
    ({ record: { sagaId, event }, partition, offset, timestamp }) => {
      partitionOf.set(sagaId, partition);
      readUpTo.set(partition, `offset ${offset} at ${clock()}`);
      last.set(sagaId, event.type);
      const key = `${sagaId}/${event.type}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const trail = trails.get(sagaId) ?? [];
      trail.push(`${describeEvent(event)}@${clock(timestamp)}`);
      trails.set(sagaId, trail);
    },
  );
  return {
    last,
    counts,
    trail: (sagaId: string) => (trails.get(sagaId) ?? []).join(" → "),
    partitionOf: (sagaId: string) => partitionOf.get(sagaId),
    /** Where the reading of `partition` stands: its last offset read, and when. */
    readUpTo: (partition: number) => readUpTo.get(partition) ?? "nothing read",
    ended: () => [...last.values()].filter((t) => TERMINAL_EVENTS.has(t)).length,
    stop: () => follower.stop(),
  };
}

function describeEvent(event: { type: string } & Record<string, unknown>): string {
  const detail = ["step", "action", "attempt", "reason"]
    .filter((field) => event[field] !== undefined)
    .map((field) => `${field}=${String(event[field])}`);
  return detail.length === 0 ? event.type : `${event.type}(${detail.join(" ")})`;
}

async function countsByOrder(pool: pg.Pool, table: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ order_id: string; n: number }>(
    `SELECT order_id, count(*)::int AS n FROM ${table} GROUP BY order_id`,
  );
  return new Map(rows.map((r) => [r.order_id, r.n]));
}

/**
 * Asserts every order's end and effects; returns how many took each path. A refused order
 * must end ABORTED with what was done undone. Any other order completes, unless its step
 * timed out on every attempt (a slow answer also delays the commands queued behind it on the
 * participant's partition): then it is ABORTED with each effect that happened undone.
 * Always: one start and one end in the log, no effect and no compensation twice.
 */
export async function expectOrderOutcomes(
  pool: pg.Pool,
  schemas: ReturnType<typeof serviceSchemas>,
  faults: FaultPlan,
  placed: readonly OrderData[],
  events: Awaited<ReturnType<typeof watchSagaEvents>>,
) {
  const payments = await countsByOrder(pool, `${schemas.payment}.payments`);
  const refunds = await countsByOrder(pool, `${schemas.payment}.refunds`);
  const reservations = await countsByOrder(pool, `${schemas.inventory}.reservations`);
  const releases = await countsByOrder(pool, `${schemas.inventory}.releases`);
  const shipments = await countsByOrder(pool, `${schemas.shipping}.shipments`);
  const outcome = { completed: 0, paymentRefused: 0, stockRefused: 0, timedOut: 0, slow: 0 };
  for (const { orderId } of placed) {
    const end = events.last.get(orderId);
    const actual = {
      orderId,
      end,
      started: events.counts.get(`${orderId}/SagaStarted`) ?? 0,
      ended: end === undefined ? 0 : (events.counts.get(`${orderId}/${end}`) ?? 0),
      paid: payments.get(orderId) ?? 0,
      refunded: refunds.get(orderId) ?? 0,
      reserved: reservations.get(orderId) ?? 0,
      released: releases.get(orderId) ?? 0,
      shipped: shipments.get(orderId) ?? 0,
    };
    const once = { orderId, started: 1, ended: 1 };
    const aborted = { ...once, end: "SagaAborted", shipped: 0 };
    let expected: typeof actual;
    if (faults.refuses("payment", orderId)) {
      expected = { ...aborted, paid: 0, refunded: 0, reserved: 0, released: 0 };
      outcome.paymentRefused += 1;
    } else if (faults.refuses("inventory", orderId)) {
      expected = { ...aborted, paid: 1, refunded: 1, reserved: 0, released: 0 };
      outcome.stockRefused += 1;
    } else if (end === "SagaAborted") {
      const reserved = Math.min(actual.reserved, 1);
      expected = { ...aborted, paid: 1, refunded: 1, reserved, released: reserved };
      outcome.timedOut += 1;
    } else {
      expected = {
        ...once,
        end: "SagaCompleted",
        paid: 1,
        refunded: 0,
        reserved: 1,
        released: 0,
        shipped: 1,
      };
      outcome.completed += 1;
    }
    expect(actual, `${orderId}'s saga events: ${events.trail(orderId)}`).toEqual(expected);
    if (faults.isSlow("inventory", orderId)) outcome.slow += 1;
  }
  // The plan must have exercised every path, and most orders must have gone through.
  expect(outcome.paymentRefused).toBeGreaterThan(0);
  expect(outcome.stockRefused).toBeGreaterThan(0);
  expect(outcome.slow).toBeGreaterThan(0);
  expect(outcome.completed).toBeGreaterThan(placed.length * 0.7);
  return outcome;
}

export function orders(count: number): OrderData[] {
  return Array.from({ length: count }, (_, i) => ({
    orderId: `order-${String(i).padStart(5, "0")}`,
    customerId: `customer-${i % 17}`,
    amountCents: 1_000 + i,
    items: [{ sku: `sku-${i % 5}`, quantity: 1 + (i % 3) }],
  }));
}

/** Places `placed` as a steady stream of `perSecond` orders, ten at a time. */
export async function placeSteadily(
  orderService: OrderService,
  placed: readonly OrderData[],
  perSecond: number,
): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < placed.length; i += 10) {
    await Promise.all(placed.slice(i, i + 10).map((o) => orderService.place(o)));
    const due = started + ((i + 10) / perSecond) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
  }
}

/** Which sagas had not ended, and where the unended ones stood: to explain a timeout. */
export function notEnded(
  placed: readonly { orderId: string }[],
  events: Awaited<ReturnType<typeof watchSagaEvents>>,
): string {
  const open = placed.filter((o) => !TERMINAL_EVENTS.has(events.last.get(o.orderId) ?? ""));
  const silent = open.filter((o) => !events.last.has(o.orderId));
  const sample = open
    .filter((o) => events.last.has(o.orderId))
    .slice(0, 5)
    .map(
      (o) =>
        `  ${o.orderId} (partition ${events.partitionOf(o.orderId)}): ${events.trail(o.orderId)}`,
    );
  // A partition whose sagas all stopped at once: its task stopped, or this reading of it did.
  const byPartition = new Map<number, number>();
  for (const { orderId } of open) {
    const partition = events.partitionOf(orderId);
    if (partition !== undefined) byPartition.set(partition, (byPartition.get(partition) ?? 0) + 1);
  }
  const partitions = [...byPartition]
    .sort(([a], [b]) => a - b)
    .map(([p, n]) => `  partition ${p}: ${n} open; read up to ${events.readUpTo(p)}`);
  return (
    `${events.ended()} of ${placed.length} ended; ${open.length} not, ` +
    `${silent.length} of them without any event in the log; some of the others:\n${sample.join("\n")}\n` +
    `by partition:\n${partitions.join("\n")}`
  );
}
