// Draws the service-level and quarterly-review charts from the JSON block the server rendered;
// each chart only where its canvas is on the page.
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
  var priorities = { P1: "#d62728", P2: "#ff7f0e", P3: "#1f77b4", P4: "#7f7f7f" };

  var met = document.getElementById("chart-met");
  if (met) {
    new Chart(met, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "First response", data: data.first_response, backgroundColor: "#9ecae1" },
          { label: "Resolution", data: data.resolution, backgroundColor: "#2ca02c" }
        ]
      },
      options: { scales: { y: { beginAtZero: true, max: 100 } } }
    });
  }

  var tickets = document.getElementById("chart-tickets");
  if (tickets) {
    new Chart(tickets, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: Object.keys(data.tickets).map(function (priority) {
          return { label: priority, data: data.tickets[priority],
                   backgroundColor: priorities[priority] || "#8c564b" };
        })
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
                                                     ticks: { precision: 0 } } } }
    });
  }

  var hours = document.getElementById("chart-hours");
  if (hours) {
    new Chart(hours, {
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
  }
  document.body.dataset.charts = "ready";
})();
