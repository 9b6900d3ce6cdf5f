// One job: every field and timestamp, payload and output, errors, steps,
// tokens (with a form to complete them), where it came from, its events.
// The job's own stream pushes every change until it reaches a final status.

import { api } from "../api.js";
import {
  attemptsText,
  emptyState,
  fill,
  formatSeconds,
  h,
  jsonView,
  loading,
  progressBar,
  setProgress,
  shortId,
  statusBadge,
  tagChips,
  timeFull,
} from "../dom.js";
import { REFRESH_EVENT, serial } from "../refresh.js";
import { toast, toastError } from "../toast.js";
import { jobActions } from "./actions.js";

// A failed job with an attempt left is not final: it runs again.
function isFinal(job) {
  return (
    job.status === "completed" ||
    job.status === "cancelled" ||
    (job.status === "failed" && !job.next_attempt_at)
  );
}

const TIMESTAMPS = [
  ["created_at", "Created"],
  ["updated_at", "Updated"],
  ["run_at", "Run at"],
  ["started_at", "Started"],
  ["locked_at", "Locked"],
  ["completed_at", "Completed"],
  ["next_attempt_at", "Next attempt"],
  ["last_failed_at", "Last failed"],
  ["last_retried_at", "Last retried"],
  ["last_cancelled_at", "Last cancelled"],
  ["wait_until", "Waiting until"],
  ["dead_lettered_at", "Dead-lettered"],
  ["cron_due_at", "Cron due at"],
];

const PROPERTIES = [
  ["job_type", "Type", (value) => h("span", { class: "mono", text: value })],
  ["status", "Status", statusBadge],
  ["attempts", "Attempts", (value, job) => attemptsText(job)],
  ["priority", "Priority", String],
  ["failure_reason", "Failure reason", String],
  ["pending_reason", "Pending reason", String],
  ["locked_by", "Locked by", (value) => h("span", { class: "mono", text: value })],
  ["timeout", "Timeout", formatSeconds],
  ["force_kill_on_timeout", "Force kill on timeout", yesNo],
  ["retry_delay", "Retry delay", formatSeconds],
  ["retry_backoff", "Retry backoff", yesNo],
  ["retry_delay_max", "Retry delay max", formatSeconds],
  ["idempotency_key", "Idempotency key", (value) => h("span", { class: "mono", text: value })],
  ["wait_token_id", "Waiting for token", (value) => h("span", { class: "mono", text: value })],
  ["entity", "Entity", (value) => h("span", { class: "mono", text: `${value.type}:${value.id}` })],
];

// Shown in their own sections, not in the property list.
const ELSEWHERE = new Set([
  "group_id",
  "dedupe_key",
  "depends_on_job_ids",
  "depends_on_tags",
  "dead_letter_job_type",
  "dead_letter_job_id",
  "dead_lettered_at",
  "id",
  "max_attempts",
  "payload",
  "output",
  "error_history",
  "step_data",
  "tags",
  "progress",
  "cron_job_id",
  "flow_id",
  "flow_step_index",
]);

function yesNo(value) {
  return value ? "yes" : "no";
}

function definitionList(rows) {
  return h(
    "dl",
    { class: "props" },
    rows.map(([label, value, key]) =>
      h("div", { class: "prop", dataset: { field: key } }, h("dt", { text: label }), h("dd", {}, value)),
    ),
  );
}

function card(title, id, ...content) {
  return h("section", { class: "card", id }, h("h2", { class: "card-title", text: title }), ...content);
}

