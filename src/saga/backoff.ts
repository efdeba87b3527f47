/**
 * Retry delays: exponential backoff with jitter, capped. The jitter is drawn from a hash of the
 * saga, step and attempt instead of Math.random, so deciding twice on the same input (a replay,
 * or a task re-processing after a crash) gives the same delay.
 */
import type { RetryPolicy } from "./definition.js";

/** FNV-1a, 32 bits, scaled to [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 2 ** 32;
}

/** The delay before attempt `attempt + 1`, after attempt `attempt` (≥ 1) failed. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, seed: string): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** (attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const factor = 1 - policy.jitter * unitHash(`${seed}#${attempt}`);
  return Math.round(capped * factor);
}
