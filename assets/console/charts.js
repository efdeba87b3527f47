// The console's live charts: the group's series (/ui/series.json) drawn with uPlot, refreshed
// every 2 s. Plain script, no build step.
(function () {
  const charts = [
    {
      id: "chart-sagas",
      title: "Sagas per second",
      series: [
        ["startedPerSecond", "started", "#2456a6"],
        ["endedPerSecond", "ended", "#1f7a3a"],
      ],
    },
    {
      id: "chart-latency",
      title: "Step latency (ms)",
      series: [
        ["stepP50Ms", "p50", "#2456a6"],
        ["stepP99Ms", "p99", "#b3261e"],
      ],
    },
    { id: "chart-lag", title: "Lag (records)", series: [["lag", "lag", "#9a6200"]] },
    {
      id: "chart-dead-letters",
      title: "Dead letters (since the workers started)",
      series: [["deadLetters", "dead letters", "#b3261e"]],
    },
  ];
  const plots = new Map();

  function data(series, chart) {
    return [series.t, ...chart.series.map(([key]) => series[key])];
  }

  function draw(series) {
    for (const chart of charts) {
      const el = document.getElementById(chart.id);
      if (el === null) continue;
      el.dataset.points = String(series.t.length);
      const plot = plots.get(chart.id);
      if (plot !== undefined) {
        plot.setData(data(series, chart));
        continue;
      }
      plots.set(
        chart.id,
        new uPlot(
          {
            title: chart.title,
            width: Math.max(el.clientWidth - 10, 300),
            height: 220,
            series: [
              {},
              ...chart.series.map(([, label, stroke]) => ({
                label,
                stroke,
                width: 2,
                spanGaps: false,
              })),
            ],
            axes: [{}, { size: 60 }],
          },
          data(series, chart),
          el,
        ),
      );
    }
  }

  async function refresh() {
    try {
      const response = await fetch("/ui/series.json", { headers: { accept: "application/json" } });
      if (response.ok) draw(await response.json());
    } finally {
      setTimeout(refresh, 2000);
    }
  }

  refresh();
})();
