/**
 * A bench worker in a process of its own (a raw pipe, or the running-total topology), so that
 * the CPU time and memory it reports are its own. Told how many records to expect, the worker
 * prints one `{"event":"drained",…}` line (DrainStats) once it has written the output of that
 * many; it stops on SIGTERM.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface DrainStats {
  event: "drained";
  /** When the worker consumed its first record (ms since the epoch). */
  firstConsumedAt: number;
  /** When the output of the expected count was written (committed, or acknowledged). */
  drainedAt: number;
  /** CPU time (user + system) of the worker from its first record to then. */
  cpuMs: number;
  maxRssMb: number;
}

/** Notes the first record and, once `expect` were written, says so on stdout (worker side). */
export class DrainMeter {
  private firstConsumedAt: number | undefined;
  private cpuAtFirst: NodeJS.CpuUsage | undefined;
  private done = false;

  constructor(
    private readonly expect: number | undefined,
    private readonly report: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  consumed(): void {
    if (this.firstConsumedAt !== undefined) return;
    this.firstConsumedAt = Date.now();
    this.cpuAtFirst = process.cpuUsage();
  }

  written(total: number): void {
    if (this.done || this.expect === undefined || total < this.expect) return;
    this.done = true;
    const cpu = process.cpuUsage(this.cpuAtFirst);
    const stats: DrainStats = {
      event: "drained",
      firstConsumedAt: this.firstConsumedAt ?? 0,
      drainedAt: Date.now(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    };
    this.report(`${JSON.stringify(stats)}\n`);
  }
}

export interface BenchWorker {
  /** Resolves once the worker printed "ready". */
  readonly ready: Promise<void>;
  /** Resolves when the worker says it has written the expected count. */
  readonly drained: Promise<DrainStats>;
  /** Rejects if the worker exits before it is stopped. */
  readonly failed: Promise<never>;
  /** Stops it with SIGTERM; rejects unless it exits with code 0. */
  stop(): Promise<void>;
}

/** `script` is a file name in this folder (dist/bench). */
export function startBenchWorker(script: string, options: object, name: string): BenchWorker {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), script);
  const child = spawn(process.execPath, [file, JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stopped: Promise<void> | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const failed = exited.then((code): never => {
    throw new Error(`${name} exited (code ${code})${stopped === undefined ? " unasked" : ""}`);
  });
  failed.catch(() => undefined); // observed by those who race it, not by every caller
  const waiting: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    const i = waiting.findIndex((w) => w.match(line));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(line);
  });
  const lineMatching = (match: (line: string) => boolean) =>
    Promise.race([new Promise<string>((resolve) => waiting.push({ match, resolve })), failed]);
  const ready = lineMatching((line) => line === "ready").then(() => undefined);
  ready.catch(() => undefined);
  const drained = lineMatching((line) => line.startsWith('{"event":"drained"')).then(
    (line) => JSON.parse(line) as DrainStats,
  );
  drained.catch(() => undefined);
  return {
    ready,
    drained,
    failed,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null) child.kill("SIGTERM");
        const code = await exited;
        if (code !== 0) throw new Error(`${name} stopped with code ${code}`);
      })();
      return stopped;
    },
  };
}
