/**
 * `replay` on the real stack (issue 14): a saga-events topic holding decisions of 300 sagas
 * in two waves, with garbage, an unknown schema id and a tombstone among them. The replay to
 * Parquet finishes, lists each record it cannot decode by partition and offset, and DuckDB reads
 * the file back with exactly the events on the topic, by type; a time bound and a saga filter
 * keep what they say; the CLI prints its summary.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import {
  createProducer,
  ensureTopics,
  withAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { currentStep, rebuild, replay, StoreSagas, type Undecodable } from "../../src/ops/index.js";
import { avroSagaSerdes, type SagaDecision, type SagaEvent } from "../../src/saga/index.js";
import { AvroCodec, createSchemaRegistry, toWireFormat } from "../../src/schema/index.js";
import { uniqueName } from "../support/names.js";

const run = promisify(execFile);
const connections = inject("connections");
const name = uniqueName("replay");
const topic = `${name}.saga-events`;
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${name}-test` };
const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
const SAGAS = 300;
let dir = "";
/** When the second wave was produced: a bound between the waves. */
let secondWaveAt = 0;
/** When the second wave's sagas completed. */
let endsAt = 0;
const produced = new Map<string, number>(); // events by type

function decisions(sagaId: string, at: number): SagaDecision[] {
  const started: SagaEvent = {
    type: "SagaStarted",
    at,
    sagaType: "order",
    version: 1,
    data: { sagaId },
  };
  const issued: SagaEvent = {
    type: "CommandIssued",
    at,
    step: "charge",
    action: "do",
    attempt: 1,
    participant: "payment",
    command: { type: "Charge", payload: { sagaId } },
    timeoutAt: at + 1_000,
  };
  return [
    { sagaId, firstSeq: 1, events: [started, issued] },
    { sagaId, firstSeq: 3, events: [{ type: "SagaCompleted", at: at + 5 }] },
  ];
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "replay-test-"));
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const serdes = await avroSagaSerdes(codec, name, ["payment"]);
  const producer = createProducer(kafka);
  /** Sagas [from, to): their decisions `which` (both by default). */
  const wave = async (from: number, to: number, which = [0, 1]) => {
    const messages = [];
    for (let i = from; i < to; i++) {
      const sagaId = `saga-${String(i).padStart(4, "0")}`;
      const all = decisions(sagaId, Date.now());
      for (const decision of all.filter((_, d) => which.includes(d))) {
        for (const event of decision.events)
          produced.set(event.type, (produced.get(event.type) ?? 0) + 1);
        messages.push({ topic, key: sagaId, value: serdes.decision.serialize(decision) });
      }
    }
    await producer.send({ messages });
  };
  await wave(0, SAGAS / 2);
  await producer.send({
    messages: [
      { topic, key: "junk-1", value: Buffer.from("not avro at all"), partition: 0 },
      { topic, key: "junk-2", value: toWireFormat(987_654_321, Buffer.from([2, 4])), partition: 1 },
      { topic, key: "junk-3", value: null, partition: 2 },
    ],
  });
  await new Promise((resolve) => setTimeout(resolve, 50)); // the waves' timestamps differ
  secondWaveAt = Date.now();
  await wave(SAGAS / 2, SAGAS, [0]); // started, not yet completed...
  await new Promise((resolve) => setTimeout(resolve, 50));
  endsAt = Date.now();
  await wave(SAGAS / 2, SAGAS, [1]); // ...until now
  await producer.close();
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("replay of a saga-events topic", () => {
  it("writes Parquet that DuckDB reads back with the topic's events by type, and lists what does not decode", async () => {
    const out = path.join(dir, "events.parquet");
    const undecodable: Undecodable[] = [];
    const summary = await replay({
      kafka,
      codec,
      range: { topic, from: { kind: "earliest" }, to: { kind: "latest" } },
      format: "parquet",
      out,
      onUndecodable: (u) => undecodable.push(u),
    });
    expect(summary.read).toBe(SAGAS * 2 + 3);
    expect(undecodable.map((u) => [u.partition, u.reason.slice(0, 28)])).toEqual([
      [0, "not in the registry's wire f"],
      [1, expect.stringMatching(/987654321/) as string],
    ]);
    expect(undecodable.every((u) => u.topic === topic && /^\d+$/.test(u.offset))).toBe(true);

    const db = await DuckDBInstance.create(":memory:");
    const sql = await db.connect();
    const rows = await sql.runAndReadAll(
      `SELECT type, count(*)::INTEGER AS n FROM '${out}' GROUP BY type ORDER BY type`,
    );
    const counted = Object.fromEntries(
      rows.getRowObjects().map((r) => [String(r["type"]), Number(r["n"])]),
    );
    expect(counted).toEqual({ ...Object.fromEntries(produced), tombstone: 1 });
    const charge = await sql.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM '${out}' WHERE value->'command'->>'type' = 'Charge'`,
    );
    expect(Number(charge.getRowObjects()[0]?.["n"])).toBe(SAGAS);
    sql.closeSync();
    db.closeSync();
  });

  it("keeps only what a time bound and a saga filter say, and the CLI sums it up", async () => {
    const out = path.join(dir, "late.jsonl");
    const cli = await run(
      process.execPath,
      [
        path.resolve("dist/cli/main.js"),
        "replay",
        topic,
        "--from",
        new Date(secondWaveAt).toISOString(),
        "--type",
        "SagaStarted",
        "--out",
        out,
      ],
      { env: process.env },
    );
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    const ids = lines.map((l) => (JSON.parse(l) as { key: string }).key).sort();
    expect(ids).toHaveLength(SAGAS / 2);
    expect(ids[0]).toBe(`saga-${String(SAGAS / 2).padStart(4, "0")}`);
    expect(cli.stderr).toMatch(new RegExp(`wrote ${SAGAS / 2} row\\(s\\)`));
    expect(cli.stderr).toMatch(/undecodable: 0/); // the junk is older than the bound

    const one = await run(
      process.execPath,
      [path.resolve("dist/cli/main.js"), "replay", topic, "--saga", "saga-0007"],
      { env: process.env },
    );
    const events = one.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { seq: number; type: string });
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, "SagaStarted"],
      [2, "CommandIssued"],
      [3, "SagaCompleted"],
    ]);
    expect(one.stderr).toMatch(new RegExp(`skipped: ${SAGAS * 2 + 3 - 2} other key`));

    const early = await run(
      process.execPath,
      [
        path.resolve("dist/cli/main.js"),
        "replay",
        topic,
        "--partition",
        "0",
        "--to",
        new Date(secondWaveAt).toISOString(),
        "--out",
        path.join(dir, "early.csv"),
      ],
      { env: process.env },
    );
    expect(early.stderr).toMatch(/undecodable .*\/0@\d+: not in the registry's wire format/);
    expect(early.stderr).toMatch(/undecodable: 1\b/);
    const csv = (await readFile(path.join(dir, "early.csv"), "utf8")).trim().split("\n");
    expect(csv[0]).toBe("topic,partition,offset,timestamp,key,type,seq,schema,headers,value");
  });
});

describe("saga timeline", () => {
  it("tells one saga's events and durations from the log alone, and says when it has none", async () => {
    const cli = path.resolve("dist/cli/main.js");
    const { stdout } = await run(
      process.execPath,
      [cli, "saga", "timeline", "saga-0007", "--topic", topic, "--json"],
      { env: process.env },
    );
    const timeline = JSON.parse(stdout) as {
      rows: { seq: number; type: string; step?: string; sinceStartMs: number }[];
      steps: { step: string; action: string; attempts: number; outcome: string }[];
      end: string;
      durationMs: number;
    };
    expect(timeline.rows.map((r) => [r.seq, r.type, r.step, r.sinceStartMs])).toEqual([
      [1, "SagaStarted", undefined, 0],
      [2, "CommandIssued", "charge", 0],
      [3, "SagaCompleted", undefined, 5],
    ]);
    expect(timeline.steps).toMatchObject([
      { step: "charge", action: "do", attempts: 1, outcome: "open" },
    ]);
    expect([timeline.end, timeline.durationMs]).toEqual(["SagaCompleted", 5]);

    const table = await run(
      process.execPath,
      [cli, "saga", "timeline", "saga-0007", "--topic", topic],
      {
        env: process.env,
      },
    );
    expect(table.stdout).toMatch(/saga-0007: started .*, SagaCompleted after 5 ms/);

    const missing = await run(
      process.execPath,
      [cli, "saga", "timeline", "no-such-saga", "--topic", topic],
      { env: process.env },
    ).catch((error: unknown) => error as { code: number; stderr: string });
    expect(missing).toMatchObject({ code: ExitCode.Usage });
    expect((missing as { stderr: string }).stderr).toContain(
      `no events of saga no-such-saga in ${topic}`,
    );
  });
});

describe("rebuild as of a time", () => {
  async function rebuilt(asOf: number) {
    const into = path.join(dir, `as-of-${asOf}`);
    const undecodable: Undecodable[] = [];
    const summary = await rebuild({
      kafka,
      codec,
      topic,
      asOf,
      into,
      onUndecodable: (u) => undecodable.push(u),
    });
    const store = await StoreSagas.open(into);
    const states = new Map<string, { status: string; seq: number; step: string | undefined }>();
    for await (const { sagaId, seq, state } of store.all()) {
      states.set(sagaId, { status: state.status, seq, step: currentStep(state) });
    }
    return { into, summary, undecodable, states, store };
  }

  it("folds each saga's events up to the time, and none after", async () => {
    const now = await rebuilt(Date.now());
    expect(now.summary.sagas).toBe(SAGAS);
    expect([...now.states.values()].every((s) => s.status === "COMPLETED" && s.seq === 3)).toBe(
      true,
    );
    expect(now.undecodable.map((u) => u.partition)).toEqual([0, 1]);
    await now.store.close();

    const between = await rebuilt(secondWaveAt - 1);
    expect(between.summary.sagas).toBe(SAGAS / 2);
    expect(between.states.has("saga-0149")).toBe(true);
    expect(between.states.has("saga-0150")).toBe(false);
    await between.store.close();

    const midway = await rebuilt(endsAt - 1); // the second wave started, its charges in flight
    expect(midway.states.get("saga-0000")).toEqual({
      status: "COMPLETED",
      seq: 3,
      step: undefined,
    });
    expect(midway.states.get("saga-0200")).toEqual({ status: "RUNNING", seq: 2, step: "charge" });
    const running = [...midway.states.values()].filter((s) => s.status === "RUNNING");
    expect(running).toHaveLength(SAGAS / 2);
    const rows = await midway.store.toParquet(path.join(dir, "midway.parquet"));
    expect(rows).toBe(SAGAS);
    await midway.store.close();
    const db = await DuckDBInstance.create(":memory:");
    const sql = await db.connect();
    const byStatus = await sql.runAndReadAll(
      `SELECT status, current_step, count(*)::INTEGER AS n FROM '${path.join(dir, "midway.parquet")}' GROUP BY ALL ORDER BY status`,
    );
    expect(byStatus.getRowObjects().map((r) => [r["status"], r["current_step"], r["n"]])).toEqual([
      ["COMPLETED", null, SAGAS / 2],
      ["RUNNING", "charge", SAGAS / 2],
    ]);
    sql.closeSync();
    db.closeSync();

    const cli = await run(
      process.execPath,
      [
        path.resolve("dist/cli/main.js"),
        "saga",
        "list",
        "--store",
        midway.into,
        "--status",
        "RUNNING",
        "--limit",
        "1000",
      ],
      { env: process.env },
    );
    expect(cli.stdout).toContain(`${SAGAS / 2} saga(s)`);
    expect(cli.stderr).toMatch(/as of .*, rebuilt from .*saga-events/);
  });
});
