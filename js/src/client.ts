import type { Fetcher, JobData, JobLike } from "./types.js";

/** An answer of `job_status_app` other than 2xx: 403 (refused by its auth) or 404 (no such job). */
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

/** `{baseUrl}/jobs/{id}`, what the default fetcher reads. */
export function jobUrl(baseUrl: string, id: number): string {
  return `${trimmed(baseUrl)}/jobs/${id}`;
}

/** `{baseUrl}/jobs/{id}/stream`, what push mode listens to. */
export function jobStreamUrl(baseUrl: string, id: number): string {
  return `${jobUrl(baseUrl, id)}/stream`;
}

/** A fetcher reading `job_status_app` mounted at `baseUrl`. */
export function jobFetcher(baseUrl: string): Fetcher<JobData> {
  return async (id, signal) => {
    const url = jobUrl(baseUrl, id);
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
