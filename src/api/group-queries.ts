/**
 * The group's answers, whichever worker is asked: a saga from its owner, a listing or counts
 * from every worker, an operator's request checked against the saga's state, a batch run by
 * every worker on its own partitions. Workers find each other through their consumer group
 * (each advertises its API's URL) and ask each other marked as routed, so a request is never
 * routed twice. Shared by the JSON API (server.ts) and the console (src/console).
 */
import { toError } from "../errors/index.js";
import { SagaStatus, type SagaControl } from "../saga/index.js";
import type { StuckPartition } from "../topology/index.js";
import type { Registry } from "prom-client";
import { peerAuthorization, type ApiTokens } from "./auth.js";
import {
  batchBody,
  mergeBatchReports,
  runLocalBatch,
  type BatchReport,
  type BatchRequest,
  type WorkerBatchReport,
} from "./batch.js";
import { HttpError } from "./http-error.js";
import { listQuery } from "./list-query.js";
import {
  ALL_STATUSES,
  mergeListings,
  type ListFilter,
  type LocalListing,
  type SagaQueries,
  type SagaSummary,
  type SagaView,
} from "./saga-queries.js";

/** What one worker runs now (GET /worker): the console's group view. */
export interface WorkerStatus {
  address: string;
  /** Partitions whose tasks run here, or are opening. */
  active: number[];
  /** Partitions it keeps warm copies of. */
  standby: number[];
  /** Tasks being restored, with the changelog records each has left. */
  restoring: { task: string; remaining: number }[];
  /** Records not yet processed, by `topic/partition`. */
  lag: { input: string; records: number }[];
  stuck: { where: string; seconds: number; reason: string }[];
  deadLetters: number;
  commits: number;
}

/** What the server needs from its worker, once the worker runs. */
export interface SagaApiBackend {
  queries: SagaQueries;
  members(): Promise<{ address: string; partitions: number[] }[]>;
  /** Inputs of this worker that cannot advance, and since when. */
  stuck(): StuckPartition[];
  /** This worker's tasks, standbys, restores and lag. */
  worker(address: string): WorkerStatus;
  request(sagaId: string, control: SagaControl): Promise<void>;
  /** Many requests at once (a batch's). */
  requestMany(requests: { sagaId: string; control: SagaControl }[]): Promise<void>;
  /** The group's backlog and the scaling advice (ops/scaling-monitor.ts). */
  scaling(): Promise<object>;
  registry: Registry;
}

export const ROUTED_HEADER = "x-sagastream-routed";
const PEER_TIMEOUT_MS = 5_000;
/** A worker's part of a batch may request tens of thousands of sagas. */
const BATCH_PEER_TIMEOUT_MS = 120_000;

export type GroupQueries = ReturnType<typeof groupQueries>;

