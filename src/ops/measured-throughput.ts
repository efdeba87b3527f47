/**
 * The saga benchmark's per-worker throughput, kept where `sagastream capacity` finds it:
 * `<state dir>/bench/saga.json`. The benchmark writes it; the capacity planner reads it.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors/index.js";

export interface MeasuredThroughput {
  /** Sagas per second one worker drained (the benchmark's headline figure). */
  sagasPerSecond: number;
  /** When it was measured, ISO 8601. */
  measuredAt: string;
  /** The processing guarantee it was measured under. */
  guarantee: string;
  /** What was measured: the saga, the worker, the partitions, the runs. */
  measured: string;
}

/** Where the saga benchmark's result is kept under `stateDir`. */
export function measuredThroughputFile(stateDir: string): string {
  return path.join(stateDir, "bench", "saga.json");
}

/** Records `result` under `stateDir` (replacing the last one, atomically); returns the file. */
export async function recordMeasuredThroughput(
  stateDir: string,
  result: MeasuredThroughput,
): Promise<string> {
  const file = measuredThroughputFile(stateDir);
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(result, null, 2)}\n`);
  await rename(temporary, file);
  return file;
}

function isMeasuredThroughput(value: unknown): value is MeasuredThroughput {
  const v = value as Partial<MeasuredThroughput> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.sagasPerSecond === "number" &&
    Number.isFinite(v.sagasPerSecond) &&
    v.sagasPerSecond > 0 &&
    typeof v.measuredAt === "string" &&
    !Number.isNaN(Date.parse(v.measuredAt)) &&
    typeof v.guarantee === "string" &&
    typeof v.measured === "string"
  );
}

/**
 * The last recorded result under `stateDir`, or undefined when the benchmark never recorded one.
 * Throws a UsageError when the file is there but is not a result.
 */
export async function readMeasuredThroughput(
  stateDir: string,
): Promise<MeasuredThroughput | undefined> {
  const file = measuredThroughputFile(stateDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isMeasuredThroughput(parsed))
    throw new UsageError(
      `${file} is not a saga benchmark result ({ sagasPerSecond, measuredAt, guarantee, measured }): run \`npm run bench -- saga\` again, or pass --tps-per-worker`,
    );
  return parsed;
}
