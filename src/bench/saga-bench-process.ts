/**
 * A saga bench worker in a process of its own (as it would be deployed), driven over its
 * stdin and stdout: its runtime counters, its memory, the partitions it owns and the tasks it
 * restored; stopped cleanly, or SIGKILLed for the failover bench.
 */
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { withAdmin, type KafkaSettings } from "../kafka/index.js";
import { summarizeProfile, type ProfileSummary } from "./cpu-profile.js";
import { isTopicOf } from "./drain.js";
import type { BenchWorkerOptions, WorkerCounters } from "./saga-bench-app.js";
import { once } from "./saga-bench-traffic.js";

export interface WorkerProcess {
  /** The runtime's counters now. */
  counters(): Promise<WorkerCounters>;
  /** The worker's memory use now: after a GC, and once V8 returned its pooled pages. */
  memory(): Promise<{ afterGc: NodeJS.MemoryUsage; released: NodeJS.MemoryUsage }>;
  /** The partitions it owns now (running or opening). */
  partitions(): Promise<number[]>;
  /** The sagas in its stores, by status. */
  sagas(): Promise<Record<string, number>>;
  /** The task openings it made: records restored and how long each took. */
  restorations(): Promise<{ task: string; records: number; seconds: number }[]>;
  /** Stops it cleanly; with profiling, returns where its time went. */
  stop(): Promise<ProfileSummary | undefined>;
  /** SIGKILLs it: no commit, no checkpoint, no leaving the group. */
  kill(): Promise<void>;
}

const WORKER_SCRIPT = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "saga-bench-worker.js",
);

/** Starts the bench worker in its own process and waits until it has joined its group. */
export async function startWorkerProcess(
  options: BenchWorkerOptions & { schemaRegistryUrl: string },
  profileDir?: string,
): Promise<WorkerProcess> {
  const flags = ["--expose-gc"];
  if (profileDir !== undefined) flags.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const child = spawn(process.execPath, [...flags, WORKER_SCRIPT, JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const lines: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => lines.shift()?.(line));
  const nextLine = () =>
    Promise.race([
      new Promise<string>((resolve) => lines.push(resolve)),
      exited.then((code) => {
        throw new Error(`the bench worker exited (code ${code}) before it answered`);
      }),
    ]);
  const ask = async <T>(question: string): Promise<T> => {
    const answer = nextLine();
    child.stdin.write(`${question}\n`);
    return JSON.parse(await answer) as T;
  };
  const ready = await nextLine();
  if (ready !== "ready") throw new Error(`the bench worker said "${ready}" instead of ready`);
  return {
    counters: () => ask("metrics"),
    memory: () => ask("memory"),
    partitions: () => ask("partitions"),
    sagas: () => ask("sagas"),
    restorations: () => ask("restorations"),
    stop: once(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`the bench worker stopped with code ${code}`);
      if (profileDir === undefined) return undefined;
      const [file] = (await readdir(profileDir)).filter((f) => f.endsWith(".cpuprofile"));
      return file === undefined ? undefined : summarizeProfile(path.join(profileDir, file));
    }),
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * Deletes a run's topics: the broker's work grows with its partition count (measured: a stack
 * of 5,073 partitions drained 1,070–1,296 sagas/s, the same stack purged 1,853–1,926), so a
 * run that left its own would slow the next.
 */
export async function deleteAppTopics(kafka: KafkaSettings, app: string): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => isTopicOf(app, t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  }).catch(() => undefined); // a leftover is harmless: `stack down --purge` clears it
}
