/** Where a job is in its life (dataqueue's `JobStatus`). */
export type JobStatus =
  | "pending"
  | "processing"
  | "completed"
  | "failed"
  | "cancelled"
  | "waiting";

/** Why the last attempt of a job failed. */
export type FailureReason =
  | "timeout"
  | "handler_error"
  | "no_handler"
  | "worker_lost";

/** A job as `GET {baseUrl}/jobs/{handle}` of `dataqueue.web.job_status_app` returns it. */
export interface JobData {
  status: JobStatus;
  /** 0-100, as set by the handler; `null` until it reports any. */
  progress: number | null;
  /** What the handler returned, once completed. */
  output: unknown;
  /** The message of the last failed attempt, when the app has `show_errors=True`. */
  error: string | null;
  failure_reason: FailureReason | null;
  /** ISO 8601 times, in UTC. */
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /** Set while a failed job waits for another attempt. */
  next_attempt_at: string | null;
  attempts: number;
  max_attempts: number;
}

/**
 * The least a fetcher must return: a status, and optionally progress and
 * `next_attempt_at` (without it, `failed` counts as final).
 */
export interface JobLike {
  status: JobStatus;
  progress?: number | null;
  next_attempt_at?: string | null;
}

/** Reads one job by its handle; `signal` aborts when the hook no longer needs the answer. */
export type Fetcher<TJob extends JobLike = JobData> = (
  handle: string,
  signal: AbortSignal,
) => Promise<TJob>;

/** `poll` asks every `pollingInterval` ms; `push` listens to the job's event stream. */
export type Mode = "poll" | "push";

export interface UseJobOptions<TJob extends JobLike = JobData> {
  /** Reads the job; default: `GET {baseUrl}/jobs/{handle}`. Not used in push mode. */
  fetcher?: Fetcher<TJob>;
  /** Where `job_status_app` is mounted, e.g. `"/api"`. */
  baseUrl?: string;
  /** Milliseconds between polls (default 1000). */
  pollingInterval?: number;
  /** `false` fetches nothing (default `true`). */
  enabled?: boolean;
  /** Default `"poll"`. */
  mode?: Mode;
  /** Called when the status seen changes (not for the first one seen). */
  onStatusChange?: (status: JobStatus, previous: JobStatus) => void;
  /** Called once when the job is seen completed. */
  onComplete?: (job: TJob) => void;
  /** Called once when the job is seen failed with no attempt left. */
  onFailed?: (job: TJob) => void;
}

export interface UseJobResult<TJob extends JobLike = JobData> {
  /** The latest job seen, or `null` before the first answer. */
  data: TJob | null;
  status: JobStatus | null;
  progress: number | null;
  /** `true` until the first answer (job or error) for this job handle. */
  isLoading: boolean;
  /** The last error, cleared by the next answer. */
  error: Error | null;
}
