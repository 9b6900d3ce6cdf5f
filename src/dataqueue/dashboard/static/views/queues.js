// Queues: one row per job type, its depth by status, how long its oldest
// due job has waited, and its throughput and failure rate of the last hour.

import { api } from "../api.js";
import { emptyState, fill, formatSeconds, h, listPage, loading } from "../dom.js";
import { refresher, throttled } from "../refresh.js";
import { toastError } from "../toast.js";

const LIVE_REFRESH_MS = 5000;

const DEPTHS = ["pending", "processing", "waiting", "failed", "completed", "cancelled"];

function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return rate === 0 ? "0%" : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)}%`;
}

export function mountQueues(main, { app }) {
  app.title("Queues");
  const holder = h("div", { class: "card table-card" }, loading());
  fill(
    main,
    listPage(
      "Queues",
      "One row per job type: its jobs by status now, the wait of its oldest due job, and the last hour's throughput and failures.",
      holder,
    ),
  );

  async function load() {
    try {
      const { queues } = await api.queues();
      render(queues);
    } catch (error) {
      toastError(error);
    }
  }

  function render(queues) {
    if (queues.length === 0) {
      fill(holder, emptyState("No jobs yet", "Each job type gets a row here once it has jobs."));
      return;
    }
    const head = h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Job type", ...DEPTHS.map((s) => s.charAt(0).toUpperCase() + s.slice(1)), "Oldest pending", "Throughput", "Failure rate"].map(
          (label) => h("th", { scope: "col", text: label }),
        ),
      ),
    );
    fill(holder, h("table", { class: "table queues-table" }, head, h("tbody", {}, queues.map(row))));
  }

  function row(queue) {
    const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
    const jobsOf = (status) => app.href(`/jobs?job_type=${encodeURIComponent(queue.job_type)}&status=${status}`);
    const late = queue.oldest_pending_seconds !== null && queue.oldest_pending_seconds > 60;
    return h(
      "tr",
      { dataset: { jobType: queue.job_type } },
      cell("Job type", h("a", { class: "mono", href: app.href(`/jobs?job_type=${encodeURIComponent(queue.job_type)}`), text: queue.job_type })),
      DEPTHS.map((status) =>
        cell(
          status.charAt(0).toUpperCase() + status.slice(1),
          queue.counts[status]
            ? h("a", { class: `depth depth-${status}`, dataset: { depth: status }, href: jobsOf(status), text: queue.counts[status].toLocaleString() })
            : h("span", { class: "muted", dataset: { depth: status }, text: "0" }),
        ),
      ),
      cell(
        "Oldest pending",
        h("span", {
          class: late ? "late-text" : "",
          dataset: { field: "oldest" },
          text: queue.oldest_pending_seconds === null ? "—" : formatSeconds(Math.round(queue.oldest_pending_seconds)),
        }),
      ),
      cell("Throughput", h("span", { dataset: { field: "throughput" }, text: `${queue.throughput_per_minute} / min` })),
      cell(
        "Failure rate",
        h("span", {
          class: queue.failure_rate ? "late-text" : "",
          dataset: { field: "failure-rate" },
          title: `${queue.failed_last_hour} failed, ${queue.completed_last_hour} completed in the last hour`,
          text: percent(queue.failure_rate),
        }),
      ),
    );
  }

  const loader = refresher(load);
  // Their reads cover the whole queue: live changes refresh them at most
  // every few seconds, however busy the queue is.
  const live = throttled(() => loader.run(), LIVE_REFRESH_MS);
  const stopLive = app.live.onChange(() => live.call());
  loader.run();
  return () => {
    loader.stop();
    live.stop();
    stopLive();
  };
}
