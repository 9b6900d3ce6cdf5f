// The dashboard's JSON API and its server-sent event streams.

function metaContent(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  const value = element ? element.getAttribute("content") : "";
  // An unfilled placeholder means the page was opened as a plain file.
  return value.startsWith("__DATAQUEUE_") ? "" : value;
}

export const basePath = metaContent("dataqueue-base").replace(/\/+$/, "");
const csrfToken = metaContent("dataqueue-csrf");
/** True when the dashboard was made read-only: the page offers no action. */
export const readOnly = metaContent("dataqueue-read-only") === "1";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => query.append(key, item));
    else query.set(key, String(value));
  }
  const text = query.toString();
  return `${basePath}${path}${text ? `?${text}` : ""}`;
}

async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-DataQueue-CSRF"] = csrfToken;
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError("The dashboard server cannot be reached.", 0);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && (data.error || data.detail || data.message);
    throw new ApiError(
      typeof detail === "string" ? detail : `${method} ${path} failed (${response.status})`,
      response.status,
    );
  }
  return data;
}

const get = (path, params) => request("GET", path, { params });
const post = (path, body) => request("POST", path, { body: body ?? {} });
const id = (value) => encodeURIComponent(String(value));

export const api = {
  jobs: (params) => get("/api/jobs", params),
  counts: (params) => get("/api/counts", params),
  jobTypes: () => get("/api/job-types"),
  job: (jobId) => get(`/api/jobs/${id(jobId)}`),
  events: (jobId) => get(`/api/jobs/${id(jobId)}/events`),
  tokens: (jobId) => get(`/api/jobs/${id(jobId)}/tokens`),
  cancel: (jobId) => post(`/api/jobs/${id(jobId)}/cancel`),
  retry: (jobId) => post(`/api/jobs/${id(jobId)}/retry`),
  process: () => post("/api/process"),
  completeToken: (tokenId, output) => post(`/api/tokens/${id(tokenId)}/complete`, { output }),
  cron: () => get("/api/cron"),
  schedule: (cronId) => get(`/api/cron/${id(cronId)}`),
  pauseCron: (cronId) => post(`/api/cron/${id(cronId)}/pause`),
  resumeCron: (cronId) => post(`/api/cron/${id(cronId)}/resume`),
  flows: (params) => get("/api/flows", params),
  flow: (flowId) => get(`/api/flows/${id(flowId)}`),
  workers: () => get("/api/workers"),
  quietWorker: (workerId) => post(`/api/workers/${id(workerId)}/quiet`),
  overview: (params) => get("/api/overview", params),
  activity: (params) => get("/api/activity", params),
  queues: () => get("/api/queues"),
  pauseQueue: (jobType) => post(jobType ? `/api/queues/${id(jobType)}/pause` : "/api/queues/pause"),
  resumeQueue: (jobType) => post(jobType ? `/api/queues/${id(jobType)}/resume` : "/api/queues/resume"),
  search: (params) => get("/api/search", params),
  bulk: (body) => post("/api/jobs/bulk", body),
  runCron: (cronId) => post(`/api/cron/${id(cronId)}/run`),
  editCron: (cronId, changes) => post(`/api/cron/${id(cronId)}/edit`, changes),
};

/**
 * Subscribe to a server-sent event stream. `handlers` maps event names to
 * callbacks receiving the parsed JSON data; `onState` hears "live" / "lost"
 * (the browser reconnects by itself). `params` go in the query string.
 * Returns a function closing the stream.
 */
export function subscribe(path, handlers, onState = () => {}, params = {}) {
  const source = new EventSource(url(path, params));
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("error", () => {
    onState("lost");
  });
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = event.data;
      }
      handler(data);
    });
  }
  return () => source.close();
}