export function groupQueries(options: {
  tokens: ApiTokens;
  backend: () => SagaApiBackend | undefined;
  /** This worker's own URL, as its group knows it. */
  ownAddress: () => string;
}) {
  /**
   * Asks another worker, marked as routed: it never routes further, and a listing answers
   * with its own part (a LocalListing). Only http(s) addresses its group advertises are asked,
   * with the group's token.
   */
  async function fetchFromPeer(
    url: string,
    init: { method?: string; body?: string } = {},
    timeoutMs = PEER_TIMEOUT_MS,
  ): Promise<{ status: number; body: unknown }> {
    if (!/^https?:$/.test(new URL(url).protocol)) {
      throw new HttpError(502, `a worker advertises ${url}, which is not an http(s) URL`);
    }
    const response = await fetch(url, {
      ...init,
      headers: {
        [ROUTED_HEADER]: "1",
        ...peerAuthorization(options.tokens),
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.json() };
  }

  function backend(): SagaApiBackend {
    const found = options.backend();
    if (found === undefined) throw new HttpError(503, "the worker is starting; try again shortly");
    return found;
  }

  /** The group's other members that serve an API. */
  async function peers() {
    const own = options.ownAddress();
    return (await backend().members()).filter((m) => m.address !== own && m.address !== "");
  }

  /** Every other worker's answer to GET `path`; one that fails or is gone answers nothing. */
  async function askPeers<T>(path: string): Promise<T[]> {
    const answers = await Promise.allSettled(
      (await peers()).map((m) => fetchFromPeer(`${m.address}${path}`)),
    );
    return answers.flatMap((a) =>
      a.status === "fulfilled" && a.value.status === 200 ? [a.value.body as T] : [],
    );
  }

  /**
   * The saga from its owner: this worker, or the member whose partitions include it. Its
   * history is read from the saga-events log, unless `history` is false.
   */
  async function sagaFromOwner(sagaId: string, routed: boolean, history = true): Promise<SagaView> {
    const api = backend();
    const local = await api.queries.get(sagaId, { history });
    const partition = api.queries.partitionOf(sagaId);
    if (local.placement === "here") {
      if (local.saga === undefined) {
        throw new HttpError(
          404,
          `no saga ${sagaId}: it never started, or it ended longer ago than the workers keep ended sagas ` +
            "(retentionMs, 7 days by default); its history stays in the saga-events log",
        );
      }
      return local.saga;
    }
    if (local.placement === "opening") {
      throw new HttpError(
        503,
        `partition ${partition} is being restored on this worker; try again`,
      );
    }
    const owner = (await peers()).find((m) => m.partitions.includes(partition));
    if (routed || owner === undefined) {
      throw new HttpError(
        503,
        `partition ${partition} has no owner right now (the group is rebalancing); try again`,
      );
    }
    const { status, body } = await fetchFromPeer(
      `${owner.address}/sagas/${encodeURIComponent(sagaId)}${history ? "" : "?history=false"}`,
    );
    if (status !== 200) {
      const error = (body as { error?: string }).error;
      throw new HttpError(status, error ?? `the owner answered ${status}`);
    }
    return body as SagaView;
  }

  /**
   * Every worker's matches, or 503 when some partitions were read by no worker (a rebalance or
   * a restore is under way) and the listing would be short: a list quietly missing a
   * partition's sagas would be worse than none.
   */
  async function listEverywhere(
    filter: ListFilter,
    routed: boolean,
  ): Promise<LocalListing | SagaSummary[]> {
    const api = backend();
    const local = await api.queries.list(filter);
    if (routed) return local;
    const listings = [local, ...(await askPeers<LocalListing>(`/sagas?${listQuery(filter)}`))];
    const merged = mergeListings(listings, api.queries.partitions, filter.limit);
    if ("missing" in merged) {
      throw new HttpError(
        503,
        `partition(s) ${merged.missing.join(", ")} are served by no worker right now (the group is rebalancing or a worker is restoring); try again`,
      );
    }
    return merged.sagas;
  }

  /** Sagas per status on every worker, and the partitions none of them counted. */
  async function countsEverywhere(routed: boolean): Promise<{
    counts: Record<string, number>;
    served: number[];
    missing: number[];
  }> {
    const api = backend();
    const counts = Object.fromEntries(await api.queries.countByStatus()) as Record<string, number>;
    const served = api.queries.servedPartitions();
    if (routed) return { counts, served, missing: [] };
    type Part = { counts: Record<string, number>; served: number[] };
    const parts: Part[] = [{ counts, served }, ...(await askPeers<Part>("/counts"))];
    const total: Record<string, number> = Object.fromEntries(ALL_STATUSES.map((s) => [s, 0]));
    for (const part of parts) {
      for (const [status, count] of Object.entries(part.counts)) {
        total[status] = (total[status] ?? 0) + count;
      }
    }
    const all = new Set(parts.flatMap((p) => p.served));
    const missing = [...Array(api.queries.partitions).keys()].filter((p) => !all.has(p));
    return { counts: total, served: [...all].sort((a, b) => a - b), missing };
  }

  /** What each worker of the group runs (this one first). */
  async function workersEverywhere(): Promise<WorkerStatus[]> {
    const own = backend().worker(options.ownAddress());
    return [own, ...(await askPeers<WorkerStatus>("/worker"))];
  }

  /** A retry or cancel of one saga, refused when its state does not allow it. */
  async function operatorRequest(sagaId: string, action: "retry" | "cancel", reason: string) {
    const saga = await sagaFromOwner(sagaId, false, false);
    if (action === "retry" && saga.status !== SagaStatus.Failed) {
      throw new HttpError(409, `only a FAILED saga can be retried; ${sagaId} is ${saga.status}`);
    }
    if (
      action === "cancel" &&
      saga.status !== SagaStatus.Running &&
      saga.status !== SagaStatus.Failed
    ) {
      throw new HttpError(
        409,
        `${sagaId} is ${saga.status}: only a RUNNING (or FAILED) saga can be cancelled`,
      );
    }
    await backend().request(
      sagaId,
      action === "retry" ? { type: "Retry" } : { type: "Cancel", reason },
    );
    return {
      sagaId,
      accepted: action,
      status: saga.status,
      note: "the owner applies it in order; GET the saga to follow",
    };
  }

  /**
   * A batch: this worker's part and, unless routed here by another worker, every other
   * worker's. It starts only when every partition has an owner; a worker that fails to answer
   * leaves its partitions in the report's `missing`, and the answer is 503.
   */
  async function batch(
    request: BatchRequest,
    routed: boolean,
  ): Promise<{ status: number; body: BatchReport | WorkerBatchReport }> {
    const api = backend();
    const startedAt = Date.now();
    const members = await api.members();
    const owned = new Set(members.flatMap((m) => m.partitions));
    const unowned = [...Array(api.queries.partitions).keys()].filter((p) => !owned.has(p));
    if (!routed && unowned.length > 0) {
      throw new HttpError(
        503,
        `partition(s) ${unowned.join(", ")} have no owner right now (the group is rebalancing); nothing was done, try again`,
      );
    }
    const local = await runLocalBatch(
      request,
      options.ownAddress(),
      (filter) => api.queries.match(filter),
      (requests) => api.requestMany(requests),
    );
    if (routed) return { status: 200, body: local };
    const others = await peers();
    const answers = await Promise.allSettled(
      others.map((m) =>
        fetchFromPeer(
          `${m.address}/batch/${request.action}`,
          { method: "POST", body: JSON.stringify(batchBody(request)) },
          BATCH_PEER_TIMEOUT_MS,
        ),
      ),
    );
    const workers = [local];
    const failed: { address: string; error: string }[] = [];
    answers.forEach((answer, i) => {
      const address = others[i]?.address ?? "";
      if (answer.status === "fulfilled" && answer.value.status === 200) {
        workers.push(answer.value.body as WorkerBatchReport);
      } else {
        const error =
          answer.status === "rejected"
            ? toError(answer.reason).message
            : ((answer.value.body as { error?: string }).error ??
              `answered ${answer.value.status}`);
        failed.push({ address, error });
      }
    });
    const report = mergeBatchReports(request, workers, failed, api.queries.partitions, startedAt);
    return { status: report.missing.length === 0 ? 200 : 503, body: report };
  }

  return {
    backend,
    fetchFromPeer,
    askPeers,
    sagaFromOwner,
    listEverywhere,
    countsEverywhere,
    workersEverywhere,
    operatorRequest,
    batch,
  };
}
