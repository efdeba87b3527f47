/**
 * The HTTP API every worker serves (node:http: six routes need no framework):
 *   GET  /health                 this worker's partitions and the inputs that cannot advance;
 *                                503 until it has joined, or while one has been stuck 30 s
 *   GET  /sagas/:id              state and history (read from the saga-events log;
 *                                ?history=false: state only); routed to the owner when elsewhere
 *   GET  /sagas?status=&type=&limit=   from every worker's status index; 503 while some
 *                                      partition is served by no worker
 *   POST /sagas/:id/retry|cancel an operator's request (202), checked against the state first
 *   POST /batch/retry|cancel     the same for every saga matching a filter, on every worker
 *                                (api/batch.ts); {"dryRun": true} only counts
 *   GET  /metrics                Prometheus
 * Workers find each other through their consumer group: each advertises this server's URL.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { ConfigError, toError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import { DEFAULT_SAGA_LIMITS, SagaStatus, type SagaControl } from "../saga/index.js";
import type { StuckPartition } from "../topology/index.js";
import { HttpError } from "./http-error.js";
import { pathParts, readBody, reasonOf } from "./requests.js";
import {
  batchBody,
  mergeBatchReports,
  parseBatchRequest,
  runLocalBatch,
  type BatchAction,
  type BatchReport,
  type WorkerBatchReport,
} from "./batch.js";
import {
  hasTokens,
  isLoopback,
  peerAuthorization,
  Scope,
  scopeOf,
  type ApiTokens,
} from "./auth.js";
import {
  ALL_STATUSES,
  type LocalListing,
  mergeListings,
  type SagaQueries,
  type SagaSummary,
  type SagaView,
} from "./saga-queries.js";

/** What the server needs from its worker, once the worker runs. */
export interface SagaApiBackend {
  queries: SagaQueries;
  members(): Promise<{ address: string; partitions: number[] }[]>;
  /** Inputs of this worker that cannot advance, and since when. */
  stuck(): StuckPartition[];
  request(sagaId: string, control: SagaControl): Promise<void>;
  /** Many requests at once (a batch's). */
  requestMany(requests: { sagaId: string; control: SagaControl }[]): Promise<void>;
  /** The group's backlog and the scaling advice (ops/scaling-monitor.ts). */
  scaling(): Promise<object>;
  registry: Registry;
}

export interface ApiServerOptions {
  /** The address it binds. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * The URL other workers and clients reach it at, advertised to the group (default
   * http://host:port; required when binding a wildcard address such as 0.0.0.0).
   */
  advertisedUrl?: string | undefined;
  /** Bearer tokens by scope; none configured: loopback callers only. */
  tokens?: ApiTokens | undefined;
  backend: () => SagaApiBackend | undefined;
  logger: Logger;
}

const ROUTED = "x-sagastream-routed";
/**
 * An input that has not advanced this long makes /health answer 503 ("stuck"): shorter
 * spells (a registry restarting, a task reopening) are retried in place and only listed.
 */
const STUCK_AFTER_MS = 30_000;

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...headers, "content-type": "application/json" });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

const PEER_TIMEOUT_MS = 5_000;
/** A worker's part of a batch may request tens of thousands of sagas. */
const BATCH_PEER_TIMEOUT_MS = 120_000;

