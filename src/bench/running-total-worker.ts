/**
 * A worker process running the running-total topology, for the kill tests and benchmarks:
 *   node dist/bench/running-total-worker.js <json options>
 * It prints "ready" once it has joined the group, and stops cleanly on SIGTERM. Given `expect`
 * (the benchmark), it prints a DrainStats line once that many records were committed.
 */
import { createLogger } from "../log/index.js";
import { ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import { runningTotalTopology } from "./running-total.js";
import { DrainMeter } from "./worker-process.js";

interface WorkerOptions {
  applicationId: string;
  brokers: string[];
  input: string;
  output: string;
  stateDir: string;
  guarantee?: ProcessingGuarantee;
  commitIntervalMs?: number;
  /** Report when this many records were committed (see DrainMeter). */
  expect?: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as WorkerOptions;
const logger = createLogger("warn", `worker-${process.pid}`);
const meter = new DrainMeter(options.expect);
const app = new StreamsApp({
  applicationId: options.applicationId,
  brokers: options.brokers,
  topology: runningTotalTopology(
    { input: options.input, output: options.output },
    undefined,
    () => {
      meter.consumed();
    },
  ),
  stateDir: options.stateDir,
  guarantee: options.guarantee ?? ProcessingGuarantee.ExactlyOnce,
  logger,
  sessionTimeoutMs: 6000,
  commitIntervalMs: options.commitIntervalMs,
});

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void app.stop().then(() => process.exit(0));
});

await app.start();
process.stdout.write("ready\n");

if (options.expect !== undefined) {
  // The runtime counts records as their commit completes: polled, cheaply, every 5 ms.
  const drained = setInterval(() => {
    meter.written(app.metrics.recordsProcessed);
    if (app.metrics.recordsProcessed >= (options.expect ?? 0)) clearInterval(drained);
  }, 5);
  drained.unref();
}

// Report each task's restoration on stdout, for the kill tests' restoration figures.
let reported = 0;
setInterval(() => {
  for (const restoration of app.metrics.restorations.slice(reported)) {
    process.stdout.write(
      `${JSON.stringify({ event: "restored", pid: process.pid, ...restoration })}\n`,
    );
  }
  reported = app.metrics.restorations.length;
}, 200).unref();
