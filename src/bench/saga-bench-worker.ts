/**
 * The saga benchmark's worker, in a process of its own so that its figures (and its CPU
 * profile) are the worker's alone:
 *   node dist/bench/saga-bench-worker.js '<BenchWorkerOptions and schemaRegistryUrl as JSON>'
 * It prints "ready" once it has joined its group; a "memory" line on stdin is answered with
 * its memory use as JSON, when run with --expose-gc: after a GC (`afterGc`), and after a
 * last-resort GC (`released`), which also returns the pages V8 keeps pooled for reuse (V8
 * runs one when its heap nears its limit; until then those pages stay resident, as high as
 * the last burst of garbage took the heap). A "metrics" line is answered with the runtime's
 * counters (commits and their latency, where the processing loop's time went) as JSON;
 * "partitions" with the partitions it owns, "restorations" with the task openings it made,
 * "sagas" with the sagas in its stores by status.
 * SIGTERM stops it cleanly.
 */
import { createInterface } from "node:readline";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { benchWorker, type BenchWorkerOptions, type WorkerCounters } from "./saga-bench-app.js";

const options = JSON.parse(process.argv[2] ?? "{}") as BenchWorkerOptions & {
  schemaRegistryUrl: string;
};
const worker = benchWorker(options, new AvroCodec(createSchemaRegistry(options.schemaRegistryUrl)));

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void worker.stop().then(() => process.exit(0));
});

type Gc = (options?: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "partitions") {
    process.stdout.write(`${JSON.stringify(worker.app.ownedPartitions())}\n`);
    return;
  }
  if (line === "sagas") {
    void worker.sagaCounts().then((counts) => {
      process.stdout.write(`${JSON.stringify(Object.fromEntries(counts))}\n`);
    });
    return;
  }
  if (line === "restorations") {
    process.stdout.write(`${JSON.stringify(worker.app.metrics.restorations)}\n`);
    return;
  }
  if (line === "metrics") {
    const { commits, commitLatencyMsTotal, recordsProcessed, loop } = worker.app.metrics;
    const counters: WorkerCounters = { commits, commitLatencyMsTotal, recordsProcessed, ...loop };
    process.stdout.write(`${JSON.stringify(counters)}\n`);
    return;
  }
  if (line !== "memory") return;
  const gc = global.gc as Gc | undefined;
  gc?.();
  const afterGc = process.memoryUsage();
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  const released = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ afterGc, released })}\n`);
});

await worker.start();
process.stdout.write("ready\n");
