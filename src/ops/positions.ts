/**
 * Where a read of a topic starts or stops: an offset ("1200"), a time ("2026-12-04T14:00:00Z"),
 * a duration ago ("30m", "2h", "7d"), or either end of the log ("earliest", "latest").
 */
import { UsageError } from "../errors/index.js";

export type Position =
  | { kind: "offset"; offset: bigint }
  | { kind: "time"; at: number }
  | { kind: "earliest" }
  | { kind: "latest" };

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO time or a duration ago ("30m", "2h", "7d"), as ms since the epoch. */
export function parseTime(value: string, now = Date.now()): number {
  if (value === "now") return now;
  const duration = DURATION.exec(value);
  if (duration !== null) {
    const unit = duration[2] as keyof typeof UNIT_MS;
    return now - Number(duration[1]) * UNIT_MS[unit];
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `"${value}" is neither an ISO time (2026-12-04T14:00:00Z) nor a duration ago (30m, 2h, 7d) nor "now"`,
    );
  }
  return ms;
}

export function parsePosition(value: string, now = Date.now()): Position {
  if (value === "earliest" || value === "latest") return { kind: value };
  if (/^\d+$/.test(value)) return { kind: "offset", offset: BigInt(value) };
  return { kind: "time", at: parseTime(value, now) };
}

export function describePosition(position: Position): string {
  switch (position.kind) {
    case "offset":
      return `offset ${position.offset}`;
    case "time":
      return new Date(position.at).toISOString();
    default:
      return position.kind;
  }
}
