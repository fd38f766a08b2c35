// Draws the reports page's trends with uPlot (vendored in static/uplot) from the report's JSON,
// which the page carries in a data attribute (tojson escapes quotes and brackets): no inline
// script, so the CSP (script-src 'self') holds. The tables above show the same figures.
(function () {
  const source = document.getElementById("report-data");
  if (!source || typeof uPlot === "undefined") return;
  const report = JSON.parse(source.dataset.report);
  const weeks = report.weekly || [];
  const xs = weeks.map((w) => Date.parse(w.week_start + "T00:00:00Z") / 1000);
  const val = (key, scale) => weeks.map((w) => (w[key] == null ? null : w[key] * (scale || 1)));
  const colours = ["#4c78a8", "#f58518", "#e45756", "#54a24b"];

  function draw(id, series, data, extra) {
    const box = document.getElementById(id);
    if (!box) return;
    const width = Math.max(320, box.clientWidth || 440);
    const opts = Object.assign(
      {
        width: width,
        height: 220,
        series: [{}].concat(
          series.map((s, i) => Object.assign({ stroke: colours[i % colours.length], width: 2 }, s))
        ),
      },
      extra || {}
    );
    box.classList.add("drawn");
    new uPlot(opts, data, box);
  }

  draw(
    "chart-incidents",
    [
      { label: "Incidents", scale: "n" },
      { label: "MTTA median (min)", scale: "min", dash: [4, 3] },
    ],
    [xs, val("incidents"), val("mtta_median_s", 1 / 60)],
    {
      axes: [{}, { scale: "n", label: "incidents" }, { scale: "min", side: 1, label: "minutes", grid: { show: false } }],
    }
  );
  draw(
    "chart-hours",
    [{ label: "Pages" }, { label: "Out of working hours" }, { label: "At night" }],
    [xs, val("pages"), val("pages_off_hours"), val("pages_night")]
  );
  draw(
    "chart-sla",
    [{ label: "Acknowledged in time %" }, { label: "Resolved in time %" }],
    [xs, val("acknowledged_within_ack_timeout_pct"), val("resolved_within_target_pct")],
    { scales: { y: { range: [0, 100] } } }
  );
  const people = (report.by_person || []).filter((p) => p.pages > 0);
  const names = people.map((p) => p.person);
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
  draw(
    "chart-people",
    [
      { label: "Pages", fill: "#4c78a8", paths: bars, points: { show: false } },
      { label: "At night", fill: "#e45756", paths: bars, points: { show: false } },
    ],
    [names.map((_, i) => i), people.map((p) => p.pages), people.map((p) => p.pages_night)],
    {
      scales: {
        x: { time: false, range: [-0.5, Math.max(names.length - 0.5, 0.5)] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
      },
      axes: [{ values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? names[t] || "" : "")) }, {}],
    }
  );
})();
