/**
 * `sagastream bench soak`: state stays bounded. One bench worker (its own process) runs sagas
 * to completion at a steady rate for some minutes, with a short retention of ended sagas;
 * every half minute the table shows the sagas started, those in the worker's stores (by the
 * status index: every stored state is indexed), its RSS after a GC and the changelog's size on
 * disk (what compaction leaves; its offsets only grow).
 * With the retention, the stores hold about rate × retention sagas and stop growing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { withAdmin, type KafkaSettings } from "../kafka/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { ProcessingGuarantee, changelogTopic } from "../topology/index.js";
import { SAGA_STORES } from "../saga/index.js";
import { formatTable } from "../util/index.js";
import { BENCH_PARTICIPANTS, benchStartTopic } from "./saga-bench-app.js";
import { deleteAppTopics, startWorkerProcess } from "./saga-bench-process.js";
import { produceStarts, startEchoParticipants } from "./saga-bench-traffic.js";

export interface SoakBenchOptions {
  /** How long sagas run (default 10 minutes). */
  minutes?: number | undefined;
  /** Sagas started per second (default 100). */
  rate?: number | undefined;
  /** How long ended sagas stay in the store (default 60 s). */
  retentionSeconds?: number | undefined;
}

const PARTITIONS = 6;
const SAMPLE_EVERY_MS = 30_000;

interface Sample {
  seconds: number;
  started: number;
  stored: number;
  rssMb: number;
  heapMb: number;
  changelogMb: number;
}

/** The changelog's size on the brokers' disks (MB): what compaction has left to restore. */
async function changelogMb(
  kafka: KafkaSettings,
  topic: string,
  partitions: number,
): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const brokers = await admin.describeLogDirs({
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, i) => i) }],
    });
    let bytes = 0n;
    for (const broker of brokers)
      for (const dir of broker.results)
        for (const t of dir.topics) for (const p of t.partitions) bytes += p.partitionSize;
    return Number(bytes) / 2 ** 20;
  });
}

export async function soakBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  options: SoakBenchOptions,
  report: (line: string) => void,
): Promise<void> {
  const minutes = options.minutes ?? 10;
  const rate = options.rate ?? 100;
  const retentionSeconds = options.retentionSeconds ?? 60;
  const app = `bench-soak-${Date.now().toString(36)}`;
  const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: app };
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const worker = await startWorkerProcess({
    applicationId: app,
    brokers: connections.kafkaBrokers,
    schemaRegistryUrl: connections.schemaRegistryUrl,
    stateDir,
    guarantee: ProcessingGuarantee.ExactlyOnce,
    partitions: PARTITIONS,
    retentionMs: retentionSeconds * 1000,
  });
  const echo = await startEchoParticipants(kafka, codec, app, BENCH_PARTICIPANTS);
  const samples: Sample[] = [];
  try {
    const total = Math.round(rate * minutes * 60);
    report(
      `soak: ${total} sagas at ${rate}/s for ${minutes} min, ended sagas kept ${retentionSeconds} s`,
    );
    const started = Date.now();
    let sent = 0;
    const ids = Array.from({ length: total }, (_, i) => `soak-${i}`);
    // In slices, so that the samples can say how many were started.
    const producing = (async () => {
      for (let i = 0; i < total; i += rate) {
        const slice = ids.slice(i, i + rate);
        const due = started + (i / rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        await produceStarts(kafka, benchStartTopic(app), slice, rate);
        sent += slice.length;
      }
    })();
    const changelog = changelogTopic(app, SAGA_STORES.sagas);
    for (let at = SAMPLE_EVERY_MS; at <= minutes * 60_000; at += SAMPLE_EVERY_MS) {
      await sleep(Math.max(0, started + at - Date.now()));
      const counts = await worker.sagas();
      const memory = await worker.memory();
      const sample: Sample = {
        seconds: Math.round((Date.now() - started) / 1000),
        started: sent,
        stored: Object.values(counts).reduce((sum, n) => sum + n, 0),
        rssMb: memory.afterGc.rss / 2 ** 20,
        heapMb: memory.afterGc.heapUsed / 2 ** 20,
        changelogMb: await changelogMb(kafka, changelog, PARTITIONS),
      };
      samples.push(sample);
      report(
        `soak: ${sample.seconds} s: ${sample.started} started, ${sample.stored} in the stores, RSS ${sample.rssMb.toFixed(0)} MB`,
      );
    }
    await producing;
  } finally {
    await echo.stop();
    await worker.stop().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
    await deleteAppTopics(kafka, app);
  }
  const rows = samples.map((s) => [
    String(s.seconds),
    s.started.toLocaleString("en-US"),
    s.stored.toLocaleString("en-US"),
    s.changelogMb.toFixed(1),
    s.rssMb.toFixed(0),
    s.heapMb.toFixed(0),
  ]);
  process.stdout.write(
    `Soak: one worker, ${PARTITIONS} partitions, exactly-once, ${rate} sagas/s (3 steps each) for ${minutes} min; ended sagas kept ${retentionSeconds} s (about ${(rate * retentionSeconds).toLocaleString("en-US")} sagas)\n` +
      `${formatTable(["s", "sagas started", "sagas in the stores", "changelog MB on disk", "RSS MB (after GC)", "heap MB"], rows)}\n`,
  );
}
