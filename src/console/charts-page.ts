/** The console's live charts (drawn in the browser by assets/console/charts.js with uPlot). */
import { html, type Html } from "./html.js";

export const CHART_SCRIPTS = ["/ui/assets/uPlot.min.js", "/ui/assets/charts.js"];

export function chartsPage(): Html {
  return html`<link rel="stylesheet" href="/ui/assets/uPlot.min.css" />
    <p class="note">
      The group's last five minutes, a point a second: sagas started and ended, the latency of steps
      that ended (the slowest worker's p50 and p99), the lag of every input, dead letters.
    </p>
    <div class="charts">
      <div class="chart" id="chart-sagas"></div>
      <div class="chart" id="chart-latency"></div>
      <div class="chart" id="chart-lag"></div>
      <div class="chart" id="chart-dead-letters"></div>
    </div>`;
}
