/**
 * `sagastream bench failover`: how long the sagas of a worker that dies wait. Two bench workers
 * share the sagas (each on its own state directory, as two machines would); SAGAS sagas are
 * started and left waiting on their first step, so the stores are full; sagas keep starting on
 * every partition, and one worker is SIGKILLed (with transactions open). Its failover time is
 * the time from the kill until every one of its partitions has started a saga on the survivor
 * (a decision's timestamp is when the worker processed it). Run with and without standby
 * replicas, in the same run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createProducer, partitionForKey, type KafkaSettings } from "../kafka/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { ProcessingGuarantee } from "../topology/index.js";
import { formatTable, waitUntil } from "../util/index.js";
import { benchStartTopic } from "./saga-bench-app.js";
import { deleteAppTopics, startWorkerProcess, type WorkerProcess } from "./saga-bench-process.js";
import { produceStarts, watchEvents } from "./saga-bench-traffic.js";

export interface FailoverBenchOptions {
  /** Sagas in flight when the worker dies (default 100,000). */
  sagas?: number | undefined;
  /** The standby replica counts measured, in this order (default 0 then 1). */
  standbys?: readonly number[] | undefined;
}

const PARTITIONS = 6;
/** As the example worker's: the coordinator notices a dead member after this long. */
const SESSION_TIMEOUT_MS = 6_000;
/** After the kill, a saga starts on each of its partitions this often. */
const PROBE_EVERY_MS = 20;

interface FailoverResult {
  standbys: number;
  sagas: number;
  partitions: number[];
  /** Seconds from the kill to the first saga started after it, per killed partition. */
  recoveredIn: number[];
  restoredRecords: number;
  restoreSeconds: number;
}

/** A saga id whose partition is `partition`, the `n`th such. */
function idOn(partition: number, n: number): string {
  for (let i = 0; ; i++) {
    const id = `after-${partition}-${n}-${i}`;
    if (partitionForKey(Buffer.from(id), PARTITIONS) === partition) return id;
  }
}

/** Starts a saga on every partition each PROBE_EVERY_MS until stopped. */
function probe(kafka: KafkaSettings, topic: string): { stop: () => Promise<void> } {
  const producer = createProducer(kafka);
  const state = { stopped: false };
  const running = (async () => {
    for (let n = 0; !state.stopped; n++) {
      const ids = Array.from({ length: PARTITIONS }, (_, p) => idOn(p, n));
      await producer.send({
        messages: ids.map((id) => ({ topic, key: id, value: Buffer.from(JSON.stringify({ id })) })),
      });
      await sleep(PROBE_EVERY_MS);
    }
  })();
  return {
    stop: async () => {
      state.stopped = true;
      await running;
      await producer.close();
    },
  };
}

async function runOnce(
  connections: { brokers: string[]; schemaRegistryUrl: string; codec: AvroCodec },
  standbys: number,
  sagas: number,
  report: (line: string) => void,
): Promise<FailoverResult> {
  const app = `bench-failover-${standbys}-${Date.now().toString(36)}`;
  const kafka: KafkaSettings = { brokers: connections.brokers, clientId: app };
  const root = await mkdtemp(path.join(os.tmpdir(), `${app}-`));
  const workers: WorkerProcess[] = [];
  const start = async (label: string) => {
    const worker = await startWorkerProcess({
      applicationId: app,
      brokers: connections.brokers,
      schemaRegistryUrl: connections.schemaRegistryUrl,
      stateDir: path.join(root, label),
      guarantee: ProcessingGuarantee.ExactlyOnce,
      partitions: PARTITIONS,
      numStandbyReplicas: standbys,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
    });
    workers.push(worker);
    return worker;
  };
  try {
    const survivor = await start("a");
    const victim = await start("b");
    const watcher = await watchEvents(kafka, connections.codec, app);
    try {
      report(`standbys ${standbys}: starting ${sagas} sagas that wait on their first step …`);
      const ids = Array.from({ length: sagas }, (_, i) => `s-${i}`);
      await produceStarts(kafka, benchStartTopic(app), ids);
      await waitUntil(() => (watcher.decidedAt.size >= sagas ? true : undefined), {
        timeoutMs: 900_000,
        intervalMs: 500,
        description: `${sagas} sagas to start`,
      });
      // Standbys catch up with the last commits (they follow the changelogs continuously).
      await sleep(3_000);
      let recoveredIn: number[] = [];
      const partitions = await victim.partitions();
      // Sagas keep starting on every partition, from before the kill: the worker dies with
      // transactions open, as it would under load.
      const probing = probe(kafka, benchStartTopic(app));
      try {
        await sleep(2_000);
        report(
          `standbys ${standbys}: SIGKILL of the worker owning partitions ${partitions.join(", ")}`,
        );
        const killedAt = Date.now();
        await victim.kill();
        const recovered = new Map<number, number>();
        await waitUntil(
          () => {
            for (const [sagaId, decided] of watcher.decidedAt) {
              if (!sagaId.startsWith("after-")) continue;
              const partition = Number(sagaId.split("-")[1]);
              if (!partitions.includes(partition)) continue;
              const at = decided.find((t) => t > killedAt);
              if (at !== undefined && at < (recovered.get(partition) ?? Infinity))
                recovered.set(partition, at);
            }
            return recovered.size === partitions.length ? true : undefined;
          },
          { timeoutMs: 300_000, intervalMs: 100, description: "the killed partitions to recover" },
        );
        recoveredIn = partitions.map((p) => ((recovered.get(p) ?? 0) - killedAt) / 1000);
      } finally {
        await probing.stop();
      }
      const restorations = await survivor.restorations();
      const moved = restorations.filter((r) => partitions.includes(Number(r.task.split("_")[1])));
      return {
        standbys,
        sagas,
        partitions,
        recoveredIn,
        restoredRecords: moved.reduce((sum, r) => sum + r.records, 0),
        restoreSeconds: Math.max(0, ...moved.map((r) => r.seconds)),
      };
    } finally {
      await watcher.stop();
    }
  } finally {
    for (const worker of workers) await worker.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    await deleteAppTopics(kafka, app);
  }
}

export async function failoverBenchmark(
  connections: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  options: FailoverBenchOptions,
  report: (line: string) => void,
): Promise<void> {
  const bench = {
    brokers: connections.kafkaBrokers,
    schemaRegistryUrl: connections.schemaRegistryUrl,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
  };
  const results: FailoverResult[] = [];
  for (const standbys of options.standbys ?? [0, 1]) {
    results.push(await runOnce(bench, standbys, options.sagas ?? 100_000, report));
  }
  const rows = results.map((r) => [
    String(r.standbys),
    r.sagas.toLocaleString("en-US"),
    r.partitions.join(","),
    Math.max(...r.recoveredIn).toFixed(1),
    `${Math.min(...r.recoveredIn).toFixed(1)}–${Math.max(...r.recoveredIn).toFixed(1)}`,
    r.restoredRecords.toLocaleString("en-US"),
    r.restoreSeconds.toFixed(1),
  ]);
  process.stdout.write(
    `Failover: two workers, ${PARTITIONS} partitions, exactly-once, session timeout ${SESSION_TIMEOUT_MS / 1000} s; one SIGKILLed with the sagas in flight\n` +
      `${formatTable(
        [
          "standbys",
          "sagas in flight",
          "killed partitions",
          "failover s",
          "per partition s",
          "records restored",
          "longest opening s",
        ],
        rows,
      )}\n`,
  );
}
