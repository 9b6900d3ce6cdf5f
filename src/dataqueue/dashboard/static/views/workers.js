// Live workers: where they run, their heartbeats, what they hold now, what
// they have done; "Stop taking jobs" quiets one (it finishes what it runs).

import { api, readOnly } from "../api.js";
import { emptyState, fill, h, listPage, loading, progressBar, tagChips, timeAgo, timeFull } from "../dom.js";
import { refresher } from "../refresh.js";
import { toast, toastError } from "../toast.js";

// A heartbeat older than this is shown as late (workers beat every few seconds).
const LATE_AFTER_MS = 60_000;
const RUNNING_LIMIT = 500;

export function mountWorkers(main, { app }) {
  app.title("Workers");
  const holder = h("div", { class: "workers" }, loading());
  fill(main, listPage("Workers", "Processors that are running now, as their heartbeats report them.", holder));

  async function load() {
    try {
      const [{ workers }, { jobs }] = await Promise.all([
        api.workers(),
        api.jobs({ status: "processing", limit: RUNNING_LIMIT }),
      ]);
      // A worker's heartbeat lists its jobs only every few seconds; the
      // store's locks say which it holds now, and their changes are pushed.
      const held = new Map();
      for (const job of jobs) {
        if (!held.has(job.locked_by)) held.set(job.locked_by, []);
        held.get(job.locked_by).push(job.id);
      }
      render(workers, held);
    } catch (error) {
      toastError(error);
    }
  }

  function render(workers, held) {
    if (workers.length === 0) {
      fill(
        holder,
        emptyState(
          "No workers running",
          "Start one with `dataqueue worker module:handlers`, or press Process jobs to run one batch here.",
        ),
      );
      return;
    }
    fill(
      holder,
      workers.map((worker) => workerCard(worker, held.get(worker.id) ?? [])),
    );
  }

  function workerCard(worker, runningJobIds) {
    const late = Date.now() - new Date(worker.last_heartbeat).getTime() > LATE_AFTER_MS;
    const running = runningJobIds.length;
    return h(
      "article",
      { class: "card worker", dataset: { workerId: worker.id } },
      h(
        "header",
        { class: "worker-head" },
        h("span", { class: `live-dot${late ? " late" : ""}`, "aria-hidden": "true" }),
        h("h2", { class: "worker-host", text: `${worker.host} · pid ${worker.pid}` }),
        worker.quiet ? h("span", { class: "badge status-quiet", text: "quiet" }) : null,
        readOnly || worker.quiet ? null : quietButton(worker),
      ),
      h("p", { class: "worker-id mono muted", text: worker.id }),
      h(
        "dl",
        { class: "props" },
        prop("Last heartbeat", h("span", { class: late ? "late-text" : "" }, timeAgo(worker.last_heartbeat))),
        prop("Started", timeFull(worker.started_at)),
        prop(
          "Done",
          h(
            "span",
            { class: "worker-counts" },
            h("span", { dataset: { count: "processed" }, text: `${worker.processed.toLocaleString()} processed` }),
            " · ",
            h("span", { class: worker.failed ? "late-text" : "", dataset: { count: "failed" }, text: `${worker.failed.toLocaleString()} failed` }),
          ),
        ),
        prop("Job types", worker.job_types === null ? "all" : tagChips(worker.job_types)),
        prop(
          "Busy",
          h(
            "span",
            { class: "busy" },
            progressBar(Math.round((running / Math.max(1, worker.concurrency)) * 100), { label: false }),
            ` ${running} of ${worker.concurrency} slots`,
          ),
        ),
        prop(
          "Running jobs",
          running === 0
            ? h("span", { class: "muted", text: "idle" })
            : h(
                "span",
                { class: "chips" },
                runningJobIds.map((jobId) =>
                  h("a", { class: "chip mono", href: app.href(`/jobs/${jobId}`), text: `#${jobId}` }),
                ),
              ),
        ),
      ),
    );
  }

  function quietButton(worker) {
    const button = h("button", {
      type: "button",
      class: "button small danger",
      dataset: { action: "quiet" },
      text: "Stop taking jobs",
      "aria-label": `Stop worker ${worker.id} taking jobs`,
    });
    button.addEventListener("click", async () => {
      const question = `Ask ${worker.host} · pid ${worker.pid} to stop taking jobs? It finishes what it runs, then idles until it is restarted.`;
      if (!window.confirm(question)) return;
      button.disabled = true;
      try {
        await api.quietWorker(worker.id);
        toast("The worker will stop taking jobs at its next heartbeat", "success");
        loader.run();
      } catch (error) {
        button.disabled = false;
        toastError(error);
      }
    });
    return button;
  }

  const loader = refresher(load);
  const stopLive = app.live.onChange(() => loader.run());
  loader.run();
  return () => {
    loader.stop();
    stopLive();
  };
}

function prop(label, value) {
  return h("div", { class: "prop" }, h("dt", { text: label }), h("dd", {}, value));
}
