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

/** The fields of a worker's log line worth a timeline: which tasks, which generation, why. */
const TIMELINE_FIELDS = [
  "task",
  "tasks",
  "clean",
  "restored",
  "from",
  "generationId",
  "assignments",
];

/**
 * The workers' log lines (their pino JSON on stdout), each as one short line with the test's
 * clock. Warnings and errors are printed at once; the whole story (assignments, tasks opened
 * and closed, joins) only when the test fails: enough to tell why a partition stopped.
 */
export class WorkerTimeline {
  private readonly lines: string[] = [];

  /** Takes one line of worker `label`'s stdout (lines that are not JSON are ignored). */
  add(label: string, line: string): void {
    if (!line.startsWith("{")) return;
    const entry = JSON.parse(line) as Record<string, unknown> & {
      level: number;
      msg: string;
      err?: { message?: string };
    };
    const fields = TIMELINE_FIELDS.filter((f) => entry[f] !== undefined)
      .map((f) => `${f}=${JSON.stringify(entry[f])}`)
      .join(" ");
    const codes = errorCodes(entry.err);
    const reason =
      (entry.err?.message === undefined ? "" : `: ${entry.err.message}`) +
      (codes.length === 0 ? "" : ` [${codes.join(", ")}]`);
    const text = `${label} at ${clock()}: ${entry.msg}${reason}${fields === "" ? "" : ` (${fields})`}`;
    this.lines.push(text);
    if (entry.level >= 40) process.stderr.write(`${text}\n`);
  }

  /** Prints every line kept, in order. */
  print(): void {
    process.stderr.write(`worker timeline:\n${this.lines.join("\n")}\n`);
  }
}

/** The Kafka error codes (`apiId`s) anywhere in a logged error: what a message like "Received response with error" hides. */
function errorCodes(err: unknown): string[] {
  const codes = new Set<string>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 6 || value === null || typeof value !== "object") return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "apiId" && typeof inner === "string") codes.add(inner);
      else visit(inner, depth + 1);
    }
  };
  visit(err, 0);
  return [...codes];
}
