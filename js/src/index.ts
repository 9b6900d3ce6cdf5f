export { DataqueueProvider, type DataqueueConfig, type DataqueueProviderProps } from "./provider.js";
export { useJob, DEFAULT_POLLING_INTERVAL } from "./useJob.js";
export { JobRequestError, isFinal, jobFetcher, jobStreamUrl, jobUrl } from "./client.js";
export type {
  FailureReason,
  Fetcher,
  JobData,
  JobLike,
  JobStatus,
  Mode,
  UseJobOptions,
  UseJobResult,
} from "./types.js";
