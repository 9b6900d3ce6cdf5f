// Flows: steps running in parallel behind a barrier, then one join job.

import { api } from "../api.js";
import {
  emptyState,
  fill,
  h,
  jsonView,
  listPage,
  loading,
  progressBar,
  shortId,
  statusBadge,
  tabKeys,
  timeAgo,
  timeFull,
} from "../dom.js";
import { refresher } from "../refresh.js";
import { toastError } from "../toast.js";

const PAGE_SIZE = 25;
const STATUSES = ["running", "ready", "joined"];

function barrier(flow) {
  const done = flow.total_steps - flow.remaining_steps;
  const percent = flow.total_steps === 0 ? 100 : Math.round((done / flow.total_steps) * 100);
  const bar = progressBar(percent, { label: false });
  return h(
    "span",
    { class: "barrier" },
    bar,
    h("span", { class: "barrier-text", text: `${done} / ${flow.total_steps} steps` }),
  );
}

function flowFlags(flow) {
  return [
    flow.aborted ? h("span", { class: "badge status-failed", text: "aborted" }) : null,
    flow.timed_out ? h("span", { class: "badge status-failed", text: "timed out" }) : null,
  ];
}

function joinLink(app, flow) {
  if (flow.join_job_id === null) return h("span", { class: "mono muted", text: flow.join_job_type });
  return h(
    "span",
    {},
    h("span", { class: "mono", text: flow.join_job_type }),
    " ",
    h("a", { class: "mono", href: app.href(`/jobs/${flow.join_job_id}`), text: `#${flow.join_job_id}` }),
  );
}

export function mountFlows(main, { query, app }) {
  app.title("Flows");
  const requested = query.get("status");
  const page = Math.max(1, Number.parseInt(query.get("page") || "1", 10) || 1);
  const state = { status: STATUSES.includes(requested) ? requested : "all", page };

  const tabs = tabKeys(h("div", { class: "tabs", role: "tablist", "aria-label": "Flow status" }));
  const holder = h("div", { class: "card table-card" }, loading());
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  fill(
    main,
    listPage("Flows", "Steps that run in parallel, and the join that runs once after them.", tabs, holder, pager),
  );

  function update(changes) {
    Object.assign(state, changes);
    app.setQuery({ status: state.status === "all" ? "" : state.status, page: state.page > 1 ? state.page : "" });
    loader.run();
  }

  const tabButtons = ["all", ...STATUSES].map((status) =>
    h("button", {
      type: "button",
      role: "tab",
      class: "tab",
      dataset: { status },
      text: status.charAt(0).toUpperCase() + status.slice(1),
      on: { click: () => update({ status, page: 1 }) },
    }),
  );
  fill(tabs, tabButtons);

  function renderTabs() {
    for (const button of tabButtons) {
      const selected = button.dataset.status === state.status;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
  }

  async function load() {
    const asked = JSON.stringify(state);
    try {
      const { flows, has_more: hasMore } = await api.flows({
        status: state.status === "all" ? "" : state.status,
        limit: PAGE_SIZE,
        offset: (state.page - 1) * PAGE_SIZE,
      });
      // The tab or page changed meanwhile: a load for them follows.
      if (JSON.stringify(state) !== asked) return;
      render(flows, hasMore);
    } catch (error) {
      toastError(error);
    }
  }

  function render(flows, hasMore) {
    renderTabs();
    if (flows.length === 0) {
      fill(holder, emptyState("No flows", "Start one with queue.start_flow(steps, join)."));
    } else {
      const head = h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Flow", "Status", "Barrier", "Policy", "Join", "Created"].map((label) => h("th", { scope: "col", text: label })),
        ),
      );
      const rows = flows.map((flow) => {
        const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
        return h(
          "tr",
          { dataset: { flowId: flow.id } },
          cell(
            "Flow",
            h("a", { class: "flow-name", href: app.href(`/flows/${encodeURIComponent(flow.id)}`), text: flowName(flow) }),
            h("div", { class: "muted small mono", text: shortId(flow.id) }),
          ),
          cell("Status", statusBadge(flow.status), " ", flowFlags(flow)),
          cell("Barrier", barrier(flow)),
          cell("Policy", flow.failure_policy),
          cell("Join", joinLink(app, flow)),
          cell("Created", timeAgo(flow.created_at)),
        );
      });
      fill(holder, h("table", { class: "table flows-table" }, head, h("tbody", {}, rows)));
    }
    fill(
      pager,
      h("span", { class: "pager-info" }),
      h(
        "span",
        { class: "pager-buttons" },
        h("button", {
          type: "button",
          class: "button small",
          text: "← Previous",
          disabled: state.page <= 1,
          on: { click: () => update({ page: state.page - 1 }) },
        }),
        h("span", { class: "pager-page", text: `Page ${state.page}` }),
        h("button", {
          type: "button",
          class: "button small",
          text: "Next →",
          disabled: !hasMore,
          on: { click: () => update({ page: state.page + 1 }) },
        }),
      ),
    );
  }

  const loader = refresher(load);
  const stopLive = app.live.onChange(() => loader.run());
  renderTabs();
  loader.run();
  return () => {
    loader.stop();
    stopLive();
  };
}

