/** Small helpers shared by every folder: waiting on a condition with a deadline. */
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Pause between attempts. */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  description: string;
  signal?: AbortSignal;
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    readonly lastProblem: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${description} (last: ${lastProblem})`);
  }
}

/**
 * Calls `attempt` until it returns a value other than undefined, or throws WaitTimeoutError
 * at the deadline. An attempt that throws counts as "not yet"; its message is kept for the
 * timeout error so that the caller learns why the condition never held.
 */
export async function waitUntil<T>(
  attempt: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastProblem = "condition not met";
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await attempt();
      if (value !== undefined) return value;
      lastProblem = "condition not met";
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(options.description, options.timeoutMs, lastProblem);
    }
    await sleep(options.intervalMs ?? 250, undefined, { signal: options.signal });
  }
}

/** Seconds since `startMs`, with one decimal, for progress lines. */
export function secondsSince(startMs: number): string {
  return ((Date.now() - startMs) / 1000).toFixed(1);
}

/** How many items an async iterable yields. */
export async function countOf(items: AsyncIterable<unknown>): Promise<number> {
  const iterator = items[Symbol.asyncIterator]();
  let count = 0;
  while (!(await iterator.next()).done) count += 1;
  return count;
}
export { formatTable, percentile } from "./table.js";

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else
      signal.addEventListener(
        "abort",
        () => {
          resolve();
        },
        { once: true },
      );
  });
}
