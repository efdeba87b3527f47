/**
 * `sagastream bench console`: how fast the console's views answer on 100,000 sagas. A worker
 * (this process, its API on loopback) holds that many sagas waiting on a participant that never
 * answers; a batch cancels 30% of them; then each view is asked for in turn, 20 times after 2
 * unmeasured, and the table gives p50, p90 and the slowest answer, with the worker's memory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../log/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { defineSaga, step } from "../saga/index.js";
import { Serdes } from "../state/index.js";
import { formatTable, percentile, waitUntil } from "../util/index.js";
import { SagaWorker } from "../worker/index.js";
import { deleteAppTopics } from "./saga-bench-process.js";
import { produceStarts } from "./saga-bench-traffic.js";

export interface ConsoleBenchOptions {
  /** Sagas held (default 100,000). */
  sagas?: number | undefined;
}

const PARTITIONS = 6;
const RUNS = 20;
const WARM_UP = 2;
const CANCELLED_SHARE = 0.3;

/** A saga that waits on a participant that never answers (within the bench). */
function waiting(name: string) {
  return defineSaga<{ id: string }>({
    name,
    version: 1,
    participants: ["desk"],
    stages: [
      step({
        name: "wait",
        participant: "desk",
        command: (d) => ({ type: "Wait", payload: { id: d.id } }),
        retriableOnly: true,
        timeoutMs: 3_600_000,
      }),
    ],
  });
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return performance.now() - started;
}

export async function consoleBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  options: ConsoleBenchOptions,
  report: (line: string) => void,
): Promise<void> {
  const total = options.sagas ?? 100_000;
  const app = `bench-console-${Date.now().toString(36)}`;
  const kafka = { brokers: connections.kafkaBrokers, clientId: app };
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  // Sagas of type "gone" are cancelled by a batch; those of type "held" keep running.
  const topics = { held: `${app}.held`, gone: `${app}.gone` };
  const worker = new SagaWorker({
    applicationId: app,
    brokers: connections.kafkaBrokers,
    sagas: [waiting("held"), waiting("gone")],
    starts: (["held", "gone"] as const).map((saga) => ({
      topic: topics[saga],
      saga,
      valueSerde: Serdes.json<{ id: string }>(),
      data: (e: { id: string }) => e,
    })),
    stateDir,
    partitions: PARTITIONS,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
    logger: createLogger("warn", "console-bench"),
  });
  const rows: string[][] = [];
  try {
    await worker.start();
    const api = worker.apiAddress;
    const counts = async () =>
      ((await (await fetch(`${api}/counts`)).json()) as { counts: Record<string, number> }).counts;
    report(`console: starting ${total.toLocaleString("en-US")} sagas`);
    const loadStarted = Date.now();
    const ids = Array.from({ length: total }, (_, i) => `saga-${String(i).padStart(6, "0")}`);
    const cancelled = Math.round(total * CANCELLED_SHARE);
    await produceStarts(kafka, topics.gone, ids.slice(0, cancelled));
    await produceStarts(kafka, topics.held, ids.slice(cancelled));
    await waitUntil(async () => ((await counts())["RUNNING"] === total ? true : undefined), {
      timeoutMs: 1_800_000,
      intervalMs: 2_000,
      description: `${total} sagas running`,
    });
    report(`console: cancelling the ${cancelled.toLocaleString("en-US")} sagas of type "gone"`);
    const batch = await fetch(`${api}/batch/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter: { type: "gone" } }),
    });
    if (!batch.ok) {
      throw new Error(`the batch cancel answered ${batch.status}: ${await batch.text()}`);
    }
    await waitUntil(async () => ((await counts())["CANCELLED"] === cancelled ? true : undefined), {
      timeoutMs: 600_000,
      intervalMs: 2_000,
      description: `${cancelled} sagas cancelled`,
    });
    const held = await counts();
    report(
      `console: ${JSON.stringify(held)} after ${((Date.now() - loadStarted) / 1000).toFixed(0)} s; measuring`,
    );
    const deep = (await (await fetch(`${api}/sagas?status=RUNNING&limit=5000`)).json()) as {
      sagaId: string;
      sagaType: string;
      status: string;
      startedAt: string;
    }[];
    const cursor = Buffer.from(
      [deep.at(-1)?.status, deep.at(-1)?.sagaType, deep.at(-1)?.sagaId].join("\u0000"),
    ).toString("base64url");
    // Those started after the last of page 100 (a saga's start: when the worker began it).
    const late = deep.at(-1)?.startedAt ?? "";
    const views: [string, string][] = [
      ["sagas: first page, every status", "/ui"],
      ["sagas: CANCELLED", "/ui?status=CANCELLED"],
      ["sagas: RUNNING, page 101 (by cursor)", `/ui?status=RUNNING&after=${cursor}`],
      ["sagas: started after a time (index)", `/ui?from=${encodeURIComponent(late)}`],
      ["sagas: version 2 (none: whole index)", "/ui?version=2"],
      ["a saga: timeline from the log", `/ui/sagas/${deep[0]?.sagaId ?? ""}`],
      ["group", "/ui/group"],
      ["charts (page)", "/ui/charts"],
      ["charts (figures)", "/ui/series.json"],
      ["dead letters", "/ui/dead-letters"],
      ["API: counts", "/counts"],
    ];
    for (const [view, url] of views) {
      const times: number[] = [];
      for (let i = 0; i < WARM_UP + RUNS; i++) {
        const ms = await timed(`${api}${url}`);
        if (i >= WARM_UP) times.push(ms);
      }
      times.sort((a, b) => a - b);
      rows.push([
        view,
        percentile(times, 50).toFixed(1),
        percentile(times, 90).toFixed(1),
        (times.at(-1) ?? 0).toFixed(1),
      ]);
      report(`console: ${view}: p50 ${percentile(times, 50).toFixed(1)} ms`);
    }
    global.gc?.();
    const rss = process.memoryUsage().rss / 2 ** 20;
    process.stdout.write(
      `\nConsole views on ${total.toLocaleString("en-US")} sagas (${Object.entries(held)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${n.toLocaleString("en-US")}`)
        .join(
          ", ",
        )}), one worker, ${PARTITIONS} partitions; ${RUNS} requests each after ${WARM_UP} unmeasured, one at a time\n` +
        `${formatTable(["view", "p50 ms", "p90 ms", "slowest ms"], rows)}\n` +
        `worker and bench process RSS ${rss.toFixed(0)} MB\n`,
    );
  } finally {
    await worker.stop();
    await rm(stateDir, { recursive: true, force: true });
    await deleteAppTopics(kafka, app);
  }
}
