/**
 * One saga in the console: its facts, retry / cancel (confirmed first), its timeline (each
 * step's action drawn from its first command to its outcome on a time axis, every event a
 * tick), the timers it waits on, its events and its data. The timeline is the saga-events
 * log's (ops/timeline.ts, as `sagastream saga timeline` prints it), drawn on the server.
 */
import type { GroupQueries } from "../api/index.js";
import type { SagaView } from "../api/index.js";
import { sagaTimeline, type SagaTimeline } from "../ops/index.js";
import { SagaStatus } from "../saga/index.js";
import { html, when, type Html } from "./html.js";

const WIDTH = 960;
const LEFT = 170;
const ROW = 22;

function ticks(span: number): number[] {
  const rough = span / 5;
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power * 10;
  return Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => i * step);
}

/** The timeline as SVG: a row per step action, the events along the top. */
export function timelineSvg(timeline: SagaTimeline, now: number): Html {
  const start = timeline.startedAt ?? now;
  const end = timeline.endedAt ?? Math.max(now, ...timeline.rows.map((r) => r.at));
  const span = Math.max(end - start, 1);
  const x = (at: number) => LEFT + ((at - start) / span) * (WIDTH - LEFT - 20);
  const height = 40 + (timeline.steps.length + 1) * ROW;
  const axisY = height - 18;
  return html`<svg
    class="timeline"
    viewBox="0 0 ${WIDTH} ${height}"
    role="img"
    aria-label="timeline"
  >
    <text x="8" y="20">events</text>
    ${timeline.rows.map(
      (r) =>
        html`<line
          class="event"
          x1="${x(r.at).toFixed(1)}"
          x2="${x(r.at).toFixed(1)}"
          y1="8"
          y2="26"
          ><title>
            +${r.sinceStartMs} ms ${r.type}${r.step === undefined ? "" : ` ${r.step}`} ${r.detail}
          </title></line
        >`,
    )}
    ${timeline.steps.map((s, i) => {
      const y = 34 + i * ROW;
      const from = x(s.startedAt);
      const to = x(s.endedAt ?? end);
      const kind = s.outcome === "open" ? "open" : s.outcome === "failed" ? "failed" : s.action;
      return html`<g
        data-step="${s.step}"
        data-action="${s.action}"
        data-duration-ms="${s.durationMs ?? ""}"
      >
        <text x="8" y="${y + 14}">${s.step} ${s.action}</text>
        <rect
          class="${kind}"
          x="${from.toFixed(1)}"
          y="${y}"
          width="${Math.max(to - from, 2).toFixed(1)}"
          height="${ROW - 6}"
          ><title>
            ${s.step} ${s.action}: ${s.outcome}, ${s.attempts}
            attempt(s)${s.durationMs === undefined ? "" : `, ${s.durationMs} ms`}
          </title></rect
        >
        <text x="${(Math.min(to, WIDTH - 90) + 4).toFixed(1)}" y="${y + 14}"
          >${s.durationMs === undefined ? s.outcome : `${s.durationMs} ms`}</text
        >
      </g>`;
    })}
    <line class="axis" x1="${LEFT}" x2="${WIDTH - 20}" y1="${axisY}" y2="${axisY}" />
    ${ticks(span).map(
      (t) =>
        html`<text x="${x(start + t).toFixed(1)}" y="${axisY + 14}" text-anchor="middle"
          >${t} ms</text
        >`,
    )}
  </svg>`;
}

function actions(saga: SagaView): Html {
  const cancellable = saga.status === SagaStatus.Running || saga.status === SagaStatus.Failed;
  const retriable = saga.status === SagaStatus.Failed;
  if (!cancellable && !retriable) return html``;
  const target = `/ui/sagas/${encodeURIComponent(saga.sagaId)}`;
  return html`<div class="actions">
      ${retriable ? html`<form hx-post="${target}/retry" hx-target="#action-result" hx-confirm="Retry saga ${saga.sagaId} from its failed step?"><button type="submit">Retry</button></form>` : ""}
      ${cancellable ? html`<form hx-post="${target}/cancel" hx-target="#action-result" hx-confirm="Cancel saga ${saga.sagaId}? Its done steps are compensated."><input name="reason" placeholder="reason" size="30" /><button type="submit" class="danger">Cancel</button></form>` : ""}
    </div>
    <div id="action-result"></div>`;
}

function timers(saga: SagaView): Html {
  const due = Object.entries(saga.steps).flatMap(([step, s]) => [
    ...(s.inFlight && s.timeoutAt !== undefined ? [[step, "times out", s.timeoutAt] as const] : []),
    ...(s.retryAt === undefined ? [] : [[step, "retries", s.retryAt] as const]),
  ]);
  if (due.length === 0) return html`<p class="note">No timer due.</p>`;
  return html`<table id="timers">
    <thead>
      <tr>
        <th>step</th>
        <th>what</th>
        <th>due (UTC)</th>
      </tr>
    </thead>
    <tbody>
      ${due.map(
        ([step, what, at]) =>
          html`<tr>
            <td>${step}</td>
            <td>${what}</td>
            <td class="mono">${when(at)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export async function sagaPage(group: GroupQueries, sagaId: string, now: number): Promise<Html> {
  const saga = await group.sagaFromOwner(sagaId, false, true);
  const timeline = sagaTimeline(saga.history ?? []);
  return html`<dl class="facts">
      <dt>id</dt>
      <dd class="mono" id="saga-id">${saga.sagaId}</dd>
      <dt>type</dt>
      <dd>${saga.sagaType} v${saga.version}</dd>
      <dt>status</dt>
      <dd>
        <span id="saga-status" class="status status-${saga.status}">${saga.status}</span
        >${saga.reason === undefined ? "" : html` <span class="note">${saga.reason}</span>`}
      </dd>
      <dt>started</dt>
      <dd class="mono">${when(saga.startedAt)}</dd>
      <dt>updated</dt>
      <dd class="mono">${when(saga.updatedAt)}</dd>
      <dt>took</dt>
      <dd>${timeline.durationMs === undefined ? "still running" : `${timeline.durationMs} ms`}</dd>
    </dl>
    ${actions(saga)}
    <h2>Timeline</h2>
    ${timelineSvg(timeline, now)}
    <h2>Timers</h2>
    ${timers(saga)}
    <h2>Events</h2>
    <table id="events">
      <thead>
        <tr>
          <th class="num">seq</th>
          <th class="num">+ms</th>
          <th>event</th>
          <th>step</th>
          <th class="num">attempt</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        ${timeline.rows.map(
          (r) =>
            html`<tr data-seq="${r.seq}">
              <td class="num">${r.seq}</td>
              <td class="num">${r.sinceStartMs}</td>
              <td>${r.type}</td>
              <td>${[r.step, r.action].filter((v) => v !== undefined).join(" ")}</td>
              <td class="num">${r.attempt ?? ""}</td>
              <td>${r.detail}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Data</h2>
    <pre id="saga-data">${JSON.stringify(saga.data, null, 2)}</pre>`;
}
