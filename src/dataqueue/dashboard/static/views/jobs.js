// The jobs list: status tabs with counts, type and tag filters, search by
// id or payload text, pages, inline cancel / retry, bulk actions on a
// selection or a whole filter, refreshed live from the shared stream.

import { api, readOnly } from "../api.js";
import {
  attemptsText,
  emptyState,
  fill,
  h,
  progressBar,
  statusBadge,
  tabKeys,
  tagChips,
  timeAgo,
} from "../dom.js";
import { refresher } from "../refresh.js";
import { toast, toastError } from "../toast.js";
import { jobActions } from "./actions.js";
import { createBulk } from "./bulk.js";

const PAGE_SIZE = 20;
const STATUSES = ["pending", "processing", "completed", "failed", "cancelled", "waiting"];
const TABS = [["all", "All"], ...STATUSES.map((status) => [status, capitalize(status)])];
const AUTO_REFRESH_KEY = "dataqueue-auto-refresh";

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function parseTags(text) {
  return text
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
}

function readState(query) {
  const status = query.get("status");
  const page = Number.parseInt(query.get("page") || "1", 10);
  return {
    status: STATUSES.includes(status) ? status : "all",
    jobType: query.get("job_type") || "",
    tags: query.get("tags") || "",
    q: query.get("q") || "",
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

export function mountJobs(main, { query, app }) {
  app.title("Jobs");
  const state = readState(query);
  let autoRefresh = localStorage.getItem(AUTO_REFRESH_KEY) !== "off";
  let staleWhilePaused = false;
  let lastCounts = null;
  let revealed = null;

  // ---- the static frame; the data parts are filled by `load` ----

  const tabButtons = new Map();
  const tabList = tabKeys(h(
    "div",
    { class: "tabs", role: "tablist", "aria-label": "Status" },
    TABS.map(([status, label]) => {
      const count = h("span", { class: "count", text: "" });
      const button = h(
        "button",
        {
          type: "button",
          role: "tab",
          class: `tab tab-${status}`,
          dataset: { status },
          on: { click: () => update({ status, page: 1 }) },
        },
        h("span", { class: "tab-label", text: label }),
        count,
      );
      tabButtons.set(status, { button, count });
      return button;
    }),
  ));
  const tabs = scrollHint(tabList);

  // Free text, with the types the dashboard knows as suggestions: jobs of
  // any type can be in the store.
  const typeOptions = h("datalist", { id: "job-type-options" });
  const typeInput = h("input", {
    id: "filter-job-type",
    name: "job_type",
    type: "search",
    list: "job-type-options",
    placeholder: "All job types",
    autocomplete: "off",
    value: state.jobType,
    on: { change: () => filters.requestSubmit() },
  });
  const tagInput = h("input", {
    id: "filter-tags",
    name: "tags",
    type: "search",
    placeholder: "tag, another",
    autocomplete: "off",
    value: state.tags,
  });
  const searchInput = h("input", {
    id: "filter-search",
    name: "q",
    type: "search",
    placeholder: "#123 or text in the payload",
    autocomplete: "off",
    value: state.q,
  });
  const filters = h(
    "form",
    {
      class: "filters",
      role: "search",
      on: {
        submit: (event) => {
          event.preventDefault();
          update({
            jobType: typeInput.value.trim(),
            tags: parseTags(tagInput.value).join(","),
            q: searchInput.value.trim(),
            page: 1,
          });
        },
      },
    },
    h("label", { class: "field grow" }, h("span", { class: "field-label", text: "Search" }), searchInput),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Job type" }), typeInput, typeOptions),
    h(
      "label",
      { class: "field grow" },
      h("span", { class: "field-label", text: "Tags (all of)" }),
      tagInput,
    ),
    h("button", { type: "submit", class: "button", text: "Apply" }),
    h("button", {
      type: "button",
      class: "button ghost",
      id: "filter-clear",
      text: "Clear",
      on: {
        click: () => {
          typeInput.value = "";
          tagInput.value = "";
          searchInput.value = "";
          update({ jobType: "", tags: "", q: "", page: 1 });
        },
      },
    }),
  );

  const autoToggle = h("input", {
    type: "checkbox",
    role: "switch",
    id: "auto-refresh",
    checked: autoRefresh,
    on: {
      change: () => {
        autoRefresh = autoToggle.checked;
        localStorage.setItem(AUTO_REFRESH_KEY, autoRefresh ? "on" : "off");
        if (autoRefresh && staleWhilePaused) loader.run();
        showStale();
      },
    },
  });
  const staleButton = h("button", {
    type: "button",
    class: "button small stale-notice",
    id: "stale-notice",
    text: "New changes · refresh",
    hidden: true,
    on: { click: () => loader.run() },
  });
  const tableHolder = h("div", { class: "card table-card" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const bulk = createBulk({
    filter: () => ({
      status: state.status === "all" ? null : state.status,
      job_type: state.jobType || null,
      tags: parseTags(state.tags),
    }),
    // Search results are not the filter's jobs: only their rows are offered.
    total: () => (state.q ? null : totalFor(state.status)),
    done: () => loader.run(),
  });

  fill(
    main,
    h(
      "section",
      { class: "page" },
      h(
        "div",
        { class: "page-head" },
        h("h1", { text: "Jobs" }),
        h(
          "div",
          { class: "page-tools" },
          staleButton,
          h("label", { class: "switch" }, autoToggle, h("span", { class: "switch-track" }), "Auto-refresh"),
        ),
      ),
      tabs,
      filters,
      bulk.bar,
      tableHolder,
      pager,
    ),
  );

  // ---- data ----

  function update(changes) {
    Object.assign(state, changes);
    app.setQuery({
      status: state.status === "all" ? "" : state.status,
      job_type: state.jobType,
      tags: state.tags,
      q: state.q,
      page: state.page > 1 ? state.page : "",
    });
    bulk.reset();
    watch();
    loader.run();
  }

  function showStale() {
    staleButton.hidden = autoRefresh || !staleWhilePaused;
  }

  async function loadJobTypes() {
    try {
      const { job_types: jobTypes } = await api.jobTypes();
      fill(
        typeOptions,
        jobTypes.map((jobType) => h("option", { value: jobType })),
      );
    } catch (error) {
      toastError(error);
    }
  }

  function listParams() {
    return {
      job_type: state.jobType,
      tags: parseTags(state.tags),
      status: state.status === "all" ? "" : state.status,
      limit: PAGE_SIZE,
      offset: (state.page - 1) * PAGE_SIZE,
    };
  }

  async function load() {
    const asked = JSON.stringify(state);
    try {
      const { limit, offset, ...filtersOnly } = listParams();
      const [countsResponse, jobsResponse] = await Promise.all([
        api.counts({ job_type: state.jobType, tags: parseTags(state.tags) }),
        state.q ? api.search({ ...filtersOnly, q: state.q, limit: PAGE_SIZE }) : api.jobs({ ...filtersOnly, limit, offset }),
      ]);
      // The filters or page changed meanwhile: a load for them follows.
      if (JSON.stringify(state) !== asked) return;
      staleWhilePaused = false;
      showStale();
      lastCounts = countsResponse.counts;
      renderTabs();
      renderTable(jobsResponse.jobs);
      if (state.q) renderSearchNote(jobsResponse);
      else renderPager(jobsResponse.jobs.length, jobsResponse.has_more);
      bulk.pageShown(jobsResponse.jobs);
    } catch (error) {
      toastError(error);
    }
  }

  function totalFor(status) {
    if (!lastCounts) return null;
    if (status === "all") return STATUSES.reduce((sum, name) => sum + (lastCounts[name] || 0), 0);
    return lastCounts[status] || 0;
  }

  function renderTabs() {
    // Once the counts have given the tabs their widths, the chosen one is
    // brought on screen (on a phone "Failed" starts off to the right).
    if (lastCounts && revealed !== state.status) {
      revealed = state.status;
      requestAnimationFrame(() => tabButtons.get(state.status).button.scrollIntoView({ block: "nearest", inline: "nearest" }));
    }
    for (const [status, { button, count }] of tabButtons) {
      const selected = status === state.status;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      const total = totalFor(status);
      count.textContent = total === null ? "" : total.toLocaleString();
    }
  }

  function renderTable(jobs) {
    if (jobs.length === 0) {
      const filtered = state.jobType || state.tags || state.q;
      const scope = state.status === "all" ? "jobs" : `${state.status} jobs`;
      fill(
        tableHolder,
        emptyState(
          filtered ? `No ${scope} match these filters` : `No ${scope}`,
          filtered
            ? "Clear the filters to see every job."
            : state.status === "all"
              ? "Jobs appear here as soon as your app adds them with queue.add_job()."
              : "Jobs show up here when they reach this status.",
        ),
      );
      return;
    }
    const head = h(
      "thead",
      {},
      h(
        "tr",
        {},
        readOnly ? null : h("th", { scope: "col", class: "select-cell" }, bulk.header),
        ["ID", "Type", "Status", "Tags", "Attempts", "Priority", "Progress", "Created", ""].map((label) =>
          h("th", { scope: "col", text: label }),
        ),
      ),
    );
    const body = h("tbody", {}, jobs.map(jobRow));
    fill(tableHolder, h("table", { class: "table jobs-table" }, head, body));
  }

  function jobRow(job) {
    const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
    return h(
      "tr",
      { dataset: { jobId: job.id, status: job.status } },
      readOnly ? null : h("td", { class: "select-cell" }, bulk.rowBox(job)),
      cell("ID", h("a", { class: "job-link mono", href: app.href(`/jobs/${job.id}`), text: `#${job.id}` })),
      cell("Type", h("span", { class: "mono", text: job.job_type })),
      cell(
        "Status",
        statusBadge(job.status),
        statusNote(job),
        job.last_error && job.status === "failed" ? h("div", { class: "row-error", title: job.last_error, text: job.last_error }) : null,
      ),
      cell("Tags", tagChips(job.tags)),
      cell("Attempts", attemptsText(job, " / ")),
      cell("Priority", String(job.priority)),
      cell("Progress", job.progress === null ? h("span", { class: "muted", text: "—" }) : progressBar(job.progress)),
      cell("Created", timeAgo(job.created_at)),
      h(
        "td",
        { class: "row-actions" },
        jobActions(job, {
          small: true,
          done: (message) => {
            toast(message, "success");
            loader.run();
          },
        }),
      ),
    );
  }

  function renderPager(shown, hasMore) {
    const total = totalFor(state.status);
    const first = (state.page - 1) * PAGE_SIZE;
    const pages = total === null ? null : Math.max(1, Math.ceil(total / PAGE_SIZE));
    const hasNext = hasMore;
    fill(
      pager,
      h("span", {
        class: "pager-info",
        text:
          shown === 0
            ? ""
            : `${(first + 1).toLocaleString()}–${(first + shown).toLocaleString()}` +
              (total === null ? "" : ` of ${total.toLocaleString()}`),
      }),
      h(
        "span",
        { class: "pager-buttons" },
        h("button", {
          type: "button",
          class: "button small",
          id: "page-prev",
          text: "← Previous",
          disabled: state.page <= 1,
          on: { click: () => update({ page: state.page - 1 }) },
        }),
        h("span", {
          class: "pager-page",
          id: "page-number",
          text: pages === null ? `Page ${state.page}` : `Page ${state.page} of ${pages}`,
        }),
        h("button", {
          type: "button",
          class: "button small",
          id: "page-next",
          text: "Next →",
          disabled: !hasNext,
          on: { click: () => update({ page: state.page + 1 }) },
        }),
      ),
    );
  }

  function renderSearchNote(found) {
    fill(
      pager,
      h("span", {
        class: "pager-info",
        id: "search-note",
        dataset: { indexed: found.indexed ? "yes" : "no" },
        text: found.indexed
          ? `${found.jobs.length.toLocaleString()} found (every job searched, through the payload index)`
          : `${found.jobs.length.toLocaleString()} found among the newest ${found.scanned.toLocaleString()} jobs` +
            (found.exhausted ? " (every job searched)" : ` (a search reads at most ${found.scan_limit.toLocaleString()})`),
      }),
    );
  }

  function statusNote(job) {
    if (job.status === "failed" && job.next_attempt_at) {
      return h("span", { class: "status-note" }, "retry ", timeAgo(job.next_attempt_at));
    }
    if (job.status === "waiting" && job.wait_token_id) {
      return h("span", { class: "status-note", text: "for a token" });
    }
    if (job.status === "waiting" && job.wait_until) {
      return h("span", { class: "status-note" }, "until ", timeAgo(job.wait_until));
    }
    return null;
  }

  const loader = refresher(load);
  let stopLive = () => {};
  function watch() {
    stopLive();
    stopLive = app.live.onChange(() => {
      if (autoRefresh) loader.run();
      else {
        staleWhilePaused = true;
        showStale();
      }
    }, listParams());
  }
  renderTabs();
  loadJobTypes();
  watch();
  loader.run();

  return () => {
    loader.stop();
    stopLive();
  };
}

/**
 * Wrap a sideways-scrolling tab list: fades and arrow buttons show that
 * more tabs lie beyond an edge (on a phone "Failed" is off-screen), and the
 * selected tab is scrolled into view.
 */
function scrollHint(list) {
  const step = (direction) => () => list.scrollBy({ left: direction * list.clientWidth * 0.7, behavior: "smooth" });
  const before = h("button", { type: "button", class: "tabs-more tabs-more-left", "aria-label": "More tabs to the left", tabindex: "-1", text: "‹", on: { click: step(-1) } });
  const after = h("button", { type: "button", class: "tabs-more tabs-more-right", "aria-label": "More tabs to the right", tabindex: "-1", text: "›", on: { click: step(1) } });
  const wrap = h("div", { class: "tabs-wrap" }, list, before, after);
  const update = () => {
    const overflow = list.scrollWidth - list.clientWidth;
    wrap.dataset.moreLeft = String(overflow > 1 && list.scrollLeft > 1);
    wrap.dataset.moreRight = String(overflow > 1 && list.scrollLeft < overflow - 1);
  };
  list.addEventListener("scroll", update, { passive: true });
  new ResizeObserver(update).observe(list);
  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) tab.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
  requestAnimationFrame(update);
  return wrap;
}