/** The URL a server is reached at; a wildcard bind address needs an advertised URL. */
function ownUrl(options: ApiServerOptions, port: number): string {
  if (options.advertisedUrl !== undefined) return options.advertisedUrl.replace(/\/$/, "");
  if (options.host === "0.0.0.0" || options.host === "::") {
    throw new ConfigError(
      "SAGASTREAM_API_ADVERTISED_URL",
      `must be set when the API binds ${options.host}: the URL the other workers reach this one at`,
    );
  }
  return `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
}

export async function startApiServer(options: ApiServerOptions) {
  let ownAddress = "";
  const tokens = options.tokens ?? {};
  if (!hasTokens(tokens) && !isLoopback(options.host)) {
    throw new ConfigError(
      "SAGASTREAM_API_TOKEN",
      `must be set to serve the API on ${options.host}: without a token it serves loopback callers only (127.0.0.1)`,
    );
  }

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
        [ROUTED]: "1",
        ...peerAuthorization(tokens),
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
    const owner = (await api.members()).find(
      (m) => m.partitions.includes(partition) && m.address !== ownAddress && m.address !== "",
    );
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
  async function listEverywhere(url: URL, routed: boolean): Promise<LocalListing | SagaSummary[]> {
    const status = url.searchParams.get("status") ?? undefined;
    if (status !== undefined && !ALL_STATUSES.includes(status as SagaStatus)) {
      throw new HttpError(400, `status must be one of ${ALL_STATUSES.join(", ")}`);
    }
    const limit = Number(url.searchParams.get("limit") ?? "100");
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new HttpError(400, "limit must be a whole number from 1 to 10000");
    }
    const type = url.searchParams.get("type") ?? undefined;
    const api = backend();
    const filter = {
      limit,
      ...(status === undefined ? {} : { status: status as SagaStatus }),
      ...(type === undefined ? {} : { type }),
    };
    const local = await api.queries.list(filter);
    if (routed) return local;
    const others = (await api.members()).filter(
      (m) => m.address !== ownAddress && m.address !== "",
    );
    const listings = [local];
    for (const answer of await Promise.allSettled(
      others.map((m) => fetchFromPeer(`${m.address}/sagas${url.search}`)),
    )) {
      // A peer that is gone or failing serves nothing: its partitions count as missing.
      if (answer.status === "fulfilled" && answer.value.status === 200) {
        listings.push(answer.value.body as LocalListing);
      }
    }
    const merged = mergeListings(listings, api.queries.partitions, limit);
    if ("missing" in merged) {
      throw new HttpError(
        503,
        `partition(s) ${merged.missing.join(", ")} are served by no worker right now (the group is rebalancing or a worker is restoring); try again`,
      );
    }
    return merged.sagas;
  }

  async function operatorRequest(
    sagaId: string,
    action: "retry" | "cancel",
    req: http.IncomingMessage,
  ) {
    const reason = reasonOf(await readBody(req));
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
    action: BatchAction,
    req: http.IncomingMessage,
    routed: boolean,
  ): Promise<{ status: number; body: BatchReport | WorkerBatchReport }> {
    const api = backend();
    const request = parseBatchRequest(
      action,
      await readBody(req),
      DEFAULT_SAGA_LIMITS.maxReasonLength,
    );
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
      ownAddress,
      (filter) => api.queries.match(filter),
      (requests) => api.requestMany(requests),
    );
    if (routed) return { status: 200, body: local };
    const others = members.filter((m) => m.address !== ownAddress && m.address !== "");
    const answers = await Promise.allSettled(
      others.map((m) =>
        fetchFromPeer(
          `${m.address}/batch/${action}`,
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

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const routed = req.headers[ROUTED] !== undefined;
    const parts = pathParts(url.pathname);
    if (req.method === "GET" && url.pathname === "/health") {
      const api = options.backend();
      const partitions =
        api === undefined
          ? []
          : ((await api.members()).find((m) => m.address === ownAddress)?.partitions ?? []);
      const now = Date.now();
      const stuck = (api?.stuck() ?? []).map((s) => ({
        where: s.where,
        seconds: Math.round((now - s.since) / 1000),
        reason: s.reason,
      }));
      const status =
        api === undefined
          ? "starting"
          : stuck.some((s) => s.seconds * 1000 >= STUCK_AFTER_MS)
            ? "stuck"
            : "ok";
      send(res, status === "ok" ? 200 : 503, { status, address: ownAddress, partitions, stuck });
      return;
    }
    const scope = scopeOf(tokens, req.headers.authorization);
    if (scope === undefined) {
      throw new HttpError(
        401,
        "send a token: Authorization: Bearer <SAGASTREAM_API_TOKEN or SAGASTREAM_API_READ_TOKEN>",
        { "www-authenticate": 'Bearer realm="sagastream"' },
      );
    }
    if (req.method !== "GET" && scope !== Scope.Operate) {
      throw new HttpError(
        403,
        "this token may read only: retries and cancels need the operate token",
      );
    }
    if (req.method === "GET" && url.pathname === "/metrics") {
      const { registry } = backend();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if (req.method === "GET" && url.pathname === "/scaling") {
      send(res, 200, await backend().scaling());
      return;
    }
    if (parts[0] === "sagas") {
      const [, sagaId, action] = parts;
      if (req.method === "GET" && sagaId === undefined) {
        send(res, 200, await listEverywhere(url, routed));
        return;
      }
      if (req.method === "GET" && sagaId !== undefined && action === undefined) {
        send(
          res,
          200,
          await sagaFromOwner(sagaId, routed, url.searchParams.get("history") !== "false"),
        );
        return;
      }
      if (
        req.method === "POST" &&
        sagaId !== undefined &&
        (action === "retry" || action === "cancel")
      ) {
        send(res, 202, await operatorRequest(sagaId, action, req));
        return;
      }
    }
    if (
      req.method === "POST" &&
      parts[0] === "batch" &&
      (parts[1] === "retry" || parts[1] === "cancel") &&
      parts.length === 2
    ) {
      const { status, body } = await batch(parts[1], req, routed);
      send(res, status, body);
      return;
    }
    throw new HttpError(
      404,
      `no route ${req.method ?? "?"} ${url.pathname}: see GET /sagas, /sagas/:id, POST /sagas/:id/retry|cancel, POST /batch/retry|cancel, /health, /metrics`,
    );
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((thrown: unknown) => {
      const status = thrown instanceof HttpError ? thrown.status : 500;
      if (status === 500) options.logger.error({ err: thrown, url: req.url }, "API request failed");
      const headers = thrown instanceof HttpError ? thrown.headers : {};
      send(res, status, { error: toError(thrown).message }, headers);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  try {
    ownAddress = ownUrl(options, port);
  } catch (error) {
    server.close();
    throw error;
  }
  return {
    address: ownAddress,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

export type ApiServer = Awaited<ReturnType<typeof startApiServer>>;
