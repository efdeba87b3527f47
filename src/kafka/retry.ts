/**
 * Which Kafka errors are worth retrying, and how long to wait: bounded exponential backoff
 * with jitter, the same curve for the clients' own retries (within one request) and for the
 * engine's retries of a whole operation (p-retry).
 */
import { GenericError, MultipleErrors } from "@platformatic/kafka";
import pRetry from "p-retry";

/** Retries of one request inside a client: about 12 s of backoff before the caller hears. */
export const CLIENT_RETRIES = 8;

export const BACKOFF = { minMs: 100, maxMs: 3_000 } as const;

/**
 * CONCURRENT_TRANSACTIONS means the broker is still writing the previous transaction's
 * markers, gone within milliseconds: the Java client retries it after 20 ms.
 */
const QUICK_RETRY_MS = 20;

/** The delay before retry `attempt` (1-based): doubling from 100 ms up to 3 s, ±20% jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(doubling(BACKOFF.minMs, BACKOFF.maxMs, attempt) * (0.8 + 0.4 * random()));
}

/** `firstMs` before retry 1, doubling with each further attempt, at most `maxMs`. */
function doubling(firstMs: number, maxMs: number, attempt: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt - 1));
}

/** The clients' `retryDelay`: see BACKOFF and QUICK_RETRY_MS. */
export function clientRetryDelay(
  _client: unknown,
  _operation: string,
  attempt: number,
  _retries: number,
  error: Error,
): number {
  return kafkaErrorId(error) === "CONCURRENT_TRANSACTIONS" ? QUICK_RETRY_MS : backoffMs(attempt);
}

/**
 * The delay before retry `attempt` of a transactional producer's request (the runtime's).
 * CONCURRENT_TRANSACTIONS means the broker has answered the previous transaction's EndTxn
 * but is still writing its markers, a few milliseconds: a commit that starts right after a
 * long one meets it. Retried after 20 ms (the Java client's delay), it added 20 ms to some 4%
 * of the saga worker's commits at 1,000 sagas/s, and a late commit makes the next one start
 * right after it, to meet it again. After 2 ms, doubling: saga p99 200–297 ms against
 * 258–335 in three A B pairs (the day's runs overlap: 161–297 against 186–341). Other
 * errors: 20 ms, doubling. Both at most 1 s.
 */
export function transactionalRetryDelay(
  _client: unknown,
  _operation: string,
  attempt: number,
  _retries: number,
  error: Error,
): number {
  return doubling(kafkaErrorId(error) === "CONCURRENT_TRANSACTIONS" ? 2 : 20, 1000, attempt);
}

/** Every error a Kafka client error stands for (itself, or those it aggregates). */
function leaves(error: unknown): unknown[] {
  if (error instanceof MultipleErrors) return error.errors.flatMap(leaves);
  return [error];
}

/** The broker's error name (e.g. NOT_COORDINATOR) of a protocol error, if it is one. */
export function kafkaErrorId(error: unknown): string | undefined {
  for (const leaf of leaves(error)) {
    if (leaf instanceof GenericError && typeof leaf.apiId === "string") return leaf.apiId;
  }
  return undefined;
}

/**
 * Whether the same operation may succeed if tried again: a connection that failed or timed
 * out, a broker that said "retry" (leader moved, coordinator loading, concurrent transaction),
 * or a group that is rebalancing. A fenced producer, an unknown topic the caller named, or a
 * message that is too large are not. Errors that are not the client's are not either.
 */
export function isRetriable(error: unknown): boolean {
  const all = leaves(error);
  if (all.length === 0) return false;
  return all.every((leaf) => {
    if (!(leaf instanceof GenericError)) return false;
    if (leaf.code === "PLT_KFK_NETWORK" || leaf.code === "PLT_KFK_TIMEOUT") return true;
    return leaf.canRetry === true || leaf.needsRejoin === true;
  });
}

/**
 * Runs `operation` until it succeeds, retrying retriable Kafka errors with BACKOFF for up to
 * `retries` attempts (default: until `signal` aborts).
 */
export function retrying<T>(
  operation: () => Promise<T>,
  options: { retries?: number; signal?: AbortSignal; onRetry?: (error: Error) => void } = {},
): Promise<T> {
  return pRetry(operation, {
    retries: options.retries ?? Number.POSITIVE_INFINITY,
    minTimeout: BACKOFF.minMs,
    maxTimeout: BACKOFF.maxMs,
    randomize: true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    shouldRetry: ({ error }) => isRetriable(error),
    onFailedAttempt: ({ error }) => {
      if (isRetriable(error)) options.onRetry?.(error);
    },
  });
}
