/** Worker processes for the kill tests: spawned from a built script, ready when it says so. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { clock } from "./order-outcomes.js";

export interface WorkerProcess {
  name: string;
  process: ChildProcess;
  stateDir: string;
  exited: Promise<void>;
}

/**
 * Starts `node <script> '<options as JSON>'` and waits for its "ready" line; every other line
 * of its stdout goes to `onLine`.
 */
export async function spawnWorker(
  script: string,
  name: string,
  stateDir: string,
  options: object,
  onLine: (line: string) => void = () => undefined,
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [path.resolve(script), JSON.stringify({ ...options, stateDir })],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line === "ready") resolve();
      else onLine(line);
    });
    void exited.then(() => {
      reject(new Error(`worker ${name} exited before it was ready`));
    });
  });
  return { name, process: child, stateDir, exited };
}

/**
 * Prints a worker's warnings and errors (its pino lines on stdout), one short line each with
 * the test's clock: what a fault did to it, for a test that fails to explain itself.
 */
export function reportWorkerWarning(label: string, line: string): void {
  if (!line.startsWith("{")) return;
  const entry = JSON.parse(line) as { level: number; msg: string; err?: { message?: string } };
  if (entry.level < 40) return;
  const reason = entry.err?.message === undefined ? "" : `: ${entry.err.message}`;
  process.stderr.write(`${label} at ${clock()}: ${entry.msg}${reason}\n`);
}
