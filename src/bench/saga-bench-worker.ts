/**
 * The saga benchmark's worker, in a process of its own so that its figures (and its CPU
 * profile) are the worker's alone:
 *   node dist/bench/saga-bench-worker.js '<BenchWorkerOptions and schemaRegistryUrl as JSON>'
 * It prints "ready" once it has joined its group; a "memory" line on stdin is answered with
 * its memory use as JSON (after a GC, when run with --expose-gc); SIGTERM stops it cleanly.
 */
import { createInterface } from "node:readline";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { benchWorker, type BenchWorkerOptions } from "./saga-bench-app.js";

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

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line !== "memory") return;
  global.gc?.();
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
});

await worker.start();
process.stdout.write("ready\n");
