/**
 * Operators' batches: retry or cancel every saga matching a filter (status, type, version,
 * started before/after), as Temporal's batch operations and Restate's bulk cancel do. The
 * worker asked runs its own partitions' part and asks each other worker for theirs; a dry run
 * only counts. Each saga gets the same request as `POST /sagas/:id/retry|cancel` sends, applied
 * by its owner in order with its other inputs; one the engine then refuses (a cancel once the
 * pivot's command has left) is logged there, as for a single request.
 */
import { SagaStatus, type SagaControl } from "../saga/index.js";
import { HttpError } from "./http-error.js";
import type { SagaFilter } from "./saga-queries.js";

export type BatchAction = "retry" | "cancel";

export interface BatchRequest {
  action: BatchAction;
  filter: SagaFilter;
  dryRun: boolean;
  /** A cancel's reason. */
  reason: string;
}

/** One worker's part. */
export interface WorkerBatchReport {
  address: string;
  /** The partitions it read in full. */
  served: number[];
  matched: number;
  requested: number;
  /** A few of the matching ids, for a look before acting. */
  sample: string[];
}

export interface BatchReport {
  action: BatchAction;
  dryRun: boolean;
  matched: number;
  requested: number;
  /** Partitions no worker read (a rebalance under way): the batch missed their sagas. */
  missing: number[];
  /** Workers that did not answer, with why: their partitions are among `missing`. */
  failed: { address: string; error: string }[];
  workers: WorkerBatchReport[];
  tookMs: number;
}

/** The statuses each action applies to: what the single-saga routes accept. */
export const BATCH_STATUSES: Readonly<Record<BatchAction, readonly SagaStatus[]>> = {
  cancel: [SagaStatus.Running, SagaStatus.Failed],
  retry: [SagaStatus.Failed],
};

const SAMPLE_SIZE = 10;
/** Requests produced per send: a batch of 100,000 sagas is 100 sends. */
const REQUESTS_PER_SEND = 1_000;

function time(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new HttpError(400, `${field} must be an ISO time, e.g. "2026-12-04T14:00:00Z"`);
  }
  return ms;
}

function statusesOf(action: BatchAction, value: unknown): SagaStatus[] {
  const allowed = BATCH_STATUSES[action];
  if (value === undefined) return [...allowed];
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0 || !list.every((s) => allowed.includes(s as SagaStatus))) {
    throw new HttpError(400, `a ${action} applies to status ${allowed.join(" or ")} only`);
  }
  return list as SagaStatus[];
}

/**
 * The batch a body asks for: `{"filter": {"status", "type", "version", "startedAfter",
 * "startedBefore"}, "dryRun", "reason", "all"}`. Acting on every saga the action applies to
 * needs `"all": true`, so that a forgotten filter is not a mass cancel.
 */
export function parseBatchRequest(
  action: BatchAction,
  body: Record<string, unknown>,
  maxReasonLength: number,
): BatchRequest {
  const raw = body["filter"] ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new HttpError(400, "filter must be an object");
  }
  const given = raw as Record<string, unknown>;
  const known = ["status", "type", "version", "startedAfter", "startedBefore"];
  const unknown = Object.keys(given).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(
      400,
      `unknown filter field(s) ${unknown.join(", ")}: use ${known.join(", ")}`,
    );
  }
  const { type, version } = given;
  if (type !== undefined && (typeof type !== "string" || type === "")) {
    throw new HttpError(400, "filter.type must be a saga type");
  }
  if (version !== undefined && (!Number.isInteger(version) || (version as number) < 1)) {
    throw new HttpError(400, "filter.version must be a whole number ≥ 1");
  }
  const dryRun = body["dryRun"] === true;
  if (!dryRun && Object.keys(given).length === 0 && body["all"] !== true) {
    throw new HttpError(
      400,
      `a ${action} of every saga it applies to needs "all": true; or give a filter`,
    );
  }
  const reason = body["reason"] ?? `batch ${action} by an operator`;
  if (typeof reason !== "string" || reason.length > maxReasonLength) {
    throw new HttpError(400, `reason must be text of at most ${maxReasonLength} characters`);
  }
  return {
    action,
    dryRun,
    reason,
    filter: {
      statuses: statusesOf(action, given["status"]),
      type,
      version: version as number | undefined,
      startedAfter: time(given["startedAfter"], "filter.startedAfter"),
      startedBefore: time(given["startedBefore"], "filter.startedBefore"),
    },
  };
}

/** The body that asks another worker for its part of `request`. */
export function batchBody(request: BatchRequest): Record<string, unknown> {
  const { filter } = request;
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    dryRun: request.dryRun,
    reason: request.reason,
    all: true,
    filter: {
      status: filter.statuses,
      type: filter.type,
      version: filter.version,
      startedAfter: iso(filter.startedAfter),
      startedBefore: iso(filter.startedBefore),
    },
  };
}

/** This worker's part: its matches, and unless a dry run, a request to each. */
export async function runLocalBatch(
  request: BatchRequest,
  address: string,
  match: (filter: SagaFilter) => Promise<{ sagaIds: string[]; served: number[] }>,
  send: (requests: { sagaId: string; control: SagaControl }[]) => Promise<void>,
): Promise<WorkerBatchReport> {
  const { sagaIds, served } = await match(request.filter);
  const control: SagaControl =
    request.action === "retry" ? { type: "Retry" } : { type: "Cancel", reason: request.reason };
  let requested = 0;
  if (!request.dryRun) {
    for (let i = 0; i < sagaIds.length; i += REQUESTS_PER_SEND) {
      const chunk = sagaIds.slice(i, i + REQUESTS_PER_SEND);
      await send(chunk.map((sagaId) => ({ sagaId, control })));
      requested += chunk.length;
    }
  }
  return {
    address,
    served,
    matched: sagaIds.length,
    requested,
    sample: sagaIds.slice(0, SAMPLE_SIZE),
  };
}

/** The workers' parts as one report. */
export function mergeBatchReports(
  request: BatchRequest,
  workers: WorkerBatchReport[],
  failed: { address: string; error: string }[],
  partitions: number,
  startedAt: number,
): BatchReport {
  const served = new Set(workers.flatMap((w) => w.served));
  return {
    action: request.action,
    dryRun: request.dryRun,
    matched: workers.reduce((sum, w) => sum + w.matched, 0),
    requested: workers.reduce((sum, w) => sum + w.requested, 0),
    missing: [...Array(partitions).keys()].filter((p) => !served.has(p)),
    failed,
    workers,
    tookMs: Date.now() - startedAt,
  };
}
