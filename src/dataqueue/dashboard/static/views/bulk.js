// Bulk actions on the jobs list: select rows, or every job matching the
// filter; retry, cancel or delete them after a confirmation that says how
// many, in batches of BATCH with a progress bar.

import { api } from "../api.js";
import { h, progressBar, setProgress } from "../dom.js";
import { toast, toastError } from "../toast.js";

const BATCH = 100;
const ACTIONS = {
  retry: { label: "Retry", done: "Retried", allowed: "Only failed or cancelled jobs are retried." },
  cancel: { label: "Cancel", done: "Cancelled", allowed: "Only pending or waiting jobs are cancelled." },
  delete: {
    label: "Delete",
    done: "Deleted",
    allowed: "Only finished jobs (completed, cancelled, failed for good) are deleted, with their events.",
  },
};

function plural(count) {
  return `${count.toLocaleString()} job${count === 1 ? "" : "s"}`;
}

/**
 * The selection of one jobs list. `filter()` gives the list's filter as the
 * bulk API takes it; `total()` how many jobs match it, or null when the list
 * shows something else (search results: then only rows can be selected);
 * `done()` runs after an action. Returns the bar to show above the table, a checkbox per row
 * and for the header, and `pageShown(jobs)` to call after each render.
 */
export function createBulk({ filter, total, done }) {
  const selected = new Set();
  let everything = false;
  let pageIds = [];

  const count = h("span", { class: "bulk-count", id: "bulk-count" });
  const everyLink = h("button", {
    type: "button",
    class: "button ghost small",
    id: "bulk-select-all",
    on: {
      click: () => {
        everything = true;
        show();
      },
    },
  });
  const buttons = Object.entries(ACTIONS).map(([action, { label }]) =>
    h("button", {
      type: "button",
      class: `button small${action === "delete" || action === "cancel" ? " danger" : ""}`,
      dataset: { bulk: action },
      text: label,
      on: { click: () => confirmAndRun(action) },
    }),
  );
  const clear = h("button", { type: "button", class: "button ghost small", id: "bulk-clear", text: "Clear", on: { click: () => reset() } });
  const bar = h("div", { class: "bulk-bar", id: "bulk-bar", hidden: true }, count, everyLink, h("span", { class: "bulk-actions" }, buttons, clear));
  const header = h("input", {
    type: "checkbox",
    id: "select-page",
    "aria-label": "Select every job on this page",
    on: {
      change: () => {
        everything = false;
        for (const jobId of pageIds) {
          if (header.checked) selected.add(jobId);
          else selected.delete(jobId);
        }
        syncBoxes();
        show();
      },
    },
  });
  const boxes = new Map();

  function rowBox(job) {
    const box = h("input", {
      type: "checkbox",
      class: "row-select",
      "aria-label": `Select job ${job.id}`,
      checked: everything || selected.has(job.id),
      on: {
        change: () => {
          everything = false;
          if (box.checked) selected.add(job.id);
          else selected.delete(job.id);
          show();
        },
      },
    });
    boxes.set(job.id, box);
    return box;
  }

  function pageShown(jobs) {
    pageIds = jobs.map((job) => job.id);
    for (const jobId of [...boxes.keys()]) if (!pageIds.includes(jobId)) boxes.delete(jobId);
    show();
  }

  function syncBoxes() {
    for (const [jobId, box] of boxes) box.checked = everything || selected.has(jobId);
  }

  function size() {
    return everything ? total() ?? 0 : selected.size;
  }

  function show() {
    const n = size();
    bar.hidden = n === 0;
    count.textContent = everything ? `All ${plural(n)} matching this filter` : `${plural(n)} selected`;
    const allOnPage = pageIds.length > 0 && pageIds.every((jobId) => selected.has(jobId));
    header.checked = everything || allOnPage;
    const matching = total();
    everyLink.hidden = everything || !allOnPage || matching === null || matching <= selected.size;
    if (matching !== null) everyLink.textContent = `Select all ${plural(matching)} matching this filter`;
    syncBoxes();
  }

  function reset() {
    selected.clear();
    everything = false;
    show();
  }

  function confirmAndRun(action) {
    const n = size();
    const { label, allowed } = ACTIONS[action];
    const progress = progressBar(0);
    const status = h("p", { class: "bulk-progress-text", id: "bulk-progress-text" });
    const go = h("button", { type: "button", class: `button ${action === "retry" ? "primary" : "danger"}`, id: "bulk-confirm", text: `${label} ${plural(n)}` });
    const stop = h("button", { type: "button", class: "button", id: "bulk-dismiss", text: "Back" });
    const dialog = h(
      "dialog",
      { class: "bulk-dialog", id: "bulk-dialog", "aria-labelledby": "bulk-title" },
      h("h2", { id: "bulk-title", text: `${label} ${plural(n)}?` }),
      h("p", { text: allowed }),
      h("div", { class: "bulk-progress", hidden: true }, progress, status),
      h("div", { class: "dialog-buttons" }, stop, go),
    );
    let running = false;
    let halted = false;
    stop.addEventListener("click", () => {
      if (running) halted = true;
      else dialog.close();
    });
    dialog.addEventListener("close", () => dialog.remove());
    go.addEventListener("click", async () => {
      running = true;
      go.disabled = true;
      stop.textContent = "Stop";
      dialog.querySelector(".bulk-progress").hidden = false;
      const tally = { changed: 0, unchanged: 0 };
      const report = () => {
        const handled = tally.changed + tally.unchanged;
        setProgress(progress, Math.min(100, Math.round((handled / Math.max(1, n)) * 100)));
        status.textContent = `${handled.toLocaleString()} of ${n.toLocaleString()}`;
      };
      report();
      try {
        await (everything ? runFilter(action, n, tally, report, () => halted) : runIds(action, [...selected], tally, report, () => halted));
        toast(
          `${ACTIONS[action].done} ${plural(tally.changed)}` + (tally.unchanged ? ` (${plural(tally.unchanged)} left as they were)` : ""),
          "success",
        );
      } catch (error) {
        toastError(error);
      } finally {
        dialog.close();
        reset();
        done();
      }
    });
    document.body.append(dialog);
    dialog.showModal();
  }

  async function runIds(action, ids, tally, report, halted) {
    for (let start = 0; start < ids.length && !halted(); start += BATCH) {
      const result = await api.bulk({ action, ids: ids.slice(start, start + BATCH) });
      tally.changed += result.changed.length;
      tally.unchanged += result.unchanged;
      report();
    }
  }

  // The confirmed count bounds the run: jobs added meanwhile may match too.
  async function runFilter(action, n, tally, report, halted) {
    let offset = 0;
    while (tally.changed + tally.unchanged < n && !halted()) {
      const result = await api.bulk({ action, filter: filter(), offset });
      tally.changed += result.changed.length;
      tally.unchanged += result.unchanged;
      report();
      if (result.done) break;
      offset = result.next_offset;
    }
  }

  return { bar, header, rowBox, pageShown, reset };
}
