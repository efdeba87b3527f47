/**
 * The console's saga list: counts per status, a filter (status, type, version, start time),
 * a page of matches in index order with a link to the next, a search by id, and the bulk
 * actions of the filter (a dry-run count first).
 */
import type { GroupQueries } from "../api/index.js";
import { listQuery, parseListQuery } from "../api/index.js";
import { ALL_STATUSES, listCursor, type ListFilter, type SagaSummary } from "../api/index.js";
import { html, when, type Html } from "./html.js";

export const PAGE_SIZE = 50;

function isoOrEmpty(ms: number | undefined): string {
  return ms === undefined ? "" : new Date(ms).toISOString();
}

function filterForm(filter: ListFilter): Html {
  const selected = filter.statuses?.[0];
  return html`<form class="filters" method="get" action="/ui">
      <label
        >status<select name="status">
          <option value="">any</option>
          ${ALL_STATUSES.map(
            (s) => html`<option${s === selected ? html` selected` : ""}>${s}</option>`,
          )}
        </select></label
      >
      <label>type<input name="type" value="${filter.type ?? ""}" size="14" /></label>
      <label>version<input name="version" value="${filter.version ?? ""}" size="4" /></label>
      <label
        >started from<input
          name="from"
          value="${isoOrEmpty(filter.startedAfter)}"
          placeholder="2026-12-04T14:00:00Z"
          size="22"
      /></label>
      <label>to<input name="to" value="${isoOrEmpty(filter.startedBefore)}" size="22" /></label>
      <button type="submit">Filter</button>
      <a href="/ui">clear</a>
    </form>
    <form class="filters" method="get" action="/ui/saga">
      <label>saga id<input name="id" size="36" required /></label
      ><button type="submit" class="plain">Open</button>
    </form>`;
}

function row(saga: SagaSummary): Html {
  return html`<tr>
    <td><a class="mono" href="/ui/sagas/${encodeURIComponent(saga.sagaId)}">${saga.sagaId}</a></td>
    <td>${saga.sagaType}</td>
    <td class="num">${saga.version}</td>
    <td><span class="status status-${saga.status}">${saga.status}</span></td>
    <td class="mono">${when(saga.startedAt)}</td>
    <td class="mono">${when(saga.updatedAt)}</td>
  </tr>`;
}

/** The hidden fields that carry the filter into a bulk action's form. */
function filterFields(filter: ListFilter): Html {
  const fields: [string, string | undefined][] = [
    ["status", filter.statuses?.[0]],
    ["type", filter.type],
    ["version", filter.version === undefined ? undefined : String(filter.version)],
    ["from", isoOrEmpty(filter.startedAfter) || undefined],
    ["to", isoOrEmpty(filter.startedBefore) || undefined],
  ];
  return html`${fields
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}`;
}

function bulkActions(filter: ListFilter): Html {
  return html`<h2>Act on every saga this filter matches</h2>
    <p class="note">
      Counted first on every worker (a dry run); nothing is done until you confirm.
    </p>
    <div class="actions">
      ${(["cancel", "retry"] as const).map(
        (action) =>
          html`<form hx-post="/ui/batch/${action}" hx-target="#bulk-result" hx-swap="innerHTML">
            ${filterFields(filter)}<input type="hidden" name="dryRun" value="true" />
            <button type="submit" class="plain">Count sagas to ${action}</button>
          </form>`,
      )}
    </div>
    <div id="bulk-result"></div>`;
}

export async function sagasPage(group: GroupQueries, params: URLSearchParams): Promise<Html> {
  const filter = parseListQuery(params, PAGE_SIZE);
  const [{ counts, missing }, sagas] = await Promise.all([
    group.countsEverywhere(false),
    group.listEverywhere(filter, false) as Promise<SagaSummary[]>,
  ]);
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const last = sagas.at(-1);
  const next =
    last !== undefined && sagas.length === filter.limit
      ? `/ui?${listQuery({ ...filter, after: listCursor(last) })}`
      : undefined;
  return html`<div class="counts" id="counts">
      <a href="/ui">all <b>${total.toLocaleString("en")}</b></a>
      ${Object.entries(counts).map(
        ([status, count]) =>
          html`<a href="/ui?status=${status}" class="status-${status}"
            >${status} <b>${count.toLocaleString("en")}</b></a
          >`,
      )}
    </div>
    ${missing.length > 0 ? html`<p class="error">Partition(s) ${missing.join(", ")} are served by no worker right now: the counts leave their sagas out.</p>` : ""}
    ${filterForm(filter)}
    <table id="sagas">
      <thead>
        <tr>
          <th>saga</th>
          <th>type</th>
          <th class="num">version</th>
          <th>status</th>
          <th>started (UTC)</th>
          <th>updated (UTC)</th>
        </tr>
      </thead>
      <tbody>
        ${sagas.map(row)}
      </tbody>
    </table>
    <p class="note">
      ${sagas.length === 0 ? "No saga matches." : `${sagas.length} shown, in order of status, type and id.`}
      ${next === undefined ? "" : html` <a id="next-page" href="${next}">Next ${filter.limit} →</a>`}
      ${filter.after === undefined ? "" : html` <a href="/ui?${listQuery({ ...filter, after: undefined })}">first page</a>`}
    </p>
    ${bulkActions(filter)}`;
}
