// Building DOM without markup strings: every piece of data becomes a text
// node, so a payload holding "<script>" is shown, never run.

/**
 * Create an element. `props` keys: `class`, `text`, `on` ({event: fn}),
 * `dataset`, anything else is set as an attribute (false/null skip it).
 * Children may be nodes, strings (text nodes), arrays, or null (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = String(value);
    else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) {
        element.addEventListener(event, handler);
      }
    } else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.append(child);
    else parent.append(document.createTextNode(String(child)));
  }
}

/** Replace everything inside `element` with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// ---- time ----------------------------------------------------------------

const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function formatAbsolute(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : absoluteFormat.format(date);
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

export function formatRelative(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = (new Date(iso).getTime() - now) / 1000;
  if (Number.isNaN(seconds)) return String(iso);
  if (Math.abs(seconds) < 5) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relativeFormat.format(Math.round(seconds / size), unit);
    }
  }
  return String(iso);
}

/** A <time> showing "3 minutes ago", kept fresh by `tickTimes`. */
export function timeAgo(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  return h("time", {
    datetime: iso,
    title: formatAbsolute(iso),
    dataset: { relative: "" },
    text: formatRelative(iso),
  });
}

/** A <time> showing the absolute local time, with the relative one beside. */
export function timeFull(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  return h(
    "span",
    { class: "time-full" },
    h("time", { datetime: iso, text: formatAbsolute(iso) }),
    h("span", { class: "time-rel" }, timeAgo(iso)),
  );
}

export function tickTimes(root = document) {
  const now = Date.now();
  for (const element of root.querySelectorAll("time[data-relative]")) {
    element.textContent = formatRelative(element.getAttribute("datetime"), now);
  }
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${+(seconds / 60).toFixed(1)} min`;
  return `${+(seconds / 3600).toFixed(1)} h`;
}

// ---- JSON ----------------------------------------------------------------

/** Pretty-printed, highlighted JSON built from text nodes only. */
export function jsonView(value) {
  const code = h("code");
  writeJson(code, value, "");
  return h("pre", { class: "json" }, code);
}

function writeJson(out, value, indent) {
  if (value === null || value === undefined) {
    out.append(h("span", { class: "j-null", text: "null" }));
  } else if (Array.isArray(value)) {
    if (value.length === 0) return void out.append("[]");
    out.append("[\n");
    value.forEach((item, index) => {
      out.append(`${indent}  `);
      writeJson(out, item, `${indent}  `);
      out.append(index < value.length - 1 ? ",\n" : "\n");
    });
    out.append(`${indent}]`);
  } else if (typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return void out.append("{}");
    out.append("{\n");
    entries.forEach(([key, item], index) => {
      out.append(`${indent}  `);
      out.append(h("span", { class: "j-key", text: JSON.stringify(key) }));
      out.append(": ");
      writeJson(out, item, `${indent}  `);
      out.append(index < entries.length - 1 ? ",\n" : "\n");
    });
    out.append(`${indent}}`);
  } else if (typeof value === "string") {
    out.append(h("span", { class: "j-string", text: JSON.stringify(value) }));
  } else if (typeof value === "number") {
    out.append(h("span", { class: "j-number", text: String(value) }));
  } else if (typeof value === "boolean") {
    out.append(h("span", { class: "j-bool", text: String(value) }));
  } else {
    out.append(String(value));
  }
}

// ---- small widgets ---------------------------------------------------------

// The attempt a job is on: a waiting job gave its attempt back while it
// waits, and a job retried by hand may have run more than max_attempts times.
export function attemptsText(job, joiner = " of ") {
  const attempt = job.status === "waiting" ? job.attempts + 1 : job.attempts;
  if (attempt > job.max_attempts) return `${attempt} (max ${job.max_attempts}, retried by hand)`;
  return `${attempt}${joiner}${job.max_attempts}`;
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, text: status });
}

export function tagChips(tags) {
  if (!tags || tags.length === 0) return h("span", { class: "muted", text: "—" });
  return h(
    "span",
    { class: "chips" },
    tags.map((tag) => h("span", { class: "chip", text: tag })),
  );
}

/** A progress bar; `value` 0–100 or null (shown as a dash). */
export function progressBar(value, { label = true } = {}) {
  const fill = h("span", { class: "progress-fill" });
  const bar = h(
    "span",
    { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 },
    fill,
  );
  const text = h("span", { class: "progress-text" });
  const wrapper = h("span", { class: "progress-wrap" }, bar, label ? text : null);
  setProgress(wrapper, value);
  return wrapper;
}

export function setProgress(wrapper, value) {
  const bar = wrapper.querySelector(".progress");
  const known = typeof value === "number";
  const percent = known ? Math.max(0, Math.min(100, value)) : 0;
  // CSSOM writes are allowed under the page's CSP; style attributes are not.
  bar.querySelector(".progress-fill").style.width = `${percent}%`;
  bar.classList.toggle("unknown", !known);
  if (known) bar.setAttribute("aria-valuenow", String(percent));
  else bar.removeAttribute("aria-valuenow");
  const text = wrapper.querySelector(".progress-text");
  if (text) text.textContent = known ? `${percent}%` : "—";
  wrapper.dataset.value = known ? String(percent) : "";
}

/** A list page: its heading and one-line description, then `children`. */
export function listPage(title, subtitle, ...children) {
  return h(
    "section",
    { class: "page" },
    h(
      "div",
      { class: "page-head" },
      h("div", { class: "title-block" }, h("h1", { text: title }), h("p", { class: "subtitle", text: subtitle })),
    ),
    ...children,
  );
}

export function emptyState(title, hint) {
  return h(
    "div",
    { class: "empty" },
    h("div", { class: "empty-mark", "aria-hidden": "true" }),
    h("p", { class: "empty-title", text: title }),
    hint ? h("p", { class: "empty-hint", text: hint }) : null,
  );
}

export function loading() {
  return h("div", { class: "loading", "aria-busy": "true" }, h("span", { class: "spinner" }), "Loading…");
}

export function shortId(id) {
  const text = String(id);
  return text.length > 12 ? `${text.slice(0, 8)}…` : text;
}

/** Arrow keys, Home and End move between the tabs of `tablist` and select. */
export function tabKeys(tablist) {
  tablist.addEventListener("keydown", (event) => {
    const tabs = [...tablist.querySelectorAll('[role="tab"]')];
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    next.focus();
    next.click();
  });
  return tablist;
}
