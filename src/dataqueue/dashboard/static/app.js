// The dashboard's entry point: routing under the base path, the header
// (live state, "Process jobs", theme), and one shared live-update stream.

import { api, basePath, subscribe } from "./api.js";
import { fill, h, tickTimes } from "./dom.js";
import { REFRESH_EVENT, THEME_EVENT } from "./refresh.js";
import { toast, toastError } from "./toast.js";
import { mountCron } from "./views/cron.js";
import { mountFlow, mountFlows } from "./views/flows.js";
import { mountJob } from "./views/job.js";
import { mountJobs } from "./views/jobs.js";
import { mountOverview } from "./views/overview.js";
import { mountQueues } from "./views/queues.js";
import { mountWorkers } from "./views/workers.js";

const ROUTES = [
  { pattern: /^\/$/, nav: "overview", mount: mountOverview },
  { pattern: /^\/queues$/, nav: "queues", mount: mountQueues },
  { pattern: /^\/jobs$/, nav: "jobs", mount: mountJobs },
  { pattern: /^\/jobs\/([^/]+)$/, nav: "jobs", mount: mountJob },
  { pattern: /^\/cron$/, nav: "cron", mount: mountCron },
  { pattern: /^\/flows$/, nav: "flows", mount: mountFlows },
  { pattern: /^\/flows\/([^/]+)$/, nav: "flows", mount: mountFlow },
  { pattern: /^\/workers$/, nav: "workers", mount: mountWorkers },
];

// ---- theme -----------------------------------------------------------------

const THEME_KEY = "dataqueue-theme";
const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

function effectiveTheme() {
  return document.documentElement.dataset.theme || (systemDark.matches ? "dark" : "light");
}

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  const toggle = document.getElementById("theme-toggle");
  toggle.setAttribute("aria-label", `Switch to ${next} theme`);
  toggle.title = `Switch to ${next} theme`;
  // Charts draw with the theme's colours: they redraw on this.
  window.dispatchEvent(new CustomEvent(THEME_EVENT));
}

function setUpTheme() {
  applyTheme(document.documentElement.dataset.theme);
  systemDark.addEventListener("change", () => applyTheme(document.documentElement.dataset.theme));
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
}

// ---- live updates ------------------------------------------------------------

const LIVE_LABELS = { connecting: "Connecting", live: "Live", lost: "Reconnecting", idle: "Idle" };

/**
 * The page's one open event stream, whose state the header shows. `watch`
 * replaces it (a page watches what it shows); the returned function closes it.
 */
function createLive() {
  const indicator = document.getElementById("live-state");
  const show = (state) => {
    indicator.dataset.state = state;
    indicator.querySelector(".live-label").textContent = LIVE_LABELS[state] ?? LIVE_LABELS.lost;
  };
  let close = null;
  show("idle");
  return {
    watch(path, handlers, params = {}) {
      if (close) close();
      show("connecting");
      const stop = subscribe(path, handlers, show, params);
      close = stop;
      return () => {
        if (close !== stop) return;
        stop();
        close = null;
        show("idle");
      };
    },
    /** Watch the jobs list (these filters) and hear of every change. */
    onChange(listener, params = {}) {
      return this.watch("/api/stream", { changed: listener }, params);
    },
  };
}

// ---- routing -------------------------------------------------------------------

function routePath() {
  const path = window.location.pathname;
  const inside = path.startsWith(basePath) ? path.slice(basePath.length) : path;
  return inside === "" ? "/" : inside.replace(/(.)\/+$/, "$1");
}

function href(path) {
  return `${basePath}${path}`;
}

function createApp() {
  const main = document.getElementById("main");
  let cleanup = null;
  const app = {
    live: createLive(),
    href,
    navigate(target, { replace = false } = {}) {
      const url = target.startsWith(basePath) ? target : href(target);
      if (replace) window.history.replaceState(null, "", url);
      else window.history.pushState(null, "", url);
      render();
    },
    /** Update the query string without a new history entry or re-render. */
    setQuery(params) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) {
        if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
      }
      const text = query.toString();
      window.history.replaceState(null, "", `${window.location.pathname}${text ? `?${text}` : ""}`);
    },
    title(text) {
      document.title = text ? `${text} · dataqueue` : "dataqueue";
    },
  };

  function render() {
    if (cleanup) cleanup();
    cleanup = null;
    const path = routePath();
    const route = ROUTES.find((candidate) => candidate.pattern.test(path));
    for (const link of document.querySelectorAll("[data-nav]")) {
      const current = route && link.dataset.nav === route.nav;
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    fill(main);
    if (!route) {
      app.title("Not found");
      main.append(
        h(
          "section",
          { class: "page" },
          h("h1", { text: "Page not found" }),
          h("p", {}, h("a", { href: href("/"), text: "Back to the overview" })),
        ),
      );
      return;
    }
    const params = path.match(route.pattern).slice(1).map(decodeURIComponent);
    const query = new URLSearchParams(window.location.search);
    cleanup = route.mount(main, { params, query, app }) || null;
    window.scrollTo(0, 0);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return;
    if (url.pathname.startsWith(`${basePath}/api/`) || url.pathname.startsWith(`${basePath}/static/`)) return;
    event.preventDefault();
    app.navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", render);
  return { app, render };
}

function setUpProcessButton() {
  const button = document.getElementById("process-jobs");
  if (!button) return; // the dashboard was given no handlers
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.classList.add("busy");
    try {
      const result = await api.process();
      const count = result.processed;
      toast(count === 1 ? "Processed 1 job" : `Processed ${count} jobs`, "success");
      window.dispatchEvent(new CustomEvent(REFRESH_EVENT));
    } catch (error) {
      toastError(error);
    } finally {
      button.disabled = false;
      button.classList.remove("busy");
    }
  });
}

setUpTheme();
const { render } = createApp();
setUpProcessButton();
setInterval(() => tickTimes(), 15000);
render();
