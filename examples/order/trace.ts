/**
 * Where a demo run's sagas spent their time, hop by hop (`npm run demo:trace -- <run>`): from
 * the timestamps of the run's records (the order event, the commands, the replies, the saga
 * events) and of the participants' rows, for the sagas that completed on time in three steps.
 */
import pg from "pg";
import {
  formatTable,
  loadConfig,
  percentile,
  startConsuming,
  type ConsumedRecord,
} from "sagastream";

type Kind = "order" | "command" | "reply" | "event";

const run = process.argv[2];
if (run === undefined || !/^demo_[a-z0-9]+$/.test(run)) {
  process.stderr.write("usage: npm run demo:trace -- <run> (the demo prints it: demo_…)\n");
  process.exit(2);
}
const { connections } = loadConfig();
const topics: Record<string, Kind> = {
  [`${run}_orders.outbox.event.order`]: "order",
  [`${run}.commands.payment`]: "command",
  [`${run}.commands.inventory`]: "command",
  [`${run}.commands.shipping`]: "command",
  [`${run}.replies`]: "reply",
  [`${run}.saga-events`]: "event",
};

/** Each saga's records, by kind, in time order. */
const sagas = new Map<string, Record<Kind, number[]>>();
let lastRecordAt = Date.now();
const consuming = await startConsuming(
  {
    brokers: connections.kafkaBrokers,
    clientId: `${run}-trace`,
    security: connections.kafkaSecurity,
  },
  {
    groupId: `${run}-trace-${Date.now().toString(36)}`,
    topics: Object.keys(topics),
    concurrency: 64,
    handle: (record: ConsumedRecord) => {
      lastRecordAt = Date.now();
      const id = record.key?.toString() ?? "";
      const saga = sagas.get(id) ?? { order: [], command: [], reply: [], event: [] };
      saga[topics[record.topic] ?? "event"].push(record.timestamp);
      sagas.set(id, saga);
      return Promise.resolve();
    },
  },
);
process.stderr.write(`reading ${run}'s topics …\n`);
while (Date.now() - lastRecordAt < 3000) await new Promise((r) => setTimeout(r, 500));
await consuming.stop();

const pool = new pg.Pool({ connectionString: connections.databaseUrl });
const rowTimes = async (table: string) =>
  (
    await pool.query<{ order_id: string; t: string }>(
      `SELECT order_id, extract(epoch FROM at) * 1000 AS t FROM ${table}`,
    )
  ).rows;
const placed = new Map(
  (
    await pool.query<{ order_id: string; t: string }>(
      `SELECT order_id, extract(epoch FROM placed_at) * 1000 AS t FROM ${run}_orders.orders`,
    )
  ).rows.map((r) => [r.order_id, Number(r.t)]),
);
const handled = new Map<string, number[]>();
for (const table of ["payment.payments", "inventory.reservations", "shipping.shipments"]) {
  for (const row of await rowTimes(`${run}_${table}`)) {
    handled.set(row.order_id, [...(handled.get(row.order_id) ?? []), Number(row.t)]);
  }
}
await pool.end();

const hops = new Map<string, number[]>();
const add = (hop: string, ms: number) => hops.set(hop, [...(hops.get(hop) ?? []), ms]);
let traced = 0;
for (const [id, saga] of sagas) {
  const [order] = saga.order;
  const rows = (handled.get(id) ?? []).sort((a, b) => a - b);
  const start = placed.get(id);
  const end = saga.event.sort((a, b) => a - b).at(-1);
  const { command, reply } = saga;
  if (order === undefined || start === undefined || end === undefined) continue;
  if (command.length !== 3 || reply.length !== 3 || rows.length !== 3) continue; // retried
  command.sort((a, b) => a - b);
  reply.sort((a, b) => a - b);
  traced += 1;
  add("order row → OrderPlaced on Kafka (Debezium)", order - start);
  add("OrderPlaced → first command (worker)", (command[0] ?? 0) - order);
  for (let i = 0; i < 3; i += 1) {
    add("command → participant's row (commit, fetch, handle)", (rows[i] ?? 0) - (command[i] ?? 0));
    add("participant's row → reply on Kafka (Debezium)", (reply[i] ?? 0) - (rows[i] ?? 0));
    if (i < 2) add("reply → next command (worker)", (command[i + 1] ?? 0) - (reply[i] ?? 0));
  }
  add("last reply → saga's end (worker)", end - (reply[2] ?? 0));
  add("whole saga, placed → ended", end - start);
}
const rows = [...hops].map(([hop, values]) => {
  const sorted = values.sort((a, b) => a - b);
  return [
    hop,
    String(Math.round(percentile(sorted, 50))),
    String(Math.round(percentile(sorted, 99))),
  ];
});
process.stdout.write(
  `${run}: ${traced} sagas that completed on time, ms\n${formatTable(["hop", "p50", "p99"], rows)}\n`,
);
