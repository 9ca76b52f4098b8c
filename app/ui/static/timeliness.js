// The timeliness page: asks for a bearer token once (kept for this browser tab only), reads
// GET /v1/reports/timeliness and draws it with the vendored Chart.js. No third-party requests.
"use strict";

const TOKEN_KEY = "yjrisk.bearer";
const BANDS = [["days_0_7", "0-7 days"], ["days_8_28", "8-28 days"],
               ["days_29_90", "29-90 days"], ["days_over_90", "over 90 days"]];
const COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58840",
                 "#28a197", "#f499be", "#505a5f", "#912b88", "#85994b", "#003078"];
const charts = {};
window.yjReport = { ready: false };

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY);

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function isoDate(d) {
  return d.toISOString().slice(0, 10);
}

function defaultPeriod() {
  const today = new Date();
  const start = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 11, 1));
  $("from").value = $("from").value || isoDate(start);
  $("to").value = $("to").value || isoDate(today);
}

async function fetchReport(groups) {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  groups.forEach((g) => params.append("group_by", g));
  const response = await fetch(`/v1/reports/timeliness?${params}`, {
    headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" },
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showAuth();
    throw new Error("The token was refused: paste a valid one.");
  }
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.detail || `The report could not be read (${response.status}).`);
  }
  return body.data;
}

function seriesLabel(row, series) {
  return series === "rule" ? `${row.rule} ${row.code}` : (row.team || "(no team)");
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
}

function monthsOf(from, to) {
  const months = [];
  let [year, month] = from.split("-").map(Number);
  const [lastYear, lastMonth] = to.split("-").map(Number);
  while (year < lastYear || (year === lastYear && month <= lastMonth)) {
    months.push(`${year}-${String(month).padStart(2, "0")}`);
    [year, month] = month === 12 ? [year + 1, 1] : [year, month + 1];
  }
  return months;
}

function drawRate(rate, series) {
  const months = monthsOf(rate.date_from, rate.date_to);
  const labels = [...new Set(rate.rows.map((r) => seriesLabel(r, series)))].sort();
  const datasets = labels.map((label, i) => ({
    label,
    data: months.map((m) => {
      const row = rate.rows.find((r) => r.month === m && seriesLabel(r, series) === label);
      return row && row.on_time_rate !== null ? Math.round(row.on_time_rate * 10000) / 100 : null;
    }),
    borderColor: COLOURS[i % COLOURS.length],
    backgroundColor: COLOURS[i % COLOURS.length],
    spanGaps: true,
    pointRadius: 4,
  }));
  draw("rate-chart", {
    type: "line",
    data: { labels: months, datasets },
    options: { animation: false, maintainAspectRatio: false,
               scales: { y: { min: 0, max: 100, title: { display: true, text: "% on time" } } } },
  });
}

function drawAgeing(overview, series) {
  const datasets = overview.ageing.map((row, i) => ({
    label: seriesLabel(row, series),
    data: BANDS.map(([key]) => row[key]),
    backgroundColor: COLOURS[i % COLOURS.length],
  }));
  draw("ageing-chart", {
    type: "bar",
    data: { labels: BANDS.map(([, label]) => label), datasets },
    options: { animation: false, maintainAspectRatio: false,
               scales: { x: { stacked: true },
                         y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
                              title: { display: true, text: "open overdue steps" } } } },
  });
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function fillTable(overview, series) {
  $("series-head").textContent = series === "rule" ? "Rule" : "Team (line manager)";
  const body = $("figures").querySelector("tbody");
  body.replaceChildren();
  for (const row of overview.rows) {
    const tr = document.createElement("tr");
    tr.append(cell(seriesLabel(row, series)));
    // "missed" (of the late: undone when their need ended) beside "late", as the JSON has it.
    for (const key of ["due", "on_time", "late", "missed", "open_overdue", "no_timescale",
                       "waived"]) {
      tr.append(cell(String(row[key])));
    }
    tr.append(cell(row.on_time_rate === null ? "-" : `${(row.on_time_rate * 100).toFixed(1)}%`));
    tr.append(cell(row.median_days_late === null ? "-" : row.median_days_late.toFixed(2)));
    body.append(tr);
  }
}

async function show() {
  const series = $("series").value;
  window.yjReport = { ready: false };
  status("Loading...");
  try {
    const [rate, overview] = await Promise.all([fetchReport(["month", series]),
                                                fetchReport([series])]);
    $("report").hidden = false;
    $("scope").textContent = `Service ${overview.service}, ${overview.scope === "service"
      ? "whole service" : overview.scope.replace("team:", "team of ")}, ${overview.date_from} to ${overview.date_to}.`;
    drawRate(rate, series);
    drawAgeing(overview, series);
    fillTable(overview, series);
    window.yjReport = { ready: true, series, rate, overview };
    status("");
  } catch (error) {
    status(error.message, true);
  }
}

function showAuth() {
  const have = Boolean(token());
  $("token").hidden = have;
  $("token").required = !have;
  $("authorise").hidden = have;
  $("logout").hidden = !have;
}

document.addEventListener("DOMContentLoaded", () => {
  defaultPeriod();
  showAuth();
  $("auth").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim().replace(/^Bearer\s+/i, ""));
    $("token").value = "";
    showAuth();
    show();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showAuth();
  });
  $("query").addEventListener("submit", (event) => {
    event.preventDefault();
    if (token()) show(); else status("Authorise with a bearer token first.", true);
  });
  if (token()) show();
});
