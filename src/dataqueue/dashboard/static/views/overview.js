// The overview, the dashboard's home: per minute over the last hour or
// day, what the workers completed and started, how long jobs waited from
// due to start, and how many attempts failed; the queue's counts above,
// and below, the newest actions taken on the dashboard (Activity).
// Drawn with uPlot (vendor/uplot), in the colours of the current theme.

import { api } from "../api.js";
import { emptyState, fill, h, listPage, loading, timeAgo } from "../dom.js";
import { THEME_EVENT, refresher, throttled } from "../refresh.js";
import { toastError } from "../toast.js";
import uPlot from "../vendor/uplot/uPlot.esm.js";

const LIVE_REFRESH_MS = 5000;

const WINDOWS = [
  ["hour", "Last hour"],
  ["day", "Last day"],
];
const STATUSES = ["pending", "processing", "waiting", "failed"];
const CHART_HEIGHT = 200;
const ACTIVITY_SHOWN = 20;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** The charts: each a title, its series (label, field, colour variable). */
const CHARTS = [
  {
    id: "throughput",
    title: "Throughput",
    unit: "jobs / min",
    series: [
      ["Completed", "completed", "--completed"],
      ["Started", "started", "--processing"],
    ],
  },
  {
    id: "latency",
    title: "Enqueue to start",
    unit: "seconds (mean)",
    series: [["Mean delay", "mean_start_delay_seconds", "--waiting"]],
  },
  {
    id: "failures",
    title: "Failures",
    unit: "attempts / min",
    series: [["Failed", "failed", "--failed"]],
  },
];

function chartOptions(chart, width) {
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: CHART_HEIGHT,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (self, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [axis, { ...axis, size: 50 }],
    series: [
      {},
      ...chart.series.map(([label, , colour]) => ({
        label,
        stroke: cssVar(colour),
        width: 2,
        fill: `${cssVar(colour)}22`,
        spanGaps: false,
        // The delay has no value in a minute without starts: a minute alone
        // between such ones is a dot, not nothing. Counts are never empty.
        points: { show: chart.id === "latency", size: 4 },
      })),
    ],
  };
}

function chartData(chart, minutes) {
  return [
    minutes.map((point) => new Date(point.minute).getTime() / 1000),
    ...chart.series.map(([, field]) => minutes.map((point) => point[field])),
  ];
}

