import type { Fetcher, JobData, JobLike } from "./types.js";

/**
 * An answer of `job_status_app` other than 2xx: 403 (refused by its auth),
 * 404 (no such job, or not a handle), 410 (the handle expired) or 429 (too
 * many open streams).
 */
export class JobRequestError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "JobRequestError";
    this.status = status;
  }
}

/** True when nothing more will happen to the job: completed, cancelled, or failed with no attempt left. */
export function isFinal(job: JobLike): boolean {
  if (job.status === "failed") return !job.next_attempt_at;
  return job.status === "completed" || job.status === "cancelled";
}

function trimmed(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/** `{baseUrl}/jobs/{handle}` (the handle URL-encoded), what the default fetcher reads. */
export function jobUrl(baseUrl: string, handle: string): string {
  return `${trimmed(baseUrl)}/jobs/${encodeURIComponent(handle)}`;
}

/** `{baseUrl}/jobs/{handle}/stream`, what push mode listens to. */
export function jobStreamUrl(baseUrl: string, handle: string): string {
  return `${jobUrl(baseUrl, handle)}/stream`;
}

/** A fetcher reading `job_status_app` mounted at `baseUrl`. */
export function jobFetcher(baseUrl: string): Fetcher<JobData> {
  return async (handle, signal) => {
    const url = jobUrl(baseUrl, handle);
    const response = await fetch(url, {
      signal,
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => null);
      const reason =
        body !== null && typeof body === "object" && "error" in body
          ? String(body.error)
          : response.statusText;
      throw new JobRequestError(
        response.status,
        `GET ${url}: ${response.status} ${reason}`,
      );
    }
    return (await response.json()) as JobData;
  };
}
