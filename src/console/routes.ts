/**
 * The operator's console at /ui, served by every worker with the API's tokens: a browser logs
 * in once (the token goes into an HttpOnly, SameSite=Strict cookie; a script or test may send
 * the API's `Authorization: Bearer` header instead). Pages are rendered on the server; htmx
 * posts the actions and swaps their answers in. Actions need the operate token and htmx's
 * `HX-Request` header: a form on another site can send neither, so it cannot act.
 */
import type http from "node:http";
import { Scope, scopeOf, type ApiTokens } from "../api/index.js";
import type { BatchAction, BatchReport, BatchRequest } from "../api/index.js";
import { BATCH_STATUSES } from "../api/index.js";
import type { GroupQueries } from "../api/index.js";
import { HttpError } from "../api/index.js";
import { parseListQuery } from "../api/index.js";
import { UsageError, toError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import { DEFAULT_SAGA_LIMITS } from "../saga/index.js";
import { consoleAsset } from "./assets.js";
import { CHART_SCRIPTS, chartsPage } from "./charts-page.js";
import { deadLettersPage, redriveFromForm } from "./dead-letters-page.js";
import { groupPage } from "./group-page.js";
import { html, page, type Html } from "./html.js";
import { sagaPage } from "./saga-page.js";
import { sagasPage } from "./sagas-page.js";
import { mergeSeries, SeriesSampler, type Series } from "./series.js";
import type { ConsoleSources } from "./sources.js";

const COOKIE = "sagastream_console";
const MAX_FORM_BYTES = 16 * 1024;

function cookieToken(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, "the form is over 16 KiB");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function sendHtml(res: http.ServerResponse, status: number, body: Html, headers = {}): void {
  res.writeHead(status, {
    ...headers,
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // Only the console's own scripts and styles; nothing from elsewhere.
    "content-security-policy":
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  });
  res.end(body.text);
}

function redirect(res: http.ServerResponse, to: string, headers = {}): void {
  res.writeHead(303, { ...headers, location: to });
  res.end();
}

function loginPage(application: string, error?: string): Html {
  return page({
    title: "Log in",
    application,
    current: "",
    body: html`${error === undefined ? "" : html`<p class="error">${error}</p>`}
      <form class="filters" method="post" action="/ui/login">
        <label
          >API token (SAGASTREAM_API_TOKEN to act, SAGASTREAM_API_READ_TOKEN to look)<input
            type="password"
            name="token"
            size="40"
            autofocus
            required
        /></label>
        <button type="submit">Log in</button>
      </form>`,
  });
}

/** A bulk action's request from the console's form: the list's filter, the action's statuses. */
function batchFromForm(action: BatchAction, form: URLSearchParams): BatchRequest {
  const filter = parseListQuery(form, 1);
  const allowed = BATCH_STATUSES[action];
  const asked = filter.statuses ?? [];
  const statuses = asked.length === 0 ? [...allowed] : asked.filter((s) => allowed.includes(s));
  if (statuses.length === 0) {
    throw new UsageError(
      `a ${action} applies to ${allowed.join(" or ")} sagas only: filter by one`,
    );
  }
  const reason = form.get("reason") ?? "";
  if (reason.length > DEFAULT_SAGA_LIMITS.maxReasonLength) {
    throw new UsageError(`the reason is over ${DEFAULT_SAGA_LIMITS.maxReasonLength} characters`);
  }
  return {
    action,
    dryRun: form.get("dryRun") === "true",
    reason: reason === "" ? `batch ${action} from the console` : reason,
    filter: { ...filter, statuses: statuses },
  };
}

function batchFields(request: BatchRequest): Html {
  const { filter } = request;
  const fields: [string, string | undefined][] = [
    ...filter.statuses.map((s): [string, string] => ["status", s]),
    ["type", filter.type],
    ["version", filter.version === undefined ? undefined : String(filter.version)],
    ["from", filter.startedAfter === undefined ? undefined : String(filter.startedAfter)],
    ["to", filter.startedBefore === undefined ? undefined : String(filter.startedBefore)],
  ];
  return html`${fields
    .filter(([, v]) => v !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}`;
}

export function consoleRoutes(options: {
  group: GroupQueries;
  tokens: ApiTokens;
  logger: Logger;
  sources: ConsoleSources | undefined;
}) {
  const { group, tokens } = options;
  const application = options.sources?.applicationId ?? "";
  const sampler = new SeriesSampler(() => options.group.backend().registry);
  sampler.start();

  function scopeOfRequest(req: http.IncomingMessage) {
    const header = req.headers.authorization;
    if (header !== undefined) return scopeOf(tokens, header);
    const token = cookieToken(req);
    return scopeOf(tokens, token === undefined ? undefined : `Bearer ${token}`);
  }

  function sources(): ConsoleSources {
    if (options.sources === undefined) {
      throw new HttpError(404, "this worker's console has no Kafka settings for dead letters");
    }
    return options.sources;
  }

  async function view(
    url: URL,
    parts: string[],
  ): Promise<{ title: string; current: string; body: Html; scripts?: string[] } | undefined> {
    const [, section, id] = parts;
    if (section === undefined) {
      return { title: "Sagas", current: "/ui", body: await sagasPage(group, url.searchParams) };
    }
    if (section === "sagas" && id !== undefined && parts.length === 3) {
      return { title: `Saga ${id}`, current: "/ui", body: await sagaPage(group, id, Date.now()) };
    }
    if (section === "group" && id === undefined) {
      return { title: "Group", current: "/ui/group", body: await groupPage(group) };
    }
    if (section === "charts" && id === undefined) {
      return { title: "Charts", current: "/ui/charts", body: chartsPage(), scripts: CHART_SCRIPTS };
    }
    if (section === "dead-letters" && id === undefined) {
      return {
        title: "Dead letters",
        current: "/ui/dead-letters",
        body: await deadLettersPage(sources(), url.searchParams),
      };
    }
    return undefined;
  }

  async function series(url: URL): Promise<Series> {
    const own = sampler.snapshot();
    if (url.searchParams.get("local") === "1") return own;
    return mergeSeries([own, ...(await group.askPeers<Series>("/ui/series.json?local=1"))]);
  }

  async function action(req: http.IncomingMessage, parts: string[]): Promise<Html | undefined> {
    const form = await readForm(req);
    const [, section, id, verb] = parts;
    if (section === "sagas" && id !== undefined && (verb === "cancel" || verb === "retry")) {
      const reason = form.get("reason") ?? "";
      await group.operatorRequest(id, verb, reason === "" ? "cancelled from the console" : reason);
      return html`<div class="result" id="action-done">
        ${verb === "cancel" ? "Cancel" : "Retry"} requested: the owner applies it in order.
        <a href="/ui/sagas/${encodeURIComponent(id)}">Reload</a> to follow.
      </div>`;
    }
    if (section === "batch" && (id === "cancel" || id === "retry") && verb === undefined) {
      const request = batchFromForm(id, form);
      const { body } = await group.batch(request, false);
      const report = body as BatchReport;
      const sample = report.workers.flatMap((w) => w.sample).slice(0, 5);
      if (request.dryRun) {
        return html`<div class="result" id="bulk-count">
          <b>${report.matched}</b> saga(s) to
          ${id}${sample.length === 0 ? "" : `, e.g. ${sample.join(", ")}`}.
          ${report.matched === 0 ? "" : html`<form hx-post="/ui/batch/${id}" hx-target="#bulk-result" hx-confirm="${id === "cancel" ? "Cancel" : "Retry"} ${report.matched} saga(s)?">${batchFields(request)}<input type="hidden" name="dryRun" value="false" /><input name="reason" placeholder="reason" size="30" /><button type="submit" class="danger">${id === "cancel" ? "Cancel" : "Retry"} these ${report.matched}</button></form>`}
        </div>`;
      }
      return html`<div class="result" id="bulk-done">
        ${id === "cancel" ? "Cancel" : "Retry"} requested for ${report.requested} of
        ${report.matched}
        saga(s)${report.missing.length === 0 ? "" : `; partitions ${report.missing.join(", ")} answered by no worker`}.
      </div>`;
    }
    if (section === "dead-letters" && id === "redrive" && verb === undefined) {
      return redriveFromForm(sources(), form);
    }
    return undefined;
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
    const parts = url.pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    if (req.method === "GET" && parts[1] === "assets" && parts.length === 3) {
      const asset = consoleAsset(parts[2] ?? "");
      if (asset === undefined) throw new HttpError(404, `no asset ${parts[2] ?? ""}`);
      res.writeHead(200, { "content-type": asset.type, "cache-control": "max-age=3600" });
      res.end(asset.body);
      return;
    }
    if (parts[1] === "login" && parts.length === 2) {
      if (req.method !== "POST") {
        sendHtml(res, 200, loginPage(application));
        return;
      }
      const token = (await readForm(req)).get("token") ?? "";
      if (scopeOf(tokens, `Bearer ${token}`) === undefined) {
        sendHtml(res, 401, loginPage(application, "That token is not one of this worker's."));
        return;
      }
      const secure = req.headers["x-forwarded-proto"] === "https" ? "; Secure" : "";
      redirect(res, "/ui", {
        "set-cookie": `${COOKIE}=${encodeURIComponent(token)}; Path=/ui; HttpOnly; SameSite=Strict${secure}`,
      });
      return;
    }
    const scope = scopeOfRequest(req);
    if (scope === undefined) {
      if (req.method === "GET") {
        redirect(res, "/ui/login");
        return;
      }
      throw new HttpError(401, "log in first (/ui/login)");
    }
    if (req.method === "GET" && url.pathname === "/ui/saga") {
      redirect(res, `/ui/sagas/${encodeURIComponent(url.searchParams.get("id") ?? "")}`);
      return;
    }
    if (req.method === "GET" && url.pathname === "/ui/series.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(await series(url)));
      return;
    }
    if (req.method === "POST") {
      if (scope !== Scope.Operate)
        throw new HttpError(403, "this token may look only: actions need the operate token");
      if (req.headers["hx-request"] !== "true")
        throw new HttpError(403, "actions are sent by the console's pages");
      const answer = await action(req, parts);
      if (answer === undefined) throw new HttpError(404, `no action ${url.pathname}`);
      sendHtml(res, 200, answer);
      return;
    }
    const found = req.method === "GET" ? await view(url, parts) : undefined;
    if (found === undefined) throw new HttpError(404, `no page ${url.pathname}`);
    sendHtml(res, 200, page({ ...found, application }));
  }

  return {
    async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
      try {
        await route(req, res, url);
      } catch (thrown) {
        const status =
          thrown instanceof HttpError ? thrown.status : thrown instanceof UsageError ? 400 : 500;
        if (status === 500)
          options.logger.error({ err: thrown, url: req.url }, "console request failed");
        const message = html`<p class="error" id="error">${toError(thrown).message}</p>`;
        const fragment = req.headers["hx-request"] === "true";
        sendHtml(
          res,
          status,
          fragment ? message : page({ title: "Error", application, current: "", body: message }),
        );
      }
    },
    close(): void {
      sampler.stop();
    },
  };
}
