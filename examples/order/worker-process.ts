/**
 * The demo's engine worker in a process of its own, as it runs in production: its event loop
 * is not shared with the order service and the participants, whose PostgreSQL round trips
 * would otherwise wait behind the worker's batches (measured: a command's transaction took
 * 59 ms at the median, sharing one loop at 100 orders/s).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { WorkerOptions } from "./worker.js";

export interface WorkerProcess {
  /** Where its status API listens. */
  apiAddress: string;
  /** SIGTERM, then waits for it to exit (it commits and leaves its group first). */
  stop(): Promise<void>;
}

export async function startWorkerProcess(options: WorkerOptions): Promise<WorkerProcess> {
  const script = fileURLToPath(new URL("./worker.js", import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  let apiAddress = "";
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("api ")) apiAddress = line.slice("api ".length);
      else if (line === "ready") resolve();
    });
    void exited.then(([code]: unknown[]) => {
      reject(new Error(`the engine worker exited (code ${String(code)}) before it was ready`));
    });
  });
  await ready;
  return {
    apiAddress,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
