// Draws the delivery report's charts from the JSON block the server rendered.
(function () {
  "use strict";
  var printButton = document.getElementById("print");
  if (printButton) printButton.addEventListener("click", function () { window.print(); });
  var data = JSON.parse(document.getElementById("report-data").textContent);
  if (typeof Chart === "undefined") {
    document.body.dataset.charts = "missing";
    return;
  }
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  var palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

  new Chart(document.getElementById("chart-periods"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Planned", data: data.planned, backgroundColor: "#c8d1dc" },
        { label: "Executed", data: data.executed, backgroundColor: "#1f77b4" }
      ]
    },
    options: { scales: { y: { beginAtZero: true } } }
  });

  // Burn-up: cumulative planned and executed; the forecast continues from the last
  // cumulative executed value through the current and coming periods.
  var labels = data.labels.slice();
  var cumPlanned = data.cumulative_planned.slice();
  var cumExecuted = data.cumulative_executed.slice();
  var forecastLine = labels.map(function () { return null; });
  var lastPlanned = cumPlanned.length ? cumPlanned[cumPlanned.length - 1] : 0;
  var running = null;
  data.forecast.forEach(function (f) {
    var at = labels.indexOf(f.label);
    if (at >= 0) {
      // A period shown in the range: its forecast replaces what it executed so far.
      var before = running !== null ? running : (at > 0 ? cumExecuted[at - 1] : 0);
      if (running === null && at > 0) forecastLine[at - 1] = before;
      running = before + f.forecast;
      forecastLine[at] = running;
    } else if (running !== null) {
      // Periods after the range's last one: the forecast carries the burn-up on.
      running += f.forecast;
      lastPlanned += f.planned;
      labels.push(f.label);
      cumPlanned.push(lastPlanned);
      cumExecuted.push(null);
      forecastLine.push(running);
    }
  });
  new Chart(document.getElementById("chart-burnup"), {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        // The forecast is drawn last (lowest order), thick, red and with its points, so it
        // stands out where it runs along the planned line.
        { label: "Planned (cumulative)", data: cumPlanned, borderColor: "#9aa5b1", backgroundColor: "#9aa5b1",
          borderWidth: 2, borderDash: [2, 3], pointRadius: 0, order: 3 },
        { label: "Executed (cumulative)", data: cumExecuted, borderColor: "#1f77b4", backgroundColor: "#1f77b4",
          borderWidth: 3, pointRadius: 3, order: 2 },
        { label: "Forecast", data: forecastLine, borderColor: "#d62728", backgroundColor: "#d62728",
          borderWidth: 3, borderDash: [8, 4], pointRadius: 4, pointStyle: "rectRot", spanGaps: true, order: 1 }
      ]
    },
    options: { scales: { y: { beginAtZero: true } } }
  });

  var teams = Object.keys(data.teams);
  new Chart(document.getElementById("chart-teams"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: teams.map(function (team, i) {
        return { label: team, data: data.teams[team], backgroundColor: palette[i % palette.length] };
      })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });
  document.body.dataset.charts = "ready";
})();