export function mountJob(main, { params, app }) {
  const jobId = params[0];
  app.title(`Job #${jobId}`);
  fill(main, loading());

  let job = null;
  let tokenKey = null;
  let stopStream = null;
  let stopped = false;

  const head = h("div", { class: "page-head" });
  const progress = progressBar(null);
  const progressCard = card("Progress", "job-progress", progress);
  const properties = card("Properties", "job-properties");
  const timestamps = card("Timestamps", "job-timestamps");
  const origin = card("Origin", "job-origin");
  const control = card("Flow control", "job-control");
  const payload = card("Payload", "job-payload");
  const output = card("Output", "job-output");
  const errors = card("Error history", "job-errors");
  const steps = card("Step data", "job-steps");
  const tokens = card("Tokens", "job-tokens");
  const events = card("Events", "job-events", loading());
  tokens.hidden = true;

  const page = h(
    "section",
    { class: "page" },
    h(
      "nav",
      { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("a", { href: app.href("/jobs"), text: "Jobs" }),
      h("span", { "aria-hidden": "true", text: "/" }),
      h("span", { text: `#${jobId}` }),
    ),
    head,
    h(
      "div",
      { class: "detail-grid" },
      h("div", { class: "detail-main" }, progressCard, payload, output, errors, steps, tokens),
      h("div", { class: "detail-side" }, properties, control, timestamps, origin),
    ),
    events,
  );

  function renderJob() {
    app.title(`Job #${job.id} · ${job.job_type}`);
    fill(
      head,
      h(
        "div",
        { class: "title-block" },
        h("h1", {}, `Job #${job.id}`, " ", statusBadge(job.status)),
        h("p", { class: "subtitle mono", text: job.job_type }),
        job.tags.length ? tagChips(job.tags) : null,
      ),
      h(
        "div",
        { class: "page-tools" },
        jobActions(job, {
          done: (message) => {
            toast(message, "success");
            reload();
          },
        }),
      ),
    );
    progressCard.hidden = job.progress === null && job.status !== "processing";
    setProgress(progress, job.progress);
    progress.querySelector(".progress").classList.toggle("active", job.status === "processing");

    const known = PROPERTIES.filter(([key]) => job[key] !== null && job[key] !== undefined);
    const shown = new Set([...PROPERTIES.map(([key]) => key), ...TIMESTAMPS.map(([key]) => key), ...ELSEWHERE]);
    const others = Object.keys(job).filter((key) => !shown.has(key) && job[key] !== null);
    fill(
      properties,
      h("h2", { class: "card-title", text: "Properties" }),
      definitionList([
        ...known.map(([key, label, render]) => [label, render(job[key], job), key]),
        ...others.map((key) => [key, typeof job[key] === "object" ? jsonView(job[key]) : String(job[key]), key]),
      ]),
    );
    fill(
      timestamps,
      h("h2", { class: "card-title", text: "Timestamps" }),
      definitionList(
        TIMESTAMPS.filter(([key]) => key in job).map(([key, label]) => [label, timeFull(job[key]), key]),
      ),
    );
    fill(payload, h("h2", { class: "card-title", text: "Payload" }), jsonView(job.payload));
    fill(
      output,
      h("h2", { class: "card-title", text: "Output" }),
      job.output === null || job.output === undefined
        ? h("p", { class: "muted", text: isFinal(job) ? "No output." : "No output yet." })
        : jsonView(job.output),
    );
    renderErrors();
    renderSteps();
    renderOrigin();
    renderControl();
  }

  function renderErrors() {
    const history = job.error_history || [];
    errors.hidden = history.length === 0;
    fill(
      errors,
      h("h2", { class: "card-title" }, "Error history ", h("span", { class: "count", text: history.length })),
      h(
        "ol",
        { class: "error-list" },
        history
          .slice()
          .reverse()
          .map((entry) =>
            h(
              "li",
              { class: "error-item" },
              h("div", { class: "error-time" }, timeFull(entry.timestamp)),
              h("pre", { class: "error-message", text: entry.message ?? JSON.stringify(entry) }),
              entry.traceback
                ? h(
                    "details",
                    { class: "error-traceback" },
                    h("summary", { text: "Traceback" }),
                    h("pre", { text: entry.traceback }),
                  )
                : null,
            ),
          ),
      ),
    );
  }

  function renderSteps() {
    const entries = Object.entries(job.step_data || {});
    steps.hidden = entries.length === 0;
    fill(
      steps,
      h("h2", { class: "card-title" }, "Step data ", h("span", { class: "count", text: entries.length })),
      h(
        "table",
        { class: "table compact" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Step" }), h("th", { scope: "col", text: "Result" }))),
        h(
          "tbody",
          {},
          entries.map(([name, value]) =>
            h(
              "tr",
              {},
              h("td", { class: "mono", dataset: { label: "Step" }, text: name }),
              h("td", { dataset: { label: "Result" } }, jsonView(value)),
            ),
          ),
        ),
      ),
    );
  }

  function renderOrigin() {
    const rows = [];
    if (job.cron_job_id !== null && job.cron_job_id !== undefined) {
      const schedule = h("span", { class: "cron-origin" }, h("a", { href: app.href("/cron"), text: `Schedule #${job.cron_job_id}` }));
      rows.push(["Cron schedule", schedule, "cron_job_id"]);
      describeSchedule(job.cron_job_id, schedule);
    }
    if (job.flow_id) {
      rows.push([
        "Flow",
        h(
          "span",
          {},
          h("a", { class: "mono", href: app.href(`/flows/${encodeURIComponent(job.flow_id)}`), text: shortId(job.flow_id) }),
          job.flow_step_index === null || job.flow_step_index === undefined
            ? " (join)"
            : ` (step ${job.flow_step_index + 1})`,
        ),
        "flow_id",
      ]);
    }
    origin.hidden = rows.length === 0;
    fill(origin, h("h2", { class: "card-title", text: "Origin" }), definitionList(rows));
  }

  /** What holds or links the job: its group, dedupe key, dependencies and
   * dead letter (the fields a store with flow control keeps). */
  function renderControl() {
    const jobLinks = (ids) =>
      h("span", { class: "chips" }, ids.map((id) => h("a", { class: "chip mono", href: app.href(`/jobs/${id}`), text: `#${id}` })));
    const rows = [];
    if (job.group_id) rows.push(["Group", h("span", { class: "mono", text: job.group_id }), "group_id"]);
    if (job.dedupe_key) rows.push(["Dedupe key", h("span", { class: "mono", text: job.dedupe_key }), "dedupe_key"]);
    if (job.depends_on_job_ids?.length) rows.push(["Depends on", jobLinks(job.depends_on_job_ids), "depends_on_job_ids"]);
    if (job.depends_on_tags?.length) rows.push(["Depends on tags", tagChips(job.depends_on_tags), "depends_on_tags"]);
    if (job.dead_letter_job_type) rows.push(["Dead letters to", h("span", { class: "mono", text: job.dead_letter_job_type }), "dead_letter_job_type"]);
    if (job.dead_letter_job_id) rows.push(["Dead letter", jobLinks([job.dead_letter_job_id]), "dead_letter_job_id"]);
    control.hidden = rows.length === 0;
    fill(control, h("h2", { class: "card-title", text: "Flow control" }), definitionList(rows));
  }

  async function describeSchedule(cronId, target) {
    try {
      const { schedule } = await api.schedule(cronId);
      fill(
        target,
        h("a", { href: app.href("/cron"), text: schedule.schedule_name }),
        " ",
        h("code", { text: schedule.cron_expression }),
        " ",
        h("span", { class: "muted", text: schedule.timezone }),
      );
    } catch (error) {
      // A removed schedule leaves the link to the cron page.
      if (error.status !== 404) toastError(error);
    }
  }

  async function loadEvents() {
    const { events: list } = await api.events(jobId);
    fill(
      events,
      h("h2", { class: "card-title" }, "Events ", h("span", { class: "count", text: list.length })),
      list.length === 0
        ? h("p", { class: "muted", text: "No events recorded." })
        : h(
            "ol",
            { class: "timeline" },
            list.map((event) =>
              h(
                "li",
                { class: `timeline-item event-${event.event_type}`, dataset: { event: event.event_type } },
                h("span", { class: "timeline-dot", "aria-hidden": "true" }),
                h(
                  "div",
                  { class: "timeline-body" },
                  h("div", { class: "timeline-head" }, h("strong", { text: event.event_type }), " ", timeFull(event.created_at)),
                  event.metadata && Object.keys(event.metadata).length
                    ? h(
                        "dl",
                        { class: "meta" },
                        Object.entries(event.metadata).map(([key, value]) =>
                          h(
                            "div",
                            {},
                            h("dt", { text: key }),
                            h("dd", { class: "mono", text: typeof value === "string" ? value : JSON.stringify(value) }),
                          ),
                        ),
                      )
                    : null,
                ),
              ),
            ),
          ),
    );
  }

  async function loadTokens() {
    const { tokens: list } = await api.tokens(jobId);
    fill(
      tokens,
      h("h2", { class: "card-title" }, "Tokens ", h("span", { class: "count", text: list.length })),
      list.map(tokenBlock),
    );
    tokens.hidden = list.length === 0;
  }

  function tokenBlock(token) {
    const rows = [
      ["Status", statusBadge(token.status), "status"],
      ["Created", timeFull(token.created_at), "created_at"],
      ["Times out", timeFull(token.timeout_at), "timeout_at"],
      ["Completed", timeFull(token.completed_at), "completed_at"],
      ["Tags", tagChips(token.tags), "tags"],
    ];
    if (token.status === "completed") rows.push(["Output", jsonView(token.output), "output"]);
    return h(
      "div",
      { class: "token", dataset: { tokenId: token.id, status: token.status } },
      h("div", { class: "token-id mono", text: token.id }),
      definitionList(rows),
      token.status === "waiting" ? completeForm(token) : null,
    );
  }

  function completeForm(token) {
    const textarea = h("textarea", {
      name: "output",
      rows: 3,
      spellcheck: "false",
      class: "mono",
      "aria-label": "Token output (JSON)",
    });
    textarea.value = "{}";
    const submit = h("button", { type: "submit", class: "button primary", text: "Complete token" });
    return h(
      "form",
      {
        class: "token-form",
        on: {
          submit: async (event) => {
            event.preventDefault();
            let value;
            try {
              value = textarea.value.trim() === "" ? null : JSON.parse(textarea.value);
            } catch {
              toast("The output must be valid JSON.", "error");
              textarea.focus();
              return;
            }
            submit.disabled = true;
            try {
              await api.completeToken(token.id, value);
              toast("Token completed", "success");
              tokenKey = null;
              reload();
            } catch (error) {
              submit.disabled = false;
              toastError(error);
            }
          },
        },
      },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Output (JSON)" }), textarea),
      submit,
    );
  }

  /** Show `fresh`, refetching what depends on it. */
  async function show(fresh) {
    const firstTime = job === null;
    job = fresh;
    if (firstTime) fill(main, page);
    renderJob();
    // Rebuilt only when they can have changed, so a half-typed output survives.
    const key = `${job.status}|${job.wait_token_id}`;
    const tokensChanged = key !== tokenKey;
    tokenKey = key;
    await Promise.all([loadEvents(), tokensChanged ? loadTokens() : null]);
  }

  // The newest job the stream sent and not shown yet; null asks for a fetch.
  let pushed = null;
  const runner = serial(async () => {
    try {
      let fresh = pushed;
      pushed = null;
      if (fresh === null) ({ job: fresh } = await api.job(jobId));
      await show(fresh);
      watch();
    } catch (error) {
      if (error.status === 404) {
        unwatch();
        fill(main, emptyState(`Job #${jobId} does not exist`, "It may have been cleaned up."));
        return;
      }
      toastError(error);
    }
  });
  const reload = () => {
    pushed = null;
    runner.run();
  };

  // The stream pushes the job on every change, then "end" once it is final.
  function watch() {
    if (stopStream || stopped || isFinal(job)) return;
    stopStream = app.live.watch(`/api/jobs/${encodeURIComponent(jobId)}/stream`, {
      job: ({ job: fresh }) => {
        pushed = fresh;
        runner.run();
      },
      end: () => unwatch(),
    });
  }

  function unwatch() {
    if (stopStream) stopStream();
    stopStream = null;
  }

  window.addEventListener(REFRESH_EVENT, reload);
  reload();

  return () => {
    stopped = true;
    runner.stop();
    window.removeEventListener(REFRESH_EVENT, reload);
    unwatch();
  };
}
