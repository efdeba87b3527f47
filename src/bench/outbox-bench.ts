/**
 * `sagastream bench outbox`: events through the whole outbox path (a PostgreSQL transaction per
 * event → WAL → Debezium → Kafka), on a pipeline of its own that is removed afterwards.
 * Saturated: 4 writers as fast as they commit; committed events/s, delivered events/s (first
 * commit to last arrival), and commit → arrival latency, which then includes the backlog.
 * Paced: a steady rate well below saturation, where the latency is the path's own.
 */
import { readFile } from "node:fs/promises";
import pg from "pg";
import type { Connections } from "../config/index.js";
import {
  ensureTopics,
  headerText,
  startConsuming,
  withAdmin,
  type KafkaSettings,
} from "../kafka/index.js";
import {
  ConnectClient,
  deployOutboxPipeline,
  removeOutboxPipeline,
  type Outbox,
} from "../outbox/index.js";
import { AvroCodec, createSchemaRegistry, subjectFor } from "../schema/index.js";
import { waitUntil } from "../util/index.js";
import { SEQUENCED_EVENT_SCHEMA, startSequencedWriter } from "./sequenced-writer.js";
import { formatTable, percentile } from "../util/index.js";

const SATURATED = 20_000;
const PACED_RATE = 500; // events/s
const PACED_SECONDS = 10;
const WRITERS = 4;
const AGGREGATES = 100;
const PARTITIONS = 4;

interface Phase {
  name: string;
  events: number;
  committedPerSecond: number;
  deliveredPerSecond: number;
  p50: number;
  p99: number;
  max: number;
}

/** Records when each message id arrives on `topic` (read_committed, from the start). */
async function watchArrivals(kafka: KafkaSettings, topic: string, group: string) {
  const arrivals = new Map<string, number>();
  const consuming = await startConsuming(kafka, {
    groupId: group,
    topics: [topic],
    concurrency: PARTITIONS,
    maxWaitTimeMs: 50,
    handle: (record) => {
      const id = headerText(record, "id");
      if (id !== undefined && !arrivals.has(id)) arrivals.set(id, Date.now());
      return Promise.resolve();
    },
  });
  return { arrivals, stop: () => consuming.stop() };
}

async function runPhase(
  name: string,
  write: () => ReturnType<typeof startSequencedWriter>,
  arrivals: Map<string, number>,
): Promise<Phase> {
  const writer = write();
  await writer.done;
  const { committed } = writer;
  await waitUntil(() => (committed.every((c) => arrivals.has(c.messageId)) ? true : undefined), {
    timeoutMs: 300_000,
    intervalMs: 200,
    description: `the ${committed.length} events of the ${name} phase to arrive`,
  });
  const first = Math.min(...committed.map((c) => c.committedAt));
  const lastCommit = Math.max(...committed.map((c) => c.committedAt));
  const lastArrival = Math.max(...committed.map((c) => arrivals.get(c.messageId) ?? 0));
  const latencies = committed
    .map((c) => (arrivals.get(c.messageId) ?? 0) - c.committedAt)
    .sort((a, b) => a - b);
  return {
    name,
    events: committed.length,
    committedPerSecond: committed.length / Math.max(0.001, (lastCommit - first) / 1000),
    deliveredPerSecond: committed.length / Math.max(0.001, (lastArrival - first) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
  };
}

/** Resident memory of a process in MB, from /proc (undefined where there is none). */
async function rssMb(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}

export async function outboxBenchmark(
  connections: Connections,
  connectPid: () => Promise<number | undefined>,
  report: (line: string) => void,
): Promise<void> {
  const name = `bench_outbox_${Date.now().toString(36)}`;
  const table = `${name}.outbox`;
  const topic = `${name}.outbox.event.sequenced`;
  const pool = new pg.Pool({ connectionString: connections.databaseUrl, max: WRITERS + 2 });
  const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: "outbox-bench" };
  const connect = new ConnectClient(connections.connectUrl);
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  const phases: Phase[] = [];
  let connectRss: number | undefined;
  try {
    report(`deploying outbox ${table} → ${topic} (${PARTITIONS} partitions) …`);
    await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: PARTITIONS }]));
    const schemaId = await codec.register(
      subjectFor(topic, "dev.sagastream.bench.Sequenced"),
      SEQUENCED_EVENT_SCHEMA,
    );
    const outbox: Outbox = await deployOutboxPipeline({
      pool,
      connect,
      cdcDatabaseUrl: connections.databaseUrl,
      name,
      table,
      encode: (id, value) => codec.encode(id, value),
      topicReplacement: `${name}.outbox.event.\${routedByValue}`,
    });
    const watcher = await watchArrivals(kafka, topic, `${name}-watcher`);
    const writer = (extra: { limit: number; ratePerSecond?: number }) => () =>
      startSequencedWriter({
        pool,
        outbox,
        schemaId,
        aggregateType: "sequenced",
        aggregates: AGGREGATES,
        writers: WRITERS,
        ...extra,
      });
    try {
      report(`saturated: ${SATURATED} events, ${WRITERS} writers, one transaction each …`);
      phases.push(await runPhase("saturated", writer({ limit: SATURATED }), watcher.arrivals));
      connectRss = await rssMb(await connectPid());
      const paced = PACED_RATE * PACED_SECONDS;
      report(`paced: ${paced} events at ${PACED_RATE}/s …`);
      phases.push(
        await runPhase(
          `paced ${PACED_RATE}/s`,
          writer({ limit: paced, ratePerSecond: PACED_RATE }),
          watcher.arrivals,
        ),
      );
    } finally {
      await watcher.stop();
    }
  } finally {
    report("removing the benchmark's connector, slot, table and topic …");
    await removeOutboxPipeline({ pool, connect, name, table }).catch((e: unknown) => {
      report(`cleanup: ${String(e)}`);
    });
    await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic] })).catch(
      () => undefined,
    );
    await pool.end();
  }
  const rows = phases.map((p) => [
    p.name,
    String(p.events),
    p.committedPerSecond.toFixed(0),
    p.deliveredPerSecond.toFixed(0),
    p.p50.toFixed(0),
    p.p99.toFixed(0),
    p.max.toFixed(0),
  ]);
  const header = ["phase", "events", "committed/s", "delivered/s", "p50 ms", "p99 ms", "max ms"];
  process.stdout.write(
    `\noutbox benchmark: PostgreSQL transaction per event → Debezium → Kafka; ` +
      `${AGGREGATES} aggregates, ${PARTITIONS} partitions; latency = commit returned → arrival\n` +
      `${formatTable(header, rows)}\n` +
      (connectRss === undefined ? "" : `\nConnect worker RSS: ${connectRss.toFixed(0)} MB\n`),
  );
}
