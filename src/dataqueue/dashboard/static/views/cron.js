// Cron schedules: expression, zone, next runs, last job; pause and resume,
// run now, and edit.

import { api, readOnly } from "../api.js";
import { emptyState, fill, h, listPage, loading, statusBadge, tagChips, timeAgo, timeFull } from "../dom.js";
import { refresher } from "../refresh.js";
import { toast, toastError } from "../toast.js";

export function mountCron(main, { app }) {
  app.title("Cron");
  const holder = h("div", { class: "card table-card" }, loading());
  fill(
    main,
    listPage("Cron schedules", "Recurring jobs, enqueued when due by any running supervisor or worker.", holder),
  );

  async function load() {
    try {
      const { schedules } = await api.cron();
      render(schedules);
    } catch (error) {
      toastError(error);
    }
  }

  function render(schedules) {
    if (schedules.length === 0) {
      fill(
        holder,
        emptyState("No cron schedules", "Add one with queue.add_cron_job(name, expression, job_type, payload)."),
      );
      return;
    }
    const head = h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Name", "Schedule", "Job type", "Status", "Next runs", "Last enqueued", ""].map((label) =>
          h("th", { scope: "col", text: label }),
        ),
      ),
    );
    fill(holder, h("table", { class: "table cron-table" }, head, h("tbody", {}, schedules.map(row))));
  }

  function row(schedule) {
    const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
    const nextRuns = schedule.next_runs ?? (schedule.next_run_at ? [schedule.next_run_at] : []);
    return h(
      "tr",
      { dataset: { cronId: schedule.id, status: schedule.status } },
      cell(
        "Name",
        h("strong", { text: schedule.schedule_name }),
        schedule.tags.length ? h("div", {}, tagChips(schedule.tags)) : null,
      ),
      cell(
        "Schedule",
        h("code", { class: "cron-expression", text: schedule.cron_expression }),
        h("div", { class: "muted small", text: schedule.timezone }),
      ),
      cell("Job type", h("span", { class: "mono", text: schedule.job_type })),
      cell(
        "Status",
        statusBadge(schedule.status),
        schedule.skipped_runs ? h("div", { class: "muted small", text: `${schedule.skipped_runs} skipped` }) : null,
      ),
      cell(
        "Next runs",
        schedule.status === "paused"
          ? h("span", { class: "muted", text: "paused" })
          : nextRuns.length === 0
            ? h("span", { class: "muted", text: "—" })
            : h(
                "ol",
                { class: "next-runs" },
                nextRuns.map((iso, index) => h("li", {}, index === 0 ? timeFull(iso) : timeAgo(iso))),
              ),
      ),
      cell(
        "Last enqueued",
        schedule.last_enqueued_at ? timeAgo(schedule.last_enqueued_at) : h("span", { class: "muted", text: "never" }),
        schedule.last_job_id === null
          ? null
          : h(
              "div",
              {},
              h("a", { class: "mono", href: app.href(`/jobs/${schedule.last_job_id}`), text: `#${schedule.last_job_id}` }),
            ),
      ),
      h(
        "td",
        { class: "row-actions" },
        readOnly ? null : h("span", { class: "actions" }, runButton(schedule), editButton(schedule), toggleButton(schedule)),
      ),
    );
  }

  function toggleButton(schedule) {
    const paused = schedule.status === "paused";
    const button = h("button", {
      type: "button",
      class: "button small",
      dataset: { action: paused ? "resume" : "pause" },
      text: paused ? "Resume" : "Pause",
      "aria-label": `${paused ? "Resume" : "Pause"} ${schedule.schedule_name}`,
    });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await (paused ? api.resumeCron(schedule.id) : api.pauseCron(schedule.id));
        toast(`${schedule.schedule_name} ${paused ? "resumed" : "paused"}`, "success");
        loader.run();
      } catch (error) {
        button.disabled = false;
        toastError(error);
      }
    });
    return button;
  }

  function runButton(schedule) {
    const button = h("button", {
      type: "button",
      class: "button small",
      dataset: { action: "run" },
      text: "Run now",
      "aria-label": `Run ${schedule.schedule_name} now`,
    });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const { job_id: jobId } = await api.runCron(schedule.id);
        toast(`${schedule.schedule_name}: job #${jobId} enqueued`, "success");
        loader.run();
      } catch (error) {
        toastError(error);
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function editButton(schedule) {
    return h("button", {
      type: "button",
      class: "button small",
      dataset: { action: "edit" },
      text: "Edit",
      "aria-label": `Edit ${schedule.schedule_name}`,
      on: { click: () => editDialog(schedule) },
    });
  }

  function editDialog(schedule) {
    const field = (label, name, value, attrs = {}) =>
      h("label", { class: "field" }, h("span", { class: "field-label", text: label }), h("input", { name, value, autocomplete: "off", ...attrs }));
    const payload = h("textarea", { name: "payload", rows: 4, class: "mono", spellcheck: "false" });
    payload.value = JSON.stringify(schedule.payload, null, 2);
    const form = h(
      "form",
      { class: "cron-form", method: "dialog" },
      field("Expression", "cron_expression", schedule.cron_expression, { class: "mono", required: true }),
      field("Time zone", "timezone", schedule.timezone, { required: true }),
      field("Priority", "priority", String(schedule.priority), { type: "number", step: 1 }),
      field("Max attempts", "max_attempts", String(schedule.max_attempts), { type: "number", min: 1, step: 1 }),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Payload (JSON)" }), payload),
      h(
        "div",
        { class: "dialog-buttons" },
        h("button", { type: "button", class: "button", value: "cancel", text: "Cancel", on: { click: () => dialog.close() } }),
        h("button", { type: "submit", class: "button primary", text: "Save" }),
      ),
    );
    const dialog = h("dialog", { class: "cron-dialog", id: "cron-dialog" }, h("h2", { text: `Edit ${schedule.schedule_name}` }), form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      let parsed;
      try {
        parsed = JSON.parse(data.get("payload") || "null");
      } catch {
        toast("The payload must be valid JSON.", "error");
        return;
      }
      const changes = {
        cron_expression: data.get("cron_expression").trim(),
        timezone: data.get("timezone").trim(),
        priority: Number(data.get("priority")),
        max_attempts: Number(data.get("max_attempts")),
        payload: parsed,
      };
      try {
        await api.editCron(schedule.id, changes);
        toast(`${schedule.schedule_name} saved`, "success");
        dialog.close();
        loader.run();
      } catch (error) {
        toastError(error);
      }
    });
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  const loader = refresher(load);
  const stopLive = app.live.onChange(() => loader.run());
  loader.run();
  return () => {
    loader.stop();
    stopLive();
  };
}