export function mountOverview(main, { query, app }) {
  app.title("Overview");
  let windowName = query.get("window") === "day" ? "day" : "hour";
  let jobType = query.get("job_type") || "";
  let lastMinutes = null;
  const plots = new Map();

  const windowTabs = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Time window" },
    WINDOWS.map(([name, label]) =>
      h("button", {
        type: "button",
        class: "segment",
        dataset: { window: name },
        "aria-pressed": String(name === windowName),
        text: label,
        on: { click: () => choose(name) },
      }),
    ),
  );
  const typeSelect = h(
    "select",
    {
      id: "overview-type",
      "aria-label": "Job type",
      on: {
        change: () => {
          jobType = typeSelect.value;
          setQuery();
          loader.run();
        },
      },
    },
    h("option", { value: "", text: "All job types" }),
  );
  const tiles = h("div", { class: "stat-tiles", id: "overview-tiles" });
  const charts = h(
    "div",
    { class: "charts" },
    CHARTS.map((chart) =>
      h(
        "section",
        { class: "card chart-card", id: `chart-${chart.id}`, dataset: { chart: chart.id } },
        h("h2", { class: "card-title" }, chart.title, " ", h("span", { class: "muted small", text: chart.unit })),
        h("div", { class: "chart-total", dataset: { total: chart.id } }),
        h("div", { class: "chart-plot" }, loading()),
      ),
    ),
  );
  const activity = h("div", { class: "activity-list" }, loading());
  const page = listPage(
    "Overview",
    "What the workers did per minute, as their heartbeats report it, and the queue now.",
    h("div", { class: "overview-tools" }, typeSelect, windowTabs),
    tiles,
    charts,
    h(
      "section",
      { class: "card table-card", id: "overview-activity" },
      h("h2", { class: "card-title" }, "Activity", " ", h("span", { class: "muted small", text: "newest actions, who took them" })),
      activity,
    ),
  );
  fill(main, page);

  function setQuery() {
    app.setQuery({ window: windowName === "hour" ? "" : windowName, job_type: jobType });
  }

  async function loadTypes() {
    try {
      const { queues } = await api.queues();
      const names = new Set([...queues.map((queue) => queue.job_type), ...(jobType ? [jobType] : [])]);
      fill(
        typeSelect,
        h("option", { value: "", text: "All job types" }),
        [...names].sort().map((name) => h("option", { value: name, text: name, selected: name === jobType })),
      );
    } catch (error) {
      toastError(error);
    }
  }

  function choose(name) {
    windowName = name;
    setQuery();
    for (const button of windowTabs.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.window === name));
    }
    loader.run();
  }

  async function load() {
    try {
      const [{ minutes }, { counts }] = await Promise.all([
        api.overview({ window: windowName, job_type: jobType }),
        api.counts({ job_type: jobType }),
      ]);
      lastMinutes = minutes;
      renderTiles(counts, minutes);
      draw(minutes, false);
    } catch (error) {
      toastError(error);
    }
  }

  async function loadActivity() {
    try {
      const { actions } = await api.activity({ limit: ACTIVITY_SHOWN });
      renderActivity(actions);
    } catch (error) {
      toastError(error);
    }
  }

  function renderActivity(actions) {
    if (actions.length === 0) {
      fill(activity, emptyState("No actions yet", "Pausing, bulk changes, cron and worker actions are listed here."));
      return;
    }
    const head = h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Details"].map((label) => h("th", { scope: "col", text: label }))));
    const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
    const details = (value) =>
      Object.entries(value)
        .map(([name, item]) => `${name}: ${typeof item === "string" ? item : JSON.stringify(item)}`)
        .join(", ");
    const rows = actions.map((action) =>
      h(
        "tr",
        {},
        cell("When", timeAgo(action.at)),
        cell("Who", action.who),
        cell("Action", h("code", { text: action.action })),
        cell("Details", h("span", { class: "muted", text: details(action.details) })),
      ),
    );
    fill(activity, h("table", { class: "table compact activity-table" }, head, h("tbody", {}, rows)));
  }

  function renderTiles(counts, minutes) {
    const sum = (field) => minutes.reduce((total, point) => total + point[field], 0);
    const firsts = sum("first_starts");
    const delays = minutes.reduce(
      (total, point) => total + (point.mean_start_delay_seconds ?? 0) * point.first_starts,
      0,
    );
    const windowLabel = windowName === "day" ? "last day" : "last hour";
    fill(
      tiles,
      STATUSES.map((status) =>
        tile(
          `tile-${status}`,
          status.charAt(0).toUpperCase() + status.slice(1),
          counts[status] ?? 0,
          "now",
          app.href(`/jobs?status=${status}${jobType ? `&job_type=${encodeURIComponent(jobType)}` : ""}`),
        ),
      ),
      tile("tile-completed", "Completed", sum("completed"), windowLabel),
      tile("tile-failed-window", "Failed attempts", sum("failed"), windowLabel),
      tile("tile-delay", "Mean wait to start", firsts ? `${(delays / firsts).toFixed(2)} s` : "—", windowLabel),
    );
    for (const chart of CHARTS) {
      const field = chart.series[0][1];
      const total = field === "mean_start_delay_seconds" ? "" : `${sum(field).toLocaleString()} in the ${windowLabel}`;
      charts.querySelector(`[data-total="${chart.id}"]`).textContent = total;
    }
  }

  function tile(id, label, value, note, link) {
    const text = typeof value === "number" ? value.toLocaleString() : value;
    const body = [h("span", { class: "tile-value", text }), h("span", { class: "tile-label", text: label }), h("span", { class: "tile-note", text: note })];
    return link
      ? h("a", { class: "card tile", id, href: link }, body)
      : h("div", { class: "card tile", id }, body);
  }

  /** Draw (or update) every chart; `rebuild` starts them over (theme, size). */
  function draw(minutes, rebuild) {
    for (const chart of CHARTS) {
      const holder = charts.querySelector(`#chart-${chart.id} .chart-plot`);
      const width = Math.max(240, holder.clientWidth || 600);
      let plot = plots.get(chart.id);
      if (plot && (rebuild || plot.width !== width)) {
        plot.destroy();
        plot = null;
      }
      if (!plot) {
        fill(holder);
        plot = new uPlot(chartOptions(chart, width), chartData(chart, minutes), holder);
        plots.set(chart.id, plot);
      } else {
        plot.setData(chartData(chart, minutes));
      }
    }
  }

  const redraw = () => {
    if (lastMinutes) draw(lastMinutes, true);
  };
  let resizeTimer = null;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => lastMinutes && draw(lastMinutes, false), 150);
  };
  window.addEventListener(THEME_EVENT, redraw);
  window.addEventListener("resize", onResize);
  const loader = refresher(async () => {
    await Promise.all([load(), loadActivity()]);
  });
  // Their reads cover the whole queue: live changes refresh them at most
  // every few seconds, however busy the queue is.
  const live = throttled(() => loader.run(), LIVE_REFRESH_MS);
  const stopLive = app.live.onChange(() => live.call());
  loadTypes();
  loader.run();
  return () => {
    loader.stop();
    live.stop();
    stopLive();
    window.removeEventListener(THEME_EVENT, redraw);
    window.removeEventListener("resize", onResize);
    for (const plot of plots.values()) plot.destroy();
  };
}
