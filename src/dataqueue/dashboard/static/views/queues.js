// Queues: one row per job type, its depth by status, how long its oldest
// due job has waited, its throughput and failure rate of the last hour, its
// limits, and how many of its pending jobs are held and why; pause and
// resume it, or every type.

import { api, readOnly } from "../api.js";
import { emptyState, fill, formatSeconds, h, listPage, loading } from "../dom.js";
import { refresher, throttled } from "../refresh.js";
import { toast, toastError } from "../toast.js";

const LIVE_REFRESH_MS = 5000;

const DEPTHS = ["pending", "processing", "waiting", "failed", "completed", "cancelled"];

// Why held jobs wait (their pending_reason), as the queues page says it.
const HELD = {
  paused: "paused",
  concurrency_limit: "at concurrency",
  rate_limit: "by rate",
  group_concurrency_limit: "at group concurrency",
  group_rate_limit: "by group rate",
  dependency: "on dependencies",
};

function heldNote(held, complete) {
  const reasons = Object.keys(held).sort();
  if (reasons.length === 0) return null;
  const more = complete ? "" : "+";
  return h(
    "div",
    {
      class: "held-note",
      dataset: { held: reasons.join(" ") },
      title: complete
        ? "Pending jobs held back now, by reason (a claim marks the held jobs it meets: those at the front of the line)."
        : "Pending jobs held back now, by reason; the store stopped counting at its bound, so there may be more.",
    },
    reasons.map((reason, index) => {
      const count = h("span", { dataset: { heldReason: reason }, text: `${held[reason].toLocaleString()}${more} ${HELD[reason] ?? reason}` });
      // "held:" stays on the line of the first reason; reasons wrap whole.
      return index ? [" · ", count] : h("span", { class: "held-first" }, "held: ", count);
    }),
  );
}

function rateText(rate) {
  if (rate.per === 1) return `${rate.count}/s`;
  if (rate.per === 60) return `${rate.count}/min`;
  if (rate.per === 3600) return `${rate.count}/h`;
  return `${rate.count} per ${rate.per} s`;
}

function limitsText(limits) {
  if (!limits) return "";
  const parts = [];
  if (limits.concurrency !== null) parts.push(`${limits.concurrency} at once`);
  if (limits.rate) parts.push(rateText(limits.rate));
  const group = [];
  if (limits.group_concurrency !== null) group.push(`${limits.group_concurrency} at once`);
  if (limits.group_rate) group.push(rateText(limits.group_rate));
  if (group.length) parts.push(`per group: ${group.join(", ")}`);
  return parts.join(" · ");
}

function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return rate === 0 ? "0%" : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)}%`;
}

export function mountQueues(main, { app }) {
  app.title("Queues");
  const holder = h("div", { class: "card table-card" }, loading());
  const everyButton = h("button", { type: "button", class: "button small", id: "pause-every", hidden: readOnly });
  const page = listPage(
    "Queues",
    "One row per job type: its jobs by status now, the wait of its oldest due job, the last hour's throughput and failures, its limits and held jobs.",
    holder,
  );
  page.querySelector(".page-head").append(h("div", { class: "page-tools" }, everyButton));
  fill(main, page);
  let allPaused = false;
  let heldComplete = true;
  everyButton.addEventListener("click", () =>
    act(everyButton, allPaused ? api.resumeQueue : api.pauseQueue, null, allPaused ? "Every type resumed" : "Every type paused"),
  );

  async function load() {
    try {
      const { queues, all_paused: every, held_complete: complete } = await api.queues();
      allPaused = every;
      heldComplete = complete;
      everyButton.textContent = every ? "Resume every type" : "Pause every type";
      everyButton.disabled = false;
      everyButton.classList.toggle("danger", !every);
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
        [
          "Job type",
          ...DEPTHS.map((s) => s.charAt(0).toUpperCase() + s.slice(1)),
          "Oldest pending",
          "Throughput",
          "Failure rate",
          "Limits",
          "",
        ].map((label) => h("th", { scope: "col", text: label })),
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
      cell(
        "Job type",
        h("a", { class: "mono", href: app.href(`/jobs?job_type=${encodeURIComponent(queue.job_type)}`), text: queue.job_type }),
        queue.paused ? h("span", { class: "badge status-paused", text: "paused" }) : null,
        heldNote(queue.held, heldComplete),
      ),
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
      cell("Limits", h("span", { class: "small", dataset: { field: "limits" }, text: limitsText(queue.limits) || "—" })),
      h("td", { class: "row-actions" }, readOnly ? null : toggle(queue)),
    );
  }

  function toggle(queue) {
    const button = h("button", {
      type: "button",
      class: `button small${queue.paused ? "" : " danger"}`,
      dataset: { action: queue.paused ? "resume" : "pause" },
      text: queue.paused ? "Resume" : "Pause",
      "aria-label": `${queue.paused ? "Resume" : "Pause"} ${queue.job_type}`,
      // A type paused with every type resumes with them.
      disabled: queue.paused && allPaused,
    });
    button.addEventListener("click", () =>
      act(
        button,
        queue.paused ? api.resumeQueue : api.pauseQueue,
        queue.job_type,
        `${queue.job_type} ${queue.paused ? "resumed" : "paused"}`,
      ),
    );
    return button;
  }

  async function act(button, call, jobType, message) {
    button.disabled = true;
    try {
      await call(jobType);
      toast(message, "success");
      loader.run();
    } catch (error) {
      button.disabled = false;
      toastError(error);
    }
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
