/**
 * A worker process running the running-total topology, for the kill tests and benchmarks:
 *   node dist/bench/running-total-worker.js <json options>
 * It prints "ready" once it has joined the group, and stops cleanly on SIGTERM.
 */
import { createLogger } from "../log/index.js";
import { ProcessingGuarantee, StreamsApp } from "../topology/index.js";
import { runningTotalTopology } from "./running-total.js";

interface WorkerOptions {
  applicationId: string;
  brokers: string[];
  input: string;
  output: string;
  stateDir: string;
  guarantee?: ProcessingGuarantee;
}

const options = JSON.parse(process.argv[2] ?? "{}") as WorkerOptions;
const logger = createLogger("warn", `worker-${process.pid}`);
const app = new StreamsApp({
  applicationId: options.applicationId,
  brokers: options.brokers,
  topology: runningTotalTopology({ input: options.input, output: options.output }),
  stateDir: options.stateDir,
  guarantee: options.guarantee ?? ProcessingGuarantee.ExactlyOnce,
  logger,
  sessionTimeoutMs: 6000,
});

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void app.stop().then(() => process.exit(0));
});

await app.start();
process.stdout.write("ready\n");

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
