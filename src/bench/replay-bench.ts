/**
 * `sagastream bench replay`: `replay` of a saga-events topic to Parquet against a raw read of
 * the same range, in the same run (the ratio is what the decoding and writing cost), A B A B
 * with medians; and the peak RSS of each, with a tenth of the range too (memory must not grow
 * with the range). The topic (1,000,000 decision records by default, two events each) is made
 * once and kept for the next runs.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { createProducer, ensureTopics, withAdmin, type KafkaSettings } from "../kafka/index.js";
import { RangeReader, replay, type Position } from "../ops/index.js";
import { avroSagaSerdes, type SagaDecision } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { formatTable } from "../util/index.js";

export interface ReplayBenchOptions {
  /** Decision records on the topic (default 1,000,000). */
  records?: number | undefined;
  /** A B A B rounds (default 2). */
  repeat?: number | undefined;
}

const PARTITIONS = 6;
const SEND_CHUNK = 20_000;
const DISTINCT_VALUES = 1_000;

interface Measure {
  phase: string;
  records: number;
  seconds: number;
  peakRssMb: number;
}

/** Runs `work`, sampling the process's RSS every 50 ms; the peak is what it reached. */
async function measured<T>(
  work: () => Promise<T>,
): Promise<{ value: T; seconds: number; peakRssMb: number }> {
  global.gc?.();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const started = performance.now();
  try {
    const value = await work();
    return { value, seconds: (performance.now() - started) / 1000, peakRssMb: peak / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

async function recordsOn(reader: RangeReader): Promise<number> {
  const spans = await reader.spans();
  return spans.reduce((sum, s) => sum + Number(s.to - s.from), 0);
}

/** Makes the topic with `records` decisions, unless it already holds them. */
async function ensureTopic(
  kafka: KafkaSettings,
  codec: AvroCodec,
  app: string,
  records: number,
  report: (line: string) => void,
): Promise<string> {
  const topic = `${app}.saga-events`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: PARTITIONS }]));
  const probe = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  const present = await recordsOn(probe).finally(() => probe.close());
  if (present >= records) return topic;
  report(`producing ${records - present} decision records to ${topic} (kept for later runs)`);
  const serdes = await avroSagaSerdes(codec, app, ["payment"]);
  const values = Array.from({ length: DISTINCT_VALUES }, (_, i) => {
    const at = Date.now();
    const decision: SagaDecision = {
      sagaId: `saga-${i}`,
      firstSeq: 1,
      events: [
        {
          type: "SagaStarted",
          at,
          sagaType: "order",
          version: 1,
          data: { orderId: `o-${i}`, amountCents: 100 + i },
        },
        {
          type: "CommandIssued",
          at,
          step: "charge",
          action: "do",
          attempt: 1,
          participant: "payment",
          command: { type: "Charge", payload: { orderId: `o-${i}` } },
          timeoutAt: at + 30_000,
        },
      ],
    };
    return serdes.decision.serialize(decision);
  });
  const producer = createProducer(kafka);
  try {
    for (let sent = present; sent < records; sent += SEND_CHUNK) {
      const n = Math.min(SEND_CHUNK, records - sent);
      await producer.send({
        messages: Array.from({ length: n }, (_, i) => ({
          topic,
          key: `saga-${sent + i}`,
          value: values[(sent + i) % DISTINCT_VALUES] ?? null,
        })),
      });
      if ((sent / SEND_CHUNK) % 10 === 0) report(`produced ${sent + n} of ${records}`);
    }
  } finally {
    await producer.close();
  }
  return topic;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export async function replayBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  options: ReplayBenchOptions,
  report: (line: string) => void,
): Promise<void> {
  const records = options.records ?? 1_000_000;
  const repeat = options.repeat ?? 2;
  const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: "bench-replay" };
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  const topic = await ensureTopic(
    kafka,
    codec,
    `sagastream-bench-replay-${records}`,
    records,
    report,
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), "bench-replay-"));
  const all = { from: { kind: "earliest" } as Position, to: { kind: "latest" } as Position };
  const tenth: Position = { kind: "offset", offset: BigInt(Math.ceil(records / PARTITIONS / 10)) };
  const measures: Measure[] = [];
  const raw = async (label: string) => {
    const reader = new RangeReader(kafka, { topic, ...all });
    const { value, seconds, peakRssMb } = await measured(async () => {
      let n = 0;
      const records = reader.read(await reader.spans());
      while (!(await records.next()).done) n += 1;
      return n;
    }).finally(() => reader.close());
    measures.push({ phase: label, records: value, seconds, peakRssMb });
  };
  const toParquet = async (label: string, to: Position) => {
    const out = path.join(dir, `${label.replaceAll(/\W/g, "-")}.parquet`);
    const { value, seconds, peakRssMb } = await measured(() =>
      replay({
        kafka,
        codec,
        range: { topic, from: all.from, to },
        format: "parquet",
        out,
        onUndecodable: () => undefined,
      }),
    );
    measures.push({ phase: label, records: value.read, seconds, peakRssMb });
    return { out, rows: value.written };
  };
  try {
    let checked: { out: string; rows: number } | undefined;
    for (let round = 1; round <= repeat; round++) {
      report(`round ${round} of ${repeat}: raw read`);
      await raw(`raw read #${round}`);
      report(`round ${round} of ${repeat}: replay to Parquet`);
      checked = await toParquet(`replay → parquet #${round}`, all.to);
    }
    report("replay of a tenth of the range");
    await toParquet("replay → parquet, a tenth", tenth);
    if (checked !== undefined) {
      const db = await DuckDBInstance.create(":memory:");
      const sql = await db.connect();
      const read = await sql.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM '${checked.out}'`);
      const rows = Number(read.getRowObjects()[0]?.["n"]);
      const size = (await stat(checked.out)).size / 2 ** 20;
      sql.closeSync();
      db.closeSync();
      report(
        `the Parquet file holds ${rows} rows (${checked.rows} written), ${size.toFixed(1)} MB`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const rate = (m: Measure) => m.records / m.seconds;
  process.stdout.write(
    `${formatTable(
      ["phase", "records", "s", "records/s", "peak RSS MB"],
      measures.map((m) => [
        m.phase,
        String(m.records),
        m.seconds.toFixed(1),
        Math.round(rate(m)).toLocaleString("en"),
        m.peakRssMb.toFixed(0),
      ]),
    )}\n`,
  );
  const rawRates = measures.filter((m) => m.phase.startsWith("raw")).map(rate);
  const replayRates = measures
    .filter((m) => /#\d/.test(m.phase) && m.phase.startsWith("replay"))
    .map(rate);
  process.stdout.write(
    `median records/s: raw ${Math.round(median(rawRates)).toLocaleString("en")}, replay to Parquet ${Math.round(median(replayRates)).toLocaleString("en")} (${((100 * median(replayRates)) / median(rawRates)).toFixed(0)} % of raw)\n`,
  );
}
