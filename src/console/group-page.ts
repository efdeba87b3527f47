/**
 * The group in the console: each worker with the partitions it runs and keeps standby copies
 * of, the tasks it is restoring, its lag and what is stuck; partitions nobody runs. Refreshed
 * every 2 s (htmx swaps the table in place).
 */
import type { GroupQueries, WorkerStatus } from "../api/index.js";
import { html, type Html } from "./html.js";

const list = (numbers: readonly number[]) => (numbers.length === 0 ? "-" : numbers.join(", "));

function workerRow(w: WorkerStatus): Html {
  const lag = w.lag.reduce((sum, l) => sum + l.records, 0);
  return html`<tr>
    <td class="mono">${w.address}</td>
    <td>${list(w.active)}</td>
    <td>${list(w.standby)}</td>
    <td>
      ${w.restoring.length === 0 ? "-" : w.restoring.map((r) => `${r.task}: ${r.remaining.toLocaleString("en")} left`).join("; ")}
    </td>
    <td
      class="num"
      title="${w.lag
        .filter((l) => l.records > 0)
        .map((l) => `${l.input} ${l.records}`)
        .join("\n")}"
    >
      ${lag.toLocaleString("en")}
    </td>
    <td>
      ${w.stuck.length === 0 ? "-" : w.stuck.map((s) => `${s.where} ${s.seconds}s: ${s.reason}`).join("; ")}
    </td>
    <td class="num">${w.deadLetters}</td>
    <td class="num">${w.commits.toLocaleString("en")}</td>
  </tr>`;
}

export async function groupPage(group: GroupQueries): Promise<Html> {
  const [workers, members] = await Promise.all([
    group.workersEverywhere(),
    group.backend().members(),
  ]);
  const partitions = group.backend().queries.partitions;
  const owned = new Set(members.flatMap((m) => m.partitions));
  const unowned = [...Array(partitions).keys()].filter((p) => !owned.has(p));
  const silent = members.filter(
    (m) => m.address !== "" && !workers.some((w) => w.address === m.address),
  );
  return html`<div
    id="group"
    hx-get="/ui/group"
    hx-trigger="every 2s"
    hx-select="#group"
    hx-swap="outerHTML"
  >
    <p>
      ${members.length} member(s) in the group, ${partitions}
      partitions${unowned.length === 0 ? ", every one owned" : html`; <span class="error">no owner: ${unowned.join(", ")}</span>`}.
    </p>
    <table id="workers">
      <thead>
        <tr>
          <th>worker</th>
          <th>partitions</th>
          <th>standbys</th>
          <th>restoring</th>
          <th class="num">lag (records)</th>
          <th>stuck</th>
          <th class="num">dead letters</th>
          <th class="num">commits</th>
        </tr>
      </thead>
      <tbody>
        ${workers.map(workerRow)}
      </tbody>
    </table>
    ${silent.length === 0 ? "" : html`<p class="error">Not answering: ${silent.map((m) => m.address).join(", ")}</p>`}
  </div>`;
}
