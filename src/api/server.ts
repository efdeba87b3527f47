/**
 * The HTTP API every worker serves (node:http: a handful of routes need no framework):
 *   GET  /health                 this worker's partitions and the inputs that cannot advance;
 *                                503 until it has joined, or while one has been stuck 30 s
 *   GET  /sagas/:id              state and history (read from the saga-events log;
 *                                ?history=false: state only); routed to the owner when elsewhere
 *   GET  /sagas?status=&type=&version=&from=&to=&after=&limit=   a page from every worker's
 *                                status index (list-query.ts); 503 while some partition is
 *                                served by no worker
 *   GET  /counts                 sagas per status in the group
 *   GET  /worker                 this worker's tasks, standbys, restores and lag
 *   POST /sagas/:id/retry|cancel an operator's request (202), checked against the state first
 *   POST /batch/retry|cancel     the same for every saga matching a filter, on every worker
 *                                (api/batch.ts); {"dryRun": true} only counts
 *   GET  /metrics                Prometheus
 *   /ui/…                        the operator's console (src/console), same tokens
 * Workers find each other through their consumer group: each advertises this server's URL.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, toError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import { DEFAULT_SAGA_LIMITS } from "../saga/index.js";
import { HttpError } from "./http-error.js";
import { pathParts, readBody, reasonOf } from "./requests.js";
import { parseBatchRequest } from "./batch.js";
import { hasTokens, isLoopback, Scope, scopeOf, type ApiTokens } from "./auth.js";
import {
  groupQueries,
  ROUTED_HEADER,
  type GroupQueries,
  type SagaApiBackend,
} from "./group-queries.js";
import { parseListQuery } from "./list-query.js";

export type { SagaApiBackend } from "./group-queries.js";

/** What serves /ui: its own authentication, its own errors. */
export interface ApiUi {
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void>;
  close(): void;
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
  /** The pages served under /ui (the console, src/console), made once the group is known. */
  ui?: ((group: GroupQueries, tokens: ApiTokens) => ApiUi) | undefined;
  logger: Logger;
}

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

  const group = groupQueries({ tokens, backend: options.backend, ownAddress: () => ownAddress });
  const ui = options.ui?.(group, tokens);

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const routed = req.headers[ROUTED_HEADER] !== undefined;
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
    if (ui !== undefined && (url.pathname === "/ui" || url.pathname.startsWith("/ui/"))) {
      await ui.handle(req, res, url);
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
      const { registry } = group.backend();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if (req.method === "GET" && url.pathname === "/scaling") {
      send(res, 200, await group.backend().scaling());
      return;
    }
    if (req.method === "GET" && url.pathname === "/counts") {
      send(res, 200, await group.countsEverywhere(routed));
      return;
    }
    if (req.method === "GET" && url.pathname === "/worker") {
      send(res, 200, group.backend().worker(ownAddress));
      return;
    }
    if (parts[0] === "sagas") {
      const [, sagaId, action] = parts;
      if (req.method === "GET" && sagaId === undefined) {
        send(res, 200, await group.listEverywhere(parseListQuery(url.searchParams), routed));
        return;
      }
      if (req.method === "GET" && sagaId !== undefined && action === undefined) {
        send(
          res,
          200,
          await group.sagaFromOwner(sagaId, routed, url.searchParams.get("history") !== "false"),
        );
        return;
      }
      if (
        req.method === "POST" &&
        sagaId !== undefined &&
        (action === "retry" || action === "cancel")
      ) {
        const reason = reasonOf(await readBody(req));
        send(res, 202, await group.operatorRequest(sagaId, action, reason));
        return;
      }
    }
    if (
      req.method === "POST" &&
      parts[0] === "batch" &&
      (parts[1] === "retry" || parts[1] === "cancel") &&
      parts.length === 2
    ) {
      const request = parseBatchRequest(
        parts[1],
        await readBody(req),
        DEFAULT_SAGA_LIMITS.maxReasonLength,
      );
      const { status, body } = await group.batch(request, routed);
      send(res, status, body);
      return;
    }
    throw new HttpError(
      404,
      `no route ${req.method ?? "?"} ${url.pathname}: see GET /sagas, /sagas/:id, /counts, /worker, POST /sagas/:id/retry|cancel, POST /batch/retry|cancel, /health, /metrics, and the console at /ui`,
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
    ui?.close();
    server.close();
    throw error;
  }
  return {
    address: ownAddress,
    close: () =>
      new Promise<void>((resolve) => {
        ui?.close();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

export type ApiServer = Awaited<ReturnType<typeof startApiServer>>;