export function mountFlow(main, { params, app }) {
  const flowId = params[0];
  app.title(`Flow ${shortId(flowId)}`);
  fill(main, loading());

  async function load() {
    try {
      const { flow } = await api.flow(flowId);
      render(flow);
    } catch (error) {
      if (error.status === 404) {
        fill(main, emptyState("This flow does not exist", "It may have been cleaned up."));
        return;
      }
      toastError(error);
    }
  }

  function render(flow) {
    const done = flow.total_steps - flow.remaining_steps;
    const stepRows = flow.steps.map((step) => {
      const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
      return h(
        "tr",
        { dataset: { stepIndex: step.step_index } },
        cell("Step", String(step.step_index + 1)),
        cell("Job", h("a", { class: "mono", href: app.href(`/jobs/${step.job_id}`), text: `#${step.job_id}` })),
        cell("Type", h("span", { class: "mono", text: step.job_type })),
        cell("Status", statusBadge(step.status)),
        cell(
          "Outcome",
          step.outcome ? h("span", { class: `badge outcome-${step.outcome}`, text: step.outcome }) : h("span", { class: "muted", text: "—" }),
        ),
        cell(
          "Result",
          step.error
            ? h("pre", { class: "error-message", text: step.error })
            : step.result === null || step.result === undefined
              ? h("span", { class: "muted", text: "—" })
              : jsonView(step.result),
        ),
      );
    });
    fill(
      main,
      h(
        "section",
        { class: "page" },
        h(
          "nav",
          { class: "breadcrumb", "aria-label": "Breadcrumb" },
          h("a", { href: app.href("/flows"), text: "Flows" }),
          h("span", { "aria-hidden": "true", text: "/" }),
          h("span", { text: flowName(flow) }),
        ),
        h(
          "div",
          { class: "page-head" },
          h(
            "div",
            { class: "title-block" },
            h("h1", {}, flowName(flow), " ", statusBadge(flow.status), " ", flowFlags(flow)),
            h("p", { class: "subtitle mono", text: flow.id }),
          ),
        ),
        h(
          "div",
          { class: "detail-grid" },
          h(
            "div",
            { class: "detail-main" },
            h(
              "section",
              { class: "card", id: "flow-barrier" },
              h("h2", { class: "card-title", text: "Barrier" }),
              h(
                "div",
                { class: "barrier-big" },
                progressBar(flow.total_steps === 0 ? 100 : Math.round((done / flow.total_steps) * 100)),
                h("p", {
                  class: "barrier-text",
                  text:
                    flow.remaining_steps === 0
                      ? `All ${flow.total_steps} steps finished`
                      : `${done} of ${flow.total_steps} steps finished, ${flow.remaining_steps} to go`,
                }),
              ),
            ),
            h(
              "section",
              { class: "card table-card", id: "flow-steps" },
              h("h2", { class: "card-title", text: "Steps" }),
              flow.steps.length === 0
                ? emptyState("No steps")
                : h(
                    "table",
                    { class: "table" },
                    h(
                      "thead",
                      {},
                      h(
                        "tr",
                        {},
                        ["Step", "Job", "Type", "Status", "Outcome", "Result"].map((label) =>
                          h("th", { scope: "col", text: label }),
                        ),
                      ),
                    ),
                    h("tbody", {}, stepRows),
                  ),
            ),
          ),
          h(
            "div",
            { class: "detail-side" },
            h(
              "section",
              { class: "card", id: "flow-join" },
              h("h2", { class: "card-title", text: "Join" }),
              h(
                "dl",
                { class: "props" },
                prop("Job type", h("span", { class: "mono", text: flow.join_job_type })),
                prop(
                  "Join job",
                  flow.join_job_id === null
                    ? h("span", { class: "muted", text: "not yet enqueued" })
                    : h("a", { class: "mono", href: app.href(`/jobs/${flow.join_job_id}`), text: `#${flow.join_job_id}` }),
                ),
                prop("Failure policy", flow.failure_policy),
                prop("Aborted", flow.aborted ? "yes" : "no"),
                prop("Timed out", flow.timed_out ? "yes" : "no"),
                prop("Times out", timeFull(flow.timeout_at)),
                prop("Entity", flow.entity ? h("span", { class: "mono", text: `${flow.entity.type}:${flow.entity.id}` }) : "—"),
                prop("Created", timeFull(flow.created_at)),
                prop("Updated", timeFull(flow.updated_at)),
              ),
            ),
          ),
        ),
      ),
    );
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

/** A flow's name: its entity ("item item-1") and its join's job type. */
export function flowName(flow) {
  const entity = flow.entity ? `${flow.entity.type} ${flow.entity.id} · ` : "";
  return `${entity}${flow.join_job_type}`;
}
